#pragma once

#include "pipeline/core/dest_mask.hpp"
#include "pipeline/core/record.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>

namespace cotflow {

/// Where the source actor takes its records from and returns their
/// acknowledgements to: the Kafka consumer (tracked_consumer) in the
/// product, a fake in the actor tests. Every record handed out stays in
/// flight until acknowledged by all its destinations; only then may its
/// position be committed. Not thread-safe: one actor owns it.
class record_feed {
public:
  using record_fn = std::function<void(record&&)>;

  virtual ~record_feed() = default;

  /// Hands up to `max` records to `fn`, waiting at most `timeout_ms` for
  /// the first; each one is tracked from then on. Returns how many.
  virtual size_t take(int timeout_ms, size_t max, const record_fn& fn) = 0;

  /// True when the last take() stopped because nothing more was ready
  /// (rather than at `max`).
  virtual bool drained() const = 0;

  /// Serves the feed (rebalances, errors) without taking records, waiting
  /// at most `timeout_ms`.
  virtual void idle(int timeout_ms) = 0;

  /// Applies an acknowledgement of `bits` for one record; true when it
  /// completed the record, and then `*marks` holds its outcome_bits
  /// (whether a destination parked or dropped it).
  virtual bool ack(uint32_t tp, int64_t offset, dest_mask bits,
                   dest_mask* marks = nullptr)
    = 0;

  /// Has `ready` called, on another thread, whenever something comes
  /// after a take() or idle() found nothing left: records, a rebalance,
  /// an error. It must only send its owner a message. Calls stop when
  /// `ready` is empty (or the feed is gone). Not called while the owner
  /// leaves records in the feed: the owner takes them when it can.
  virtual void on_ready(std::function<void()> ready) = 0;

  /// Pauses or resumes taking from every partition.
  virtual void pause(bool on) = 0;
  virtual bool paused() const = 0;

  /// Hands the positions that moved to the committer.
  virtual void store_positions() = 0;

  /// Records handed out and not yet acknowledged.
  virtual size_t in_flight() const = 0;

  /// Records held between the commit positions and the newest hand-out,
  /// complete or not: what credit bounds.
  virtual size_t span() const = 0;

  /// Commits what is safe and stops; false when the final commit failed.
  virtual bool close() = 0;

  /// Fault injection: this member's side of a rebalance (see
  /// tracked_consumer).
  virtual void simulate_rebalance() = 0;
};

} // namespace cotflow
