#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

typedef struct ssl_ctx_st SSL_CTX;

namespace cotflow {

/// HTTPS for the ingest: accepts TLS connections on an address, asks for
/// and verifies client certificates when given a CA (mutual TLS), and
/// relays each connection's bytes to the ingest's plain HTTP server on a
/// loopback port.
///
/// Why not civetweb's own TLS: Debian's civetweb 1.15 loads OpenSSL with
/// dlopen and calls SSL_get_peer_certificate on every TLS connection,
/// which OpenSSL 3 no longer exports (it is a macro for
/// SSL_get1_peer_certificate): its worker calls a null pointer and the
/// process dies on the first HTTPS request.
class tls_front {
public:
  /// Listens on `address` (host:port; port 0 picks one) with the
  /// certificate chain and key of PEM file `cert_pem`, requiring a client
  /// certificate signed by a CA of `client_ca` unless it is empty, TLS 1.2
  /// or later; relays to 127.0.0.1:`backend_port`, at most
  /// `max_connections` at once (more are closed at once). Null with `err`
  /// when it cannot.
  static std::unique_ptr<tls_front>
  start(const std::string& address, const std::string& cert_pem,
        const std::string& client_ca, int backend_port, size_t max_connections,
        std::string& err);

  /// The TLS server context of these files (TLS 1.2 or later; asking for
  /// client certificates when `client_ca` is set); null with every
  /// problem added to `problems` (for `config check` too).
  static SSL_CTX* server_context(const std::string& cert_pem,
                                 const std::string& client_ca,
                                 std::vector<std::string>& problems);

  /// Stops accepting, closes every connection and waits for their threads.
  ~tls_front();
  tls_front(const tls_front&) = delete;
  tls_front& operator=(const tls_front&) = delete;

  /// The port listened on.
  int port() const;

  /// Whether a connection to the backend from local port `port` is one of
  /// this front's relays (and not another local process).
  bool relays(int port) const;

  struct impl;

private:
  tls_front() = default;
  std::unique_ptr<impl> impl_;
};

} // namespace cotflow
