#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <sys/types.h>

namespace cotflow::test {

/// Where a child's stdout and stderr go instead of a pipe: this file
/// (truncated), for the benchmarks' long runs.
struct log_file {
  std::string path;
};

/// A child process (the tests' `cotflow`, the benchmarks' pipelines). Its
/// stdout goes to a pipe read with read_line() (stderr too with
/// `capture_stderr`, else inherited so the test log shows its log lines),
/// or both to a log_file. Killed with SIGKILL if still running when
/// destroyed, or by kill_children().
class child {
public:
  child(const std::vector<std::string>& argv,
        const std::vector<std::pair<std::string, std::string>>& env = {},
        bool capture_stderr = false);
  /// Writes stdout and stderr to `log`; throws when it cannot be opened.
  child(const std::vector<std::string>& argv,
        const std::vector<std::pair<std::string, std::string>>& env,
        const log_file& log);
  ~child();
  child(const child&) = delete;
  child& operator=(const child&) = delete;

  /// Reads one line of stdout, waiting at most `timeout` (pipe only).
  std::optional<std::string> read_line(std::chrono::milliseconds timeout);

  /// Reads stdout until EOF (waiting at most `timeout`; pipe only).
  std::string read_all(std::chrono::milliseconds timeout);

  /// Sends a signal (none once it was reaped).
  void signal(int sig);

  /// True while the process has not exited (reaps it when it has).
  bool alive();

  /// Waits for the exit, looking every 10 ms; returns the exit code,
  /// 128+signal when killed, or nothing on timeout.
  std::optional<int> wait(std::chrono::milliseconds timeout);

  pid_t pid() const {
    return pid_;
  }

private:
  void spawn(const std::vector<std::string>& argv,
             const std::vector<std::pair<std::string, std::string>>& env,
             int out_fd, bool capture_stderr);

  pid_t pid_ = -1;
  int out_ = -1;
  std::string buf_;
  bool reaped_ = false;
  int code_ = -1;
};

/// Kills (SIGKILL) every child not reaped yet: for a program about to exit
/// without running destructors (std::exit), so that no pipeline it started
/// keeps polling a broker that is gone.
void kill_children();

/// The path of the cotflow binary under test (env COTFLOW_BIN).
std::string cotflow_bin();

/// Polls `pred` every 20 ms until it holds or `timeout` passes.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred())
      return true;
    struct timespec ts {
      0, 20 * 1000 * 1000
    };
    nanosleep(&ts, nullptr);
  }
  return pred();
}

} // namespace cotflow::test
