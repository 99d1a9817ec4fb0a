#include "pipeline/load/cot_receiver.hpp"

#include "pipeline/core/log.hpp"
#include "pipeline/core/time.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

namespace cotflow {

namespace {

/// A connection that sends this much without an `</event>` is not sending
/// CoT: it is closed, as a TAK server would.
constexpr size_t max_event_bytes = 1 << 20;

/// Seqs tracked for distinct(): 32 MB of bits, 15 days at 200 records/s.
constexpr uint64_t max_seq = uint64_t{1} << 28;

/// A TAK server's answer to a keepalive ping.
std::string pong() {
  auto now = now_ms();
  return "<event version=\"2.0\" uid=\"takPong\" type=\"t-x-c-t-r\" "
         "how=\"h-g-i-g-o\" time=\""
         + rfc3339(now) + "\" start=\"" + rfc3339(now) + "\" stale=\""
         + rfc3339(now + 20000)
         + "\"><point lat=\"0.0\" lon=\"0.0\" hae=\"0.0\" ce=\"9999999\" "
           "le=\"9999999\"/><detail/></event>";
}

} // namespace

cot_receiver::~cot_receiver() {
  stop();
}

bool cot_receiver::start(uint16_t port, std::string& err) {
  port_ = port;
  if (!listen_socket(err))
    return false;
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) {
    err = std::string{"eventfd: "} + std::strerror(errno);
    ::close(listener_);
    listener_ = -1;
    return false;
  }
  counts_.up = true;
  thread_ = std::thread{[this] { loop(); }};
  return true;
}

void cot_receiver::stop() {
  if (!thread_.joinable())
    return;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    stopping_ = true;
  }
  wake();
  thread_.join();
  close_all();
  ::close(wake_fd_);
  wake_fd_ = -1;
}

void cot_receiver::take_down_for(std::chrono::milliseconds d) {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    down_requested_ = true;
    down_until_ = clock::now() + d;
  }
  wake();
}

receiver_counts cot_receiver::counts() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return counts_;
}

std::chrono::milliseconds cot_receiver::down_for() const {
  std::lock_guard<std::mutex> guard{mtx_};
  if (counts_.up && !down_requested_)
    return std::chrono::milliseconds{0};
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
    down_until_ - clock::now());
  return std::max(left, std::chrono::milliseconds{0});
}

bool cot_receiver::wait_for_distinct(uint64_t n,
                                     std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock{mtx_};
  return changed_.wait_for(lock, timeout,
                           [&] { return counts_.distinct >= n; });
}

bool cot_receiver::listen_socket(std::string& err) {
  listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listener_ < 0) {
    err = std::string{"socket: "} + std::strerror(errno);
    return false;
  }
  // Coming back on the same port while the connections it closed are in
  // TIME_WAIT.
  int one = 1;
  ::setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port_);
  auto* sa = reinterpret_cast<sockaddr*>(&a);
  socklen_t len = sizeof(a);
  if (::bind(listener_, sa, len) != 0 || ::listen(listener_, 16) != 0
      || ::getsockname(listener_, sa, &len) != 0) {
    err = "127.0.0.1:" + std::to_string(port_) + ": " + std::strerror(errno);
    ::close(listener_);
    listener_ = -1;
    return false;
  }
  port_ = ntohs(a.sin_port);
  return true;
}

void cot_receiver::wake() {
  uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof(one));
}

// The listener first: once a client sees its connection closed, a
// connect is refused.
void cot_receiver::close_all() {
  if (listener_ >= 0)
    ::close(listener_);
  listener_ = -1;
  for (auto& c : clients_)
    ::close(c.fd);
  clients_.clear();
}

