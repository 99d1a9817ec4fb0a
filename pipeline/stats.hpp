#pragma once

#include <atomic>
#include <cstdint>

namespace cotflow {

/// Counters shared by the actors of one pipeline; read by the live summary
/// and the tests. Every input record ends in exactly one of delivered,
/// dead_lettered or dropped_* once it is acknowledged.
struct stats {
  std::atomic<uint64_t> consumed{0};
  /// Records acknowledged by every destination (or dead-lettered or dropped).
  std::atomic<uint64_t> completed{0};
  std::atomic<uint64_t> dead_lettered{0};
  std::atomic<uint64_t> dropped_stale{0};
  std::atomic<uint64_t> dropped_too_old{0};
  std::atomic<uint64_t> dropped_low_confidence{0};
  std::atomic<uint64_t> batches{0};
  std::atomic<uint64_t> events_written{0};
  std::atomic<uint64_t> delivery_retries{0};
  std::atomic<uint64_t> tak_events_written{0};
  std::atomic<uint64_t> tak_bytes_written{0};
  std::atomic<uint64_t> tak_connects{0};
  std::atomic<uint64_t> tak_disconnects{0};
  std::atomic<uint64_t> tak_events_replayed{0};
  std::atomic<uint64_t> tak_events_skipped{0};
  std::atomic<uint64_t> commits{0};
  std::atomic<int64_t> in_flight{0};
  std::atomic<int64_t> assigned_partitions{0};
  std::atomic<bool> paused{false};

  uint64_t dropped() const {
    return dropped_stale + dropped_too_old + dropped_low_confidence;
  }

  /// Records that reached every destination.
  uint64_t delivered() const {
    auto other = dead_lettered + dropped();
    auto done = completed.load();
    return done > other ? done - other : 0;
  }
};

} // namespace cotflow
