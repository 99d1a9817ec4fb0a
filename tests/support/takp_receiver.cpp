#include "tests/support/takp_receiver.hpp"

#include "tests/support/stream_frame.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdexcept>
#include <sys/socket.h>
#include <unistd.h>

namespace cotflow::test {

namespace {

std::string control_event(const std::string& type, const std::string& body) {
  return R"(<?xml version="1.0" encoding="UTF-8"?><event version="2.0" )"
         R"(uid="proto-test-1" type=")"
         + type
         + R"(" how="m-g" time="2026-01-01T00:00:00Z" )"
           R"(start="2026-01-01T00:00:00Z" stale="2036-01-01T00:00:00Z">)"
           R"(<point lat="0.0" lon="0.0" hae="0.0" ce="999999" )"
           R"(le="999999"/><detail><TakControl>)"
         + body + "</TakControl></detail></event>";
}

void send_all(int fd, const std::string& bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    auto n = ::send(fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n <= 0)
      return;
    done += static_cast<size_t>(n);
  }
}

} // namespace

takp_receiver::takp_receiver(behaviour b) : how_(b) {
  listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(listener_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0
      || listen(listener_, 8) != 0)
    throw std::runtime_error("takp_receiver: cannot listen");
  socklen_t len = sizeof(a);
  getsockname(listener_, reinterpret_cast<sockaddr*>(&a), &len);
  port_ = ntohs(a.sin_port);
  thread_ = std::thread{[this] { loop(); }};
}

takp_receiver::~takp_receiver() {
  running_ = false;
  thread_.join();
  ::close(listener_);
}

std::vector<std::string> takp_receiver::xml_events() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return xml_;
}

std::vector<std::string> takp_receiver::payloads() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return payloads_;
}

void takp_receiver::loop() {
  while (running_) {
    pollfd p{listener_, POLLIN, 0};
    if (::poll(&p, 1, 20) <= 0)
      continue;
    int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0)
      continue;
    ++connections_;
    if (how_ != behaviour::no_offer)
      send_all(fd, control_event("t-x-takp-v",
                                 R"(<TakProtocolSupport version="1"/>)"));
    std::string buf;
    bool v1 = false;
    char tmp[65536];
    while (running_) {
      pollfd c{fd, POLLIN, 0};
      if (::poll(&c, 1, 20) <= 0)
        continue;
      auto n = ::recv(fd, tmp, sizeof(tmp), 0);
      if (n <= 0)
        break; // closed: a new connection starts in XML again
      buf.append(tmp, static_cast<size_t>(n));
      take(fd, buf, v1);
    }
    ::close(fd);
  }
}

void takp_receiver::take(int fd, std::string& buf, bool& v1) {
  for (;;) {
    if (!v1) {
      auto end = buf.find("</event>");
      if (end == std::string::npos)
        return;
      end += 8;
      auto ev = buf.substr(0, end);
      buf.erase(0, end);
      if (ev.find("t-x-takp-q") != std::string::npos) {
        ++requests_;
        if (how_ == behaviour::accept || how_ == behaviour::decline) {
          bool yes = how_ == behaviour::accept;
          send_all(fd, control_event("t-x-takp-r",
                                     std::string{R"(<TakResponse status=")"}
                                       + (yes ? "true" : "false") + "\"/>"));
          v1 = yes;
        }
      } else if (ev.find("t-x-c-t") == std::string::npos
                 && ev.find("<takv device=\"cotflow\"") == std::string::npos) {
        std::lock_guard<std::mutex> guard{mtx_};
        xml_.push_back(std::move(ev));
      }
      continue;
    }
    size_t at = 0;
    std::string_view frame;
    auto got = next_stream_frame(buf, at, frame);
    if (got == frame_read::broken) {
      ++violations_;
      buf.clear();
    }
    if (got != frame_read::frame)
      return;
    std::string payload{frame};
    buf.erase(0, at);
    if (payload.find("t-x-c-t") == std::string::npos) {
      std::lock_guard<std::mutex> guard{mtx_};
      payloads_.push_back(std::move(payload));
    }
  }
}

} // namespace cotflow::test
