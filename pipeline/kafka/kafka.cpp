#include "pipeline/kafka/kafka.hpp"

#include "pipeline/core/listen.hpp"

#include "pipeline/core/log.hpp"
#include "pipeline/kafka/kafka_stats.hpp"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <algorithm>

#include <unistd.h>

namespace cotflow {

namespace {

/// Errors that producing again cannot cure.
bool permanent(RdKafka::ErrorCode rc) {
  switch (rc) {
    case RdKafka::ERR_MSG_SIZE_TOO_LARGE:
    case RdKafka::ERR__INVALID_ARG:
    case RdKafka::ERR__FATAL:
    case RdKafka::ERR_TOPIC_AUTHORIZATION_FAILED:
    case RdKafka::ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RdKafka::ERR_INVALID_RECORD:
    case RdKafka::ERR__UNKNOWN_PARTITION:
      return true;
    default:
      return false;
  }
}

/// librdkafka's own log lines and errors, as structured log lines.
class kafka_events : public RdKafka::EventCb {
public:
  void event_cb(RdKafka::Event& e) override {
    switch (e.type()) {
      case RdKafka::Event::EVENT_ERROR:
        log::write(e.fatal() ? log::level::error : log::level::warn, "kafka",
                   RdKafka::err2str(e.err()) + ": " + e.str(),
                   {{"error", RdKafka::err2str(e.err())}});
        break;
      case RdKafka::Event::EVENT_LOG: {
        auto sev = e.severity();
        // Pass-through properties go to every client; that a producer
        // ignores a consumer property is expected, not a warning.
        if (e.fac() == "CONFWARN")
          sev = RdKafka::Event::EVENT_SEVERITY_DEBUG;
        auto lvl = sev <= RdKafka::Event::EVENT_SEVERITY_ERROR
                     ? log::level::error
                   : sev <= RdKafka::Event::EVENT_SEVERITY_WARNING
                     ? log::level::warn
                   : sev <= RdKafka::Event::EVENT_SEVERITY_INFO
                     ? log::level::info
                     : log::level::debug;
        if (log::enabled(lvl))
          log::write(lvl, "kafka", e.fac() + ": " + e.str());
        break;
      }
      case RdKafka::Event::EVENT_STATS:
        kafka_stats::instance().update(e.str());
        break;
      default:
        break;
    }
  }
};

/// kafka.group_instance_id as librdkafka's group.instance.id: "hostname"
/// stands for this host's name.
std::string group_instance_id(const std::string& configured) {
  if (configured != "hostname")
    return configured;
  auto name = host_name();
  if (!name)
    log::warn("kafka", "kafka.group_instance_id is 'hostname' but the host "
                       "name cannot be read: static membership is off");
  return name.value_or("");
}

bool set(RdKafka::Conf& conf, const std::string& key, const std::string& val,
         std::string& err) {
  std::string e;
  if (conf.set(key, val, e) != RdKafka::Conf::CONF_OK) {
    err = "kafka property " + key + ": " + e;
    return false;
  }
  return true;
}

/// Creates and destroys a client of `role` from a copy of `conf` that
/// names no broker, so that librdkafka runs the checks it makes only when a
/// client is created (properties that exclude each other, the SSL files,
/// the SASL mechanism) without connecting anywhere; its error, or empty.
std::string try_client(const RdKafka::Conf& conf, client_role role) {
  auto* c = rd_kafka_conf_dup(const_cast<RdKafka::Conf&>(conf).c_ptr_global());
  char errstr[512] = "";
  rd_kafka_conf_set(c, "bootstrap.servers", "", errstr, sizeof(errstr));
  // No log lines from this client: it complains that it has no broker.
  rd_kafka_conf_set_log_cb(
    c, [](const rd_kafka_t*, int, const char*, const char*) {});
  auto* rk = rd_kafka_new(role == client_role::consumer ? RD_KAFKA_CONSUMER
                                                        : RD_KAFKA_PRODUCER,
                          c, errstr, sizeof(errstr));
  if (!rk) {
    rd_kafka_conf_destroy(c);
    return errstr;
  }
  rd_kafka_destroy_flags(rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
  return {};
}

} // namespace

const std::vector<std::pair<std::string, std::string>>&
embedded_consumer_properties() {
  // 10 ms: a fetch with no data comes back at once on a real broker; the
  // embedded one then holds it this long, so that an idle consumer does
  // not spin.
  static const std::vector<std::pair<std::string, std::string>> props{
    {"fetch.wait.max.ms", "10"}};
  return props;
}

bool answers_as_embedded_broker(const config& cfg,
                                std::chrono::milliseconds timeout) {
  // A producer with cotflow's settings (the security properties of
  // kafka.properties too) asks for the cluster id and sends nothing.
  std::string err;
  auto conf = make_client_conf(cfg, client_role::producer, err);
  if (!conf)
    return false;
  auto* c = rd_kafka_conf_dup(conf->c_ptr_global());
  char errstr[512] = "";
  rd_kafka_conf_set(c, "enable.idempotence", "false", errstr, sizeof(errstr));
  rd_kafka_conf_set(c, "statistics.interval.ms", "0", errstr, sizeof(errstr));
  // Unreachable brokers are not worth a log line here: the clients that
  // follow report them.
  rd_kafka_conf_set_log_cb(
    c, [](const rd_kafka_t*, int, const char*, const char*) {});
  auto* rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, errstr, sizeof(errstr));
  if (!rk) {
    rd_kafka_conf_destroy(c);
    return false;
  }
  char* id = rd_kafka_clusterid(rk, static_cast<int>(timeout.count()));
  // librdkafka's mock cluster names itself "mockCluster" + a number.
  bool mock = id && std::string_view{id}.rfind("mockCluster", 0) == 0;
  if (id)
    rd_kafka_mem_free(rk, id);
  rd_kafka_destroy(rk);
  return mock;
}

std::unique_ptr<RdKafka::Conf>
make_client_conf(const config& cfg, client_role role, std::string& err,
                 std::vector<std::string>* problems) {
  std::unique_ptr<RdKafka::Conf> conf{
    RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL)};
  std::vector<std::pair<std::string, std::string>> props = {
    {"bootstrap.servers", cfg.kafka.brokers},
    {"client.id", cfg.kafka.client_id},
    // librdkafka's statistics become gauges in /metrics (consumer lag per
    // partition, queues, broker round trips); kafka.properties may change
    // the interval.
    {"statistics.interval.ms", "5000"},
  };
  if (role == client_role::consumer) {
    props.insert(
      props.end(),
      {
        {"group.id", cfg.kafka.group_id},
        // At least once (SPEC §5): the source stores a
        // partition's offset only once everything before it is
        // delivered; librdkafka commits what is stored, on its
        // timer and when partitions are revoked. Its timer
        // commits only while no rebalance is under way: a commit
        // that meets a new generation fails ILLEGAL_GENERATION,
        // which librdkafka before 2.10 takes for a lost
        // assignment (confluentinc/librdkafka#4059).
        {"enable.auto.commit", "true"},
        {"auto.commit.interval.ms",
         std::to_string(cfg.pipeline.commit_interval_ms)},
        {"enable.auto.offset.store", "false"},
        {"auto.offset.reset", "earliest"},
        {"enable.partition.eof", "false"},
        {"session.timeout.ms", std::to_string(cfg.kafka.session_timeout_ms)},
        {"heartbeat.interval.ms", std::to_string(std::max<int64_t>(
                                    cfg.kafka.session_timeout_ms / 3, 100))},
        // Incremental rebalancing (KIP-429): a member joining or
        // leaving revokes only the partitions that change owner;
        // the others keep flowing with their in-flight work.
        {"partition.assignment.strategy", "cooperative-sticky"},
        // Prefetch stays small next to the in-flight bound.
        {"queued.max.messages.kbytes", "16384"},
      });
    if (auto id = group_instance_id(cfg.kafka.group_instance_id); !id.empty())
      props.push_back({"group.instance.id", id});
    // Keep the latency on the embedded broker what a real cluster gives.
    if (cfg.kafka.embedded)
      props.insert(props.end(), embedded_consumer_properties().begin(),
                   embedded_consumer_properties().end());
  } else {
    auto queue = std::max<int64_t>(100000, 4 * cfg.pipeline.max_in_flight);
    props.insert(props.end(),
                 {
                   {"enable.idempotence", "true"},
                   // Records already wait in a batch (pipeline.batch_*),
                   // so the producer's own wait is short: measured at
                   // fetch-wait-5 (bench/ANALYSIS.md), 1 ms costs ~25% of
                   // the maximum throughput (many small requests), 5 ms
                   // adds ~4 ms to the p50 at 10,000/s and gains nothing
                   // over 2-3 ms.
                   {"linger.ms", "2"},
                   // Retry in order until delivered: what fails then is
                   // permanent, and a late re-produce would reorder a track.
                   {"message.timeout.ms", "0"},
                   {"queue.buffering.max.messages", std::to_string(queue)},
                 });
  }
  // Every property is tried, so that `problems` gets each bad one.
  std::vector<std::string> bad;
  for (auto& [k, v] : props)
    if (!set(*conf, k, v, err))
      bad.push_back(err);
  static kafka_events events;
  std::string e;
  conf->set("event_cb", static_cast<RdKafka::EventCb*>(&events), e);
  for (auto& [k, v] : cfg.kafka.properties)
    if (!set(*conf, k, v, err))
      bad.push_back(err);
  if (!bad.empty()) {
    err = bad.front();
    if (problems)
      problems->insert(problems->end(), bad.begin(), bad.end());
    return nullptr;
  }
  return conf;
}

