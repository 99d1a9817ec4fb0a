#include <boost/test/unit_test.hpp>

#include "config/config.hpp"
#include "pipeline/kafka/kafka.hpp"
#include "tests/support/kafka_client.hpp"
#include "tests/support/mock_cluster.hpp"

#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

// tracked_producer against librdkafka's mock cluster in this process: what
// it produced arrives as it was, whether librdkafka copied the payload or
// read it where its owner keeps it (produce_held), also when a delivery
// fails and the producer produces it again; and an owner is let go once
// all of its messages are delivered, not before.

namespace {

using namespace std::chrono_literals;

/// Payloads of every size class: short enough for std::string's inline
/// buffer (its bytes live inside the slot itself) and heap-allocated ones.
std::string payload(size_t i) {
  std::string p = "p" + std::to_string(i);
  if (i % 3 != 0)
    p += std::string(20 + i % 700, static_cast<char>('a' + i % 26));
  return p;
}

/// Polls until nothing is outstanding or `limit` passes.
std::vector<cotflow::delivered_ref> drain(cotflow::tracked_producer& p,
                                          std::chrono::seconds limit) {
  std::vector<cotflow::delivered_ref> out;
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (p.outstanding() > 0 && std::chrono::steady_clock::now() < deadline)
    p.poll(50, out);
  return out;
}

/// The topic's records by key; a key written twice must carry the same
/// payload both times, and only where `twice_ok`.
std::map<std::string, std::string> read_back(const std::string& bootstrap,
                                             bool twice_ok) {
  std::map<std::string, std::string> by_key;
  for (auto& r : cotflow::test::read_topic(bootstrap, "cot")) {
    auto [it, fresh] = by_key.emplace(r.key, r.payload);
    BOOST_TEST((fresh || twice_ok), "key " << r.key << " twice");
    BOOST_TEST(it->second == r.payload);
  }
  return by_key;
}

} // namespace

namespace {

/// Payloads produced by reference, owned by a batch as the destinations'
/// shared batch of events owns their XML.
using owner = std::vector<std::string>;

/// A producer of cotflow's default settings on the mock cluster `c`, with
/// `properties` on top.
std::unique_ptr<cotflow::tracked_producer>
producer_on(const cotflow::test::mock_cluster& c,
            std::map<std::string, std::string> properties = {}) {
  auto cfg = cotflow::default_config();
  cfg.kafka.brokers = c.bootstraps();
  for (auto& [k, v] : properties)
    cfg.kafka.properties[k] = v;
  std::string err;
  auto p = cotflow::tracked_producer::make(cfg, err);
  BOOST_TEST_REQUIRE(bool(p), err);
  return p;
}

} // namespace

BOOST_AUTO_TEST_CASE(held_and_copied_payloads_arrive_as_they_were) {
  cotflow::test::mock_cluster c{"cot"};
  auto p = producer_on(c);
  constexpr size_t n = 3000;
  constexpr size_t per_owner = 25;
  std::map<std::string, std::string> sent;
  std::vector<std::weak_ptr<owner>> owners;
  for (size_t i = 0; i < n; i += per_owner) {
    auto batch = std::make_shared<owner>();
    for (size_t j = i; j < i + per_owner; ++j)
      batch->push_back(payload(j));
    owners.push_back(batch);
    auto hold = p->hold(batch);
    for (size_t j = i; j < i + per_owner; ++j) {
      auto key = "k" + std::to_string(j);
      sent[key] = payload(j);
      if (j % 4 == 0)
        p->produce("cot", key, sent[key], 0, static_cast<int64_t>(j), -1);
      else
        p->produce_held("cot", key, (*batch)[j - i], 0, static_cast<int64_t>(j),
                        -1, hold);
    }
    p->release(hold);
    // Only the producer keeps the batch now.
    batch.reset();
    // Serve reports now and then, so that slots and holds are reused
    // meanwhile.
    if (i % 500 == 475) {
      std::vector<cotflow::delivered_ref> ignored;
      p->poll(0, ignored);
    }
  }
  drain(*p, 30s);
  BOOST_TEST_REQUIRE(p->outstanding() == 0u);
  BOOST_TEST(p->failure() == "");
  BOOST_TEST((read_back(c.bootstraps(), false) == sent));
  // Every owner was let go once its messages were delivered.
  for (auto& o : owners)
    BOOST_TEST(o.expired());
}

