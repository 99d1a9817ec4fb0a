#pragma once

#include "config/config.hpp"
#include "messages/actors.hpp"
#include "pipeline/tak/backoff.hpp"
#include "pipeline/tak/circuit_breaker.hpp"
#include "pipeline/tak/parking.hpp"
#include "pipeline/core/stats.hpp"
#include "pipeline/tak/tak_connection.hpp"

#include <caf/typed_event_based_actor.hpp>

#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <random>
#include <string>

namespace cotflow {

/// State of one TAK destination: its connection, its own queue of events
/// not yet accepted by the socket, and the reconnect schedule.
struct tak_sink_state {
  static inline const char* name = "tak-sink";
  std::string dest;
  std::string url;
  tak_url target;
  std::optional<tak_connection> conn;
  std::optional<backoff> retry;
  std::optional<circuit_breaker> breaker;
  /// A probe the half-open breaker granted, not yet reported.
  bool probe_out = false;
  /// The parking topic (null: parking off) and whether new events go there.
  std::shared_ptr<parking_lot> lot;
  bool parking = false;
  /// Events held in memory before the destination spills to parking.
  size_t queue_max = 0;
  std::vector<record_ref> scratch;
  latency_tally latencies;
  std::chrono::steady_clock::time_point next_report{};
  /// Fault injection: every connect and write fails within this window.
  std::chrono::steady_clock::time_point down_from{};
  std::chrono::steady_clock::time_point down_until{};
  /// Timer: generation of the one tick that counts, and when it is due.
  uint64_t tick = 0;
  std::chrono::steady_clock::time_point tick_due{};
  /// Fault injection: share of batches on which the actor throws.
  double throw_rate = 0;
  std::minstd_rand rng{std::random_device{}()};
  std::deque<event_ref> queue;
  /// Events written on the current connection, latest `replay_bytes`.
  std::deque<event_ref> recent;
  size_t recent_bytes = 0;
  size_t replay_bytes = 0;
  /// The write in progress: the first `in_write` queued events, as
  /// `pieces` (`write_total` bytes; on TLS one piece, `buffer`, holding
  /// them all), of which `written` bytes went out; begun at `write_since`.
  std::vector<std::string_view> pieces;
  std::string buffer;
  size_t write_total = 0;
  size_t in_write = 0;
  /// A lost connection put written events back in the queue.
  bool requeued = false;
  size_t written = 0;
  std::chrono::steady_clock::time_point write_since{};
  size_t write_bytes = 0;
  /// Bytes of events queued since the last pump (see the cot_batch
  /// handler).
  size_t deferred_bytes = 0;
  std::chrono::milliseconds healthy_after{0};
  std::chrono::steady_clock::time_point next_attempt{};
  std::chrono::steady_clock::time_point connected_since{};
  bool tick_pending = false; // a tick with generation `tick` is due
  bool ever_connected = false;
  std::chrono::milliseconds ping_interval{0};
  std::chrono::milliseconds ping_timeout{0};
  /// When the last unanswered ping went out, if one is pending.
  std::optional<std::chrono::steady_clock::time_point> ping_sent;
  std::chrono::steady_clock::time_point next_ping{};
  std::string last_error;
  dest_mask bit = 0;
  source_actor source;
  std::shared_ptr<stats> st;
  std::shared_ptr<destination_stats> dstats;
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
/// caught up. Spawn detached.
cot_sink_actor::behavior_type
tak_sink(cot_sink_actor::stateful_pointer<tak_sink_state> self,
         std::string name, std::string url,
         std::shared_ptr<const config> cfg, dest_mask bit,
         source_actor source, std::shared_ptr<stats> st,
         std::shared_ptr<destination_stats> dstats,
         std::shared_ptr<parking_lot> lot);

} // namespace cotflow