std::vector<std::string> check_client_confs(const config& cfg) {
  std::vector<std::string> out;
  auto add = [&out](const std::string& problem) {
    if (std::find(out.begin(), out.end(), problem) == out.end())
      out.push_back(problem);
  };
  for (auto role : {client_role::consumer, client_role::producer}) {
    std::string err;
    std::vector<std::string> problems;
    auto conf = make_client_conf(cfg, role, err, &problems);
    for (auto& p : problems)
      add(p);
    if (!conf)
      continue;
    auto why = try_client(*conf, role);
    if (!why.empty())
      add(std::string{"kafka.properties: cannot create a Kafka "}
          + (role == client_role::consumer ? "consumer" : "producer") + ": "
          + why);
  }
  return out;
}

std::unique_ptr<tracked_producer> tracked_producer::make(const config& cfg,
                                                         std::string& err) {
  std::unique_ptr<tracked_producer> self{new tracked_producer};
  self->conf_ = make_client_conf(cfg, client_role::producer, err);
  if (!self->conf_)
    return nullptr;
  std::string e;
  if (self->conf_->set("dr_cb",
                       static_cast<RdKafka::DeliveryReportCb*>(self.get()), e)
      != RdKafka::Conf::CONF_OK) {
    err = e;
    return nullptr;
  }
  self->producer_.reset(RdKafka::Producer::create(self->conf_.get(), e));
  if (!self->producer_) {
    err = "cannot create Kafka producer: " + e;
    return nullptr;
  }
  // The same settings, one message per request: made now, so that a bad
  // property shows here, and used only if a broker refuses a message as
  // too large (cut_oversized).
  auto solo = cfg;
  solo.kafka.properties["batch.num.messages"] = "1";
  self->solo_conf_ = make_client_conf(solo, client_role::producer, err);
  if (!self->solo_conf_
      || self->solo_conf_->set(
           "dr_cb", static_cast<RdKafka::DeliveryReportCb*>(self.get()), e)
           != RdKafka::Conf::CONF_OK) {
    err = "cannot configure Kafka producer: " + (e.empty() ? err : e);
    return nullptr;
  }
  return self;
}

