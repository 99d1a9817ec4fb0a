#include "pipeline/ops/http_client.hpp"

#include "pipeline/core/listen.hpp"

#include <cstdlib>
#include <sys/socket.h>
#include <unistd.h>

namespace cotflow {

namespace {

/// Sends one request (`method`, with `body` unless empty) and reads the
/// whole reply.
std::optional<http_reply> request(const std::string& method,
                                  const std::string& host, int port,
                                  const std::string& path,
                                  const std::string& body,
                                  const std::string& token, int timeout_ms) {
  std::string err;
  int fd = connect_tcp(host, port, timeout_ms, err);
  if (fd < 0)
    return std::nullopt;
  std::string req = method + " " + path + " HTTP/1.1\r\nHost: " + host + "\r\n";
  if (!token.empty())
    req += "Authorization: Bearer " + token + "\r\n";
  if (method == "POST")
    req += "Content-Type: application/json\r\nContent-Length: "
           + std::to_string(body.size()) + "\r\n";
  req += "Connection: close\r\n\r\n";
  req += body;
  for (size_t sent = 0; sent < req.size();) {
    auto n = ::send(fd, req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
    if (n <= 0)
      break;
    sent += static_cast<size_t>(n);
  }
  std::string raw;
  char buf[65536];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof(buf), 0)) > 0)
    raw.append(buf, static_cast<size_t>(n));
  ::close(fd);
  auto sp = raw.find(' ');
  auto at = raw.find("\r\n\r\n");
  if (sp == std::string::npos || at == std::string::npos)
    return std::nullopt;
  return http_reply{std::atoi(raw.c_str() + sp + 1), raw.substr(at + 4),
                    raw.substr(0, at)};
}

} // namespace

std::optional<http_reply> http_get(const std::string& host, int port,
                                   const std::string& path,
                                   const std::string& token, int timeout_ms) {
  return request("GET", host, port, path, "", token, timeout_ms);
}

std::optional<http_reply> http_post(const std::string& host, int port,
                                    const std::string& path,
                                    const std::string& body,
                                    const std::string& token, int timeout_ms) {
  return request("POST", host, port, path, body, token, timeout_ms);
}

} // namespace cotflow
