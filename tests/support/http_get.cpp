#include "tests/support/http_get.hpp"

#include <cstdlib>

namespace cotflow::test {

int http_port_in(const std::string& log) {
  auto pos = log.find("http://127.0.0.1:");
  return pos == std::string::npos ? 0 : std::atoi(log.c_str() + pos + 17);
}

} // namespace cotflow::test
