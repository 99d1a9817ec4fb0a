#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace cotflow {

/// What a TAK destination speaks (the URL's `protocol` option).
enum class tak_protocol_choice : uint8_t {
  /// CoT XML only (TAK Protocol version 0), the default.
  xml,
  /// Streams: start in XML, switch to TAK Protocol version 1 when the
  /// server offers it (t-x-takp-v), stay in XML when it does not.
  negotiate,
  /// Streams: TAK Protocol version 1 frames from the first byte (a TAK
  /// Server input with protocol="prototls" or similar).
  v1,
  /// UDP: TAK Protocol version 1 mesh datagrams (ATAK's mesh SA).
  mesh,
};

/// A TAK destination URL: tcp://host:port, udp://host:port (unicast or
/// multicast, with ?ttl=N&interface=ADDR), tls://host:port with options
/// ca (PEM) or ca_p12 (a PKCS#12 truststore, with ca_password_env or
/// ca_password_file), cert and key (PEM files) or p12 (PKCS#12 file, as
/// TAK Server's scripts export them, legacy encryption included) with
/// password_env or password_file, server_name, verify=false; on every
/// scheme protocol (xml, or TAK Protocol version 1: negotiate or 1 on
/// streams, mesh on UDP).
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
  /// Routing on a TAK Server: <marti><dest callsign|group|mission=.../>
  /// added to every event (dest_callsigns=A|B, dest_groups=, dest_missions=).
  std::vector<std::string> dest_callsigns;
  std::vector<std::string> dest_groups;
  std::vector<std::string> dest_missions;
  /// archive=true: <archive/> on every event (clients keep the item).
  bool archive = false;
  /// An identity event for cotflow itself first on each connection
  /// (hello=false: none); nothing: on for tcp and tls.
  std::optional<bool> hello;
  /// protocol=xml|negotiate|1 (tcp, tls) or xml|mesh (udp).
  tak_protocol_choice protocol = tak_protocol_choice::xml;
};

/// Parses a TAK destination URL; returns nothing when bad, with every
/// problem found (address, each option, the TLS options together) appended
/// to `errs`.
std::optional<tak_url> parse_tak_url(const std::string& url,
                                     std::vector<std::string>& errs);

/// As above, with every problem in `err`, separated by "; ".
std::optional<tak_url> parse_tak_url(const std::string& url, std::string& err);

} // namespace cotflow
