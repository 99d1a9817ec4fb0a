#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

namespace cotflow {

/// A response of the operations endpoints.
struct http_response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

/// The operations HTTP port (civetweb, which prometheus-cpp brings): plain
/// GET routes, with an optional bearer token for every path not marked
/// open.
class http_server {
public:
  using handler = std::function<http_response()>;

  /// Listens on `address` (host:port; port 0 picks one); null with `err`
  /// set when it cannot.
  static std::unique_ptr<http_server>
  start(const std::string& address, const std::string& token, std::string& err);
  ~http_server();

  /// Serves GET `path`; `open` paths need no token.
  void route(const std::string& path, handler h, bool open = false);

  /// A response written as it goes: the query string, and a writer that
  /// says false once the client went away or the server stops.
  using stream_handler = std::function<void(
    const std::string& query, const std::function<bool(std::string_view)>&)>;

  /// Serves GET `path` as a stream (the token applies), until the handler
  /// returns.
  void stream_route(const std::string& path, stream_handler h);

  /// The address actually listened on ("127.0.0.1:9180").
  std::string address() const;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace cotflow
