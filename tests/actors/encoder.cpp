#include <boost/test/unit_test.hpp>

#include "actors/encoder.hpp"
#include "pipeline/codec/generator.hpp"
#include "pipeline/core/time.hpp"
#include "tests/support/actor_fixture.hpp"
#include "tests/support/fake_source.hpp"

#include <caf/all.hpp>

#include <memory>
#include <string>
#include <vector>

// The encoder actor on CAF's test coordinator: a batch becomes the same
// events for every destination, dead letters for their sink and a report
// to the dispatcher.

using namespace cotflow;

namespace {

/// What the fakes around the encoder received.
struct received {
  std::vector<cot_batch> batches;
  std::vector<dead_letter_batch> dead;
  std::vector<uint64_t> done;
  std::vector<ack> acks;
};

cot_sink_actor::behavior_type fake_sink(cot_sink_actor::pointer,
                                        std::shared_ptr<received> got) {
  return {
    [=](cot_batch& b) { got->batches.push_back(std::move(b)); },
    [](atom::poll) {},
    [](atom::poll, uint64_t) {},
    [](tunables&) {},
  };
}

dead_letter_sink_actor::behavior_type
fake_dead_letters(dead_letter_sink_actor::pointer,
                  std::shared_ptr<received> got) {
  return {
    [=](dead_letter_batch& b) { got->dead.push_back(std::move(b)); },
    [](atom::poll) {},
  };
}

dispatcher_actor::behavior_type fake_dispatcher(dispatcher_actor::pointer,
                                                std::shared_ptr<received> got) {
  return {
    [](batch&) {},
    [=](atom::done, uint64_t, uint64_t id) { got->done.push_back(id); },
    [](atom::restart, uint64_t) {},
  };
}

/// `n` generated records (the generator's share of malformed ones among
/// them), stamped now.
std::shared_ptr<const batch> generated(size_t n, double malformed) {
  detection_generator::options opts;
  opts.malformed = malformed;
  detection_generator gen{opts};
  auto b = std::make_shared<batch>();
  generated_record g;
  for (size_t i = 0; i < n; ++i) {
    gen.next(g, now_ms());
    record r;
    r.ref = {1, static_cast<int64_t>(i)};
    r.key = g.key;
    r.payload = g.payload;
    b->records.push_back(std::move(r));
  }
  return b;
}

struct encoder_fixture : test::actor_fixture {
  std::shared_ptr<received> got = std::make_shared<received>();

  /// An encoder in front of the fakes: two destinations, the dead-letter
  /// sink, the source and the dispatcher.
  encoder_actor start() {
    auto cfg = std::make_shared<const config>(default_config());
    std::vector<cot_sink_actor> sinks{spawn(fake_sink, got),
                                      spawn(fake_sink, got)};
    return spawn(encoder, cfg, sinks, spawn(fake_dead_letters, got),
                 spawn(test::ack_keeper,
                       std::shared_ptr<std::vector<ack>>{got, &got->acks}),
                 std::make_shared<stats>(), spawn(fake_dispatcher, got),
                 uint64_t{0}, std::make_shared<string_pool>(1 << 20, 16384));
  }

  /// The events of the batch the destinations received: one, shared.
  const cot_events& events() const {
    BOOST_REQUIRE_EQUAL(got->batches.size(), 2u);
    BOOST_REQUIRE(got->batches[0].events == got->batches[1].events);
    return *got->batches[0].events;
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(encoder_tests, encoder_fixture)

BOOST_AUTO_TEST_CASE(a_batch_becomes_events_dead_letters_and_a_report) {
  auto aut = start();
  caf::anon_send(aut, work{7, generated(200, 0.1)});
  run();
  BOOST_REQUIRE_EQUAL(got->dead.size(), 1u);
  auto letters = got->dead[0].letters.size();
  BOOST_TEST(letters > 0u);
  BOOST_TEST(events().size() + letters == 200u);
  BOOST_TEST(got->done == std::vector<uint64_t>{7});
  BOOST_TEST(got->acks.empty()); // nothing dropped: nothing acknowledged here
  // Each event from its record: its offset, its uid as the XML has it.
  for (auto& ev : events()) {
    BOOST_TEST(ev.ref.tp == 1u);
    BOOST_TEST(ev.xml.find("uid=\"" + ev.uid + "\"") != std::string::npos);
  }
  // Each dead letter with its record's bytes and a reason.
  for (auto& d : got->dead[0].letters) {
    BOOST_TEST(!d.reason.empty());
    BOOST_TEST(!d.rec.bytes().empty());
  }
}

BOOST_AUTO_TEST_SUITE_END()
