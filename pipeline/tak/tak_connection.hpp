#pragma once

#include "config/config.hpp"
#include "pipeline/tak/transport.hpp"
#include "pipeline/tak/url/url.hpp"

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

struct ssl_ctx_st;
struct ssl_st;

namespace cotflow {

/// One connection to a TAK server: TCP (a stream of CoT events written back
/// to back) or UDP (one event per datagram, unicast or multicast). Blocking
/// calls with timeouts: it lives in a detached actor. TLS (1.2 or newer)
/// verifies the server by default and can present a client certificate.
class tak_connection final : public tak_transport {
public:
  tak_connection(tak_url url, std::chrono::milliseconds connect_timeout,
                 std::chrono::milliseconds write_timeout);
  /// Why the TLS credentials (CA, client certificate, key, PKCS#12 files)
  /// cannot be used, or empty: set up when the connection is made, before
  /// any connect, so `config check` sees what `run` would.
  const std::string& credentials_error() const {
    return ctx_error_;
  }

  ~tak_connection();
  tak_connection(const tak_connection&) = delete;
  tak_connection& operator=(const tak_connection&) = delete;

  /// Connects (TCP) or opens the socket (UDP). On failure sets `err`, and
  /// `config_error` when retrying soon cannot help (unresolvable name).
  bool connect(std::string& err, bool& config_error) override;

  bool connected() const override {
    return fd_ >= 0;
  }

  bool is_udp() const override {
    return url_.scheme == "udp";
  }

  bool is_tls() const override {
    return url_.scheme == "tls";
  }

  /// When bytes last came from the server (or the connection was made).
  time_point last_read() const override {
    return last_read_;
  }

  /// Writes every byte (TCP) or sends one datagram (UDP); false with `err`
  /// when the connection failed or a write was blocked past the timeout
  /// (the connection is closed then).
  bool write(std::string_view bytes, std::string& err) override;

  /// Writes `bytes` from `done` on without waiting: as much as the kernel
  /// takes now (advancing `done`); `partial` when the rest must wait for
  /// the server to read. `failed` (connection closed, `err` set) on an
  /// error, or when the write, begun at `since`, has been blocked longer
  /// than the write timeout. UDP sends the whole datagram at once.
  progress write_some(std::string_view bytes, size_t& done,
                      std::chrono::steady_clock::time_point since,
                      std::string& err) {
    return write_some(&bytes, 1, bytes.size(), done, since, err);
  }

  std::optional<size_t> unacknowledged() const override;

  /// As write_some, for the concatenation of `n` pieces (`total` bytes)
  /// without copying them together first: one sendmsg over all of them on
  /// plain TCP. UDP sends each piece as a datagram of its own.
  progress write_some(const std::string_view* pieces, size_t n, size_t total,
                      size_t& done, time_point since,
                      std::string& err) override;

  /// Reads and discards what the server sent, so its send buffer never
  /// fills; false with `err` when the server closed the connection.
  bool drain(std::string& err) override {
    return receive(nullptr, err);
  }

  bool read(std::string& into, std::string& err) override {
    return receive(&into, err);
  }

  bool refused_credentials() const override {
    return refused_credentials_;
  }

  uint64_t pongs() const override {
    return pongs_.count();
  }

  /// Closes the socket.
  void close() override;

  /// Bytes read and discarded so far.
  uint64_t bytes_read() const {
    return bytes_read_;
  }

private:
  /// Reads what the server sent, keeping it in `keep` unless null.
  bool receive(std::string* keep, std::string& err);
  /// Why a TLS write failed (SSL_get_error's `ssl_error`), reading an
  /// alert the server sent before closing; sets refused_credentials_.
  std::string write_failure(int ssl_error);
  bool setup_tls(std::string& err);
  bool handshake(std::string& err, bool& config_error);
  bool wait(bool for_read, std::chrono::steady_clock::time_point deadline);

  tak_url url_;
  ssl_ctx_st* ctx_ = nullptr;
  ssl_st* ssl_ = nullptr;
  std::string ctx_error_;
  std::chrono::steady_clock::time_point last_read_{};
  std::chrono::milliseconds connect_timeout_;
  std::chrono::milliseconds write_timeout_;
  int fd_ = -1;
  /// The last read or write failed because the server refused our
  /// certificate.
  bool refused_credentials_ = false;
  uint64_t bytes_read_ = 0;
  /// Ping answers read on this connection.
  pong_scanner pongs_;
  // UDP destination address.
  char addr_[128] = {};
  unsigned addr_len_ = 0;
};

/// The TLS credentials of every tls:// destination of `cfg` loaded as a
/// connection would load them (PKCS#12 passwords and legacy encryption
/// included), without connecting: one problem per destination that
/// cannot use its own.
std::vector<std::string> check_tak_credentials(const config& cfg);

} // namespace cotflow