BOOST_AUTO_TEST_CASE(an_owner_stays_until_its_last_message_is_delivered) {
  cotflow::test::mock_cluster c{"cot"};
  auto p = producer_on(c);
  // No message at all: release() lets it go at once.
  auto empty = std::make_shared<owner>();
  std::weak_ptr<owner> empty_seen = empty;
  p->release(p->hold(std::move(empty)));
  BOOST_TEST(empty_seen.expired());
  // Messages outstanding: kept until their delivery reports, even after
  // release().
  rd_kafka_mock_broker_set_down(c.mc, 1);
  auto batch = std::make_shared<owner>(owner{payload(1), payload(2)});
  std::weak_ptr<owner> seen = batch;
  auto hold = p->hold(batch);
  p->produce_held("cot", "a", (*batch)[0], 0, 0, -1, hold);
  p->produce_held("cot", "b", (*batch)[1], 0, 1, -1, hold);
  p->release(hold);
  batch.reset();
  std::vector<cotflow::delivered_ref> out;
  p->poll(100, out);
  BOOST_TEST(!seen.expired());
  rd_kafka_mock_broker_set_up(c.mc, 1);
  auto delivered = drain(*p, 30s);
  BOOST_TEST(delivered.size() == 2u);
  BOOST_TEST(seen.expired());
}

BOOST_AUTO_TEST_CASE(a_held_payload_is_produced_again_after_a_failure) {
  cotflow::test::mock_cluster c{"cot"};
  // Deliveries time out while the broker is down: each comes back as a
  // failed delivery report, which the producer answers by producing the
  // message again, from where its owner (still held) keeps it.
  auto p = producer_on(c, {{"message.timeout.ms", "300"}});
  rd_kafka_mock_broker_set_down(c.mc, 1);
  std::map<std::string, std::string> sent;
  auto batch = std::make_shared<owner>();
  for (size_t i = 0; i < 200; ++i)
    batch->push_back(payload(i));
  std::weak_ptr<owner> seen = batch;
  auto hold = p->hold(batch);
  for (size_t i = 0; i < 200; ++i) {
    auto key = "k" + std::to_string(i);
    sent[key] = payload(i);
    p->produce_held("cot", key, (*batch)[i], 0, static_cast<int64_t>(i), -1,
                    hold);
  }
  p->release(hold);
  batch.reset();
  std::vector<cotflow::delivered_ref> out;
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (p->retries() < 200 && std::chrono::steady_clock::now() < deadline)
    p->poll(50, out);
  BOOST_TEST_REQUIRE(p->retries() >= 200u);
  BOOST_TEST(out.empty());
  rd_kafka_mock_broker_set_up(c.mc, 1);
  auto delivered = drain(*p, 30s);
  BOOST_TEST_REQUIRE(p->outstanding() == 0u);
  BOOST_TEST(p->failure() == "");
  BOOST_TEST(delivered.size() == sent.size());
  BOOST_TEST(seen.expired());
  // Producing again may write a message twice (at least once).
  BOOST_TEST((read_back(c.bootstraps(), true) == sent));
}

