#pragma once

#include "config/config.hpp"
#include "messages/actors.hpp"
#include "pipeline/core/stats.hpp"
#include "pipeline/tak/destination.hpp"
#include "pipeline/tak/parking.hpp"
#include "pipeline/tak/url/url.hpp"

#include <caf/typed_event_based_actor.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>

namespace cotflow {

/// State of one TAK destination's actor: the destination's delivery logic
/// (tak_destination: queue, connection, breaker, parking), where its
/// acknowledgements go, and the one timer that drives it.
struct tak_sink_state {
  static inline const char* name = "tak-sink";
  std::optional<tak_destination> dest;
  source_actor source;
  /// Timer: generation of the one tick that counts, when it is due, and
  /// whether a tick with generation `tick` is pending.
  struct timer_state {
    uint64_t tick = 0;
    std::chrono::steady_clock::time_point due{};
    bool pending = false;
  } timer;
  /// Fault injection: share of batches on which the actor throws.
  double throw_rate = 0;
  std::minstd_rand rng{std::random_device{}()};
};

/// Streams CoT events to one TAK server. An event counts as delivered once
/// the kernel accepted its bytes (TCP) or its datagram (UDP); events of a
/// failed write stay queued and are sent again after the reconnect.
///
/// A circuit breaker guards the server. While it is open, or while the
/// server is too slow for the queue (`tak.queue_events`), new events go to
/// the destination's parking topic (`lot`, may be null) and count as
/// acknowledged once Kafka has them, so the other destinations and the
/// consumer go on; the replayer brings them back, in order, once the
/// breaker lets events through, and direct delivery resumes when it has
/// caught up. The decisions are tak_destination's; the actor feeds it
/// batches and timer ticks. Spawn detached.
cot_sink_actor::behavior_type
tak_sink(cot_sink_actor::stateful_pointer<tak_sink_state> self,
         std::string name, std::string url, std::shared_ptr<const config> cfg,
         dest_mask bit, source_actor source, std::shared_ptr<stats> st,
         std::shared_ptr<destination_stats> dstats,
         std::shared_ptr<parking_lot> lot);

/// Makes a TAK destination's connection; tak_sink makes a tak_connection.
using tak_transport_factory
  = std::function<std::unique_ptr<tak_transport>(const tak_url&)>;

/// tak_sink with the connection made by `connect` and any parking port: the
/// seam of the actor's tests (tests/actors/tak_sink.cpp), which spawn it
/// non-detached on CAF's test coordinator with fakes.
cot_sink_actor::behavior_type
tak_sink_with(cot_sink_actor::stateful_pointer<tak_sink_state> self,
              std::string name, std::string url,
              std::shared_ptr<const config> cfg, dest_mask bit,
              source_actor source, std::shared_ptr<stats> st,
              std::shared_ptr<destination_stats> dstats,
              std::shared_ptr<parking_port> lot, tak_transport_factory connect);

} // namespace cotflow
