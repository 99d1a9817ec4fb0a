#pragma once

#include <chrono>
#include <deque>
#include <optional>

namespace cotflow {

/// When to restart a failed child, and when to give up and escalate: at
/// most `max_restarts` within `window` (OTP's restart intensity), each
/// restart after a delay that doubles with the recent failures, from `min`
/// up to `max`. Pure logic; the caller owns the clock.
class restart_policy {
public:
  using clock = std::chrono::steady_clock;
  using ms = std::chrono::milliseconds;

  restart_policy(int max_restarts, ms window, ms min, ms max)
    : max_restarts_(max_restarts), window_(window), min_(min), max_(max) {}

  /// Records a failure at `now`: the delay before the restart, or nothing
  /// when the intensity is exceeded and the failure must escalate.
  std::optional<ms> failed(clock::time_point now) {
    while (!recent_.empty() && now - recent_.front() > window_)
      recent_.pop_front();
    if (static_cast<int>(recent_.size()) >= max_restarts_)
      return std::nullopt;
    recent_.push_back(now);
    ++restarts_;
    auto delay = min_;
    for (size_t i = 1; i < recent_.size() && delay < max_; ++i)
      delay *= 2;
    return delay < max_ ? delay : max_;
  }

  /// Restarts granted so far, in the whole lifetime.
  int restarts() const {
    return restarts_;
  }

  /// Restarts granted within the window before the latest failure: what
  /// the intensity judged it by (max_restarts when it escalated).
  int recent_restarts() const {
    return static_cast<int>(recent_.size());
  }

  /// The window of the intensity.
  ms window() const {
    return window_;
  }

private:
  int max_restarts_;
  ms window_;
  ms min_;
  ms max_;
  std::deque<clock::time_point> recent_;
  int restarts_ = 0;
};

} // namespace cotflow
