#include "tests/support/process.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include <poll.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

namespace cotflow::test {

child::child(const std::vector<std::string>& argv,
             const std::vector<std::pair<std::string, std::string>>& env,
             bool capture_stderr) {
  int fds[2];
  if (pipe(fds) != 0)
    throw std::runtime_error("pipe failed");
  pid_ = fork();
  if (pid_ < 0)
    throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    dup2(fds[1], STDOUT_FILENO);
    if (capture_stderr)
      dup2(fds[1], STDERR_FILENO);
    close(fds[0]);
    close(fds[1]);
    // The test runner may block signals; the child must see them.
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
    std::_Exit(127);
  }
  close(fds[1]);
  out_ = fds[0];
}

child::~child() {
  if (!reaped_ && pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  if (out_ >= 0)
    close(out_);
}

std::optional<std::string>
child::read_line(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto nl = buf_.find('\n');
    if (nl != std::string::npos) {
      auto line = buf_.substr(0, nl);
      buf_.erase(0, nl + 1);
      return line;
    }
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
  while (auto line = read_line(std::chrono::duration_cast<
                                 std::chrono::milliseconds>(
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

std::optional<int> child::wait(std::chrono::milliseconds timeout) {
  int status = 0;
  bool done = eventually(
    [&] {
      if (reaped_)
        return true;
      auto rc = waitpid(pid_, &status, WNOHANG);
      if (rc == pid_)
        reaped_ = true;
      return reaped_;
    },
    timeout);
  if (!done)
    return std::nullopt;
  if (WIFEXITED(status))
    return WEXITSTATUS(status);
  if (WIFSIGNALED(status))
    return 128 + WTERMSIG(status);
  return -1;
}

std::string cotflow_bin() {
  if (auto p = std::getenv("COTFLOW_BIN"))
    return p;
  throw std::runtime_error("COTFLOW_BIN is not set");
}

} // namespace cotflow::test
