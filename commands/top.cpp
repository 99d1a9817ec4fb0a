#include "commands/commands.hpp"
#include "commands/signal_waiter.hpp"

#include "pipeline/ops/top.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <thread>

#include <poll.h>
#include <termios.h>
#include <unistd.h>

namespace cotflow::commands {

namespace {

/// Keys typed at the terminal, one at a time and not echoed, while it
/// lives (stdin a terminal); nothing is read from any other stdin (a pipe,
/// /dev/null), whose end must not stop `top`.
class keyboard {
public:
  keyboard()
    : on_(isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved_) == 0) {
    if (!on_)
      return;
    auto raw = saved_;
    raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO);
    raw.c_cc[VMIN] = 0;
    raw.c_cc[VTIME] = 0;
    tcsetattr(STDIN_FILENO, TCSANOW, &raw);
  }

  ~keyboard() {
    if (on_)
      tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
  }

  keyboard(const keyboard&) = delete;
  keyboard& operator=(const keyboard&) = delete;

  /// Waits up to `timeout` for a key; true when `q` was typed.
  bool quit_within(std::chrono::milliseconds timeout) {
    if (!on_) {
      std::this_thread::sleep_for(timeout);
      return false;
    }
    pollfd p{STDIN_FILENO, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(timeout.count())) <= 0)
      return false;
    char keys[16];
    auto n = read(STDIN_FILENO, keys, sizeof(keys));
    for (ssize_t i = 0; i < n; ++i)
      if (keys[i] == 'q' || keys[i] == 'Q')
        return true;
    return false;
  }

private:
  termios saved_{};
  bool on_;
};

/// Draws a frame about once a second until `frames` (0: no limit), `q` or
/// a stop signal; on a terminal each frame replaces the last.
void draw_frames(const http_endpoint& at, const std::string& token,
                 int64_t frames, top_sample before,
                 std::chrono::steady_clock::time_point t0, signal_waiter& sig) {
  bool tty = isatty(STDOUT_FILENO);
  keyboard keys;
  bool quit = false;
  for (int64_t n = 0; !quit && !sig.stop && (frames == 0 || n < frames); ++n) {
    for (int i = 0; i < 10 && !sig.stop && !quit; ++i)
      quit = keys.quit_within(std::chrono::milliseconds{100});
    if (quit)
      break;
    auto now = scrape_top(at.host, at.port, token, t0);
    if (tty)
      std::printf("\033[H\033[2J");
    if (!now) {
      std::printf("cotflow top  %s  unreachable; retrying\n", at.url.c_str());
    } else {
      std::printf("%s", render_top(at.url, before, *now).c_str());
      before = std::move(*now);
    }
    if (!tty)
      std::printf("\n");
    std::fflush(stdout);
  }
}

} // namespace

int cmd_top(const invocation& inv, signal_waiter& sig) {
  auto& cfg = inv.loaded.cfg;
  bool ok = true;
  auto frames = int_option(inv.opts, "frames", 0, ok);
  if (!ok)
    return exit_config;
  auto at = parse_http_url(string_option(inv.opts, "url", cfg.http.address));
  if (!at) {
    std::cerr << "cotflow top: --url must be http://host:port\n";
    return exit_config;
  }
  auto token = string_option(inv.opts, "token", cfg.http.token);
  sig.start();
  auto t0 = std::chrono::steady_clock::now();
  auto first = scrape_top(at->host, at->port, token, t0);
  if (!first) {
    std::cerr << "cotflow top: no cotflow answers at " << at->url
              << " (see http.address; --url http://host:port)\n";
    return 1;
  }
  if (first->unauthorized) {
    std::cerr << "cotflow top: " << top_unauthorized(at->url) << "\n";
    return exit_config;
  }
  draw_frames(*at, token, frames, std::move(*first), t0, sig);
  return 0;
}

} // namespace cotflow::commands
