#include "commands/commands.hpp"
#include "commands/signal_waiter.hpp"

#include "pipeline/core/listen.hpp"

#include <cstdlib>
#include <iostream>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace cotflow::commands {

namespace {

/// Percent-encodes a query value.
std::string encoded(const std::string& v) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : v)
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  return out;
}

} // namespace

int cmd_tail(const invocation& inv, signal_waiter& sig) {
  auto& cfg = inv.loaded.cfg;
  bool ok = true;
  auto count = int_option(inv.opts, "count", 0, ok);
  if (!ok)
    return exit_config;
  auto at = parse_http_url(string_option(inv.opts, "url", cfg.http.address));
  if (!at) {
    std::cerr << "cotflow tail: --url must be http://host:port\n";
    return exit_config;
  }
  auto& host = at->host;
  auto port = at->port;
  auto token = string_option(inv.opts, "token", cfg.http.token);
  std::string path = "/tail?";
  if (inv.opts.count("dead-letters"))
    path += "dead_letters=1&";
  for (auto key : {"uid", "type", "source"})
    if (auto v = string_option(inv.opts, key, ""); !v.empty())
      path += std::string{key} + "=" + encoded(v) + "&";
  path.pop_back();
  std::string err;
  int fd = connect_tcp(host, port, 5000, err);
  if (fd < 0) {
    std::cerr << "cotflow tail: no cotflow answers at http://" << host << ":"
              << port << " (see http.address; --url http://host:port)\n";
    return 1;
  }
  std::string req = "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\n";
  if (!token.empty())
    req += "Authorization: Bearer " + token + "\r\n";
  req += "Connection: close\r\n\r\n";
  ::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
  sig.start();
  std::string buf;
  bool head = true;
  int64_t shown = 0;
  int code = 0;
  char tmp[65536];
  while (!sig.stop && (count == 0 || shown < count)) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0)
      continue;
    auto n = ::recv(fd, tmp, sizeof tmp, 0);
    if (n <= 0) {
      if (!head)
        std::cerr << "cotflow tail: the instance closed the stream\n";
      code = head ? 1 : 0;
      break;
    }
    buf.append(tmp, static_cast<size_t>(n));
    if (head) {
      auto end = buf.find("\r\n\r\n");
      if (end == std::string::npos)
        continue;
      auto status = std::atoi(buf.c_str() + buf.find(' ') + 1);
      if (status == 401) {
        std::cerr << "cotflow tail: http://" << host << ":" << port
                  << " answered 401 Unauthorized: pass its http.token with "
                     "--token TOKEN (or COTFLOW_HTTP_TOKEN)\n";
        code = exit_config;
        break;
      }
      if (status != 200) {
        std::cerr << "cotflow tail: http://" << host << ":" << port
                  << " answered " << status << "\n";
        code = 1;
        break;
      }
      buf.erase(0, end + 4);
      head = false;
    }
    size_t at = 0;
    for (auto nl = buf.find('\n'); nl != std::string::npos;
         nl = buf.find('\n', at)) {
      auto line = buf.substr(at, nl - at);
      at = nl + 1;
      if (line.empty())
        continue; // the stream's keepalive
      if (line[0] == '#') {
        std::cerr << line << "\n";
        continue;
      }
      std::cout << line << "\n";
      if (count > 0 && ++shown >= count)
        break;
    }
    buf.erase(0, at);
    std::cout.flush();
  }
  ::close(fd);
  return code;
}

} // namespace cotflow::commands
