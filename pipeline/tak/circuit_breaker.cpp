#include "pipeline/tak/circuit_breaker.hpp"

#include "config/config.hpp"

#include <algorithm>
#include <cstdio>

namespace cotflow {

const char* to_string(circuit_state s) {
  switch (s) {
    case circuit_state::closed:
      return "closed";
    case circuit_state::open:
      return "open";
    case circuit_state::half_open:
      return "half-open";
  }
  return "unknown";
}

breaker_settings breaker_settings::from(const tak_config& c) {
  breaker_settings b;
  b.consecutive_failures = static_cast<int>(c.breaker_failures);
  b.failure_rate = c.breaker_failure_rate;
  b.window = static_cast<int>(c.breaker_window);
  b.open_min = ms{c.breaker_open_min_ms};
  b.open_max = ms{c.breaker_open_max_ms};
  b.probes = static_cast<int>(c.breaker_probes);
  return b;
}

circuit_breaker::circuit_breaker(breaker_settings s, uint64_t seed)
  : settings_(s), rng_(seed) {}

void circuit_breaker::move_to(circuit_state to, clock::time_point now,
                              std::string reason) {
  transitions_.push_back({state_, to, now, std::move(reason)});
  while (transitions_.size() > 16)
    transitions_.pop_front();
  state_ = to;
}

void circuit_breaker::trip(clock::time_point now, std::string reason) {
  // floor * 2^reopened, capped; jitter adds up to a quarter on top so that
  // destinations that failed together do not probe in lockstep.
  auto floor = std::max<int64_t>(settings_.open_min.count(), 1);
  auto cap = std::max<int64_t>(settings_.open_max.count(), floor);
  auto base = floor;
  for (int i = 0; i < reopened_ && base < cap; ++i)
    base *= 2;
  base = std::min(base, cap);
  std::uniform_int_distribution<int64_t> extra{0, base / 4};
  auto wait = std::min(base + extra(rng_), cap);
  ++reopened_;
  ++trips_;
  open_until_ = now + ms{wait};
  last_reason_ = reason;
  consecutive_ = 0;
  outcomes_.clear();
  failures_in_window_ = 0;
  probes_granted_ = 0;
  probes_succeeded_ = 0;
  move_to(circuit_state::open, now, std::move(reason));
}

bool circuit_breaker::allow(clock::time_point now) {
  switch (state_) {
    case circuit_state::closed:
      return true;
    case circuit_state::open:
      if (now < open_until_)
        return false;
      move_to(circuit_state::half_open, now, "open wait elapsed");
      probes_granted_ = 0;
      probes_succeeded_ = 0;
      [[fallthrough]];
    case circuit_state::half_open:
      if (probes_granted_ >= std::max(settings_.probes, 1))
        return false;
      ++probes_granted_;
      return true;
  }
  return false;
}

void circuit_breaker::success(clock::time_point now) {
  consecutive_ = 0;
  if (state_ == circuit_state::half_open) {
    if (++probes_succeeded_ >= std::max(settings_.probes, 1)) {
      reopened_ = 0;
      outcomes_.clear();
      failures_in_window_ = 0;
      move_to(circuit_state::closed, now,
              std::to_string(probes_succeeded_) + " probe(s) succeeded");
    }
    return;
  }
  if (state_ != circuit_state::closed)
    return;
  outcomes_.push_back(false);
  while (static_cast<int>(outcomes_.size()) > std::max(settings_.window, 1)) {
    failures_in_window_ -= outcomes_.front() ? 1 : 0;
    outcomes_.pop_front();
  }
}

void circuit_breaker::failure(clock::time_point now,
                              const std::string& reason) {
  if (state_ == circuit_state::open)
    return; // already open; nothing was allowed through
  if (state_ == circuit_state::half_open) {
    trip(now, "probe failed: " + reason);
    return;
  }
  ++consecutive_;
  outcomes_.push_back(true);
  ++failures_in_window_;
  auto window = std::max(settings_.window, 1);
  while (static_cast<int>(outcomes_.size()) > window) {
    failures_in_window_ -= outcomes_.front() ? 1 : 0;
    outcomes_.pop_front();
  }
  if (settings_.consecutive_failures > 0
      && consecutive_ >= settings_.consecutive_failures) {
    trip(now, std::to_string(consecutive_)
                + " consecutive failures, last: " + reason);
    return;
  }
  if (settings_.failure_rate > 0
      && static_cast<int>(outcomes_.size()) >= window) {
    auto rate = static_cast<double>(failures_in_window_) / window;
    if (rate >= settings_.failure_rate) {
      char text[64];
      std::snprintf(text, sizeof(text), "%.0f%% of the last %d failed",
                    rate * 100, window);
      trip(now, std::string{text} + ", last: " + reason);
    }
  }
}

} // namespace cotflow
