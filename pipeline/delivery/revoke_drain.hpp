#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

namespace cotflow {

/// Revoked partitions held back from their next owner until the records
/// this instance handed out of them are acknowledged (and so committed as
/// the partitions are handed over), or until a bound passes. Without it a
/// planned rebalance (scale-out, rolling restart) hands the next owner a
/// commit below records this instance is still delivering: both deliver
/// them. One revoke waits at a time (librdkafka starts no other rebalance
/// before the revoke is complete). Pure bookkeeping: the consumer holds
/// the partitions paused and completes the revoke when told.
class revoke_drain {
public:
  using clock = std::chrono::steady_clock;
  /// Records still in flight on a partition handle.
  using in_flight_fn = std::function<size_t(uint32_t tp)>;

  /// How one revoke ended, for its log line and the counters.
  struct summary {
    /// Partitions handed over with nothing in flight.
    size_t partitions_drained = 0;
    /// Partitions handed over with records still in flight (the next
    /// owner delivers them again).
    size_t partitions_abandoned = 0;
    /// Records in flight at the revoke that were acknowledged before the
    /// hand-over.
    size_t records_drained = 0;
    /// Records still in flight at the hand-over.
    size_t records_abandoned = 0;
    /// From the revoke to the hand-over.
    clock::duration waited{};
    /// The bound passed first.
    bool timed_out = false;
  };

  /// `bound` 0: revokes never wait.
  explicit revoke_drain(clock::duration bound) : bound_(bound) {}

  /// Whether a revoke of `handles` waits: a bound is set and one of them
  /// has records in flight.
  bool waits(const std::vector<uint32_t>& handles,
             const in_flight_fn& in_flight) const;

  /// Starts holding `handles` back, until `now` + the bound at the latest.
  void start(std::vector<uint32_t> handles, const in_flight_fn& in_flight,
             clock::time_point now);

  /// A revoke is waiting.
  bool pending() const {
    return pending_;
  }

  /// `tp` belongs to the waiting revoke: its records are not handed out.
  bool holds(uint32_t tp) const;

  /// The handles of the waiting revoke.
  const std::vector<uint32_t>& handles() const {
    return handles_;
  }

  /// Whether the waiting revoke may complete at `now`: nothing of it is in
  /// flight any more, or the bound passed.
  bool due(const in_flight_fn& in_flight, clock::time_point now) const;

  /// Ends the wait (also when cut short: a shutdown, another rebalance);
  /// what was drained and what is left to the next owner.
  summary finish(const in_flight_fn& in_flight, clock::time_point now);

  /// Summarises a revoke that did not wait, as finish() would have.
  static summary at_once(const std::vector<uint32_t>& handles,
                         const in_flight_fn& in_flight);

private:
  static size_t total(const std::vector<std::pair<uint32_t, size_t>>& parts,
                      const in_flight_fn& in_flight);

  clock::duration bound_;
  bool pending_ = false;
  clock::time_point since_{};
  clock::time_point deadline_{};
  /// Handle and its records in flight at the revoke.
  std::vector<std::pair<uint32_t, size_t>> parts_;
  std::vector<uint32_t> handles_;
};

} // namespace cotflow
