#pragma once

#include <chrono>
#include <cstdint>
#include <random>

namespace cotflow {

/// Exponential backoff with jitter: the n-th delay is drawn uniformly from
/// [base/2, base] with base = min * 2^n capped at max, so that many clients
/// that lost the same server do not come back in lockstep.
class backoff {
public:
  using ms = std::chrono::milliseconds;

  backoff(ms min, ms max, uint64_t seed = std::random_device{}())
    : min_(min), max_(max), rng_(seed) {}

  /// The next delay; each call doubles the base up to the cap.
  ms next() {
    auto base = min_.count();
    for (int i = 0; i < attempts_ && base < max_.count(); ++i)
      base *= 2;
    if (base > max_.count())
      base = max_.count();
    ++attempts_;
    std::uniform_int_distribution<int64_t> pick{base / 2, base};
    return ms{pick(rng_)};
  }

  /// Starts over from the minimum (after a healthy period).
  void reset() {
    attempts_ = 0;
  }

  /// Delays handed out since the last reset.
  int attempts() const {
    return attempts_;
  }

private:
  ms min_;
  ms max_;
  std::mt19937_64 rng_;
  int attempts_ = 0;
};

} // namespace cotflow
