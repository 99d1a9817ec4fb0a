#include "tests/support/tak_receiver.hpp"

#include "tests/support/kafka_client.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <arpa/inet.h>
#include <cstring>
#include <netinet/in.h>
#include <poll.h>
#include <stdexcept>
#include <sys/socket.h>
#include <unistd.h>

namespace cotflow::test {

tak_receiver::tak_receiver(uint16_t port, tls_server_options tls,
                           bool answer_pings)
  : port_(port), tls_(std::move(tls)), answer_pings_(answer_pings) {
  if (!tls_.cert.empty()) {
    ctx_ = SSL_CTX_new(TLS_server_method());
    if (SSL_CTX_use_certificate_chain_file(ctx_, tls_.cert.c_str()) != 1
        || SSL_CTX_use_PrivateKey_file(ctx_, tls_.key.c_str(),
                                       SSL_FILETYPE_PEM)
             != 1)
      throw std::runtime_error("test receiver: bad server certificate");
    if (!tls_.client_ca.empty()) {
      SSL_CTX_load_verify_locations(ctx_, tls_.client_ca.c_str(), nullptr);
      SSL_CTX_set_verify(ctx_,
                         SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                         nullptr);
    }
  }
  start();
}

tak_receiver::~tak_receiver() {
  stop();
  if (ctx_)
    SSL_CTX_free(ctx_);
}

void tak_receiver::start() {
  listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port_);
  if (bind(listener_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0
      || listen(listener_, 16) != 0)
    throw std::runtime_error(std::string{"receiver bind: "}
                             + std::strerror(errno));
  socklen_t len = sizeof(a);
  getsockname(listener_, reinterpret_cast<sockaddr*>(&a), &len);
  port_ = ntohs(a.sin_port);
  running_ = true;
  thread_ = std::thread{[this] { loop(); }};
}

void tak_receiver::stop() {
  if (!running_)
    return;
  running_ = false;
  thread_.join();
}

void tak_receiver::loop() {
  struct client {
    int fd;
    std::string buf;
    SSL* ssl = nullptr;
  };
  auto drop = [](client& c) {
    if (c.ssl)
      SSL_free(c.ssl);
    c.ssl = nullptr;
    ::close(c.fd);
    c.fd = -1;
  };
  std::vector<client> clients;
  while (running_) {
    std::vector<pollfd> fds{{listener_, POLLIN, 0}};
    for (auto& c : clients)
      fds.push_back({c.fd, POLLIN, 0});
    if (::poll(fds.data(), fds.size(), 20) <= 0)
      continue;
    if (fds[0].revents & POLLIN) {
      int fd = accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd >= 0) {
        ++accepted_;
        client c{fd, {}};
        if (ctx_) {
          // Blocking handshake with a bound: fine for a test server.
          timeval tv{2, 0};
          setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
          setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
          c.ssl = SSL_new(ctx_);
          SSL_set_fd(c.ssl, fd);
          if (SSL_accept(c.ssl) != 1) {
            ERR_clear_error();
            drop(c);
            continue;
          }
        }
        clients.push_back(std::move(c));
      }
    }
    for (size_t i = 1; i < fds.size(); ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
        continue;
      auto& c = clients[i - 1];
      char tmp[65536];
      bool closed = false;
      do {
        auto n = c.ssl ? SSL_read(c.ssl, tmp, sizeof(tmp))
                       : ::recv(c.fd, tmp, sizeof(tmp), 0);
        if (n <= 0) {
          closed = true;
          break;
        }
        c.buf.append(tmp, static_cast<size_t>(n));
      } while (c.ssl && SSL_pending(c.ssl) > 0);
      if (closed) {
        drop(c);
        continue;
      }
      size_t pos;
      size_t from = 0;
      while ((pos = c.buf.find("</event>", from)) != std::string::npos) {
        auto ev = c.buf.substr(from, pos + 8 - from);
        from = pos + 8;
        auto start = ev.find("<event");
        if (start != std::string::npos)
          ev.erase(0, start);
        if (ev.find("type=\"t-x-c-t\"") != std::string::npos) {
          ++pings_;
          if (answer_pings_) {
            std::string pong = "<event version=\"2.0\" uid=\"takPong\" "
                               "type=\"t-x-c-t-r\" how=\"h-g-i-g-o\"/>";
            if (c.ssl)
              SSL_write(c.ssl, pong.data(), static_cast<int>(pong.size()));
            else
              ::send(c.fd, pong.data(), pong.size(), MSG_NOSIGNAL);
          }
          continue;
        }
        std::lock_guard<std::mutex> guard{mtx_};
        ++events_;
        if (auto seq = seq_of(ev))
          seqs_[*seq] += 1;
        if (sample_.size() < 20)
          sample_.push_back(ev);
      }
      c.buf.erase(0, from);
    }
    clients.erase(std::remove_if(clients.begin(), clients.end(),
                                 [](const client& c) { return c.fd < 0; }),
                  clients.end());
  }
  for (auto& c : clients)
    drop(c);
  ::close(listener_);
  listener_ = -1;
}

std::map<uint64_t, int> tak_receiver::seqs() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return seqs_;
}

size_t tak_receiver::events() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return events_;
}

std::vector<std::string> tak_receiver::sample() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return sample_;
}

udp_receiver::udp_receiver(const std::string& group, uint16_t port) {
  fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  int rcvbuf = 8 * 1024 * 1024;
  setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = group.empty() ? htonl(INADDR_LOOPBACK)
                                    : htonl(INADDR_ANY);
  a.sin_port = htons(port);
  if (bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0)
    throw std::runtime_error("udp bind failed");
  socklen_t len = sizeof(a);
  getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
  port_ = ntohs(a.sin_port);
  if (!group.empty()) {
    ip_mreq m{};
    inet_pton(AF_INET, group.c_str(), &m.imr_multiaddr);
    m.imr_interface.s_addr = htonl(INADDR_LOOPBACK);
    if (setsockopt(fd_, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof(m)) != 0)
      throw std::runtime_error(std::string{"multicast join: "}
                               + std::strerror(errno));
  }
  thread_ = std::thread{[this] {
    char buf[65536];
    while (running_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0)
        continue;
      auto n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0)
        continue;
      std::string ev{buf, static_cast<size_t>(n)};
      if (auto seq = seq_of(ev)) {
        std::lock_guard<std::mutex> guard{mtx_};
        seqs_[*seq] += 1;
      }
    }
  }};
}

udp_receiver::~udp_receiver() {
  running_ = false;
  thread_.join();
  ::close(fd_);
}

std::map<uint64_t, int> udp_receiver::seqs() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return seqs_;
}

} // namespace cotflow::test