RdKafka::Producer* tracked_producer::solo_producer() {
  if (!solo_ && solo_conf_) {
    std::string e;
    solo_.reset(RdKafka::Producer::create(solo_conf_.get(), e));
    if (!solo_) {
      log::error("producer", "cannot create the producer of messages refused "
                             "as too large: "
                               + e);
      solo_conf_.reset(); // not again: such messages are cut as they are
      return nullptr;
    }
    if (wake_)
      wake_on(solo_->c_ptr(), solo_reports_);
  }
  return solo_.get();
}

void call_on_queue_event(rd_kafka_queue_t* queue,
                         const std::function<void()>* call) {
  using trampoline = void (*)(rd_kafka_t*, void*);
  trampoline call_it = [](rd_kafka_t*, void* f) {
    (*static_cast<const std::function<void()>*>(f))();
  };
  rd_kafka_queue_cb_event_enable(queue, call ? call_it : nullptr,
                                 const_cast<std::function<void()>*>(call));
}

void tracked_producer::wake_on(rd_kafka_t* rk, rd_kafka_queue_t*& queue) {
  if (!queue)
    queue = rd_kafka_queue_get_main(rk);
  call_on_queue_event(queue, wake_ ? &wake_ : nullptr);
}

void tracked_producer::on_report(std::function<void()> wake) {
  wake_ = std::move(wake);
  wake_on(producer_->c_ptr(), reports_);
  if (solo_)
    wake_on(solo_->c_ptr(), solo_reports_);
}

