#pragma once

#include "tests/support/http_get.hpp"
#include "tests/support/process.hpp"

#include <boost/test/unit_test.hpp>

#include <string>

namespace cotflow::test {

/// Appends the child's log lines available now to `log`.
inline void read_log(child& c, std::string& log) {
  using namespace std::chrono_literals;
  while (auto line = c.read_line(1ms))
    log += *line + "\n";
}

/// Waits for the child to log its HTTP address; returns the port.
inline int wait_for_http_port(child& c, std::string& log) {
  using namespace std::chrono_literals;
  int port = 0;
  BOOST_REQUIRE(eventually(
    [&] {
      read_log(c, log);
      return (port = http_port_in(log)) != 0;
    },
    30s));
  return port;
}

} // namespace cotflow::test
