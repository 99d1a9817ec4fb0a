#pragma once

#include "config/config.hpp"
#include "pipeline/core/stats.hpp"

#include <atomic>
#include <functional>
#include <memory>

namespace cotflow {

/// What the caller of run_pipeline controls.
struct run_hooks {
  /// Set (by a signal handler thread) to stop and drain.
  const std::atomic<bool>* stop = nullptr;
  /// Called about every 100 ms while running (live summary).
  std::function<void()> tick;
  /// Set (by the signal thread, on SIGHUP) to reload the configuration;
  /// run_pipeline clears it.
  std::atomic<bool>* reload = nullptr;
  /// Loads the configuration again as at start (file and environment);
  /// without it there is no reload.
  std::function<load_result()> load;
};

/// Assembles source -> batcher -> dispatcher -> encoders -> sinks, runs until
/// `hooks.stop` is set, drains, commits and returns the exit code (0 after a
/// clean drain; 1 when a client could not start or an actor failed).
int run_pipeline(const config& cfg, std::shared_ptr<stats> st,
                 const run_hooks& hooks);

} // namespace cotflow
