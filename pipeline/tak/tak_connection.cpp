#include "pipeline/tak/tak_connection.hpp"

#include "config/defaults.hpp"

#include <openssl/err.h>
#include <openssl/pkcs12.h>
#include <openssl/provider.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
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

/// True for the alerts a server sends when it refuses the client's
/// certificate (or the lack of one).
bool refuses_certificate(unsigned long e) {
  if (ERR_GET_LIB(e) != ERR_LIB_SSL)
    return false;
  switch (ERR_GET_REASON(e)) {
    case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
    case SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE:
    case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
    case SSL_R_TLSV1_ALERT_ACCESS_DENIED:
    case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
      return true;
    default:
      return false;
  }
}

/// OpenSSL's queued errors as one line (the queue is emptied); sets
/// `*unsupported` when one of them says an algorithm is not available, and
/// `*refused` when one is the server refusing our certificate.
std::string ssl_errors(bool* unsupported = nullptr, bool* refused = nullptr) {
  std::string out;
  while (auto e = ERR_get_error()) {
    if (unsupported && ERR_GET_REASON(e) == ERR_R_UNSUPPORTED)
      *unsupported = true;
    if (refused && refuses_certificate(e))
      *refused = true;
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    if (!out.empty())
      out += "; ";
    out += buf;
  }
  return out.empty() ? std::string{"unknown TLS error"} : out;
}

/// A server refusing the client's certificate once the client's side of
/// a TLS 1.3 handshake is done (on the next read or write), with why.
std::string refused_after_handshake(const std::string& why) {
  return "the server refused cotflow's client certificate right after the "
         "handshake: "
         + why;
}

bool is_ip_literal(const std::string& host) {
  in6_addr a6;
  in_addr a4;
  return inet_pton(AF_INET, host.c_str(), &a4) == 1
         || inet_pton(AF_INET6, host.c_str(), &a6) == 1;
}

/// The key password from the environment or a file; never logged.
/// A password from an environment variable or the first line of a file.
std::string password_from(const std::string& env, const std::string& file) {
  if (!env.empty())
    if (auto v = std::getenv(env.c_str()))
      return v;
  if (!file.empty()) {
    std::ifstream in{file};
    std::string line;
    std::getline(in, line);
    while (!line.empty() && (line.back() == '\r' || line.back() == '\n'))
      line.pop_back();
    return line;
  }
  return {};
}

std::string key_password(const tak_url& url) {
  return password_from(url.password_env, url.password_file);
}

/// OpenSSL 3 keeps the ciphers that TAK Server's certificate scripts still
/// use for .p12 files (RC2-40 and 3DES: `openssl pkcs12 -export -legacy`)
/// in its legacy provider, which is not loaded by default. Loaded once, the
/// first time a PKCS#12 needs it, together with the default provider
/// (loading one provider by name stops the default one from loading by
/// itself). False when OpenSSL has no legacy provider.
bool load_legacy_provider() {
  // Held for the life of the process (kept reachable, not leaked).
  static OSSL_PROVIDER* const legacy = OSSL_PROVIDER_load(nullptr, "legacy");
  static OSSL_PROVIDER* const fallback = OSSL_PROVIDER_load(nullptr, "default");
  return legacy != nullptr && fallback != nullptr;
}

/// What a PKCS#12 file holds (each part may be missing: a truststore has
/// certificates only).
struct p12_parts {
  EVP_PKEY* key = nullptr;
  X509* cert = nullptr;
  STACK_OF(X509) * chain = nullptr;
  ~p12_parts() {
    EVP_PKEY_free(key);
    X509_free(cert);
    sk_X509_pop_free(chain, X509_free);
  }
};

