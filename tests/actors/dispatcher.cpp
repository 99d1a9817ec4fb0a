#include <boost/test/unit_test.hpp>

#include "actors/detail/failure.hpp"
#include "actors/dispatcher.hpp"
#include "tests/support/actor_fixture.hpp"

#include <caf/all.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

// The dispatcher actor (the encoder pool's dispatcher and supervisor) on CAF's
// test coordinator, with fake workers in place of the encoders (through
// encoder_args::spawn_worker) and restarts timed on the test clock.

using namespace cotflow;
using namespace std::chrono_literals;

namespace {

/// What the fake workers saw and did, shared with the test.
struct worker_log {
  /// One batch a worker took: which worker (slot, and its incarnation:
  /// 0 for the first, 1 for its first successor, ...), the dispatcher's id,
  /// and the offsets of its records.
  struct job {
    uint64_t slot;
    int incarnation;
    uint64_t id;
    std::vector<int64_t> offsets;
  };
  std::vector<job> jobs;
  /// Every worker spawned, per slot, in order.
  std::map<uint64_t, std::vector<caf::actor_addr>> workers;
  /// (slot, incarnation) -> why that worker ended.
  std::map<std::pair<uint64_t, int>, caf::error> exits;
  /// Whether workers report their batches done.
  bool report_done = true;
  /// Slots whose worker throws on the next batch it takes.
  std::set<uint64_t> fail_next;

  /// The jobs of one slot's incarnation, in the order taken.
  std::vector<job> of(uint64_t slot, int incarnation) const {
    std::vector<job> out;
    for (auto& j : jobs)
      if (j.slot == slot && j.incarnation == incarnation)
        out.push_back(j);
    return out;
  }

  int incarnations(uint64_t slot) const {
    auto i = workers.find(slot);
    return i == workers.end() ? 0 : static_cast<int>(i->second.size());
  }
};

/// Stands in for an encoder: logs each batch, then reports it done (unless
/// told not to), or throws when told to (failing with the exception's
/// text, as the encoders do).
encoder_actor::behavior_type fake_encoder(encoder_actor::pointer self,
                                          std::shared_ptr<worker_log> log,
                                          dispatcher_actor brk, uint64_t slot,
                                          int incarnation) {
  self->set_exception_handler(detail::exception_text);
  return {
    [=](work& w) {
      if (log->fail_next.erase(slot) > 0)
        throw std::runtime_error("injected fault");
      worker_log::job j{slot, incarnation, w.id, {}};
      for (auto& r : w.b->records)
        j.offsets.push_back(r.ref.offset);
      log->jobs.push_back(std::move(j));
      if (log->report_done)
        self->send(brk, atom::done::value, slot, w.id);
    },
  };
}

/// A record of `partition` at `offset`.
record rec(int32_t partition, int64_t offset) {
  record r;
  r.ref = {static_cast<uint32_t>(partition + 1), offset};
  r.partition = partition;
  r.payload = "record " + std::to_string(offset);
  return r;
}

/// A batch of (partition, offset) records.
batch make_batch(std::vector<std::pair<int32_t, int64_t>> recs) {
  batch b;
  for (auto& [p, offset] : recs)
    b.records.push_back(rec(p, offset));
  return b;
}

/// A dispatcher over `slots` fake workers; restarts after 100 ms, doubling
/// up to 400 ms, at most 2 within `window`.
struct dispatcher_fixture : test::actor_fixture {
  std::shared_ptr<worker_log> log = std::make_shared<worker_log>();
  std::vector<std::shared_ptr<actor_info>> infos;
  dispatcher_actor aut;
  /// Why the dispatcher ended, once it did.
  std::shared_ptr<std::optional<caf::error>> ended
    = std::make_shared<std::optional<caf::error>>();

  void start(size_t slots, std::chrono::milliseconds window = 1h) {
    auto cfg = default_config();
    cfg.supervision.max_restarts = 2;
    cfg.supervision.window_ms = window.count();
    cfg.supervision.backoff_min_ms = 100;
    cfg.supervision.backoff_max_ms = 400;
    encoder_args args;
    args.cfg = std::make_shared<const config>(cfg);
    args.st = std::make_shared<stats>();
    // The log by value: the fixture's members go before its base, which
    // ends the actors.
    args.spawn_worker = [this, log = log](dispatcher_actor brk, uint64_t slot) {
      auto incarnation = log->incarnations(slot);
      auto w = spawn(fake_encoder, log, std::move(brk), slot, incarnation);
      log->workers[slot].push_back(w.address());
      w->attach_functor([log = log, slot, incarnation](const caf::error& e) {
        log->exits[{slot, incarnation}] = e;
      });
      return w;
    };
    for (size_t i = 0; i < slots; ++i) {
      auto info = std::make_shared<actor_info>();
      info->name = "encoder-" + std::to_string(i);
      infos.push_back(std::move(info));
    }
    aut = spawn(dispatcher, std::move(args), infos);
    aut->attach_functor([ended = ended](const caf::error& e) { *ended = e; });
    run();
  }

