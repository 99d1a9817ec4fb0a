#include "pipeline/ops/http_server.hpp"

#include "pipeline/core/listen.hpp"

#include <CivetServer.h>

#include <atomic>
#include <mutex>
#include <string_view>
#include <vector>

namespace cotflow {

namespace {

class route_handler : public CivetHandler {
public:
  route_handler(http_server::handler h, bool open, const std::string* token)
    : h_(std::move(h)), open_(open), token_(token) {}

  route_handler(http_server::stream_handler h, const std::string* token,
                const std::atomic<bool>* stopping)
    : stream_(std::move(h)), open_(false), token_(token), stopping_(stopping) {}

  bool handleGet(CivetServer*, mg_connection* conn) override {
    http_response res;
    if (!open_ && !token_->empty()) {
      auto auth = mg_get_header(conn, "Authorization");
      if (!auth || std::string{auth} != "Bearer " + *token_) {
        res.status = 401;
        res.body = "a bearer token is required\n";
        send(conn, res);
        return true;
      }
    }
    if (stream_) {
      // No length: the body ends when either side closes.
      mg_printf(conn, "HTTP/1.1 200 OK\r\nContent-Type: text/plain; "
                      "charset=utf-8\r\nCache-Control: no-store\r\n"
                      "Connection: close\r\n\r\n");
      auto query = mg_get_request_info(conn)->query_string;
      stream_(query ? query : "", [&](std::string_view bytes) {
        // Nothing to write: only whether the server stops.
        return !stopping_->load()
               && (bytes.empty()
                   || mg_write(conn, bytes.data(), bytes.size()) > 0);
      });
      return true;
    }
    try {
      res = h_();
    } catch (const std::exception& e) {
      res.status = 500;
      res.body = std::string{"internal error: "} + e.what() + "\n";
    }
    send(conn, res);
    return true;
  }

private:
  static void send(mg_connection* conn, const http_response& res) {
    const char* reason = res.status == 200   ? "OK"
                         : res.status == 401 ? "Unauthorized"
                         : res.status == 503 ? "Service Unavailable"
                                             : "Error";
    mg_printf(conn,
              "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
              "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
              res.status, reason, res.content_type.c_str(), res.body.size());
    mg_write(conn, res.body.data(), res.body.size());
  }

  http_server::handler h_;
  http_server::stream_handler stream_;
  bool open_;
  const std::string* token_;
  const std::atomic<bool>* stopping_ = nullptr;
};

} // namespace

struct http_server::impl {
  std::string token;
  /// Set before the server closes: streams end.
  std::atomic<bool> stopping{false};
  std::unique_ptr<CivetServer> server;
  std::vector<std::unique_ptr<route_handler>> handlers;
};

std::unique_ptr<http_server> http_server::start(const std::string& address,
                                                const std::string& token,
                                                std::string& err) {
  std::unique_ptr<http_server> self{new http_server};
  self->impl_.reset(new impl);
  self->impl_->token = token;
  // Two for the quick routes, the rest for `cotflow tail` streams.
  std::vector<std::string> options = {"listening_ports", address, "num_threads",
                                      "6"};
  try {
    self->impl_->server = std::make_unique<CivetServer>(options);
  } catch (const std::exception& e) {
    err = cannot_listen("http.address", address, e.what(), "the endpoints");
    return nullptr;
  }
  return self;
}

http_server::~http_server() {
  if (impl_ && impl_->server) {
    impl_->stopping = true;
    impl_->server->close();
  }
}

void http_server::stream_route(const std::string& path, stream_handler h) {
  impl_->handlers.push_back(std::make_unique<route_handler>(
    std::move(h), &impl_->token, &impl_->stopping));
  impl_->server->addHandler(path + "$", impl_->handlers.back().get());
}

void http_server::route(const std::string& path, handler h, bool open) {
  impl_->handlers.push_back(
    std::make_unique<route_handler>(std::move(h), open, &impl_->token));
  impl_->server->addHandler(path + "$", impl_->handlers.back().get());
}

std::string http_server::address() const {
  auto ports = impl_->server->getListeningPortsFull();
  if (ports.empty())
    return "";
  return "127.0.0.1:" + std::to_string(ports.front().port);
}

} // namespace cotflow