tracked_producer::~tracked_producer() {
  for (auto* queue : {reports_, solo_reports_})
    if (queue) {
      call_on_queue_event(queue, nullptr);
      rd_kafka_queue_destroy(queue);
    }
  if (producer_) {
    std::vector<delivered_ref> ignored;
    flush(10000, ignored);
    kafka_stats::instance().forget(producer_->name());
  }
  if (solo_)
    kafka_stats::instance().forget(solo_->name());
  for (auto& t : topics_)
    rd_kafka_topic_destroy(t.second);
  for (auto& r : retries_pending_)
    delete r.headers;
  for (auto& w : waiting_)
    delete w.headers;
  // Before the held payloads go: undelivered messages may point into them.
  solo_.reset();
  producer_.reset();
}

void tracked_producer::prepare(const std::string& topic, int timeout_ms) {
  // The C API: a null configuration takes the producer's default topic
  // settings (message.timeout.ms=0 among them), where the C++ API's
  // Topic::create would give the topic librdkafka's defaults for good.
  auto* rk = producer_->c_ptr();
  auto* rkt = topic_handle(topic);
  if (!rkt) {
    log::debug("producer", "cannot prepare " + topic + ": "
                             + rd_kafka_err2str(rd_kafka_last_error()));
    return;
  }
  const struct rd_kafka_metadata* md = nullptr;
  auto rc = rd_kafka_metadata(rk, 0, rkt, &md, timeout_ms);
  if (md)
    rd_kafka_metadata_destroy(md);
  if (rc != RD_KAFKA_RESP_ERR_NO_ERROR)
    log::debug("producer", "no metadata for " + topic + " yet ("
                             + rd_kafka_err2str(rc) + ")");
}

rd_kafka_topic_t* tracked_producer::topic_handle(const std::string& topic) {
  for (auto& [name, rkt] : topics_)
    if (name == topic)
      return rkt;
  auto* rkt = rd_kafka_topic_new(producer_->c_ptr(), topic.c_str(), nullptr);
  if (rkt)
    topics_.emplace_back(topic, rkt);
  return rkt;
}

uint32_t tracked_producer::take_slot(uint32_t tp, int64_t offset,
                                     int64_t timestamp_ms, uint32_t hold) {
  slot s{offset, timestamp_ms, tp, hold};
  if (free_.empty()) {
    slots_.push_back(s);
    return static_cast<uint32_t>(slots_.size() - 1);
  }
  auto i = free_.back();
  free_.pop_back();
  slots_[i] = s;
  return i;
}

uint32_t tracked_producer::hold(std::shared_ptr<const void> owner) {
  uint32_t h;
  if (free_holds_.empty()) {
    h = static_cast<uint32_t>(holds_.size());
    holds_.emplace_back();
  } else {
    h = free_holds_.back();
    free_holds_.pop_back();
  }
  holds_[h].owner = std::move(owner);
  holds_[h].uses = 1; // the caller's, until release()
  return h;
}

void tracked_producer::release(uint32_t hold) {
  auto& h = holds_[hold];
  if (--h.uses > 0)
    return;
  h.owner.reset();
  free_holds_.push_back(hold);
}

void tracked_producer::produce(const std::string& topic, std::string_view key,
                               std::string_view payload, uint32_t tp,
                               int64_t offset, int64_t timestamp_ms,
                               RdKafka::Headers* headers) {
  ++outstanding_;
  produce_slot(topic, key, payload, headers,
               take_slot(tp, offset, timestamp_ms));
}