void cot_receiver::loop() {
  std::vector<char> tmp(1 << 16);
  bool said_busy = false;
  for (;;) {
    int timeout = -1;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      if (stopping_)
        return;
      if (down_requested_) {
        down_requested_ = false;
        close_all();
        counts_.up = false;
        ++counts_.outages;
        log::info("demo-tak", "TAK server down (connections closed, "
                              "connects refused) on port "
                                + std::to_string(port_));
      }
      if (!counts_.up) {
        auto now = clock::now();
        std::string err;
        if (now < down_until_) {
          timeout = static_cast<int>(
            std::chrono::duration_cast<std::chrono::milliseconds>(down_until_
                                                                  - now)
              .count()
            + 1);
        } else if (listen_socket(err)) {
          counts_.up = true;
          said_busy = false;
          log::info("demo-tak",
                    "TAK server up again on port " + std::to_string(port_));
        } else {
          // Another process took the port meanwhile: try again shortly.
          timeout = 200;
          if (!said_busy)
            log::warn("demo-tak", "cannot listen again: " + err);
          said_busy = true;
        }
      }
    }
    std::vector<pollfd> fds{{wake_fd_, POLLIN, 0}};
    if (listener_ >= 0)
      fds.push_back({listener_, POLLIN, 0});
    size_t first_client = fds.size();
    for (auto& c : clients_)
      fds.push_back({c.fd, POLLIN, 0});
    if (::poll(fds.data(), fds.size(), timeout) <= 0)
      continue;
    if (fds[0].revents & POLLIN) {
      uint64_t n;
      [[maybe_unused]] auto r = ::read(wake_fd_, &n, sizeof(n));
    }
    for (size_t i = first_client; i < fds.size(); ++i) {
      auto& c = clients_[i - first_client];
      if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR))
          && !read_from(c, tmp)) {
        // A partial event of a closed connection is lost, as with a TAK
        // server.
        ::close(c.fd);
        c.fd = -1;
      }
    }
    clients_.erase(std::remove_if(clients_.begin(), clients_.end(),
                                  [](const client& c) { return c.fd < 0; }),
                   clients_.end());
    if (first_client == 2 && (fds[1].revents & POLLIN))
      accept_one();
  }
}

void cot_receiver::accept_one() {
  int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
  if (fd < 0)
    return;
  clients_.push_back({fd, {}});
  std::lock_guard<std::mutex> guard{mtx_};
  ++counts_.connections;
}

bool cot_receiver::read_from(client& c, std::vector<char>& tmp) {
  auto n = ::recv(c.fd, tmp.data(), tmp.size(), 0);
  if (n <= 0)
    return false;
  c.buf.append(tmp.data(), static_cast<size_t>(n));
  static const std::string end = "</event>";
  size_t from = 0;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    for (auto pos = c.buf.find(end); pos != std::string::npos;
         pos = c.buf.find(end, from)) {
      take_event(c, c.buf.substr(from, pos + end.size() - from));
      from = pos + end.size();
    }
  }
  changed_.notify_all();
  c.buf.erase(0, from);
  return c.buf.size() <= max_event_bytes;
}

void cot_receiver::take_event(client& c, const std::string& ev) {
  if (ev.find("type=\"t-x-c-t\"") != std::string::npos) {
    ++counts_.pings;
    auto p = pong();
    ::send(c.fd, p.data(), p.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    return;
  }
  // cotflow's identity event, first on each connection.
  if (ev.find("<takv device=\"cotflow\"") != std::string::npos)
    return;
  ++counts_.events;
  auto at = ev.find("seq=");
  if (at == std::string::npos)
    return;
  uint64_t seq = 0;
  size_t digits = 0;
  for (auto i = at + 4; i < ev.size() && ev[i] >= '0' && ev[i] <= '9'; ++i) {
    seq = seq * 10 + static_cast<uint64_t>(ev[i] - '0');
    ++digits;
  }
  if (digits > 0 && digits < 19)
    count_seq(seq);
}

void cot_receiver::count_seq(uint64_t seq) {
  if (seq >= max_seq)
    return;
  if (seq >= seen_.size())
    seen_.resize(std::max<size_t>(seq + 1, seen_.size() * 2));
  if (seen_[seq]) {
    ++counts_.duplicates;
  } else {
    seen_[seq] = true;
    ++counts_.distinct;
  }
}

} // namespace cotflow
