#pragma once

#include <optional>
#include <string>

namespace cotflow {

/// host:port as http.address and ingest.address take it, apart.
struct listen_address {
  /// Without an IPv6 address's brackets; empty: every local address.
  std::string host;
  /// A number or a service name, without civetweb's suffixes (s: TLS,
  /// r: redirect).
  std::string port;
};

/// `address` apart; nothing without a ':'.
std::optional<listen_address> split_listen_address(const std::string& address);

/// A TCP socket listening on `address` (host:port), non-blocking and
/// closed on exec, bound as the web server binds (SO_REUSEADDR: a port
/// whose last connections linger in TIME_WAIT is free), on the first of
/// the host's addresses that takes it. Sets `port` to the port it got
/// (port 0 picks one). -1 when none does, with `why` in the system's words
/// and `error` its errno (0 when the address does not parse or resolve).
int bind_listener(const std::string& address, int& port, std::string& why,
                  int& error);

/// The local port of socket `fd`, -1 when it cannot be read.
int local_port(int fd);

/// True when another socket listens on `address` (host:port, as
/// http.address and ingest.address take it): binding there fails with
/// EADDRINUSE. False for port 0 and for addresses that do not parse.
bool address_in_use(const std::string& address);

/// Why the server of config key `key` cannot listen on `address`, for an
/// operator: a port in use says so and how to choose another (its
/// environment variable too) or to turn `what` off; anything else gives
/// the web server's own text.
std::string cannot_listen(const std::string& key, const std::string& address,
                          const std::string& library_text,
                          const std::string& what);

/// A TCP connection to `host`:`port` (a name or an address), made within
/// `timeout_ms`, whose sends and receives wait at most that long too; -1
/// with `err` (which name, or which address refused) when it cannot be.
int connect_tcp(const std::string& host, int port, int timeout_ms,
                std::string& err);

/// This host's name; nothing when it cannot be read.
std::optional<std::string> host_name();

} // namespace cotflow
