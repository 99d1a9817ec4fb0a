#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace cotflow {

/// What enrolling with a TAK Server needs: its enrollment port (8446), a
/// user's credentials, and how to trust the server.
struct enrollment_request {
  std::string host;
  uint16_t port = 8446;
  std::string user;
  std::string password;
  /// PEM CA bundle to verify the server with; empty: the system's.
  std::string ca;
  /// Do not verify the server (a first enrollment against a server whose
  /// CA the client does not have yet); must be asked for.
  bool insecure = false;
  /// The clientUid the server records the certificate under.
  std::string client_uid;
  /// Where the key, certificate and CA go.
  std::string out_dir;
  int timeout_ms = 15000;
};

/// The files enrollment wrote.
struct enrollment_result {
  std::string key;
  std::string cert;
  std::string ca;
  /// The certificate's subject, as the server signed it.
  std::string subject;
};

/// Enrolls as TAK clients do: asks the server what a certificate's subject
/// holds (GET /Marti/api/tls/config), makes a key and a certificate request
/// here (the key never leaves the machine), has the server sign it (POST
/// /Marti/api/tls/signClient/v2), and writes the key (mode 0600), the
/// signed certificate and the server's CA certificates as PEM files into
/// out_dir. Nothing on failure, with `err` saying which step failed and
/// why (a refused password reads as such).
std::optional<enrollment_result> enroll(const enrollment_request& req,
                                        std::string& err);

} // namespace cotflow
