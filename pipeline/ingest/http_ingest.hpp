#pragma once

#include "config/config.hpp"
#include "pipeline/core/stats.hpp"

#include <memory>
#include <string>
#include <string_view>
#include <vector>

/// HTTP detection ingest: producers that have no Kafka client POST their
/// detections, and cotflow writes them to its input topic, answering only
/// once Kafka has them.
namespace cotflow {

/// The records of a request body: one JSON object, a JSON array of them,
/// or NDJSON (one per line; blank lines skipped). False with `err` when the
/// body is none of these (an array element or a line that is not JSON
/// still counts as a record: the decoder refuses it with its reason).
bool split_records(std::string_view body, std::vector<std::string>& out,
                   std::string& err);

/// The problems of the ingest's TLS settings (ingest.tls_cert,
/// ingest.tls_client_ca), found by loading them as the ingest will: the
/// certificate and its key (and that they match), and the client CAs.
std::vector<std::string> check_ingest_tls(const config& cfg);

/// `POST /v1/detections` on `ingest.address`, a port of its own (civetweb),
/// over HTTPS with ingest.tls_cert (tls_front), requiring client
/// certificates with ingest.tls_client_ca.
///
/// A request is all or nothing. Its records are decoded as the pipeline
/// will decode them; when any is refused, none goes to the input topic:
/// the answer is 400 with each refused record's index, reason and detail,
/// and the refused records go to the dead-letter topic (so an operator
/// sees them where the pipeline's own go). Otherwise every record is
/// produced to the input topic (key: its uid, so a track keeps one
/// partition and its order) and the answer, 202, comes once Kafka
/// confirmed them all, with each record's partition and offset. 413 when
/// the body is over ingest.max_body_bytes; 429 with Retry-After when the
/// producer's queue is full; 503 with Retry-After when Kafka did not
/// confirm within ingest.timeout_ms (the records may still arrive: a
/// retry can duplicate them, never lose them) or cotflow is stopping; 401
/// without the bearer token ingest.token when one is set.
class http_ingest {
public:
  /// Listens; null with `err` when it cannot (the address is taken, the
  /// producer cannot be made).
  static std::unique_ptr<http_ingest>
  start(const config& cfg, std::shared_ptr<stats> st, std::string& err);
  ~http_ingest();
  http_ingest(const http_ingest&) = delete;
  http_ingest& operator=(const http_ingest&) = delete;

  /// The address listened on ("127.0.0.1:8088").
  std::string address() const;

  /// From now on requests are answered 503 (cotflow is stopping); those
  /// under way finish.
  void stop_taking();

  struct impl;

private:
  http_ingest() = default;
  std::unique_ptr<impl> impl_;
};

} // namespace cotflow
