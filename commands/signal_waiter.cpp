#include "commands/signal_waiter.hpp"

#include "pipeline/core/log.hpp"

#include <cstdlib>
#include <cstring>
#include <pthread.h>
#include <string>
#include <thread>

namespace cotflow::commands {

signal_waiter::signal_waiter() {
  sigemptyset(&set_);
  sigaddset(&set_, SIGINT);
  sigaddset(&set_, SIGTERM);
  sigaddset(&set_, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set_, nullptr);
}

void signal_waiter::start() {
  std::thread{[this] { wait_loop(); }}.detach();
}

void signal_waiter::wait_loop() {
  int sig = 0;
  int count = 0;
  while (sigwait(&set_, &sig) == 0) {
    if (sig == SIGHUP) {
      log::info("main", "received SIGHUP; reloading the configuration");
      reload = true;
      continue;
    }
    if (++count == 1) {
      log::info("main", std::string{"received "} + strsignal(sig)
                          + "; draining (send again to exit at once)");
      stop = true;
      // The end of the grace period forces the exit even when a client
      // blocks (an unreachable coordinator, say): offsets not committed
      // by then are consumed again, nothing is lost.
      auto grace = grace_;
      std::thread{[grace] {
        std::this_thread::sleep_for(grace);
        log::error("main", "grace period over; exiting without a "
                           "complete drain");
        std::_Exit(1);
      }}.detach();
    } else {
      log::warn("main", "second signal: exiting without draining");
      std::_Exit(130);
    }
  }
}

} // namespace cotflow::commands