/// Reads the PKCS#12 file at `path` with `password`. Tells a wrong
/// password (the file's MAC does not match) from an algorithm this OpenSSL
/// cannot use, and uses the legacy provider when the file needs it.
bool read_p12(const std::string& path, const std::string& password,
              p12_parts& out, std::string& err) {
  std::unique_ptr<PKCS12, void (*)(PKCS12*)> p12{nullptr, PKCS12_free};
  if (auto* f = std::fopen(path.c_str(), "rb")) {
    p12.reset(d2i_PKCS12_fp(f, nullptr));
    std::fclose(f);
  }
  if (!p12) {
    err = path + " is not a PKCS#12 file: " + ssl_errors();
    return false;
  }
  ERR_clear_error();
  // No password: PKCS#12 tells an empty one from none, and an exporter may
  // have used either (PKCS12_parse tries both too).
  auto mac_ok = [&] {
    return PKCS12_verify_mac(p12.get(), password.c_str(), -1) == 1
           || (password.empty()
               && PKCS12_verify_mac(p12.get(), nullptr, 0) == 1);
  };
  if (PKCS12_mac_present(p12.get()) && !mac_ok()) {
    bool unsupported = false;
    ssl_errors(&unsupported);
    if (!unsupported) {
      err = "wrong password for " + path + " (its MAC does not match)";
      return false;
    }
  }
  for (int attempt = 0;; ++attempt) {
    ERR_clear_error();
    if (PKCS12_parse(p12.get(), password.c_str(), &out.key, &out.cert,
                     &out.chain)
        == 1)
      return true;
    bool unsupported = false;
    auto why = ssl_errors(&unsupported);
    if (unsupported && attempt == 0 && load_legacy_provider())
      continue; // legacy encryption: again with the legacy provider
    err = unsupported ? path
                          + " uses an algorithm this OpenSSL cannot use (no "
                            "legacy provider?): "
                          + why
                      : "cannot read " + path + ": " + why;
    return false;
  }
}

/// Takes the CA certificates of `url`'s truststore PKCS#12 (ca_p12; none
/// has a key) as the ones `ctx` verifies servers with.
bool trust_p12(SSL_CTX* ctx, const tak_url& url, std::string& err) {
  p12_parts trust;
  std::string why;
  if (!read_p12(url.ca_p12,
                password_from(url.ca_password_env, url.ca_password_file), trust,
                why)) {
    err = "cannot load CA truststore: " + why;
    return false;
  }
  auto* store = SSL_CTX_get_cert_store(ctx);
  int added = 0;
  if (trust.cert)
    added += X509_STORE_add_cert(store, trust.cert);
  for (int i = 0; trust.chain && i < sk_X509_num(trust.chain); ++i)
    added += X509_STORE_add_cert(store, sk_X509_value(trust.chain, i));
  if (added == 0) {
    err = "cannot load CA truststore: " + url.ca_p12 + " holds no certificate";
    return false;
  }
  return true;
}

int password_cb(char* buf, int size, int, void* userdata) {
  auto* pw = static_cast<std::string*>(userdata);
  auto n = std::min<int>(size, static_cast<int>(pw->size()));
  std::memcpy(buf, pw->data(), static_cast<size_t>(n));
  return n;
}

/// The multicast options of a UDP socket to `ai` (none for unicast);
/// false with `err` when the configured interface cannot be used.
bool set_multicast_options(int fd, const addrinfo& ai, const tak_url& url,
                           std::string& err) {
  if (!is_multicast(ai.ai_addr) || ai.ai_family != AF_INET)
    return true;
  unsigned char ttl = static_cast<unsigned char>(url.ttl);
  setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof(ttl));
  unsigned char loop = 1;
  setsockopt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, &loop, sizeof(loop));
  if (url.interface.empty())
    return true;
  in_addr iface{};
  if (inet_pton(AF_INET, url.interface.c_str(), &iface) != 1
      || setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &iface, sizeof(iface))
           != 0) {
    err = "multicast interface " + url.interface + " unusable";
    return false;
  }
  return true;
}

