#pragma once

#include <optional>
#include <string>

namespace cotflow {

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
