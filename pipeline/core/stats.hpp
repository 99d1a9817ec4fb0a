#pragma once

#include "pipeline/core/tap.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace prometheus {
class Histogram;
}

namespace cotflow {

/// Bucket bounds (seconds) of the latency histograms.
inline const std::vector<double>& latency_buckets() {
  static const std::vector<double> bounds{
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  return bounds;
}

/// The latencies of one batch of deliveries, added to a histogram at once:
/// one update (one lock) of the histogram per batch instead of one per
/// event. The histogram must have latency_buckets().
class latency_tally {
public:
  latency_tally() : counts_(latency_buckets().size() + 1, 0.0) {}

  void add(double seconds) {
    auto& b = latency_buckets();
    size_t i = 0;
    while (i < b.size() && b[i] < seconds)
      ++i; // the first bucket whose bound is >= seconds, as Observe does
    counts_[i] += 1;
    sum_ += seconds;
    any_ = true;
  }

  /// Adds what was tallied to `h` (if any) and starts over.
  void flush_into(prometheus::Histogram* h);

private:
  std::vector<double> counts_;
  double sum_ = 0;
  bool any_ = false;
};

/// One node of the supervision tree, as /supervision shows it.
struct actor_info {
  std::string name;
  std::string parent;
  std::atomic<bool> up{true};
  std::atomic<uint64_t> restarts{0};

  void failed(std::string why) {
    std::lock_guard<std::mutex> guard{mtx_};
    last_failure_ = std::move(why);
  }

  std::string last_failure() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return last_failure_;
  }

private:
  mutable std::mutex mtx_;
  std::string last_failure_;
};

/// What the HTTP ingest reports: requests by answer, records, latency.
struct ingest_stats {
  std::atomic<bool> on{false};
  /// Requests answered 202, 400, 401, 413, 429, 503.
  std::atomic<uint64_t> accepted{0};
  std::atomic<uint64_t> bad_request{0};
  std::atomic<uint64_t> unauthorized{0};
  std::atomic<uint64_t> too_large{0};
  std::atomic<uint64_t> busy{0};
  std::atomic<uint64_t> unavailable{0};
  /// Records Kafka confirmed in the input topic; records refused.
  std::atomic<uint64_t> records{0};
  std::atomic<uint64_t> refused{0};
  /// Seconds from a request's arrival to its answer; owned by the metrics
  /// registry (thread-safe).
  prometheus::Histogram* latency = nullptr;
};

/// What one destination reports about itself; written by its sink actor,
/// read by the HTTP endpoints.
struct destination_stats {
  std::string name;
  /// kafka, file, tcp, tls or udp.
  std::string kind;
  /// Where it writes (URL without options, topic, or path).
  std::string endpoint;
  std::atomic<bool> connected{false};
  std::atomic<uint64_t> events{0};
  std::atomic<uint64_t> bytes{0};
  std::atomic<uint64_t> reconnects{0};
  std::atomic<uint64_t> skipped{0};
  /// Events sent again after a lost connection (what the server had not
  /// acknowledged, plus tak.resend_margin_bytes). Exported as
  /// cotflow_destination_replayed_total.
  std::atomic<uint64_t> resent{0};
  /// Their bytes, as written on the connection that was lost.
  std::atomic<uint64_t> resent_bytes{0};
  /// Bytes the server's kernel had not acknowledged when connections were
  /// lost (after the latest write; the whole replay window when the kernel
  /// could not say): what was resent beyond tak.resend_margin_bytes.
  std::atomic<uint64_t> unacknowledged_at_loss{0};
  /// Bytes of events written after the latest ping the server answered
  /// when connections were lost (the whole replay window when it answered
  /// none): no more than these are resent.
  std::atomic<uint64_t> unconfirmed_at_loss{0};
  /// Answers to keepalive pings (t-x-c-t-r) from the server.
  std::atomic<uint64_t> ping_answers{0};
  /// Events whose stale time passed before they reached the socket:
  /// dropped, not written (TAK destinations).
  std::atomic<uint64_t> stale_at_write{0};
  /// TAK destinations: the TAK Protocol version the connection writes (0:
  /// XML), and events that could not be encoded in version 1 (dropped).
  std::atomic<int> protocol{0};
  std::atomic<uint64_t> unencodable{0};
  std::atomic<int64_t> queue{0};
  /// Circuit breaker (TAK destinations): 0 closed, 1 open, 2 half-open.
  std::atomic<int> breaker{0};
  std::atomic<uint64_t> breaker_trips{0};
  /// Parking: 1 while new events go to the parking topic.
  std::atomic<bool> parking{false};
  /// Events parked and confirmed by Kafka. What these counters add up to
  /// is pipeline/core/counts.hpp's parking_counts.
  std::atomic<uint64_t> parked{0};
  /// Parked events replayed to the destination (once each: an event sent
  /// again after a lost connection is in `resent`). Shown as "replayed" in
  /// the parking object of /status and in `cotflow top`.
  std::atomic<uint64_t> unparked{0};
  /// Parked events dropped by the replayer because their stale time passed.
  std::atomic<uint64_t> parked_stale{0};
  /// Parked events taken back and dropped at their write: stale by then,
  /// or not encodable (also in stale_at_write or unencodable).
  std::atomic<uint64_t> parked_dropped_at_write{0};
  /// Events an earlier run (or another instance) parked that this one
  /// replayed to the destination, or dropped (stale, not encodable): not
  /// in this run's parked, replayed or dropped, so that its `waiting`
  /// stays right while it works off an inherited backlog.
  std::atomic<uint64_t> inherited_replayed{0};
  std::atomic<uint64_t> inherited_dropped{0};
  /// Parked events the replayer has not taken yet (its partitions).
  std::atomic<int64_t> parking_backlog{0};
  /// Parked events the parking topic's retention deleted before their
  /// replay: lost for this destination.
  std::atomic<uint64_t> parked_lost{0};
  /// Events of other deployments found in the parking topic and passed
  /// over (see parking_lot).
  std::atomic<uint64_t> parked_foreign{0};
  /// The parking topic, empty without parking.
  std::string parking_topic;
  /// End-to-end latency (Kafka timestamp to delivery), seconds; owned by
  /// the metrics registry.
  prometheus::Histogram* latency = nullptr;
  /// Seconds per socket write (TAK destinations).
  prometheus::Histogram* write_latency = nullptr;

