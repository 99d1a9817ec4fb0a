#pragma once

#include <cstdint>

namespace cotflow {

/// The settings a running pipeline takes on a reload (SIGHUP or a changed
/// config file) without a restart; each actor applies its part.
struct tunables {
  int64_t batch_size = 0;
  int64_t batch_age_ms = 0;
  int64_t max_in_flight = 0;
  int64_t queue_events = 0;
  int64_t breaker_failures = 0;
  double breaker_failure_rate = 0;
  int64_t breaker_window = 0;
  int64_t breaker_open_min_ms = 0;
  int64_t breaker_open_max_ms = 0;
  int64_t breaker_probes = 0;
};

} // namespace cotflow