/// Connects the TCP socket `fd` to `ai` within `timeout`, leaving it
/// non-blocking; false with `err` (the caller closes `fd`).
bool connect_stream(int fd, const addrinfo& ai,
                    std::chrono::milliseconds timeout, std::string& err) {
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
  // A bounded send buffer bounds what a dying connection can swallow,
  // which the replay window must cover.
  int sndbuf = defaults::tak_send_buffer_bytes;
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
  if (::connect(fd, ai.ai_addr, ai.ai_addrlen) != 0 && errno != EINPROGRESS) {
    err = errno_text("connect");
    return false;
  }
  pollfd p{fd, POLLOUT, 0};
  int n = ::poll(&p, 1, static_cast<int>(timeout.count()));
  int soerr = 0;
  socklen_t len = sizeof(soerr);
  if (n <= 0) {
    err = "connect: timed out";
    return false;
  }
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
  if (soerr != 0) {
    err = std::string{"connect: "} + std::strerror(soerr);
    return false;
  }
  return true;
}

} // namespace

tak_connection::tak_connection(tak_url url,
                               std::chrono::milliseconds connect_timeout,
                               std::chrono::milliseconds write_timeout)
  : url_(std::move(url)), connect_timeout_(connect_timeout),
    write_timeout_(write_timeout) {
  if (is_tls() && !setup_tls(ctx_error_) && ctx_) {
    SSL_CTX_free(ctx_);
    ctx_ = nullptr;
  }
}

tak_connection::~tak_connection() {
  close();
  if (ctx_)
    SSL_CTX_free(ctx_);
}

void tak_connection::close() {
  if (ssl_) {
    SSL_free(ssl_);
    ssl_ = nullptr;
  }
  if (fd_ >= 0)
    ::close(fd_);
  fd_ = -1;
}

bool tak_connection::setup_tls(std::string& err) {
  ctx_ = SSL_CTX_new(TLS_client_method());
  if (!ctx_) {
    err = ssl_errors();
    return false;
  }
  SSL_CTX_set_min_proto_version(ctx_, TLS1_2_VERSION);
  SSL_CTX_set_mode(ctx_, SSL_MODE_ENABLE_PARTIAL_WRITE
                           | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if (url_.verify && !url_.ca_p12.empty()) {
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    if (!trust_p12(ctx_, url_, err))
      return false;
  } else if (url_.verify) {
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    bool ok = url_.ca.empty()
                ? SSL_CTX_set_default_verify_paths(ctx_) == 1
                : SSL_CTX_load_verify_locations(ctx_, url_.ca.c_str(), nullptr)
                    == 1;
    if (!ok) {
      err = "cannot load CA " + url_.ca + ": " + ssl_errors();
      return false;
    }
  } else {
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_NONE, nullptr);
  }
  auto password = key_password(url_);
  if (!url_.cert.empty()) {
    SSL_CTX_set_default_passwd_cb(ctx_, password_cb);
    SSL_CTX_set_default_passwd_cb_userdata(ctx_, &password);
    bool ok = SSL_CTX_use_certificate_chain_file(ctx_, url_.cert.c_str()) == 1
              && SSL_CTX_use_PrivateKey_file(ctx_, url_.key.c_str(),
                                             SSL_FILETYPE_PEM)
                   == 1
              && SSL_CTX_check_private_key(ctx_) == 1;
    SSL_CTX_set_default_passwd_cb_userdata(ctx_, nullptr);
    if (!ok) {
      err = "cannot use client certificate " + url_.cert + " / key " + url_.key
            + ": " + ssl_errors();
      return false;
    }
  } else if (!url_.p12.empty()) {
    p12_parts client;
    std::string why;
    bool ok = read_p12(url_.p12, password, client, why);
    if (ok && (!client.key || !client.cert)) {
      why = url_.p12 + " holds no certificate with its key";
      ok = false;
    }
    ok = ok && SSL_CTX_use_certificate(ctx_, client.cert) == 1
         && SSL_CTX_use_PrivateKey(ctx_, client.key) == 1;
    for (int i = 0; ok && client.chain && i < sk_X509_num(client.chain); ++i)
      SSL_CTX_add_extra_chain_cert(ctx_,
                                   X509_dup(sk_X509_value(client.chain, i)));
    if (!ok) {
      err = "cannot use PKCS#12 client certificate: "
            + (why.empty() ? url_.p12 + ": " + ssl_errors() : why);
      return false;
    }
  }
  return true;
}