  void error(std::string text) {
    std::lock_guard<std::mutex> guard{mtx_};
    last_error_ = std::move(text);
  }

  std::string last_error() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return last_error_;
  }

  /// Why the breaker opened last.
  void trip_reason(std::string text) {
    std::lock_guard<std::mutex> guard{mtx_};
    trip_reason_ = std::move(text);
  }

  std::string trip_reason() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return trip_reason_;
  }

private:
  mutable std::mutex mtx_;
  std::string last_error_;
  std::string trip_reason_;
};

/// The outcome of the last configuration reload, for /status.
struct reload_info {
  uint64_t reloads = 0;
  /// RFC 3339 time of the last attempt, empty before any.
  std::string at;
  /// applied, unchanged or refused.
  std::string result;
  std::vector<std::string> applied;
  /// Changed keys that take effect only after a restart (not applied).
  std::vector<std::string> restart_required;
  std::vector<std::string> errors;
};

/// Counters shared by the actors of one pipeline; read by the live summary
/// and the tests. What they add up to (delivered, waiting in parking, ...)
/// is count_records() in pipeline/core/counts.hpp.
struct stats {
  std::atomic<uint64_t> consumed{0};
  /// Records acknowledged by every destination (or dead-lettered or dropped).
  std::atomic<uint64_t> completed{0};
  std::atomic<uint64_t> dead_lettered{0};
  /// Dead letters Kafka refused as too large, sent cut (cotflow.truncated).
  std::atomic<uint64_t> dead_letters_cut{0};
  /// Records complete with at least one destination holding them in its
  /// parking topic at that moment (a flow: never decreases; what is still
  /// waiting is count_records()'s `waiting`).
  std::atomic<uint64_t> parked{0};
  /// Records complete with at least one destination that dropped them
  /// (a TAK destination: stale by their write, or not encodable for it;
  /// the reasons per destination are its stale_at_write and unencodable).
  std::atomic<uint64_t> dropped_at_destination{0};
  std::atomic<uint64_t> dropped_stale{0};
  std::atomic<uint64_t> dropped_too_old{0};
  std::atomic<uint64_t> dropped_low_confidence{0};
  /// Characters of text fields replaced by U+FFFD (not UTF-8, or not
  /// allowed in XML), and text fields cut to pipeline.max_text_bytes, in
  /// records that were converted.
  std::atomic<uint64_t> text_replaced_chars{0};
  std::atomic<uint64_t> text_truncated_fields{0};
  /// Number fields set to the nearest end of their range
  /// (cot.out_of_range: clamp), in records that were converted.
  std::atomic<uint64_t> values_clamped{0};
  std::atomic<uint64_t> batches{0};
  std::atomic<uint64_t> delivery_retries{0};
  std::atomic<uint64_t> commits{0};
  std::atomic<int64_t> in_flight{0};
  std::atomic<int64_t> assigned_partitions{0};
  /// Revoked partitions handed over with nothing in flight (drained) or
  /// with records still in flight (abandoned to the next owner), and those
  /// records (kafka.revoke_drain_ms).
  std::atomic<uint64_t> revoked_drained{0};
  std::atomic<uint64_t> revoked_abandoned{0};
  std::atomic<uint64_t> revoke_records_drained{0};
  std::atomic<uint64_t> revoke_records_abandoned{0};
  std::atomic<bool> paused{false};
  /// Set once before the actors start; never resized after.
  std::vector<std::shared_ptr<destination_stats>> destinations;
  /// The supervision tree; set once before the actors start.
  std::vector<std::shared_ptr<actor_info>> actors;
  /// Batch sizes (records); owned by the metrics registry.
  prometheus::Histogram* batch_size = nullptr;
  ingest_stats ingest;
  /// Events and dead letters as they pass, for `cotflow tail`.
  event_tap tap;
  /// Lifecycle for /health/ready.
  std::atomic<bool> running{false};
  std::atomic<bool> draining{false};
  /// When the last partition went away (steady ms), 0 while assigned.
  std::atomic<int64_t> unassigned_since_ms{0};
  std::atomic<bool> ever_assigned{false};
  int64_t ready_timeout_ms = 30000;
  /// The highest `delivered` count_records() reported, which it never
  /// reports less than (see pipeline/core/counts.hpp).
  mutable std::atomic<uint64_t> delivered_floor{0};

  /// Ready: running, not draining, and partitions assigned (a short gap
  /// during a rebalance is tolerated up to ready_timeout_ms).
  bool ready() const {
    if (!running || draining || !ever_assigned)
      return false;
    if (assigned_partitions > 0)
      return true;
    auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::steady_clock::now().time_since_epoch())
                 .count();
    return now - unassigned_since_ms < ready_timeout_ms;
  }

  void reloaded(reload_info r) {
    std::lock_guard<std::mutex> guard{reload_mtx_};
    reload_ = std::move(r);
  }

  reload_info last_reload() const {
    std::lock_guard<std::mutex> guard{reload_mtx_};
    return reload_;
  }

  uint64_t dropped() const {
    return dropped_stale + dropped_too_old + dropped_low_confidence;
  }

private:
  mutable std::mutex reload_mtx_;
  reload_info reload_;
};

} // namespace cotflow
