#include "tests/support/http_get.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace cotflow::test {

std::optional<http_reply> http_get(int port, const std::string& path,
                                   const std::string& token) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    ::close(fd);
    return std::nullopt;
  }
  std::string req = "GET " + path + " HTTP/1.1\r\nHost: localhost\r\n";
  if (!token.empty())
    req += "Authorization: Bearer " + token + "\r\n";
  req += "Connection: close\r\n\r\n";
  ::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
  std::string raw;
  char buf[65536];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof(buf), 0)) > 0)
    raw.append(buf, static_cast<size_t>(n));
  ::close(fd);
  auto sp = raw.find(' ');
  auto body = raw.find("\r\n\r\n");
  if (sp == std::string::npos || body == std::string::npos)
    return std::nullopt;
  return http_reply{std::atoi(raw.c_str() + sp + 1), raw.substr(body + 4)};
}

int http_port_in(const std::string& log) {
  auto pos = log.find("http://127.0.0.1:");
  return pos == std::string::npos ? 0 : std::atoi(log.c_str() + pos + 17);
}

} // namespace cotflow::test
