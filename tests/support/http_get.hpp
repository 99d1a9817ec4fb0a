#pragma once

#include <optional>
#include <string>

namespace cotflow::test {

/// A plain HTTP/1.1 response.
struct http_reply {
  int status = 0;
  std::string body;
};

/// GETs http://127.0.0.1:`port``path` with an optional bearer token.
std::optional<http_reply> http_get(int port, const std::string& path,
                                   const std::string& token = "");

/// The port in "http://127.0.0.1:PORT" inside a log text, or 0.
int http_port_in(const std::string& log);

} // namespace cotflow::test
