#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>

namespace cotflow {

/// The source's credit: how many records it may hand out now, and when its
/// partitions pause. Credit counts every record the offset tracker holds,
/// complete or not (its span), so a record stuck at a partition's commit
/// position bounds what piles up behind it.
///
/// At the bound the source first just stops taking records: librdkafka's
/// bounded prefetch holds the rest, and credit usually returns within
/// milliseconds. Pausing (needed to keep serving rebalances while waiting
/// longer) costs a refetch on resume, so it comes only when the bound has
/// held for `pause_after`; the partitions resume at half the bound.
class credit_gate {
public:
  using clock = std::chrono::steady_clock;

  /// What the source does in this round of its loop.
  struct step {
    enum what {
      /// Take up to `room` records.
      take,
      /// Take nothing; look again in a millisecond (not paused yet).
      retry_soon,
      /// Take nothing; serve the consumer (paused) until the poll timeout.
      idle,
    };
    what action = take;
    size_t room = 0;
    /// Pause (true) or resume (false) the partitions first.
    std::optional<bool> pause;
  };

  /// At most this many records are taken in one round.
  static constexpr int64_t max_per_round = 4096;

  credit_gate(int64_t max_in_flight, clock::duration pause_after)
    : max_(max_in_flight), pause_after_(pause_after) {}

  /// A new bound (hot reload); the next round applies it.
  void limit(int64_t max_in_flight) {
    max_ = max_in_flight;
  }

  int64_t limit() const {
    return max_;
  }

  /// The step of a round at `now`, with `in_flight` records held by the
  /// tracker and the partitions `paused` or not.
  step decide(int64_t in_flight, bool paused, clock::time_point now) {
    step s;
    if (in_flight >= max_) {
      if (!full_since_)
        full_since_ = now;
      if (!paused && now - *full_since_ < pause_after_) {
        s.action = step::retry_soon;
        return s;
      }
      if (!paused)
        s.pause = paused = true;
    } else {
      full_since_.reset();
      if (paused && in_flight <= max_ / 2) {
        s.pause = false;
        paused = false;
      }
    }
    if (paused) {
      s.action = step::idle;
      return s;
    }
    s.room = static_cast<size_t>(std::min(max_ - in_flight, max_per_round));
    return s;
  }

private:
  int64_t max_;
  clock::duration pause_after_;
  /// Since when the bound holds, if it does.
  std::optional<clock::time_point> full_since_;
};

} // namespace cotflow
