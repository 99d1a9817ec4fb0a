#include "tests/support/tak_receiver.hpp"

#include "pipeline/tak/protocol/tak_protocol.hpp"
#include "tests/support/seq.hpp"
#include "tests/support/stream_frame.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdexcept>
#include <string_view>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

namespace cotflow::test {

struct tak_receiver::client {
  int fd;
  std::string buf;
  SSL* ssl = nullptr;
};

namespace {

void drop(SSL*& ssl, int& fd) {
  if (ssl)
    SSL_free(ssl);
  ssl = nullptr;
  ::close(fd);
  fd = -1;
}

/// A TAK server's answer to a keepalive ping, as a version 1 stream frame.
const std::string& v1_pong() {
  static const std::string frame = [] {
    std::string out, err;
    takp::encoder enc;
    enc.append(R"(<event version="2.0" uid="takPong" type="t-x-c-t-r" )"
               R"(how="h-g-i-g-o" time="2026-01-01T00:00:00Z" )"
               R"(start="2026-01-01T00:00:00Z" stale="2036-01-01T00:00:00Z">)"
               R"(<point lat="0.0" lon="0.0" hae="0.0" ce="9999999" )"
               R"(le="9999999"/><detail/></event>)",
               takp::wire_format::stream, false, out, err);
    if (out.empty())
      throw std::runtime_error("test receiver: no version 1 pong: " + err);
    return out;
  }();
  return frame;
}

} // namespace

tak_receiver::tak_receiver(uint16_t port, tls_server_options tls,
                           bool answer_pings)
  : tak_receiver([&] {
      receiver_options o;
      o.port = port;
      o.tls = std::move(tls);
      o.answer_pings = answer_pings;
      return o;
    }()) {}

tak_receiver::tak_receiver(receiver_options opts)
  : opts_(std::move(opts)), port_(opts_.port), seen_(opts_.n_seq, 0) {
  auto& tls = opts_.tls;
  if (!tls.cert.empty()) {
    ctx_ = SSL_CTX_new(TLS_server_method());
    if (SSL_CTX_use_certificate_chain_file(ctx_, tls.cert.c_str()) != 1
        || SSL_CTX_use_PrivateKey_file(ctx_, tls.key.c_str(), SSL_FILETYPE_PEM)
             != 1)
      throw std::runtime_error("test receiver: bad server certificate");
    if (!tls.client_ca.empty()) {
      SSL_CTX_load_verify_locations(ctx_, tls.client_ca.c_str(), nullptr);
      SSL_CTX_set_verify(
        ctx_, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    }
  }
  bind_socket();
  if (opts_.listen)
    listen_now();
}

tak_receiver::~tak_receiver() {
  stop();
  if (listener_ >= 0)
    ::close(listener_);
  if (ctx_)
    SSL_CTX_free(ctx_);
}

void tak_receiver::bind_socket() {
  listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port_);
  if (bind(listener_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0)
    throw std::runtime_error(std::string{"receiver bind: "}
                             + std::strerror(errno));
  socklen_t len = sizeof(a);
  getsockname(listener_, reinterpret_cast<sockaddr*>(&a), &len);
  port_ = ntohs(a.sin_port);
}

void tak_receiver::listen_now() {
  if (::listen(listener_, 64) != 0)
    throw std::runtime_error(std::string{"receiver listen: "}
                             + std::strerror(errno));
  up_at_ = std::chrono::steady_clock::now();
  running_ = true;
  thread_ = std::thread{[this] { loop(); }};
}

void tak_receiver::start() {
  bind_socket();
  listen_now();
}

void tak_receiver::stop() {
  if (!running_)
    return;
  running_ = false;
  thread_.join();
}

void tak_receiver::loop() {
  if (opts_.high_priority) {
    // A TAK server runs on a machine of its own. In the benchmarks it
    // shares the 2 cores with the pipeline under test, whose threads could
    // leave it unscheduled for long enough (~10 ms at 300k+ events/s) to
    // fill a TAK destination's queue (tak.queue_events) and make cotflow
    // park: the run would measure the parking path instead. A higher
    // priority keeps it reading as a server of its own would: real-time
    // (SCHED_FIFO) where allowed, so that it reads as soon as data arrives
    // (with nice -10 alone, one throughput run in two to eight still
    // parked); else nice -10; else as is. It sleeps in poll() between
    // reads, so it cannot starve the pipeline.
    sched_param rt{};
    rt.sched_priority = 1;
    if (::sched_setscheduler(0, SCHED_FIFO, &rt) != 0)
      ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), -10);
  }
  std::vector<client> clients;
  std::vector<char> tmp(1 << 18);
  int64_t last_sample_ns = -1;
  while (running_) {
    std::vector<pollfd> fds{{listener_, POLLIN, 0}};
    if (opts_.read)
      for (auto& c : clients)
        fds.push_back({c.fd, POLLIN, 0});
    if (::poll(fds.data(), fds.size(), 20) <= 0)
      continue;
    if (fds[0].revents & POLLIN)
      accept_one(clients);
    for (size_t i = 1; i < fds.size(); ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
        continue;
      auto& c = clients[i - 1];
      if (!read_from(c, tmp)) {
        drop(c.ssl, c.fd); // a partial event of a closed connection is lost
        continue;
      }
      if (auto k = take_events(c))
        note_read(k, last_sample_ns);
    }
    clients.erase(std::remove_if(clients.begin(), clients.end(),
                                 [](const client& c) { return c.fd < 0; }),
                  clients.end());
  }
  for (auto& c : clients)
    drop(c.ssl, c.fd);
  ::close(listener_);
  listener_ = -1;
}