void tracked_producer::produce_held(const std::string& topic,
                                    std::string_view key,
                                    std::string_view payload, uint32_t tp,
                                    int64_t offset, int64_t timestamp_ms,
                                    uint32_t hold) {
  ++outstanding_;
  ++holds_[hold].uses;
  produce_slot(topic, key, payload, nullptr,
               take_slot(tp, offset, timestamp_ms, hold));
}

void tracked_producer::produce_slot(const std::string& topic,
                                    std::string_view key,
                                    std::string_view payload,
                                    RdKafka::Headers* headers, uint32_t slot,
                                    bool solo) {
  if (waiting_.empty() && try_produce(topic, key, payload, headers, slot, solo))
    return;
  if (!failure_.empty()) { // nothing waits behind a failure
    delete headers;
    return;
  }
  // Behind the others, so that a partition's messages keep their order;
  // a held payload stays where its owner (held until delivery) keeps it.
  bool own = slots_[slot].hold != no_hold;
  if (waiting_.empty() && !warned_full_) {
    warned_full_ = true;
    log::warn("producer",
              "librdkafka's queue is full (queue.buffering.max.messages or "
              "queue.buffering.max.kbytes): messages wait in order for room; "
              "credit (pipeline.max_in_flight) bounds them",
              {{"topic", topic}});
  }
  waiting_.emplace_back(topic, key, payload, own, headers, slot, solo);
}

void tracked_producer::produce_waiting() {
  while (!waiting_.empty() && failure_.empty()) {
    auto& w = waiting_.front();
    auto payload = w.bytes();
    if (!try_produce(w.topic, w.key, payload, w.headers, w.slot, w.solo)) {
      if (!w.own) // what a cut left of it (a prefix), not cut again
        w.payload.resize(payload.size());
      return;
    }
    waiting_.pop_front();
  }
}

bool tracked_producer::try_produce(const std::string& topic,
                                   std::string_view key,
                                   std::string_view& payload,
                                   RdKafka::Headers*& headers, uint32_t slot,
                                   bool solo) {
  bool own = slots_[slot].hold != no_hold;
  RdKafka::Producer* by = producer_.get();
  if (solo) {
    if (auto* p = solo_producer())
      by = p;
    else
      solo = false;
  }
  // Records without headers (the CoT output) go through the C API by topic
  // handle; the C++ produce() copies the topic name and looks it up by
  // name for every message.
  for (;;) {
    auto* rkt = headers || solo ? nullptr : topic_handle(topic);
    auto* opaque = reinterpret_cast<void*>(static_cast<uintptr_t>(slot)
                                           | (solo ? solo_bit : 0));
    auto rc
      = rkt ? static_cast<RdKafka::ErrorCode>(rd_kafka_producev(
          producer_->c_ptr(), RD_KAFKA_V_RKT(rkt),
          RD_KAFKA_V_PARTITION(RD_KAFKA_PARTITION_UA),
          RD_KAFKA_V_MSGFLAGS(own ? 0 : RD_KAFKA_MSG_F_COPY),
          RD_KAFKA_V_VALUE(const_cast<char*>(payload.data()), payload.size()),
          RD_KAFKA_V_KEY(key.empty() ? nullptr : key.data(), key.size()),
          RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END))
            : by->produce(topic, RdKafka::Topic::PARTITION_UA,
                          own ? 0 : RdKafka::Producer::RK_MSG_COPY,
                          const_cast<char*>(payload.data()), payload.size(),
                          key.empty() ? nullptr : key.data(), key.size(), 0,
                          headers, opaque);
    if (rc == RdKafka::ERR_NO_ERROR) {
      headers = nullptr; // librdkafka's now
      return true;
    }
    // The local queue is bounded: the caller keeps the message until the
    // broker has taken some (produce_waiting(), from poll()). With nothing
    // of this producer's left in librdkafka there is no room to wait for:
    // the message alone is larger than queue.buffering.max.kbytes.
    if (rc == RdKafka::ERR__QUEUE_FULL) {
      if (by->outq_len() > 0)
        return false;
      if (!own && cut_in_half(topic, payload, headers))
        continue;
      if (failure_.empty())
        failure_ = "produce to " + topic + ": a message of "
                   + std::to_string(payload.size())
                   + " bytes is larger than the producer's whole queue "
                     "(queue.buffering.max.kbytes)";
      delete headers;
      headers = nullptr;
      return true;
    }
    // Larger than message.max.bytes: librdkafka copies what is left of
    // the caller's bytes (a dead letter's payload is never held).
    if (rc == RdKafka::ERR_MSG_SIZE_TOO_LARGE && !own
        && cut_in_half(topic, payload, headers))
      continue;
    // On a permanent failure the slot (and its hold on a payload's owner)
    // stays taken: the owner of this producer stops, and the destructor
    // lets go of everything.
    if (permanent(rc) || by->fatal_error(failure_) != RdKafka::ERR_NO_ERROR) {
      if (failure_.empty())
        failure_ = "produce to " + topic + ": " + RdKafka::err2str(rc);
      delete headers;
      headers = nullptr;
      return true;
    }
    // Unknown topic and the like: the record stays unacknowledged, so its
    // offset is not committed; try again after a pause.
    if (retries_pending_.empty())
      log::warn("producer",
                "produce to " + topic + " failed (" + RdKafka::err2str(rc)
                  + "); retrying",
                {{"topic", topic}, {"error", RdKafka::err2str(rc)}});
    retries_pending_.emplace_back(topic, key, payload, own, headers, slot,
                                  solo);
    headers = nullptr;
    next_retry_ = std::chrono::steady_clock::now()
                  + std::chrono::milliseconds{500};
    return true;
  }
}

