#include "pipeline/core/listen.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

namespace cotflow {

bool address_in_use(const std::string& address) {
  auto colon = address.rfind(':');
  auto host = colon == std::string::npos ? "" : address.substr(0, colon);
  auto port = address.substr(colon == std::string::npos ? 0 : colon + 1);
  // civetweb's suffixes (s: TLS, r: redirect) are not part of the port.
  while (!port.empty() && std::isalpha(static_cast<unsigned char>(port.back())))
    port.pop_back();
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (port.empty() || std::atoi(port.c_str()) == 0)
    return false;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints,
                  &found)
      != 0)
    return false;
  bool in_use = false;
  for (auto* a = found; a && !in_use; a = a->ai_next) {
    int fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
    if (fd < 0)
      continue;
    // As the web server binds: a port whose last connections linger in
    // TIME_WAIT is free.
    int on = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    in_use = bind(fd, a->ai_addr, a->ai_addrlen) != 0 && errno == EADDRINUSE;
    close(fd);
  }
  freeaddrinfo(found);
  return in_use;
}

std::string cannot_listen(const std::string& key, const std::string& address,
                          const std::string& library_text,
                          const std::string& what) {
  if (!address_in_use(address))
    return key + " " + address + ": cannot listen (" + library_text + ")";
  std::string env = "COTFLOW_" + key;
  std::transform(env.begin(), env.end(), env.begin(), [](unsigned char c) {
    return c == '.' ? '_' : static_cast<char>(std::toupper(c));
  });
  return key + " " + address + " is in use by another process; set " + key
         + " (or " + env + ") to a free port, or empty to turn " + what
         + " off";
}

int connect_tcp(const std::string& host, int port, int timeout_ms,
                std::string& err) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (int rc = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints,
                           &res);
      rc != 0) {
    err = "cannot resolve " + host + ": " + gai_strerror(rc);
    return -1;
  }
  int fd = ::socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  bool ok = ::connect(fd, res->ai_addr, res->ai_addrlen) == 0;
  freeaddrinfo(res);
  if (!ok) {
    err = "cannot connect to " + host + ":" + std::to_string(port) + ": "
          + std::strerror(errno);
    ::close(fd);
    return -1;
  }
  return fd;
}

std::optional<std::string> host_name() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0 || name[0] == '\0')
    return std::nullopt;
  return std::string{name};
}

} // namespace cotflow
