#include "pipeline/ingest/tls_front.hpp"

#include "pipeline/core/listen.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <list>
#include <mutex>
#include <netinet/in.h>
#include <poll.h>
#include <set>
#include <sys/socket.h>
#include <sys/time.h>
#include <system_error>
#include <thread>
#include <unistd.h>
#include <vector>

namespace cotflow {

namespace {

/// A connection without a byte either way this long is closed; also the
/// longest a handshake may take.
constexpr int idle_ms = 60000;
constexpr int handshake_ms = 10000;

void set_timeouts(int fd, int ms) {
  timeval tv{ms / 1000, (ms % 1000) * 1000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

std::string openssl_text() {
  auto code = ERR_get_error();
  ERR_clear_error();
  char buf[256];
  ERR_error_string_n(code, buf, sizeof buf);
  return code == 0 ? std::string{"unknown error"} : std::string{buf};
}

bool write_all(int fd, const char* p, size_t n) {
  while (n > 0) {
    auto w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

} // namespace

SSL_CTX* tls_front::server_context(const std::string& cert_pem,
                                   const std::string& client_ca,
                                   std::vector<std::string>& problems) {
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx{
    SSL_CTX_new(TLS_server_method()), &SSL_CTX_free};
  if (!ctx || SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION) != 1) {
    problems.push_back("ingest.tls_cert: " + openssl_text());
    return nullptr;
  }
  // The chain and the key from the one file.
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), cert_pem.c_str()) != 1)
    problems.push_back("ingest.tls_cert: no certificate in '" + cert_pem
                       + "': " + openssl_text());
  else if (SSL_CTX_use_PrivateKey_file(ctx.get(), cert_pem.c_str(),
                                       SSL_FILETYPE_PEM)
           != 1)
    problems.push_back("ingest.tls_cert: no private key in '" + cert_pem
                       + "' (one PEM file holds both: cat server.crt "
                         "server.key): "
                       + openssl_text());
  else if (SSL_CTX_check_private_key(ctx.get()) != 1)
    problems.push_back("ingest.tls_cert: the private key in '" + cert_pem
                       + "' is not the certificate's");
  if (!client_ca.empty()) {
    if (SSL_CTX_load_verify_locations(ctx.get(), client_ca.c_str(), nullptr)
        != 1) {
      problems.push_back("ingest.tls_client_ca: no CA certificate in '"
                         + client_ca + "': " + openssl_text());
    } else {
      // The CAs whose certificates the server asks for; no handshake
      // completes without one.
      SSL_CTX_set_client_CA_list(ctx.get(),
                                 SSL_load_client_CA_file(client_ca.c_str()));
      SSL_CTX_set_verify(
        ctx.get(), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
      // Without one, OpenSSL fails the handshake of every resumed
      // session (a client that caches them: curl, Java, Go) instead of
      // taking it as a cache miss.
      static const unsigned char id[] = "cotflow-ingest";
      SSL_CTX_set_session_id_context(ctx.get(), id, sizeof id - 1);
    }
  }
  ERR_clear_error();
  return problems.empty() ? ctx.release() : nullptr;
}

struct tls_front::impl {
  struct connection {
    int client = -1;
    int backend = -1;
    int local_port = -1;
    std::thread thread;
    std::atomic<bool> done{false};
  };

  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx{nullptr, &SSL_CTX_free};
  int listener = -1;
  int wake[2] = {-1, -1};
  int port = 0;
  int backend_port = 0;
  size_t max_connections = 0;
  std::atomic<bool> stopping{false};
  std::thread acceptor;
  mutable std::mutex mutex;
  std::list<connection> connections;
  /// The local ports of the relays' backend connections.
  std::set<int> relay_ports;

  ~impl() {
    stopping = true;
    if (wake[1] >= 0)
      (void)!::write(wake[1], "x", 1);
    if (acceptor.joinable())
      acceptor.join();
    {
      // Unblock every relay; each closes its own sockets.
      std::lock_guard<std::mutex> lock{mutex};
      for (auto& c : connections) {
        if (c.client >= 0)
          ::shutdown(c.client, SHUT_RDWR);
        if (c.backend >= 0)
          ::shutdown(c.backend, SHUT_RDWR);
      }
    }
    for (auto& c : connections)
      if (c.thread.joinable())
        c.thread.join();
    for (int fd : {listener, wake[0], wake[1]})
      if (fd >= 0)
        ::close(fd);
  }

  /// Joins the relays that have finished.
  void reap() {
    std::lock_guard<std::mutex> lock{mutex};
    for (auto it = connections.begin(); it != connections.end();) {
      if (it->done) {
        it->thread.join();
        it = connections.erase(it);
      } else {
        ++it;
      }
    }
  }

  void accept_loop() {
    while (!stopping) {
      pollfd fds[2] = {{listener, POLLIN, 0}, {wake[0], POLLIN, 0}};
      if (::poll(fds, 2, 1000) < 0 && errno != EINTR)
        return;
      reap();
      if (stopping)
        return;
      if ((fds[0].revents & POLLIN) == 0)
        continue;
      int fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0)
        continue; // the listener does not block: another took it
      std::lock_guard<std::mutex> lock{mutex};
      if (connections.size() >= max_connections) {
        ::close(fd); // as a full server does: the client may retry
        continue;
      }
      auto& c = connections.emplace_back();
      c.client = fd;
      try {
        c.thread = std::thread{[this, &c] {
          relay(c);
          c.done = true;
        }};
      } catch (const std::system_error&) { // no thread to be had
        ::close(fd);
        connections.pop_back();
      }
    }
  }

