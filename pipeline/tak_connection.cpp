#include "pipeline/tak_connection.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace cotflow {

namespace {

std::string errno_text(const char* what) {
  return std::string{what} + ": " + std::strerror(errno);
}

bool is_multicast(const sockaddr* sa) {
  if (sa->sa_family == AF_INET) {
    auto a = ntohl(reinterpret_cast<const sockaddr_in*>(sa)->sin_addr.s_addr);
    return (a >> 28) == 0xE;
  }
  if (sa->sa_family == AF_INET6)
    return reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr.s6_addr[0]
           == 0xFF;
  return false;
}

} // namespace

tak_connection::tak_connection(tak_url url,
                               std::chrono::milliseconds connect_timeout,
                               std::chrono::milliseconds write_timeout)
  : url_(std::move(url)),
    connect_timeout_(connect_timeout),
    write_timeout_(write_timeout) {
}

tak_connection::~tak_connection() {
  close();
}

void tak_connection::close() {
  if (fd_ >= 0)
    ::close(fd_);
  fd_ = -1;
}

bool tak_connection::connect(std::string& err, bool& config_error) {
  close();
  config_error = false;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = is_udp() ? SOCK_DGRAM : SOCK_STREAM;
  addrinfo* res = nullptr;
  auto port = std::to_string(url_.port);
  int rc = getaddrinfo(url_.host.c_str(), port.c_str(), &hints, &res);
  if (rc != 0) {
    err = "cannot resolve " + url_.host + ": " + gai_strerror(rc);
    config_error = rc == EAI_NONAME || rc == EAI_SERVICE
                   || rc == EAI_FAMILY;
    return false;
  }
  err.clear();
  for (auto* ai = res; ai != nullptr; ai = ai->ai_next) {
    int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
                      ai->ai_protocol);
    if (fd < 0) {
      err = errno_text("socket");
      continue;
    }
    if (is_udp()) {
      if (is_multicast(ai->ai_addr) && ai->ai_family == AF_INET) {
        unsigned char ttl = static_cast<unsigned char>(url_.ttl);
        setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof(ttl));
        unsigned char loop = 1;
        setsockopt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, &loop, sizeof(loop));
        if (!url_.interface.empty()) {
          in_addr iface{};
          if (inet_pton(AF_INET, url_.interface.c_str(), &iface) != 1
              || setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &iface,
                            sizeof(iface))
                   != 0) {
            err = "multicast interface " + url_.interface + " unusable";
            config_error = true;
            ::close(fd);
            continue;
          }
        }
      }
      std::memcpy(addr_, ai->ai_addr, ai->ai_addrlen);
      addr_len_ = static_cast<unsigned>(ai->ai_addrlen);
      fd_ = fd;
      break;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
    if (::connect(fd, ai->ai_addr, ai->ai_addrlen) != 0
        && errno != EINPROGRESS) {
      err = errno_text("connect");
      ::close(fd);
      continue;
    }
    pollfd p{fd, POLLOUT, 0};
    int n = ::poll(&p, 1, static_cast<int>(connect_timeout_.count()));
    int soerr = 0;
    socklen_t len = sizeof(soerr);
    if (n <= 0) {
      err = "connect: timed out";
      ::close(fd);
      continue;
    }
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
    if (soerr != 0) {
      err = std::string{"connect: "} + std::strerror(soerr);
      ::close(fd);
      continue;
    }
    fd_ = fd;
    break;
  }
  freeaddrinfo(res);
  return fd_ >= 0;
}

bool tak_connection::write(std::string_view bytes, std::string& err) {
  if (fd_ < 0) {
    err = "not connected";
    return false;
  }
  if (is_udp()) {
    auto n = ::sendto(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL,
                      reinterpret_cast<const sockaddr*>(addr_), addr_len_);
    if (n < 0) {
      err = errno_text("sendto");
      close();
      return false;
    }
    return true;
  }
  auto deadline = std::chrono::steady_clock::now() + write_timeout_;
  size_t done = 0;
  while (done < bytes.size()) {
    auto n = ::send(fd_, bytes.data() + done, bytes.size() - done,
                    MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      done += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      err = errno_text("send");
      close();
      return false;
    }
    // The kernel buffer is full: the server is slow. Keep reading what it
    // sends (it may be blocked writing to us) while we wait.
    if (!drain(err))
      return false;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      err = "write blocked for "
            + std::to_string(write_timeout_.count())
            + " ms: server not reading";
      close();
      return false;
    }
    pollfd p{fd_, POLLOUT, 0};
    ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), 100)));
  }
  return true;
}

bool tak_connection::drain(std::string& err) {
  if (fd_ < 0 || is_udp())
    return fd_ >= 0;
  char buf[4096];
  for (;;) {
    auto n = ::recv(fd_, buf, sizeof(buf), MSG_DONTWAIT);
    if (n > 0) {
      bytes_read_ += static_cast<uint64_t>(n);
      continue;
    }
    if (n == 0) {
      err = "server closed the connection";
      close();
      return false;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
      return true;
    err = errno_text("recv");
    close();
    return false;
  }
}

} // namespace cotflow
