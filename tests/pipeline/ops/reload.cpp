#include "pipeline/ops/reload.hpp"

#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace cotflow;
using namespace std::chrono_literals;

namespace {

/// A config file whose modification time the test sets.
struct watched_file {
  std::string path;

  watched_file() {
    char tmpl[] = "/tmp/cotflow-reload-XXXXXX";
    int fd = ::mkstemp(tmpl);
    BOOST_REQUIRE(fd >= 0);
    ::close(fd);
    path = tmpl;
    set_mtime(1000);
  }

  ~watched_file() {
    std::remove(path.c_str());
  }

  void set_mtime(time_t seconds) {
    timespec times[2] = {{seconds, 0}, {seconds, 0}};
    BOOST_REQUIRE_EQUAL(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
  }
};

} // namespace

BOOST_AUTO_TEST_CASE(sighup_triggers_a_reload_once) {
  std::atomic<bool> sighup{false};
  reload_trigger trigger{"", &sighup};
  auto now = std::chrono::steady_clock::now();
  BOOST_CHECK(trigger.poll(now) == nullptr);
  sighup = true;
  BOOST_CHECK_EQUAL(std::string{trigger.poll(now)}, "SIGHUP");
  BOOST_CHECK(!sighup.load());
  BOOST_CHECK(trigger.poll(now) == nullptr);
}

BOOST_AUTO_TEST_CASE(a_changed_file_triggers_a_reload_checked_once_a_second) {
  watched_file f;
  reload_trigger trigger{f.path, nullptr};
  auto t0 = std::chrono::steady_clock::now();
  BOOST_CHECK(trigger.poll(t0) == nullptr);
  f.set_mtime(2000);
  // Within a second of the last check the file is not looked at.
  BOOST_CHECK(trigger.poll(t0 + 500ms) == nullptr);
  BOOST_CHECK_EQUAL(std::string{trigger.poll(t0 + 1000ms)},
                    "config file changed");
  // The same modification time does not trigger again.
  BOOST_CHECK(trigger.poll(t0 + 2000ms) == nullptr);
}

BOOST_AUTO_TEST_CASE(sighup_and_a_changed_file_together_say_sighup) {
  watched_file f;
  std::atomic<bool> sighup{false};
  reload_trigger trigger{f.path, &sighup};
  auto t0 = std::chrono::steady_clock::now();
  f.set_mtime(3000);
  sighup = true;
  BOOST_CHECK_EQUAL(std::string{trigger.poll(t0)}, "SIGHUP");
  // The change was seen with it: no second reload for the same file.
  BOOST_CHECK(trigger.poll(t0 + 1000ms) == nullptr);
}
