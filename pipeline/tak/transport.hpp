#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cotflow {

/// Counts TAK Server's answers to keepalive pings (type t-x-c-t-r, in XML
/// or inside a version 1 TakMessage alike) in what a connection reads,
/// chunk by chunk: an answer split across two reads counts once.
class pong_scanner {
public:
  /// Scans the next bytes read; returns the answers found so far.
  uint64_t feed(std::string_view bytes);

  uint64_t count() const {
    return count_;
  }

  /// A new connection: nothing seen.
  void reset() {
    count_ = 0;
    tail_.clear();
  }

private:
  uint64_t count_ = 0;
  /// The last bytes of the previous chunk, shorter than the answer's type.
  std::string tail_;
};

/// What a TAK destination needs from its connection: tak_connection in
/// production, a scripted fake in the tests of tak_destination.
class tak_transport {
public:
  using time_point = std::chrono::steady_clock::time_point;

  /// What write_some achieved.
  enum class progress { complete, partial, failed };

  virtual ~tak_transport() = default;

  /// Connects (TCP) or opens the socket (UDP). On failure sets `err`, and
  /// `config_error` when retrying soon cannot help (unresolvable name).
  virtual bool connect(std::string& err, bool& config_error) = 0;

  virtual bool connected() const = 0;

  virtual bool is_udp() const = 0;

  virtual bool is_tls() const = 0;

  /// When bytes last came from the server (or the connection was made).
  virtual time_point last_read() const = 0;

  /// Answers to keepalive pings (t-x-c-t-r) read on this connection so
  /// far (see pong_scanner); a transport that cannot tell says 0.
  virtual uint64_t pongs() const {
    return 0;
  }

  /// Writes every byte (TCP) or sends one datagram (UDP); false with `err`
  /// when the connection failed (it is closed then).
  virtual bool write(std::string_view bytes, std::string& err) = 0;

  /// Writes the concatenation of `n` pieces (`total` bytes) from `done` on
  /// without waiting, advancing `done`; `partial` when the rest must wait
  /// for the server to read; `failed` (closed, `err` set) on an error or
  /// when the write, begun at `since`, was blocked past the write timeout.
  virtual progress write_some(const std::string_view* pieces, size_t n,
                              size_t total, size_t& done, time_point since,
                              std::string& err)
    = 0;

  /// Bytes written on this connection that the server's kernel has not
  /// acknowledged yet (TCP: what Linux's SIOCOUTQ reports, sent or not);
  /// nothing when it cannot tell. What the kernel took but the server
  /// never got is among them when the connection is lost.
  virtual std::optional<size_t> unacknowledged() const = 0;

  /// Reads and discards what the server sent; false with `err` when the
  /// server closed the connection.
  virtual bool drain(std::string& err) = 0;

  /// As drain, but what the server sent is appended to `into` (a
  /// negotiation reads the server's messages).
  virtual bool read(std::string& into, std::string& err) = 0;

  /// True when the last read or write failed because the server refused the
  /// client's certificate (TLS 1.3 says so after the handshake): a
  /// credential problem, not a network one.
  virtual bool refused_credentials() const {
    return false;
  }

  /// Closes the socket.
  virtual void close() = 0;
};

} // namespace cotflow
