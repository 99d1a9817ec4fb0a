#include <boost/test/unit_test.hpp>

#include "pipeline/core/cot_event.hpp"
#include "pipeline/core/string_pool.hpp"

#include <memory>
#include <string>
#include <thread>
#include <vector>

using cotflow::string_pool;

namespace {

std::string& self(std::string& s) {
  return s;
}

} // namespace

BOOST_AUTO_TEST_CASE(buffers_given_back_are_taken_again_empty) {
  string_pool pool{1 << 20, 4096};
  std::vector<std::string> done{std::string(300, 'a'), std::string(500, 'b')};
  const void* first = done[0].data();
  pool.give(done, self);
  BOOST_TEST(pool.bytes() >= 800u);
  std::vector<std::string> spares;
  pool.take(spares, 10);
  BOOST_TEST_REQUIRE(spares.size() == 2u);
  BOOST_TEST(pool.bytes() == 0u);
  for (auto& s : spares) {
    BOOST_TEST(s.empty());
    BOOST_TEST(s.capacity() >= 300u);
  }
  // The same buffer, not a copy: no allocation when it is filled again.
  bool same = spares[0].data() == first || spares[1].data() == first;
  BOOST_TEST(same);
}

BOOST_AUTO_TEST_CASE(take_gives_at_most_what_was_asked_or_held) {
  string_pool pool{1 << 20, 4096};
  std::vector<std::string> done(5, std::string(100, 'x'));
  pool.give(done, self);
  std::vector<std::string> spares;
  pool.take(spares, 3);
  BOOST_TEST(spares.size() == 3u);
  pool.take(spares, 3);
  BOOST_TEST(spares.size() == 5u);
  pool.take(spares, 3);
  BOOST_TEST(spares.size() == 5u);
}

BOOST_AUTO_TEST_CASE(the_pool_is_bounded_by_bytes_and_buffer_size) {
  string_pool pool{1000, 4096};
  std::vector<std::string> done(10, std::string(300, 'x'));
  done.push_back(std::string(5000, 'y')); // above max_capacity
  done.push_back("short");                // inline: nothing to keep
  pool.give(done, self);
  BOOST_TEST(pool.bytes() <= 1000u);
  std::vector<std::string> spares;
  pool.take(spares, 100);
  BOOST_TEST(spares.size() >= 1u);
  BOOST_TEST(spares.size() <= 3u);
  for (auto& s : spares)
    BOOST_TEST(s.capacity() < 4096u);
}

BOOST_AUTO_TEST_CASE(a_buffer_much_larger_than_its_content_is_let_go) {
  // A buffer that grew for one large record must not go round at that
  // size for every small record after it.
  string_pool pool{1 << 20, 4096};
  std::vector<std::string> done(1);
  done[0].reserve(3000);
  done[0] = "small";
  pool.give(done, self);
  BOOST_TEST(pool.bytes() == 0u);
  done[0].assign(2000, 'x');
  pool.give(done, self);
  BOOST_TEST(pool.bytes() >= 2000u);
}

BOOST_AUTO_TEST_CASE(threads_give_and_take_at_once) {
  // One thread gives back what another takes, as the encoders and the
  // destinations do; run under a sanitizer this also checks the locking.
  string_pool pool{1 << 20, 4096};
  std::thread giver{[&] {
    for (int i = 0; i < 2000; ++i) {
      std::vector<std::string> done(8, std::string(200, 'g'));
      pool.give(done, self);
    }
  }};
  size_t taken = 0;
  std::vector<std::string> spares;
  for (int i = 0; i < 2000; ++i) {
    pool.take(spares, 8);
    taken += spares.size();
    for (auto& s : spares)
      s.assign(150, 't');
    spares.clear();
  }
  giver.join();
  pool.take(spares, 1 << 20);
  taken += spares.size();
  BOOST_TEST(taken <= 16000u);
  BOOST_TEST(pool.bytes() == 0u);
}

BOOST_AUTO_TEST_CASE(a_buffer_of_the_usual_room_is_kept_whatever_it_held) {
  // Reserved at the room the users ask for, it fits the next item even if
  // the last one was small; larger buffers still go when half empty.
  string_pool pool{1 << 20, 4096, 1024};
  std::vector<std::string> done(2);
  done[0].reserve(1024);
  done[0].assign(100, 'x');
  done[1].reserve(3000);
  done[1].assign(100, 'y');
  pool.give(done, self);
  std::vector<std::string> kept;
  pool.take(kept, 10);
  BOOST_TEST_REQUIRE(kept.size() == 1u);
  BOOST_TEST(kept[0].capacity() >= 1024u);
  BOOST_TEST(kept[0].capacity() < 3000u);
}

BOOST_AUTO_TEST_CASE(
  a_shared_batch_gives_its_xml_back_when_the_last_holder_goes) {
  // As the destinations hold an encoder's batch: the Kafka producer keeps
  // the batch, a TAK destination keeps references to some of its events;
  // only when both let go do the XML buffers reach the encoders' pool, and
  // on whichever thread that is.
  auto pool = std::make_shared<string_pool>(1 << 20, 4096, 2048);
  auto events = cotflow::make_cot_events(pool);
  for (int i = 0; i < 3; ++i) {
    cotflow::cot_event ev;
    ev.xml.assign(600, static_cast<char>('a' + i));
    events->push_back(std::move(ev));
  }
  std::weak_ptr<const cotflow::cot_events> seen = events;
  cotflow::cot_batch batch{std::move(events)};
  std::vector<cotflow::event_ref> queue;
  queue.emplace_back(batch.events, 1);
  queue.emplace_back(batch.events, 2);
  BOOST_TEST(queue[1]->xml == std::string(600, 'c'));
  batch.events.reset(); // the producer's delivery reports are in
  BOOST_TEST(!seen.expired());
  BOOST_TEST(pool->bytes() == 0u);
  std::thread other{[&] { queue.clear(); }}; // the TAK destination wrote them
  other.join();
  BOOST_TEST(seen.expired());
  BOOST_TEST(pool->bytes() >= 3 * 600u);
}
