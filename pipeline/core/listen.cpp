#include "pipeline/core/listen.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace cotflow {

int local_port(int fd) {
  sockaddr_storage a{};
  socklen_t len = sizeof a;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
    return -1;
  return a.ss_family == AF_INET6
           ? ntohs(reinterpret_cast<const sockaddr_in6*>(&a)->sin6_port)
           : ntohs(reinterpret_cast<const sockaddr_in*>(&a)->sin_port);
}

std::optional<listen_address> split_listen_address(const std::string& address) {
  auto colon = address.rfind(':');
  if (colon == std::string::npos)
    return std::nullopt;
  listen_address a{address.substr(0, colon), address.substr(colon + 1)};
  while (!a.port.empty()
         && std::isalpha(static_cast<unsigned char>(a.port.back())))
    a.port.pop_back();
  if (a.host.size() >= 2 && a.host.front() == '[' && a.host.back() == ']')
    a.host = a.host.substr(1, a.host.size() - 2);
  return a;
}

int bind_listener(const std::string& address, int& port, std::string& why,
                  int& error) {
  error = 0;
  auto where = split_listen_address(address);
  if (!where || where->port.empty()) {
    why = "'" + address + "' is not host:port";
    return -1;
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  if (int rc = getaddrinfo(where->host.empty() ? nullptr : where->host.c_str(),
                           where->port.c_str(), &hints, &found);
      rc != 0) {
    why = gai_strerror(rc);
    return -1;
  }
  int listener = -1;
  why = "no address";
  for (auto* a = found; a && listener < 0; a = a->ai_next) {
    int fd = ::socket(a->ai_family,
                      a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
      continue;
    int on = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    if (::bind(fd, a->ai_addr, a->ai_addrlen) == 0 && ::listen(fd, 128) == 0) {
      listener = fd;
      port = local_port(fd);
    } else {
      error = errno;
      why = std::strerror(errno);
      ::close(fd);
    }
  }
  freeaddrinfo(found);
  return listener;
}

bool address_in_use(const std::string& address) {
  auto where = split_listen_address(address);
  if (!where || std::atoi(where->port.c_str()) == 0)
    return false;
  int port = 0, error = 0;
  std::string why;
  int fd = bind_listener(address, port, why, error);
  if (fd >= 0)
    ::close(fd);
  return fd < 0 && error == EADDRINUSE;
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
