#include "pipeline/ingest/http_ingest.hpp"

#include "pipeline/codec/cot_encoder.hpp"
#include "pipeline/codec/decoder.hpp"
#include "pipeline/core/json.hpp"
#include "pipeline/core/listen.hpp"
#include "pipeline/core/log.hpp"
#include "pipeline/ingest/tls_front.hpp"
#include "pipeline/kafka/kafka.hpp"

#include <CivetServer.h>
#include <librdkafka/rdkafkacpp.h>
#include <openssl/ssl.h>
#include <prometheus/histogram.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace cotflow {

namespace {

std::string_view trim(std::string_view s) {
  auto space = [](char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
  };
  while (!s.empty() && space(s.front()))
    s.remove_prefix(1);
  while (!s.empty() && space(s.back()))
    s.remove_suffix(1);
  return s;
}

/// The records of one request on their way to Kafka: each delivery report
/// fills its record's place; the request's thread waits for all of them.
struct pending {
  std::mutex m;
  std::condition_variable done;
  size_t left = 0;
  std::vector<std::pair<int32_t, int64_t>> where;
  std::string error;
};

/// What a message carries to its delivery report.
struct message_ticket {
  std::shared_ptr<pending> request;
  size_t index;
};

/// Escapes `s` for a JSON string.
std::string json_string(std::string_view s) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w{buf};
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  return buf.GetString();
}

} // namespace

bool split_records(std::string_view body, std::vector<std::string>& out,
                   std::string& err) {
  out.clear();
  auto all = trim(body);
  if (all.empty()) {
    err = "the body holds no record";
    return false;
  }
  rapidjson::Document doc;
  doc.Parse(all.data(), all.size());
  if (!doc.HasParseError()) {
    if (!doc.IsArray()) {
      out.emplace_back(all);
      return true;
    }
    for (auto& v : doc.GetArray()) {
      rapidjson::StringBuffer buf;
      rapidjson::Writer<rapidjson::StringBuffer> w{buf};
      v.Accept(w);
      out.emplace_back(buf.GetString(), buf.GetSize());
    }
    if (out.empty()) {
      err = "the array holds no record";
      return false;
    }
    return true;
  }
  // Not one JSON value: NDJSON, one record per line.
  if (all.find('\n') == std::string_view::npos) {
    err = std::string{"the body is not JSON: "}
          + rapidjson::GetParseError_En(doc.GetParseError()) + " at byte "
          + std::to_string(doc.GetErrorOffset())
          + " (send one JSON object, a JSON array of them, or NDJSON)";
    return false;
  }
  size_t from = 0;
  while (from <= all.size()) {
    auto nl = all.find('\n', from);
    auto line = trim(all.substr(
      from, nl == std::string_view::npos ? std::string_view::npos : nl - from));
    if (!line.empty())
      out.emplace_back(line);
    if (nl == std::string_view::npos)
      break;
    from = nl + 1;
  }
  return true;
}