bool tak_connection::wait(bool for_read,
                          std::chrono::steady_clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
    deadline - std::chrono::steady_clock::now());
  if (left.count() <= 0)
    return false;
  pollfd p{fd_, static_cast<short>(for_read ? POLLIN : POLLOUT), 0};
  ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), 100)));
  return true;
}

bool tak_connection::handshake(std::string& err, bool& config_error) {
  ssl_ = SSL_new(ctx_);
  SSL_set_fd(ssl_, fd_);
  auto& name = url_.server_name;
  if (!is_ip_literal(name))
    SSL_set_tlsext_host_name(ssl_, name.c_str());
  if (url_.verify) {
    auto* param = SSL_get0_param(ssl_);
    if (is_ip_literal(name))
      X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str());
    else
      SSL_set1_host(ssl_, name.c_str());
  }
  auto deadline = std::chrono::steady_clock::now() + connect_timeout_;
  for (;;) {
    ERR_clear_error();
    int rc = SSL_connect(ssl_);
    if (rc == 1)
      return true;
    int e = SSL_get_error(ssl_, rc);
    if ((e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        && wait(e == SSL_ERROR_WANT_READ, deadline))
      continue;
    auto verify = SSL_get_verify_result(ssl_);
    if (verify != X509_V_OK) {
      // A wrong CA or server name does not heal by retrying soon.
      err = "TLS handshake refused: certificate verify failed: "
            + std::string{X509_verify_cert_error_string(verify)}
            + " (server name '" + name + "')";
      config_error = true;
    } else if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
      err = "TLS handshake timed out";
    } else {
      bool refused = false;
      auto why = ssl_errors(nullptr, &refused);
      // TLS 1.2: the server refuses the certificate within the handshake.
      // A credential problem, like a failed verification: retried slowly.
      err = refused ? "the server refused cotflow's client certificate: " + why
                    : "TLS handshake failed: " + why;
      config_error = refused;
    }
    close();
    return false;
  }
}

bool tak_connection::connect(std::string& err, bool& config_error) {
  close();
  config_error = false;
  refused_credentials_ = false;
  if (is_tls() && !ctx_) {
    err = ctx_error_;
    config_error = true;
    return false;
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = is_udp() ? SOCK_DGRAM : SOCK_STREAM;
  addrinfo* res = nullptr;
  auto port = std::to_string(url_.port);
  int rc = getaddrinfo(url_.host.c_str(), port.c_str(), &hints, &res);
  if (rc != 0) {
    err = "cannot resolve " + url_.host + ": " + gai_strerror(rc);
    config_error = rc == EAI_NONAME || rc == EAI_SERVICE || rc == EAI_FAMILY;
    return false;
  }
  err.clear();
  // Each address in turn, until one works; when none does, `err` is why
  // the last one failed.
  for (auto* ai = res; ai != nullptr; ai = ai->ai_next) {
    int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
                      ai->ai_protocol);
    if (fd < 0) {
      err = errno_text("socket");
      continue;
    }
    if (is_udp()) {
      if (!set_multicast_options(fd, *ai, url_, err)) {
        config_error = true;
        ::close(fd);
        continue;
      }
      std::memcpy(addr_, ai->ai_addr, ai->ai_addrlen);
      addr_len_ = static_cast<unsigned>(ai->ai_addrlen);
      fd_ = fd;
      break;
    }
    if (!connect_stream(fd, *ai, connect_timeout_, err)) {
      ::close(fd);
      continue;
    }
    fd_ = fd;
    break;
  }
  freeaddrinfo(res);
  pongs_.reset();
  if (fd_ >= 0 && is_tls() && !handshake(err, config_error))
    return false;
  last_read_ = std::chrono::steady_clock::now();
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
  while (ssl_ && done < bytes.size()) {
    ERR_clear_error();
    int n = SSL_write(ssl_, bytes.data() + done,
                      static_cast<int>(bytes.size() - done));
    if (n > 0) {
      done += static_cast<size_t>(n);
      continue;
    }
    int e = SSL_get_error(ssl_, n);
    if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
      err = write_failure(e);
      close();
      return false;
    }
    if (!wait(e == SSL_ERROR_WANT_READ, deadline)) {
      err = "write blocked for " + std::to_string(write_timeout_.count())
            + " ms: server not reading";
      close();
      return false;
    }
  }
  while (!ssl_ && done < bytes.size()) {
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
      err = "write blocked for " + std::to_string(write_timeout_.count())
            + " ms: server not reading";
      close();
      return false;
    }
    pollfd p{fd_, POLLOUT, 0};
    ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), 100)));
  }
  return true;
}