  /// The TLS handshake within handshake_ms in all, however slowly the
  /// client sends its bytes (a receive timeout bounds only each wait).
  bool handshake(SSL* ssl, int fd) {
    int flags = ::fcntl(fd, F_GETFL);
    ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    auto deadline = std::chrono::steady_clock::now()
                    + std::chrono::milliseconds{handshake_ms};
    bool done = false;
    for (;;) {
      int rc = SSL_accept(ssl);
      if (rc == 1) {
        done = true;
        break;
      }
      auto e = SSL_get_error(ssl, rc);
      if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
        break;
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
      pollfd p{
        fd, static_cast<short>(e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT), 0};
      if (left <= 0 || stopping || ::poll(&p, 1, static_cast<int>(left)) <= 0)
        break;
    }
    ::fcntl(fd, F_SETFL, flags);
    return done;
  }

  /// One connection: the handshake, then bytes both ways until both sides
  /// are done (a client that closes its half after its request still gets
  /// the answer) or it is idle for idle_ms.
  void relay(connection& c) {
    std::unique_ptr<SSL, decltype(&SSL_free)> ssl{SSL_new(ctx.get()),
                                                  &SSL_free};
    if (!ssl || SSL_set_fd(ssl.get(), c.client) != 1
        || !handshake(ssl.get(), c.client)) {
      ERR_clear_error(); // a client without a valid certificate, a scan
      close_both(c);
      return;
    }
    set_timeouts(c.client, idle_ms);
    std::string err;
    int backend = connect_tcp("127.0.0.1", backend_port, idle_ms, err);
    {
      std::lock_guard<std::mutex> lock{mutex};
      c.backend = backend;
      if (backend >= 0)
        c.local_port = local_port(backend);
      relay_ports.insert(c.local_port);
    }
    if (backend < 0 || stopping) {
      close_both(c);
      return;
    }
    char buf[16384];
    bool client_open = true; // the client may still send
    for (;;) {
      bool from_client = client_open && SSL_pending(ssl.get()) > 0;
      bool from_backend = false;
      if (!from_client) {
        pollfd fds[2] = {{client_open ? c.client : -1, POLLIN, 0},
                         {backend, POLLIN, 0}};
        int n = ::poll(fds, 2, idle_ms);
        if (n < 0 && errno == EINTR)
          continue;
        if (n <= 0)
          break; // idle, or an error
        from_client = fds[0].revents != 0;
        from_backend = fds[1].revents != 0;
      }
      if (from_client) {
        int n = SSL_read(ssl.get(), buf, sizeof buf);
        if (n <= 0) {
          auto e = SSL_get_error(ssl.get(), n);
          if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
            continue; // a record not whole yet, or a session ticket
          if (e != SSL_ERROR_ZERO_RETURN)
            break;
          // close_notify: the request is whole; its answer still comes.
          client_open = false;
          ::shutdown(backend, SHUT_WR);
          continue;
        }
        if (!write_all(backend, buf, static_cast<size_t>(n)))
          break;
      }
      if (from_backend) {
        auto n = ::recv(backend, buf, sizeof buf, 0);
        if (n <= 0)
          break;
        if (SSL_write(ssl.get(), buf, static_cast<int>(n)) != n)
          break;
      }
    }
    SSL_shutdown(ssl.get());
    ERR_clear_error();
    close_both(c);
  }

  void close_both(connection& c) {
    std::lock_guard<std::mutex> lock{mutex};
    relay_ports.erase(c.local_port);
    ::close(c.client);
    if (c.backend >= 0)
      ::close(c.backend);
    c.client = c.backend = -1;
  }
};

std::unique_ptr<tls_front>
tls_front::start(const std::string& address, const std::string& cert_pem,
                 const std::string& client_ca, int backend_port,
                 size_t max_connections, std::string& err) {
  std::unique_ptr<tls_front> self{new tls_front};
  self->impl_ = std::make_unique<impl>();
  auto& m = *self->impl_;
  m.backend_port = backend_port;
  m.max_connections = max_connections;
  std::vector<std::string> problems;
  m.ctx.reset(server_context(cert_pem, client_ca, problems));
  if (!problems.empty()) {
    err = problems.front();
    return nullptr;
  }
  std::string why;
  int error = 0;
  m.listener = bind_listener(address, m.port, why, error);
  if (m.listener < 0) {
    err = cannot_listen("ingest.address", address, why, "the ingest");
    return nullptr;
  }
  if (::pipe2(m.wake, O_CLOEXEC) != 0) {
    err = std::string{"ingest: "} + std::strerror(errno);
    return nullptr;
  }
  m.acceptor = std::thread{[&m] { m.accept_loop(); }};
  return self;
}

tls_front::~tls_front() = default;

int tls_front::port() const {
  return impl_->port;
}

bool tls_front::relays(int port) const {
  std::lock_guard<std::mutex> lock{impl_->mutex};
  return impl_->relay_ports.count(port) != 0;
}

} // namespace cotflow