struct http_ingest::impl : public CivetHandler,
                           public RdKafka::DeliveryReportCb {
  config cfg;
  std::shared_ptr<stats> st;
  std::string topic;
  std::unique_ptr<RdKafka::Producer> producer;
  std::unique_ptr<CivetServer> server;
  /// HTTPS in front of the server, with ingest.tls_cert.
  std::unique_ptr<tls_front> front;
  std::thread poller;
  std::atomic<bool> polling{true};
  std::atomic<bool> taking{true};
  cot_encoder encoder;

  explicit impl(const config& c) : cfg(c), encoder(c.cot) {}

  ~impl() override {
    front.reset(); // no new requests, and those relayed end
    if (server)
      server->close();
    if (producer)
      producer->flush(10000);
    polling = false;
    if (poller.joinable())
      poller.join();
  }

  void dr_cb(RdKafka::Message& msg) override {
    std::unique_ptr<message_ticket> t{
      static_cast<message_ticket*>(msg.msg_opaque())};
    if (!t)
      return;
    auto& r = *t->request;
    std::lock_guard<std::mutex> guard{r.m};
    if (msg.err() == RdKafka::ERR_NO_ERROR)
      r.where[t->index] = {msg.partition(), msg.offset()};
    else if (r.error.empty())
      r.error = msg.errstr();
    if (--r.left == 0)
      r.done.notify_all();
  }

  /// Produces `value` (key `key`) to `to`, its report filling `index` of
  /// `r`. False when the producer's queue is full (nothing produced).
  bool produce(const std::string& to, const std::string& key,
               const std::string& value, RdKafka::Headers* headers,
               const std::shared_ptr<pending>& r, size_t index) {
    auto* ticket = new message_ticket{r, index};
    auto e = producer->produce(to, RdKafka::Topic::PARTITION_UA,
                               RdKafka::Producer::RK_MSG_COPY,
                               const_cast<char*>(value.data()), value.size(),
                               key.data(), key.size(), 0, headers, ticket);
    if (e == RdKafka::ERR_NO_ERROR)
      return true;
    delete ticket;
    delete headers;
    return false;
  }

  /// Waits until Kafka confirmed every record of `r` or the timeout.
  bool wait(pending& r) {
    std::unique_lock<std::mutex> lock{r.m};
    return r.done.wait_for(lock,
                           std::chrono::milliseconds{cfg.ingest.timeout_ms},
                           [&] { return r.left == 0; });
  }

  static void answer(mg_connection* conn, int status, const std::string& body,
                     int retry_after = 0) {
    const char* reason = status == 202   ? "Accepted"
                         : status == 400 ? "Bad Request"
                         : status == 401 ? "Unauthorized"
                         : status == 404 ? "Not Found"
                         : status == 413 ? "Payload Too Large"
                         : status == 429 ? "Too Many Requests"
                                         : "Service Unavailable";
    std::string extra;
    if (retry_after > 0)
      extra += "Retry-After: " + std::to_string(retry_after) + "\r\n";
    if (status == 401)
      extra += "WWW-Authenticate: Bearer\r\n";
    mg_printf(conn,
              "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
              "Content-Length: %zu\r\n%sConnection: close\r\n\r\n",
              status, reason, body.size(), extra.c_str());
    mg_write(conn, body.data(), body.size());
  }

  static std::string error_body(const std::string& why) {
    return "{\"error\":" + json_string(why) + "}\n";
  }

  /// Reads the body, refusing it (413) past ingest.max_body_bytes; nothing
  /// when it was refused or the client went away.
  std::optional<std::string> read_body(mg_connection* conn) {
    auto limit = static_cast<size_t>(cfg.ingest.max_body_bytes);
    auto info = mg_get_request_info(conn);
    if (info->content_length > static_cast<long long>(limit))
      return std::nullopt;
    // Read into the string itself: civetweb's worker threads have small
    // stacks.
    std::string body;
    size_t used = 0;
    for (;;) {
      body.resize(used + 16384);
      auto n = mg_read(conn, body.data() + used, 16384);
      if (n <= 0)
        break;
      used += static_cast<size_t>(n);
      if (used > limit)
        return std::nullopt;
    }
    body.resize(used);
    return body;
  }

  int handle(mg_connection* conn) {
    auto& in = st->ingest;
    // With TLS the plain port is on loopback for tls_front alone: a local
    // process that connects to it directly would skip the client
    // certificate.
    if (front && !front->relays(mg_get_request_info(conn)->remote_port)) {
      answer(conn, 401, error_body("HTTPS only"));
      return 401;
    }
    if (!cfg.ingest.token.empty()) {
      auto auth = mg_get_header(conn, "Authorization");
      if (!auth || std::string{auth} != "Bearer " + cfg.ingest.token) {
        answer(conn, 401, error_body("a bearer token is required"));
        return 401;
      }
    }
    if (!taking) {
      answer(conn, 503, error_body("cotflow is stopping"), 5);
      return 503;
    }
    auto body = read_body(conn);
    if (!body) {
      answer(conn, 413,
             error_body("the body is over ingest.max_body_bytes ("
                        + std::to_string(cfg.ingest.max_body_bytes)
                        + " bytes)"));
      return 413;
    }
    std::vector<std::string> records;
    std::string err;
    if (!split_records(*body, records, err)) {
      answer(conn, 400, error_body(err));
      return 400;
    }
    return take(conn, records, in);
  }

  int take(mg_connection* conn, const std::vector<std::string>& records,
           ingest_stats& in) {
    thread_local std::unique_ptr<decoder> dec;
    if (!dec)
      dec = std::make_unique<decoder>(cfg);
    detection d;
    std::vector<std::string> keys(records.size());
    std::string refused;
    std::vector<std::pair<size_t, refusal>> bad;
    for (size_t i = 0; i < records.size(); ++i) {
      if (auto r = dec->decode(records[i], d)) {
        refused += std::string{refused.empty() ? "" : ","}
                   + "{\"index\":" + std::to_string(i)
                   + ",\"reason\":" + json_string(to_string(r->reason))
                   + ",\"detail\":" + json_string(r->detail) + "}";
        bad.emplace_back(i, std::move(*r));
        continue;
      }
      encoder.uid(d, keys[i]);
    }
    auto r = std::make_shared<pending>();
    if (!bad.empty()) {
      // Nothing goes to the input topic; the refused records go where the
      // pipeline's own dead letters go.
      in.refused += bad.size();
      size_t lettered = 0;
      if (!cfg.kafka.dead_letter_topic.empty()) {
        r->left = bad.size();
        r->where.assign(bad.size(), {-1, -1});
        for (size_t j = 0; j < bad.size(); ++j) {
          auto& [i, why] = bad[j];
          auto* h = RdKafka::Headers::create();
          h->add("cotflow.reason", std::string{to_string(why.reason)});
          h->add("cotflow.detail", why.detail);
          h->add("cotflow.source.topic", "http");
          if (!produce(cfg.kafka.dead_letter_topic, "", records[i], h, r, j)) {
            std::lock_guard<std::mutex> guard{r->m};
            r->left -= bad.size() - j;
            break;
          }
        }
        if (wait(*r))
          for (auto& [p, o] : r->where)
            lettered += p >= 0 || o >= 0;
      }
      answer(conn, 400,
             "{\"accepted\":0,\"refused\":[" + refused
               + "],\"dead_lettered\":" + std::to_string(lettered) + "}\n");
      return 400;
    }
    r->left = records.size();
    r->where.assign(records.size(), {-1, -1});
    for (size_t i = 0; i < records.size(); ++i)
      if (!produce(topic, keys[i], records[i], nullptr, r, i)) {
        // What was produced still goes (and a retry duplicates it): Kafka
        // keeps order per key, and nothing is lost.
        {
          std::lock_guard<std::mutex> guard{r->m};
          r->left -= records.size() - i;
        }
        answer(conn, 429,
               error_body("cotflow's Kafka producer queue is full; "
                          + std::to_string(i)
                          + " of the request's records were queued "
                            "already and will arrive"),
               1);
        return 429;
      }
    if (!wait(*r) || !r->error.empty()) {
      std::lock_guard<std::mutex> guard{r->m};
      answer(conn, 503,
             error_body(r->error.empty()
                          ? "Kafka did not confirm the records within "
                              + std::to_string(cfg.ingest.timeout_ms)
                              + " ms; they may still arrive"
                          : "Kafka refused a record: " + r->error),
             5);
      return 503;
    }
    std::string where;
    for (auto& [p, o] : r->where)
      where += std::string{where.empty() ? "" : ","} + "{\"partition\":"
               + std::to_string(p) + ",\"offset\":" + std::to_string(o) + "}";
    in.records += records.size();
    answer(conn, 202,
           "{\"accepted\":" + std::to_string(records.size()) + ",\"topic\":"
             + json_string(topic) + ",\"records\":[" + where + "]}\n");
    return 202;
  }

  bool handlePost(CivetServer*, mg_connection* conn) override {
    auto t0 = std::chrono::steady_clock::now();
    auto status = handle(conn);
    auto& in = st->ingest;
    switch (status) {
      case 202:
        ++in.accepted;
        break;
      case 400:
        ++in.bad_request;
        break;
      case 401:
        ++in.unauthorized;
        break;
      case 413:
        ++in.too_large;
        break;
      case 429:
        ++in.busy;
        break;
      default:
        ++in.unavailable;
    }
    if (in.latency)
      in.latency->Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
          .count());
    return true;
  }
};

