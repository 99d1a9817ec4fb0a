#pragma once

#include "pipeline/ops/http_client.hpp"

#include <map>
#include <optional>
#include <string>

namespace cotflow::test {

using cotflow::http_reply;

/// GETs http://127.0.0.1:`port``path` with an optional bearer token.
inline std::optional<http_reply> http_get(int port, const std::string& path,
                                          const std::string& token = "") {
  return cotflow::http_get("127.0.0.1", port, path, token);
}

/// The samples of GET /metrics on `port`, by name with labels
/// (parse_prometheus); throws (failing the test case) without an answer.
std::map<std::string, double> scrape(int port);

/// The port in "http://127.0.0.1:PORT" inside a log text, or 0.
int http_port_in(const std::string& log);

} // namespace cotflow::test