void tracked_producer::poll(int timeout_ms, std::vector<delivered_ref>& out) {
  producer_->poll(timeout_ms);
  if (solo_)
    solo_->poll(0);
  settle(out);
  produce_waiting();
  if (!retries_pending_.empty() && failure_.empty()
      && std::chrono::steady_clock::now() >= next_retry_) {
    auto pending = std::move(retries_pending_);
    retries_pending_.clear();
    for (auto& r : pending) {
      ++retries_;
      produce_slot(r.topic, r.key, r.bytes(), r.headers, r.slot, r.solo);
    }
  }
}

bool tracked_producer::cut_in_half(const std::string& topic,
                                   std::string_view& payload,
                                   RdKafka::Headers*& headers) {
  if (!cut_oversized_ || payload.empty())
    return false;
  if (!headers)
    headers = RdKafka::Headers::create();
  // The first cut marks it with the original length and counts it.
  if (headers->get_last("cotflow.truncated").err() != RdKafka::ERR_NO_ERROR) {
    headers->add("cotflow.truncated", std::to_string(payload.size()));
    ++cut_;
    log::error("producer",
               "a message of " + std::to_string(payload.size())
                 + " bytes is too large for " + topic
                 + " (message.max.bytes, or the topic's max.message.bytes): "
                   "it goes out cut, with the header cotflow.truncated; the "
                   "whole record stays in its input topic");
  }
  payload = payload.substr(0, payload.size() / 2);
  return true;
}

void tracked_producer::flush(int timeout_ms, std::vector<delivered_ref>& out) {
  auto deadline = timeout_ms;
  while (outstanding_ > 0 && deadline > 0 && failure_.empty()) {
    poll(50, out);
    deadline -= 50;
  }
}