BOOST_AUTO_TEST_CASE(a_full_queue_never_waits_and_keeps_the_order) {
  cotflow::test::mock_cluster c{"cot", 3};
  // Room for 10 messages in librdkafka's queue, and nothing leaves it while
  // the broker is down: every produce still returns at once (the sinks run
  // on the scheduler's threads, which a wait would hold), and the rest wait
  // in the producer, in order, with their headers and copies.
  auto p = producer_on(c, {{"queue.buffering.max.messages", "10"}});
  rd_kafka_mock_broker_set_down(c.mc, 1);
  constexpr size_t n = 200;
  std::map<std::string, std::string> sent;
  auto batch = std::make_shared<owner>();
  for (size_t i = 0; i < n; ++i)
    batch->push_back(payload(i));
  std::weak_ptr<owner> seen = batch;
  auto hold = p->hold(batch);
  for (size_t i = 0; i < n; ++i) {
    auto key = "k" + std::to_string(i);
    sent[key] = payload(i);
    if (i % 2 == 0) {
      p->produce_held("cot", key, (*batch)[i], 0, static_cast<int64_t>(i), -1,
                      hold);
    } else {
      auto* h = RdKafka::Headers::create();
      h->add("n", std::to_string(i));
      p->produce("cot", key, sent[key], 0, static_cast<int64_t>(i), -1, h);
    }
  }
  p->release(hold);
  batch.reset();
  BOOST_TEST(p->outstanding() == n);
  BOOST_TEST(p->waiting() == n - 10);
  std::vector<cotflow::delivered_ref> out;
  p->poll(100, out);
  BOOST_TEST(out.empty());
  BOOST_TEST(p->waiting() == n - 10);
  BOOST_TEST(!seen.expired());
  rd_kafka_mock_broker_set_up(c.mc, 1);
  auto delivered = drain(*p, 30s);
  BOOST_TEST_REQUIRE(p->outstanding() == 0u);
  BOOST_TEST(p->waiting() == 0u);
  BOOST_TEST(p->failure() == "");
  BOOST_TEST(p->retries() == 0u);
  BOOST_TEST_REQUIRE(delivered.size() == n);
  BOOST_TEST(seen.expired());
  // In each partition, the messages landed in the order they were produced.
  std::map<int32_t, std::map<int64_t, int64_t>> by_partition;
  for (auto& d : delivered)
    by_partition[d.partition][d.message_offset] = d.offset;
  for (auto& [partition, landed] : by_partition) {
    int64_t last = -1;
    for (auto& [at, input] : landed) {
      BOOST_TEST(input > last, "partition " << partition << " offset " << at);
      last = input;
    }
  }
  BOOST_TEST((read_back(c.bootstraps(), false) == sent));
  // The copied ones kept their headers while they waited.
  for (auto& r : cotflow::test::read_topic(c.bootstraps(), "cot")) {
    auto i = std::stoul(r.key.substr(1));
    if (i % 2 == 1)
      BOOST_TEST(r.headers["n"] == std::to_string(i), r.key);
  }
}

namespace {

/// A dead letter of `size` bytes, with the headers the dead-letter sink
/// gives one.
void produce_dead_letter(cotflow::tracked_producer& p, size_t size,
                         int64_t offset = 7, char fill = 'd') {
  auto* h = RdKafka::Headers::create();
  h->add("cotflow.reason", "too_large");
  p.produce("cot", "dl", std::string(size, fill), 0, offset, -1, h);
}

/// Drains `p` and expects the one dead letter of produce_dead_letter() on
/// the topic, cut to `kept` bytes of its `original`.
void expect_one_cut_letter(const cotflow::test::mock_cluster& c,
                           cotflow::tracked_producer& p, size_t kept,
                           size_t original) {
  auto delivered = drain(p, 30s);
  BOOST_TEST_REQUIRE(delivered.size() == 1u);
  BOOST_TEST(delivered[0].offset == 7);
  BOOST_TEST(p.failure() == "");
  BOOST_TEST(p.cut() == 1u);
  auto got = cotflow::test::read_topic(c.bootstraps(), "cot");
  BOOST_TEST_REQUIRE(got.size() == 1u);
  BOOST_TEST(got[0].payload == std::string(kept, 'd'));
  BOOST_TEST(got[0].headers["cotflow.truncated"] == std::to_string(original));
  BOOST_TEST(got[0].headers["cotflow.reason"] == "too_large");
}

} // namespace

BOOST_AUTO_TEST_CASE(a_dead_letter_over_message_max_bytes_goes_out_cut) {
  // librdkafka refuses it at produce(): the first half, then the first
  // quarter, ... until it fits, marked with its original length.
  cotflow::test::mock_cluster c{"cot"};
  auto p = producer_on(c, {{"message.max.bytes", "2000"}});
  p->cut_oversized(true);
  produce_dead_letter(*p, 10000);
  expect_one_cut_letter(c, *p, 1250, 10000);
}

