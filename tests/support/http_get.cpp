#include "tests/support/http_get.hpp"

#include "pipeline/ops/top.hpp"

#include <cstdlib>
#include <stdexcept>

namespace cotflow::test {

std::map<std::string, double> scrape(int port) {
  auto r = http_get(port, "/metrics");
  if (!r)
    throw std::runtime_error("GET /metrics on port " + std::to_string(port)
                             + ": no answer");
  return cotflow::parse_prometheus(r->body);
}

int http_port_in(const std::string& log) {
  auto pos = log.find("http://127.0.0.1:");
  return pos == std::string::npos ? 0 : std::atoi(log.c_str() + pos + 17);
}

} // namespace cotflow::test