bool tak_receiver::accept_one(std::vector<client>& clients) {
  int fd = accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
  if (fd < 0)
    return false;
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
      drop(c.ssl, c.fd);
      ++refused_;
      return false;
    }
  }
  clients.push_back(std::move(c));
  return true;
}

bool tak_receiver::read_from(client& c, std::vector<char>& tmp) {
  do {
    auto n = c.ssl ? SSL_read(c.ssl, tmp.data(), static_cast<int>(tmp.size()))
                   : ::recv(c.fd, tmp.data(), tmp.size(), 0);
    if (n <= 0)
      return false;
    bytes_ += static_cast<uint64_t>(n);
    c.buf.append(tmp.data(), static_cast<size_t>(n));
  } while (c.ssl && SSL_pending(c.ssl) > 0);
  return true;
}

bool tak_receiver::next_event(std::string_view all, size_t& from,
                              std::string_view& ev) {
  if (opts_.frames == receiver_options::framing::xml) {
    auto pos = all.find("</event>", from);
    if (pos == std::string_view::npos)
      return false;
    ev = all.substr(from, pos + 8 - from);
    from = pos + 8;
    return true;
  }
  switch (next_stream_frame(all, from, ev)) {
    case frame_read::frame:
      return true;
    case frame_read::incomplete:
      return false;
    case frame_read::broken:
      break;
  }
  ++violations_;
  from = all.size(); // nothing after it can be trusted to be framed
  return false;
}

uint64_t tak_receiver::take_events(client& c) {
  uint64_t k = 0;
  size_t from = 0;
  std::string_view all{c.buf};
  std::string_view ev;
  bool xml = opts_.frames == receiver_options::framing::xml;
  std::lock_guard<std::mutex> guard{mtx_};
  while (next_event(all, from, ev)) {
    if (opts_.pings
        && ev.find(xml ? std::string_view{"type=\"t-x-c-t\""}
                       : std::string_view{"t-x-c-t"})
             != std::string_view::npos) {
      ++pings_;
      if (opts_.answer_pings) {
        std::string pong = xml ? "<event version=\"2.0\" uid=\"takPong\" "
                                 "type=\"t-x-c-t-r\" how=\"h-g-i-g-o\"/>"
                               : v1_pong();
        if (c.ssl)
          SSL_write(c.ssl, pong.data(), static_cast<int>(pong.size()));
        else
          ::send(c.fd, pong.data(), pong.size(), MSG_NOSIGNAL);
      }
      continue;
    }
    // cotflow's identity event, first on each connection: not an event of
    // the stream.
    if (ev.find("<takv device=\"cotflow\"") != std::string_view::npos) {
      ++hellos_;
      continue;
    }
    ++k;
    if (!opts_.keep_seqs && seen_.empty() && !hook_)
      continue; // counting only
    auto seq = seq_of(ev);
    if (seq && hook_)
      hook_(*seq);
    if (opts_.keep_seqs) {
      if (seq)
        seqs_[*seq] += 1;
      if (sample_.size() < 20) {
        auto start = ev.find("<event");
        sample_.emplace_back(ev.substr(start == ev.npos ? 0 : start));
      }
    }
    if (!seen_.empty()) {
      if (!seq || *seq < opts_.first_seq
          || *seq - opts_.first_seq >= seen_.size())
        ++other_;
      else
        count_seq(*seq);
    }
  }
  c.buf.erase(0, from);
  return k;
}

void tak_receiver::count_seq(uint64_t seq) {
  auto& s = seen_[seq - opts_.first_seq];
  if (s++ == 0)
    ++distinct_;
  else
    ++dups_;
}

void tak_receiver::note_read(uint64_t events, int64_t& last_sample_ns) {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
              std::chrono::steady_clock::now() - up_at_)
              .count();
  if (first_ns_ < 0)
    first_ns_ = ns;
  last_ns_ = ns;
  events_ += events;
  if (ns - last_sample_ns >= 1000000) {
    last_sample_ns = ns;
    std::lock_guard<std::mutex> guard{mtx_};
    samples_.emplace_back(static_cast<double>(ns) / 1e9, events_.load());
  }
}

std::map<uint64_t, int> tak_receiver::seqs() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return seqs_;
}

std::vector<std::string> tak_receiver::sample() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return sample_;
}

void tak_receiver::on_event(std::function<void(uint64_t)> fn) {
  std::lock_guard<std::mutex> guard{mtx_};
  hook_ = std::move(fn);
}

std::vector<std::pair<double, uint64_t>> tak_receiver::samples() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return samples_;
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
      std::lock_guard<std::mutex> guard{mtx_};
      // A mesh datagram's remarks are in its xmlDetail, as written.
      if (auto seq = seq_of(ev))
        seqs_[*seq] += 1;
      datagrams_.push_back(std::move(ev));
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

std::vector<std::string> udp_receiver::datagrams() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return datagrams_;
}

} // namespace cotflow::test