  void send(batch b) {
    caf::anon_send(aut, std::move(b));
    run();
  }

  /// The current worker of `slot`.
  caf::actor worker(uint64_t slot) {
    return caf::actor_cast<caf::actor>(log->workers.at(slot).back());
  }

  void kill(uint64_t slot) {
    caf::anon_send_exit(worker(slot), caf::exit_reason::kill);
    run();
  }

  /// The dispatcher's state (only while it runs).
  dispatcher_state& state() {
    auto ptr = caf::actor_cast<caf::abstract_actor*>(aut);
    return dynamic_cast<dispatcher_actor::stateful_base<dispatcher_state>&>(
             *ptr)
      .state;
  }

  size_t outstanding(uint64_t slot) {
    return state().slots.at(slot).outstanding.size();
  }
};

/// The records of `jobs` as text, one {...} per job: "{10 11} {13}".
std::string records_of(const std::vector<worker_log::job>& jobs) {
  std::string out;
  for (auto& j : jobs) {
    out += out.empty() ? "{" : " {";
    for (size_t i = 0; i < j.offsets.size(); ++i)
      out += (i ? " " : "") + std::to_string(j.offsets[i]);
    out += "}";
  }
  return out;
}

/// The batch ids of `jobs` as text: "1 2 3".
std::string ids_of(const std::vector<worker_log::job>& jobs) {
  std::string out;
  for (auto& j : jobs)
    out += (out.empty() ? "" : " ") + std::to_string(j.id);
  return out;
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(dispatcher_actor_tests, dispatcher_fixture)

BOOST_AUTO_TEST_CASE(a_batch_is_split_over_the_workers_by_partition) {
  start(3);
  BOOST_TEST(log->incarnations(0) == 1);
  BOOST_TEST(log->incarnations(1) == 1);
  BOOST_TEST(log->incarnations(2) == 1);
  send(make_batch({{0, 0}, {1, 1}, {2, 2}, {3, 3}, {4, 4}, {0, 5}, {5, 6}}));
  // Partition p goes to slot p % 3, each part in the batch's order.
  BOOST_TEST(records_of(log->of(0, 0)) == "{0 3 5}");
  BOOST_TEST(records_of(log->of(1, 0)) == "{1 4}");
  BOOST_TEST(records_of(log->of(2, 0)) == "{2 6}");
  // A slot with no records of a batch gets nothing; ids count per slot.
  send(make_batch({{3, 7}, {0, 8}}));
  BOOST_TEST(records_of(log->of(0, 0)) == "{0 3 5} {7 8}");
  BOOST_TEST(ids_of(log->of(0, 0)) == "0 1");
  BOOST_TEST(log->of(1, 0).size() == 1u);
  BOOST_TEST(log->of(2, 0).size() == 1u);
  // Reported done, nothing is kept.
  for (uint64_t i = 0; i < 3; ++i)
    BOOST_TEST(outstanding(i) == 0u);
}

BOOST_AUTO_TEST_CASE(a_batch_is_kept_until_its_worker_reports_it_done) {
  start(2);
  log->report_done = false;
  send(make_batch({{0, 0}, {1, 1}}));
  send(make_batch({{0, 2}}));
  BOOST_TEST(outstanding(0) == 2u);
  BOOST_TEST(outstanding(1) == 1u);
  caf::anon_send(aut, atom::done::value, uint64_t{0}, uint64_t{0});
  run();
  BOOST_TEST(outstanding(0) == 1u);
  BOOST_TEST(state().slots[0].outstanding.count(1) == 1u);
  BOOST_TEST(outstanding(1) == 1u);
}

BOOST_AUTO_TEST_CASE(a_killed_worker_s_unfinished_batches_go_to_its_successor) {
  start(2);
  send(make_batch({{0, 0}, {1, 1}}));
  // Taken but not reported done: the worker is busy, or its reports are
  // still on their way.
  log->report_done = false;
  send(make_batch({{0, 10}, {0, 11}, {1, 12}}));
  send(make_batch({{0, 13}, {1, 14}}));
  log->report_done = true;
  kill(0);
  BOOST_TEST(log->exits.count({0, 0}) == 1u);
  BOOST_TEST(!infos[0]->up);
  BOOST_TEST(infos[0]->restarts.load() == 1u);
  // A batch that comes while the slot has no worker waits for the next.
  send(make_batch({{0, 15}, {1, 16}}));
  // The restart waits out the backoff on the actor clock.
  advance(99ms);
  BOOST_TEST(log->incarnations(0) == 1);
  advance(1ms);
  BOOST_TEST_REQUIRE(log->incarnations(0) == 2);
  BOOST_TEST(infos[0]->up);
  // Everything the first worker had not reported done, once each and in
  // order; not the batch it had finished.
  BOOST_TEST(records_of(log->of(0, 1)) == "{10 11} {13} {15}");
  BOOST_TEST(ids_of(log->of(0, 1)) == "1 2 3");
  BOOST_TEST(outstanding(0) == 0u);
  // The other slot's worker is untouched: each of its batches once.
  BOOST_TEST(log->incarnations(1) == 1);
  BOOST_TEST(records_of(log->of(1, 0)) == "{1} {12} {14} {16}");
  BOOST_TEST(log->exits.count({1, 0}) == 0u);
}

BOOST_AUTO_TEST_CASE(a_failed_worker_is_restarted_in_its_own_slot) {
  start(3);
  log->report_done = false;
  send(make_batch({{0, 0}, {1, 1}, {2, 2}}));
  kill(1);
  BOOST_TEST(infos[0]->up);
  BOOST_TEST(!infos[1]->up);
  BOOST_TEST(infos[2]->up);
  advance(100ms);
  BOOST_TEST(log->incarnations(0) == 1);
  BOOST_TEST_REQUIRE(log->incarnations(1) == 2);
  BOOST_TEST(log->incarnations(2) == 1);
  BOOST_TEST(infos[1]->up);
  BOOST_TEST(infos[1]->restarts.load() == 1u);
  BOOST_TEST(infos[0]->restarts.load() == 0u);
  BOOST_TEST(records_of(log->of(1, 1)) == "{1}");
  BOOST_TEST(records_of(log->of(0, 0)) == "{0}");
  BOOST_TEST(records_of(log->of(2, 0)) == "{2}");
}

BOOST_AUTO_TEST_CASE(a_throwing_worker_s_batches_are_redone_by_its_successor) {
  start(1);
  log->report_done = false;
  send(make_batch({{0, 0}}));
  log->report_done = true;
  // The worker throws on the next batch, before it reports anything; the
  // batch after it is still in its mailbox when it goes.
  log->fail_next.insert(0);
  caf::anon_send(aut, make_batch({{0, 1}}));
  caf::anon_send(aut, make_batch({{0, 2}}));
  run();
  BOOST_TEST_REQUIRE(log->exits.count({0, 0}) == 1u);
  BOOST_TEST(!infos[0]->up);
  // The exception's text, not CAF's "system_error(runtime_error)".
  BOOST_TEST(infos[0]->last_failure() == "injected fault");
  advance(100ms);
  BOOST_TEST_REQUIRE(log->incarnations(0) == 2);
  BOOST_TEST(records_of(log->of(0, 1)) == "{0} {1} {2}");
  BOOST_TEST(outstanding(0) == 0u);
}

BOOST_AUTO_TEST_CASE(restarts_back_off_further_with_each_recent_failure) {
  start(1);
  kill(0);
  advance(100ms);
  BOOST_TEST_REQUIRE(log->incarnations(0) == 2);
  kill(0);
  advance(199ms);
  BOOST_TEST(log->incarnations(0) == 2);
  advance(1ms);
  BOOST_TEST(log->incarnations(0) == 3);
  BOOST_TEST(infos[0]->restarts.load() == 2u);
}

BOOST_AUTO_TEST_CASE(past_the_restart_intensity_the_dispatcher_fails_itself) {
  start(2);
  send(make_batch({{0, 0}, {1, 1}}));
  kill(0);
  advance(100ms);
  kill(0);
  advance(200ms);
  BOOST_TEST_REQUIRE(log->incarnations(0) == 3);
  BOOST_TEST(!ended->has_value());
  // A third failure within the window is one more than allowed.
  kill(0);
  BOOST_TEST_REQUIRE(ended->has_value());
  BOOST_TEST(caf::to_string(**ended)
             == caf::to_string(caf::make_error(caf::exit_reason::kill)));
  // No restart follows, and the other workers go with the dispatcher.
  advance(1h);
  BOOST_TEST(log->incarnations(0) == 3);
  BOOST_TEST(log->exits.count({1, 0}) == 1u);
}

BOOST_AUTO_TEST_CASE(failures_further_apart_than_the_window_never_escalate) {
  start(1, 1s);
  for (int i = 0; i < 5; ++i) {
    kill(0);
    advance(2s);
  }
  BOOST_TEST(!ended->has_value());
  BOOST_TEST(log->incarnations(0) == 6);
  BOOST_TEST(infos[0]->restarts.load() == 5u);
}

BOOST_AUTO_TEST_SUITE_END()