void tracked_producer::dr_cb(RdKafka::Message& msg) {
  auto opaque = reinterpret_cast<uintptr_t>(msg.msg_opaque());
  bool solo = (opaque & solo_bit) != 0;
  auto slot = static_cast<uint32_t>(opaque & ~solo_bit);
  if (msg.err() != RdKafka::ERR_NO_ERROR) {
    if (msg.err() == RdKafka::ERR_MSG_SIZE_TOO_LARGE && cut_oversized_
        && slots_[slot].hold == no_hold) {
      // The broker refused it (the topic's max.message.bytes), or refused
      // the batch it was in: whole and alone first, then its first half
      // (alone), with the rest of the retries.
      RdKafka::Headers* headers = nullptr;
      if (auto h = msg.headers())
        headers = RdKafka::Headers::create(h->get_all());
      std::string_view bytes{static_cast<const char*>(msg.payload()),
                             msg.len()};
      bool whole = !solo && solo_producer() != nullptr;
      if (whole || cut_in_half(msg.topic_name(), bytes, headers)) {
        retries_pending_.emplace_back(
          msg.topic_name(), msg.key() ? *msg.key() : std::string{}, bytes,
          false, headers, slot, whole || solo);
        return;
      }
      delete headers;
    }
    if (permanent(msg.err())) {
      if (failure_.empty())
        failure_ = "delivery to " + msg.topic_name() + ": " + msg.errstr();
      return;
    }
    // Once per round of retries, not once per message: a broker outage
    // fails every message in flight.
    if (retries_pending_.empty())
      log::warn("producer",
                "delivery to " + msg.topic_name() + " failed (" + msg.errstr()
                  + "); producing it again",
                {{"topic", msg.topic_name()},
                 {"partition", msg.partition()},
                 {"error", msg.errstr()}});
    RdKafka::Headers* headers = nullptr;
    if (auto h = msg.headers())
      headers = RdKafka::Headers::create(h->get_all());
    bool own = slots_[slot].hold != no_hold;
    std::string_view bytes{static_cast<const char*>(msg.payload()), msg.len()};
    retries_pending_.emplace_back(msg.topic_name(),
                                  msg.key() ? *msg.key() : std::string{}, bytes,
                                  own, headers, slot, solo);
    return;
  }
  // Its slot is read later, with the others of this poll: it was written
  // when the message was produced and is most likely out of the cache.
  confirmed_.push_back({slot, msg.partition(), msg.offset(), msg.len()});
}

void tracked_producer::settle(std::vector<delivered_ref>& out) {
  constexpr size_t ahead = 8;
  auto n = confirmed_.size();
  for (size_t i = 0; i < n; ++i) {
    if (i + ahead < n)
      __builtin_prefetch(&slots_[confirmed_[i + ahead].slot]);
    auto& c = confirmed_[i];
    auto& s = slots_[c.slot];
    --outstanding_;
    if (s.hold != no_hold)
      release(s.hold);
    out.push_back(
      {s.tp, s.offset, s.timestamp_ms, c.bytes, c.partition, c.offset});
    free_.push_back(c.slot);
  }
  confirmed_.clear();
}

std::unique_ptr<embedded_broker> embedded_broker::start(int brokers,
                                                        std::string& err) {
  char errstr[512];
  auto conf = rd_kafka_conf_new();
  // The mock cluster needs a client handle to live in; it never connects.
  rd_kafka_conf_set(conf, "log_level", "3", nullptr, 0);
  auto rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
  if (!rk) {
    err = std::string{"cannot create the embedded broker's handle: "} + errstr;
    return nullptr;
  }
  auto mc = rd_kafka_mock_cluster_new(rk, brokers);
  if (!mc) {
    rd_kafka_destroy(rk);
    err = "cannot start the embedded broker";
    return nullptr;
  }
  std::unique_ptr<embedded_broker> self{new embedded_broker};
  self->rk_ = rk;
  self->cluster_ = mc;
  return self;
}

embedded_broker::~embedded_broker() {
  if (cluster_)
    rd_kafka_mock_cluster_destroy(
      static_cast<rd_kafka_mock_cluster_t*>(cluster_));
  if (rk_)
    rd_kafka_destroy(static_cast<rd_kafka_t*>(rk_));
}

bool embedded_broker::create_topic(const std::string& name, int partitions,
                                   std::string& err) {
  auto rc = rd_kafka_mock_topic_create(
    static_cast<rd_kafka_mock_cluster_t*>(cluster_), name.c_str(), partitions,
    1);
  if (rc != RD_KAFKA_RESP_ERR_NO_ERROR) {
    err = "cannot create topic " + name + ": " + rd_kafka_err2str(rc);
    return false;
  }
  return true;
}

std::string embedded_broker::bootstraps() const {
  return rd_kafka_mock_cluster_bootstraps(
    static_cast<const rd_kafka_mock_cluster_t*>(cluster_));
}

} // namespace cotflow
