#pragma once

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/atom.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/send.hpp>

#include <chrono>
#include <utility>
#include <vector>

namespace cotflow::test {

/// An actor system on CAF's test coordinator (CAF 0.17): actors run only
/// when the test runs them, one message at a time in the test's thread, and
/// timers (delayed_send) fire only when the test moves the clock. No
/// sockets, no sleeps, no real clock. Without CAF's own test DSL, whose
/// unit-test macros clash with Boost.Test's.
///
/// Detached actors are not deterministic here: CAF still gives each its own
/// thread. Spawn only event-based, non-detached actors on this system.
struct actor_fixture {
  struct system_config : caf::actor_system_config {
    system_config() {
      set("scheduler.policy", caf::atom("testing"));
      set("logger.file-verbosity", caf::atom("quiet"));
      set("logger.console-verbosity", caf::atom("quiet"));
    }
  };

  system_config cfg;
  caf::actor_system sys{cfg};
  caf::scheduler::test_coordinator& sched;

  actor_fixture()
    : sched(dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler())) {
    // Far from the clock's epoch, as CAF's own fixture does.
    sched.clock().current_time += std::chrono::hours{1};
  }

  /// Ends every actor spawned with spawn() (actors that hold each other's
  /// handles would otherwise keep each other, and the system, alive).
  ~actor_fixture() {
    for (auto& a : spawned_)
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    run();
    spawned_.clear();
  }

  actor_fixture(const actor_fixture&) = delete;
  actor_fixture& operator=(const actor_fixture&) = delete;

  /// Spawns an actor that the fixture ends at teardown.
  template <class... Ts>
  auto spawn(Ts&&... xs) {
    auto hdl = sys.spawn(std::forward<Ts>(xs)...);
    spawned_.push_back(caf::actor_cast<caf::actor>(hdl));
    return hdl;
  }

  /// Lets every actor handle its messages until none are left; fires no
  /// timer. Returns the number of messages handled.
  size_t run() {
    return sched.run();
  }

  /// Moves the clock by `d`, fires the timers that fall due and runs what
  /// they set off. Returns the number of timers fired.
  size_t advance(caf::timespan d) {
    auto fired = sched.advance_time(d);
    run();
    return fired;
  }

private:
  std::vector<caf::actor> spawned_;
};

} // namespace cotflow::test
