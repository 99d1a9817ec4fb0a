#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <random>
#include <string>
#include <vector>

namespace cotflow {

struct tak_config;

/// Thresholds of a circuit breaker; see circuit_breaker. Filled from the
/// tak.breaker_* keys, whose defaults and bounds the config's key table
/// holds: none are repeated here, so every field starts at zero.
struct breaker_settings {
  using ms = std::chrono::milliseconds;
  /// Consecutive failures that open the breaker (0: never on this rule).
  int consecutive_failures = 0;
  /// Failure share over the last `window` outcomes that opens it (0: never
  /// on this rule); judged only once `window` outcomes were seen.
  double failure_rate = 0;
  int window = 0;
  /// How long it stays open: the floor, doubling with each trip that
  /// follows without a close in between, jittered, never over the cap.
  ms open_min{0};
  ms open_max{0};
  /// Successful probe batches in half-open that close it again.
  int probes = 0;

  /// The thresholds of the tak.breaker_* keys of `c`.
  static breaker_settings from(const tak_config& c);
};

enum class circuit_state { closed, open, half_open };

/// "closed", "open" or "half-open".
const char* to_string(circuit_state s);

/// A circuit breaker for one destination, as pure logic: the caller asks
/// `allow` before sending a batch and reports each outcome. The caller owns
/// the clock, so tests drive it with a fake one.
///
/// closed --(N consecutive failures, or the failure rate over the window)-->
/// open --(its wait elapsed)--> half-open --(`probes` successes)--> closed;
/// a failure in half-open opens it again for a longer wait.
class circuit_breaker {
public:
  using clock = std::chrono::steady_clock;
  using ms = std::chrono::milliseconds;

  /// One state change, for the status endpoint.
  struct transition {
    circuit_state from;
    circuit_state to;
    clock::time_point at;
    std::string reason;
  };

  explicit circuit_breaker(breaker_settings s,
                           uint64_t seed = std::random_device{}());

  /// May a batch go to the destination now? Moves an open breaker whose
  /// wait elapsed to half-open; in half-open, grants `probes` batches.
  bool allow(clock::time_point now);

  /// The destination took a batch.
  void success(clock::time_point now);

  /// The destination failed (a write, a connect); `reason` says how.
  void failure(clock::time_point now, const std::string& reason);

  /// Applies new thresholds (hot reload); the current state stays.
  void reconfigure(const breaker_settings& s) {
    settings_ = s;
  }

  circuit_state state() const {
    return state_;
  }

  /// Times the breaker opened.
  uint64_t trips() const {
    return trips_;
  }

  /// Why it opened last (empty before the first trip).
  const std::string& last_trip_reason() const {
    return last_reason_;
  }

  /// When an open breaker lets probes through.
  clock::time_point open_until() const {
    return open_until_;
  }

  /// The latest state changes, oldest first (at most 16).
  const std::deque<transition>& transitions() const {
    return transitions_;
  }

  const breaker_settings& settings() const {
    return settings_;
  }

private:
  void move_to(circuit_state to, clock::time_point now, std::string reason);
  void trip(clock::time_point now, std::string reason);

  breaker_settings settings_;
  std::mt19937_64 rng_;
  circuit_state state_ = circuit_state::closed;
  int consecutive_ = 0;
  /// Last outcomes, true = failure.
  std::deque<bool> outcomes_;
  int failures_in_window_ = 0;
  /// Trips since the last close: the exponent of the wait.
  int reopened_ = 0;
  int probes_granted_ = 0;
  int probes_succeeded_ = 0;
  uint64_t trips_ = 0;
  clock::time_point open_until_{};
  std::string last_reason_;
  std::deque<transition> transitions_;
};

} // namespace cotflow
