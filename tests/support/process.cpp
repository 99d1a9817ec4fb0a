#include "tests/support/process.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <thread>

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

namespace cotflow::test {

namespace {

/// Children not reaped yet, for kill_children().
struct live_children {
  std::mutex mtx;
  std::vector<pid_t> pids;

  void add(pid_t pid) {
    std::lock_guard<std::mutex> guard{mtx};
    pids.push_back(pid);
  }

  void remove(pid_t pid) {
    std::lock_guard<std::mutex> guard{mtx};
    pids.erase(std::remove(pids.begin(), pids.end(), pid), pids.end());
  }
};

live_children& live() {
  static live_children l;
  return l;
}

} // namespace

child::child(const std::vector<std::string>& argv,
             const std::vector<std::pair<std::string, std::string>>& env,
             bool capture_stderr) {
  // Close-on-exec: no child, this one or a later one, keeps a copy of
  // either end (its stdout is a dup2, which clears the flag).
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0)
    throw std::runtime_error("pipe failed");
  spawn(argv, env, fds[1], capture_stderr);
  close(fds[1]);
  out_ = fds[0];
}

child::child(const std::vector<std::string>& argv,
             const std::vector<std::pair<std::string, std::string>>& env,
             const log_file& log) {
  int fd = ::open(log.path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                  0644);
  if (fd < 0)
    throw std::runtime_error("cannot open " + log.path);
  spawn(argv, env, fd, true);
  close(fd);
}

void child::spawn(const std::vector<std::string>& argv,
                  const std::vector<std::pair<std::string, std::string>>& env,
                  int out_fd, bool capture_stderr) {
  pid_ = fork();
  if (pid_ < 0)
    throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    dup2(out_fd, STDOUT_FILENO);
    if (capture_stderr)
      dup2(out_fd, STDERR_FILENO);
    close(out_fd);
    // The caller may block signals (a test runner); the child must see
    // them.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    for (auto& [k, v] : env)
      setenv(k.c_str(), v.c_str(), 1);
    std::vector<char*> args;
    for (auto& a : argv)
      args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    std::perror("execv");
    std::_Exit(127);
  }
  live().add(pid_);
}

child::~child() {
  if (!reaped_ && pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    live().remove(pid_);
  }
  if (out_ >= 0)
    close(out_);
}

std::optional<std::string> child::read_line(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto nl = buf_.find('\n');
    if (nl != std::string::npos) {
      auto line = buf_.substr(0, nl);
      buf_.erase(0, nl + 1);
      return line;
    }
    if (out_ < 0)
      return std::nullopt;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
    // Look at least once, even when the time is already up.
    pollfd p{out_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(std::max<int64_t>(left.count(), 0)))
        <= 0) {
      if (left.count() <= 0)
        return std::nullopt;
      continue;
    }
    char tmp[4096];
    auto n = read(out_, tmp, sizeof(tmp));
    if (n <= 0)
      return std::nullopt;
    buf_.append(tmp, static_cast<size_t>(n));
  }
}

std::string child::read_all(std::chrono::milliseconds timeout) {
  std::string out;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (
    auto line = read_line(std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now())))
    out += *line + "\n";
  out += buf_;
  buf_.clear();
  return out;
}

void child::signal(int sig) {
  if (!reaped_)
    kill(pid_, sig);
}

bool child::alive() {
  if (reaped_)
    return false;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) != pid_)
    return true;
  reaped_ = true;
  live().remove(pid_);
  if (WIFEXITED(status))
    code_ = WEXITSTATUS(status);
  else if (WIFSIGNALED(status))
    code_ = 128 + WTERMSIG(status);
  return false;
}

std::optional<int> child::wait(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (alive()) {
    if (std::chrono::steady_clock::now() > deadline)
      return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
  }
  return code_;
}

void kill_children() {
  auto& l = live();
  std::lock_guard<std::mutex> guard{l.mtx};
  for (auto pid : l.pids)
    ::kill(pid, SIGKILL);
}

std::string cotflow_bin() {
  if (auto p = std::getenv("COTFLOW_BIN"))
    return p;
  throw std::runtime_error("COTFLOW_BIN is not set");
}

} // namespace cotflow::test