// One loop for TLS and plain TCP, on purpose: both advance one cursor
// (first, skip, done) and stop the same way when the server is not
// reading; split apart, that cursor and a three-way result would pass
// through every call of this write path.
std::optional<size_t> tak_connection::unacknowledged() const {
  if (fd_ < 0)
    return std::nullopt;
  // UDP: a datagram the kernel took is as delivered as it gets.
  if (url_.scheme == "udp")
    return 0;
  // TCP's SIOCOUTQ: bytes not yet acknowledged by the peer, sent or not
  // (write_seq - snd_una). On TLS these are record bytes, a little more
  // than the events' own: the estimate errs on the side of resending.
  int n = 0;
  if (ioctl(fd_, SIOCOUTQ, &n) != 0 || n < 0)
    return std::nullopt;
  return static_cast<size_t>(n);
}

tak_connection::progress tak_connection::write_some(
  const std::string_view* pieces, size_t n, size_t total, size_t& done,
  std::chrono::steady_clock::time_point since, std::string& err) {
  if (fd_ < 0) {
    err = "not connected";
    return progress::failed;
  }
  if (is_udp()) {
    for (size_t i = 0; i < n; ++i)
      if (!write(pieces[i], err))
        return progress::failed;
    done = total;
    return progress::complete;
  }
  // The piece and the offset in it where byte `done` is.
  size_t first = 0;
  size_t skip = done;
  auto locate = [&] {
    while (first < n && skip >= pieces[first].size()) {
      skip -= pieces[first].size();
      ++first;
    }
  };
  while (done < total) {
    locate();
    if (ssl_) {
      ERR_clear_error();
      const auto& piece = pieces[first];
      int w = SSL_write(ssl_, piece.data() + skip,
                        static_cast<int>(piece.size() - skip));
      if (w > 0) {
        done += static_cast<size_t>(w);
        skip += static_cast<size_t>(w);
        continue;
      }
      int e = SSL_get_error(ssl_, w);
      if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
        err = write_failure(e);
        close();
        return progress::failed;
      }
    } else {
      iovec iov[256]; // a write_bytes write of ordinary events in one call
      size_t count = 0;
      for (size_t i = first; i < n && count < std::size(iov); ++i) {
        size_t off = i == first ? skip : 0;
        iov[count].iov_base = const_cast<char*>(pieces[i].data() + off);
        iov[count].iov_len = pieces[i].size() - off;
        ++count;
      }
      msghdr msg{};
      msg.msg_iov = iov;
      msg.msg_iovlen = count;
      auto w = ::sendmsg(fd_, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (w > 0) {
        done += static_cast<size_t>(w);
        skip += static_cast<size_t>(w);
        continue;
      }
      if (w < 0 && errno == EINTR)
        continue;
      if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
        err = errno_text("send");
        close();
        return progress::failed;
      }
    }
    // The server is not reading now. Keep reading what it sends (it may be
    // blocked writing to us); give up on it past the write timeout.
    if (!drain(err))
      return progress::failed;
    if (std::chrono::steady_clock::now() - since >= write_timeout_) {
      err = "write blocked for " + std::to_string(write_timeout_.count())
            + " ms: server not reading";
      close();
      return progress::failed;
    }
    return progress::partial;
  }
  return progress::complete;
}

