#include "pipeline/core/listen.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>

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

} // namespace cotflow
