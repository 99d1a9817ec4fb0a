#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace cotflow {

/// A TAK destination URL: tcp://host:port, udp://host:port (unicast or
/// multicast, with ?ttl=N&interface=ADDR), tls://host:port with options
/// ca (PEM) or ca_p12 (a PKCS#12 truststore, with ca_password_env or
/// ca_password_file), cert and key (PEM files) or p12 (PKCS#12 file, as
/// TAK Server's scripts export them, legacy encryption included) with
/// password_env or password_file, server_name, verify=false.
struct tak_url {
  std::string scheme;
  std::string host;
  uint16_t port = 0;
  /// Multicast time-to-live (udp only).
  int ttl = 1;
  /// Outgoing interface address for multicast (udp only), empty = default.
  std::string interface;
  /// TLS: CA bundle (PEM); empty = the system's (unless ca_p12).
  std::string ca;
  /// TLS: the CA certificates as a PKCS#12 truststore, and where its
  /// password comes from.
  std::string ca_p12;
  std::string ca_password_env;
  std::string ca_password_file;
  /// TLS: client certificate and key (PEM).
  std::string cert;
  std::string key;
  /// TLS: client certificate and key as PKCS#12.
  std::string p12;
  /// TLS: where the key password comes from (never from the URL itself).
  std::string password_env;
  std::string password_file;
  /// TLS: the name to verify (servers are often reached by IP).
  std::string server_name;
  /// TLS: verify the server certificate (opting out must be explicit).
  bool verify = true;
  /// Filter: CoT type prefixes (types=a-h|a-u-G); empty = all.
  std::vector<std::string> types;
  /// Filter: one-letter affiliations (affiliations=hostile|u); empty = all.
  std::vector<std::string> affiliations;
  /// Filter: sources (sources=cam-1|radar-2); empty = all.
  std::vector<std::string> sources;
  /// Keep only the latest event per uid of each batch (coalesce=true).
  bool coalesce = false;
  /// Keepalive pings (ping=false: none); nothing: on for tcp and tls.
  std::optional<bool> ping;
};

/// Parses a TAK destination URL; returns nothing when bad, with every
/// problem found (address, each option, the TLS options together) appended
/// to `errs`.
std::optional<tak_url> parse_tak_url(const std::string& url,
                                     std::vector<std::string>& errs);

/// As above, with every problem in `err`, separated by "; ".
std::optional<tak_url> parse_tak_url(const std::string& url, std::string& err);

} // namespace cotflow