std::string tak_connection::write_failure(int ssl_error) {
  int sys = errno;
  bool refused = false;
  bool queued = ERR_peek_error() != 0;
  auto why = ssl_errors(nullptr, &refused);
  if (!queued && ssl_error == SSL_ERROR_SYSCALL)
    why = std::strerror(sys);
  if (!refused && ssl_error == SSL_ERROR_SYSCALL) {
    // TLS 1.3: the client's side of the handshake ends before the server
    // has checked the client's certificate. A server that refuses it
    // sends an alert and closes, and a write can fail on the closed
    // connection before any read has seen that alert: read it now.
    char buf[4096];
    ERR_clear_error();
    while (SSL_read(ssl_, buf, sizeof(buf)) > 0) {
    }
    auto alert = ssl_errors(nullptr, &refused);
    if (refused)
      why = alert;
  }
  refused_credentials_ = refused;
  return refused ? refused_after_handshake(why) : "TLS write failed: " + why;
}

bool tak_connection::receive(std::string* keep, std::string& err) {
  if (fd_ < 0 || is_udp())
    return fd_ >= 0;
  char buf[4096];
  while (ssl_) {
    ERR_clear_error();
    int n = SSL_read(ssl_, buf, sizeof(buf));
    if (n > 0) {
      bytes_read_ += static_cast<uint64_t>(n);
      last_read_ = std::chrono::steady_clock::now();
      pongs_.feed({buf, static_cast<size_t>(n)});
      if (keep)
        keep->append(buf, static_cast<size_t>(n));
      continue;
    }
    int e = SSL_get_error(ssl_, n);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
      return true;
    bool refused = false;
    auto why = e == SSL_ERROR_ZERO_RETURN ? std::string{}
                                          : ssl_errors(nullptr, &refused);
    // TLS 1.3: the server checks the client's certificate after the
    // client's side of the handshake is done, and says no on the first
    // read.
    refused_credentials_ = refused;
    err = refused                      ? refused_after_handshake(why)
          : e == SSL_ERROR_ZERO_RETURN ? "server closed the connection"
                                       : "TLS read failed: " + why;
    if (e == SSL_ERROR_SYSCALL && n == 0)
      err = "server closed the connection";
    close();
    return false;
  }
  for (;;) {
    auto n = ::recv(fd_, buf, sizeof(buf), MSG_DONTWAIT);
    if (n > 0) {
      bytes_read_ += static_cast<uint64_t>(n);
      last_read_ = std::chrono::steady_clock::now();
      pongs_.feed({buf, static_cast<size_t>(n)});
      if (keep)
        keep->append(buf, static_cast<size_t>(n));
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

std::vector<std::string> check_tak_credentials(const config& cfg) {
  std::vector<std::string> out;
  for (auto& [name, url] : cfg.tak.destinations) {
    std::vector<std::string> ignored; // the URL's own problems: validate()
    auto parsed = parse_tak_url(url, ignored);
    if (!parsed || parsed->scheme != "tls")
      continue;
    tak_connection c{*parsed, std::chrono::milliseconds{1},
                     std::chrono::milliseconds{1}};
    if (!c.credentials_error().empty())
      out.push_back("tak.destinations." + name + ": " + c.credentials_error());
  }
  return out;
}

} // namespace cotflow