std::vector<std::string> check_ingest_tls(const config& cfg) {
  std::vector<std::string> problems;
  auto& in = cfg.ingest;
  if (!in.address.empty() && !in.tls_cert.empty())
    SSL_CTX_free(
      tls_front::server_context(in.tls_cert, in.tls_client_ca, problems));
  return problems;
}

std::unique_ptr<http_ingest> http_ingest::start(const config& cfg,
                                                std::shared_ptr<stats> st,
                                                std::string& err) {
  std::unique_ptr<http_ingest> self{new http_ingest};
  self->impl_ = std::make_unique<impl>(cfg);
  auto& m = *self->impl_;
  m.st = std::move(st);
  m.topic = !cfg.ingest.topic.empty() ? cfg.ingest.topic
                                      : cfg.kafka.input_topics.front();
  auto conf = make_client_conf(cfg, client_role::producer, err);
  if (!conf)
    return nullptr;
  std::string e;
  conf->set("dr_cb", static_cast<RdKafka::DeliveryReportCb*>(&m), e);
  m.producer.reset(RdKafka::Producer::create(conf.get(), err));
  if (!m.producer)
    return nullptr;
  m.poller = std::thread{[&m] {
    while (m.polling)
      m.producer->poll(50);
  }};
  // With TLS, civetweb serves plain HTTP on a loopback port of its own
  // and tls_front (which says why) takes the connections.
  bool tls = !cfg.ingest.tls_cert.empty();
  std::vector<std::string> options = {"num_threads", "8", "listening_ports",
                                      tls ? std::string{"127.0.0.1:0"}
                                          : cfg.ingest.address};
  try {
    m.server = std::make_unique<CivetServer>(options);
  } catch (const std::exception& ex) {
    err = cannot_listen("ingest.address", cfg.ingest.address, ex.what(),
                        "the ingest");
    return nullptr;
  }
  if (tls) {
    auto ports = m.server->getListeningPortsFull();
    m.front = tls_front::start(
      cfg.ingest.address, cfg.ingest.tls_cert, cfg.ingest.tls_client_ca,
      ports.empty() ? 0 : ports.front().port, 256, err);
    if (!m.front)
      return nullptr;
  }
  m.server->addHandler("/v1/detections$", &m);
  m.st->ingest.on = true;
  return self;
}

http_ingest::~http_ingest() = default;

std::string http_ingest::address() const {
  if (impl_->front)
    return "127.0.0.1:" + std::to_string(impl_->front->port());
  auto ports = impl_->server->getListeningPortsFull();
  if (ports.empty())
    return "";
  return "127.0.0.1:" + std::to_string(ports.front().port);
}

void http_ingest::stop_taking() {
  impl_->taking = false;
}

} // namespace cotflow