BOOST_AUTO_TEST_CASE(
  a_dead_letter_the_broker_refuses_as_too_large_goes_out_cut) {
  // The topic's max.message.bytes on the broker: the delivery report
  // says MSG_SIZE_TOO_LARGE (injected), again when the letter is sent
  // alone, and the first half goes out.
  cotflow::test::mock_cluster c{"cot"};
  auto p = producer_on(c);
  p->cut_oversized(true);
  rd_kafka_mock_push_request_errors(c.mc, 0 /* Produce */, 2,
                                    RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE,
                                    RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
  produce_dead_letter(*p, 10000);
  expect_one_cut_letter(c, *p, 5000, 10000);
}

BOOST_AUTO_TEST_CASE(letters_refused_with_their_batch_go_out_whole_alone) {
  // The broker refuses a whole batch as too large and librdkafka fails
  // every letter in it: each is sent again whole, alone, and goes out
  // uncut when it fits alone (here: the refusal is injected once).
  cotflow::test::mock_cluster c{"cot"};
  auto p = producer_on(c, {{"linger.ms", "50"}});
  p->cut_oversized(true);
  rd_kafka_mock_push_request_errors(c.mc, 0 /* Produce */, 1,
                                    RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
  produce_dead_letter(*p, 3000, 7, 'a');
  produce_dead_letter(*p, 3000, 8, 'b');
  auto delivered = drain(*p, 30s);
  BOOST_TEST_REQUIRE(delivered.size() == 2u);
  BOOST_TEST(p->failure() == "");
  BOOST_TEST(p->cut() == 0u);
  auto got = cotflow::test::read_topic(c.bootstraps(), "cot");
  BOOST_TEST_REQUIRE(got.size() == 2u);
  std::set<std::string> payloads;
  for (auto& m : got) {
    payloads.insert(m.payload);
    BOOST_TEST(m.headers.count("cotflow.truncated") == 0u);
    BOOST_TEST(m.headers["cotflow.reason"] == "too_large");
  }
  BOOST_TEST(
    (payloads
     == std::set<std::string>{std::string(3000, 'a'), std::string(3000, 'b')}));
}

BOOST_AUTO_TEST_CASE(without_cutting_a_message_too_large_stops_the_producer) {
  // CoT events are never cut: the producer reports the failure and its
  // record stays unacknowledged.
  cotflow::test::mock_cluster c{"cot"};
  auto p = producer_on(c, {{"message.max.bytes", "2000"}});
  produce_dead_letter(*p, 10000);
  std::vector<cotflow::delivered_ref> out;
  p->poll(100, out);
  BOOST_TEST(out.empty());
  BOOST_TEST(p->failure().find("too large") != std::string::npos, p->failure());
  BOOST_TEST(p->cut() == 0u);
}

BOOST_AUTO_TEST_CASE(a_message_behind_a_waiting_one_waits_too) {
  // Room for 2 KB and the broker down: the second message (1,200 bytes)
  // does not fit beside the first and waits; the third (100 bytes) would
  // fit, but goes behind it, so that the partition keeps their order.
  cotflow::test::mock_cluster c{"cot"};
  auto p = producer_on(c, {{"queue.buffering.max.kbytes", "2"}});
  rd_kafka_mock_broker_set_down(c.mc, 1);
  p->produce("cot", "a", std::string(1200, 'a'), 0, 1, -1);
  p->produce("cot", "b", std::string(1200, 'b'), 0, 2, -1);
  BOOST_TEST(p->waiting() == 1u);
  p->produce("cot", "c", std::string(100, 'c'), 0, 3, -1);
  BOOST_TEST(p->waiting() == 2u);
  BOOST_TEST(p->outstanding() == 3u);
  rd_kafka_mock_broker_set_up(c.mc, 1);
  auto delivered = drain(*p, 30s);
  BOOST_TEST_REQUIRE(delivered.size() == 3u);
  BOOST_TEST(p->failure() == "");
  std::map<int64_t, int64_t> landed; // message offset -> input offset
  for (auto& d : delivered)
    landed[d.message_offset] = d.offset;
  std::vector<int64_t> order;
  for (auto& [at, input] : landed)
    order.push_back(input);
  BOOST_TEST((order == std::vector<int64_t>{1, 2, 3}));
}

BOOST_AUTO_TEST_CASE(a_message_larger_than_the_whole_queue_does_not_wait) {
  // queue.buffering.max.kbytes below one message: no room will ever come.
  // A CoT event stops the producer with the reason; a dead letter goes
  // out cut until it fits.
  cotflow::test::mock_cluster c{"cot"};
  {
    auto p = producer_on(c, {{"queue.buffering.max.kbytes", "1"}});
    produce_dead_letter(*p, 5000);
    BOOST_TEST(p->waiting() == 0u);
    BOOST_TEST(p->failure().find("queue.buffering.max.kbytes")
                 != std::string::npos,
               p->failure());
  }
  auto p = producer_on(c, {{"queue.buffering.max.kbytes", "1"}});
  p->cut_oversized(true);
  produce_dead_letter(*p, 5000);
  expect_one_cut_letter(c, *p, 625, 5000);
}
