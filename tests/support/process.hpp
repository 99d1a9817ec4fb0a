#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <sys/types.h>

namespace cotflow::test {

/// A child process with its stdout on a pipe (stderr is inherited, so the
/// test log shows its log lines). Killed with SIGKILL if still running when
/// destroyed.
class child {
public:
  child(const std::vector<std::string>& argv,
        const std::vector<std::pair<std::string, std::string>>& env = {},
        bool capture_stderr = false);
  ~child();
  child(const child&) = delete;
  child& operator=(const child&) = delete;

  /// Reads one line of stdout, waiting at most `timeout`.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout);

  /// Reads stdout until EOF (waiting at most `timeout`).
  std::string read_all(std::chrono::milliseconds timeout);

  /// Sends a signal.
  void signal(int sig);

  /// Waits for the exit; returns the exit code, 128+signal when killed, or
  /// nothing on timeout.
  std::optional<int> wait(std::chrono::milliseconds timeout);

  pid_t pid() const {
    return pid_;
  }

private:
  pid_t pid_ = -1;
  int out_ = -1;
  std::string buf_;
  bool reaped_ = false;
};

/// The path of the cotflow binary under test (env COTFLOW_BIN).
std::string cotflow_bin();

/// Polls `pred` every 20 ms until it holds or `timeout` passes.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred())
      return true;
    struct timespec ts {0, 20 * 1000 * 1000};
    nanosleep(&ts, nullptr);
  }
  return pred();
}

} // namespace cotflow::test
