#pragma once

#include <atomic>
#include <chrono>
#include <csignal>

namespace cotflow::commands {

/// Blocks the stop signals (SIGINT, SIGTERM, SIGHUP) in every thread; a
/// dedicated thread waits for them: the first stop signal asks for a drain,
/// the second exits at once, SIGHUP asks for a reload. Construct it before
/// any other thread, so that all threads inherit the mask.
class signal_waiter {
public:
  signal_waiter();

  /// Starts the waiting thread.
  void start();

  /// Set by the first SIGINT or SIGTERM (or by a command that is done:
  /// `demo --count`).
  std::atomic<bool> stop{false};
  /// Set on SIGHUP; the pipeline reloads its configuration and clears it.
  std::atomic<bool> reload{false};

  /// How long after the first signal the process exits regardless.
  void grace(std::chrono::milliseconds g) {
    grace_ = g;
  }

private:
  void wait_loop();

  std::chrono::milliseconds grace_{15000};
  sigset_t set_;
};

} // namespace cotflow::commands
