#pragma once

#include <optional>
#include <string>

namespace cotflow {

/// A plain HTTP/1.1 response.
struct http_reply {
  int status = 0;
  std::string body;
  /// The status line and the headers.
  std::string head;
};

/// GETs http://`host`:`port``path` (IPv4 or a name), with an optional
/// bearer token; nothing when the server cannot be reached in `timeout_ms`.
std::optional<http_reply> http_get(const std::string& host, int port,
                                   const std::string& path,
                                   const std::string& token = "",
                                   int timeout_ms = 5000);

/// POSTs `body` (application/json) to http://`host`:`port``path`, as
/// http_get.
std::optional<http_reply> http_post(const std::string& host, int port,
                                    const std::string& path,
                                    const std::string& body,
                                    const std::string& token = "",
                                    int timeout_ms = 5000);

} // namespace cotflow
