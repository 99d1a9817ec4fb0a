#include "pipeline/tak/parking.hpp"

#include "pipeline/core/log.hpp"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>

#include <cstdio>
#include <cstdlib>
#include <random>
#include <string_view>

namespace cotflow {

namespace {

/// The last value of header `key`, if there is one.
std::optional<std::string_view> header(rd_kafka_headers_t* headers,
                                       const char* key) {
  const void* value = nullptr;
  size_t size = 0;
  if (!headers
      || rd_kafka_header_get_last(headers, key, &value, &size)
           != RD_KAFKA_RESP_ERR_NO_ERROR
      || !value)
    return std::nullopt;
  return std::string_view{static_cast<const char*>(value), size};
}

std::optional<int64_t> header_int(rd_kafka_headers_t* headers,
                                  const char* key) {
  auto h = header(headers, key);
  if (!h)
    return std::nullopt;
  std::string text{*h};
  char* end = nullptr;
  auto v = std::strtoll(text.c_str(), &end, 10);
  if (end == text.c_str() || *end != '\0')
    return std::nullopt;
  return v;
}

std::string header_str(rd_kafka_headers_t* headers, const char* key) {
  auto h = header(headers, key);
  return h ? std::string{*h} : std::string{};
}

/// This process's name in the header `cotflow.run`: random, drawn once,
/// so that the parking lots a restart in place makes again keep it (the
/// counters they feed live as long as the process).
const std::string& this_run() {
  static const std::string id = [] {
    std::random_device entropy;
    auto n = (static_cast<uint64_t>(entropy()) << 32) | entropy();
    char text[17];
    std::snprintf(text, sizeof text, "%016llx",
                  static_cast<unsigned long long>(n));
    return std::string{text};
  }();
  return id;
}

} // namespace

uint32_t replayed_flags(std::optional<std::string_view> run, bool sensor,
                        std::string_view this_run) {
  if (sensor)
    return parking_port::replay_flag | parking_port::sensor_flag;
  if (run && *run == this_run)
    return parking_port::replay_flag;
  return parking_port::replay_flag | parking_port::inherited_flag;
}

int64_t parked_high_water::end(int32_t partition, int64_t watermark) {
  auto it = high_.find(partition);
  if (it == high_.end())
    return watermark;
  if (watermark >= it->second) {
    high_.erase(it);
    return watermark;
  }
  return it->second;
}

std::unique_ptr<parking_lot> parking_lot::make(const config& cfg,
                                               const std::string& destination,
                                               std::string& err) {
  std::unique_ptr<parking_lot> self{new parking_lot};
  self->topic_ = cfg.kafka.parking_topic + "." + destination;
  self->group_ = cfg.kafka.group_id;
  self->run_ = this_run();
  self->producer_ = tracked_producer::make(cfg, err);
  if (!self->producer_)
    return nullptr;
  // The replayer: its own group, so that every instance that serves this
  // destination shares the parked backlog, and its own stats, so that its
  // records are not counted as input.
  auto rcfg = cfg;
  rcfg.kafka.group_id = cfg.kafka.group_id + ".parking." + destination;
  rcfg.kafka.input_topics = {self->topic_};
  // librdkafka 2.0 looks at a partition again only a second after its
  // prefetch queue hit queued.max.messages.kbytes: with the source's 16 MB
  // a replay ran in bursts at ~40k events/s. 32 MB keeps it fetching
  // (~100k/s measured in bench/, for some 20 MB more RSS while replaying).
  rcfg.kafka.properties.emplace("queued.max.messages.kbytes", "32768");
  // What it replays was parked before it looks, so on the embedded broker
  // (which holds a fetch that finds nothing for the whole wait) it need not
  // come back every 10 ms as the source does (embedded_consumer_properties):
  // with nothing parked, that was ~1% of a core. A replay starts at most
  // 100 ms later. A real broker keeps librdkafka's default.
  if (cfg.kafka.embedded)
    rcfg.kafka.properties.emplace("fetch.wait.max.ms", "100");
  self->replayer_stats_ = std::make_shared<stats>();
  self->replayer_ = tracked_consumer::make(rcfg, 1, self->replayer_stats_, err);
  if (!self->replayer_) {
    err = "parking replayer for " + destination + ": " + err;
    return nullptr;
  }
  self->replayer_->set_name("replayer-" + destination);
  // A parked event that retention deleted before its replay is lost for
  // this destination: said and counted, never silently passed over.
  self->replayer_->report_gaps(true);
  return self;
}

parking_lot::~parking_lot() {
  // Parked events still in the producer are flushed by its destructor;
  // the replayer commits what the destination took.
  if (replayer_)
    replayer_->close();
}

void parking_lot::park(const cot_event& ev) {
  auto* h = RdKafka::Headers::create();
  h->add("cotflow.stale", std::to_string(ev.stale_ms));
  h->add("cotflow.timestamp", std::to_string(ev.timestamp_ms));
  h->add("cotflow.type", ev.type);
  h->add("cotflow.source", ev.source);
  // Whose it is: deployments (consumer groups) that share a cluster and a
  // destination name share the topic, and each replays only its own.
  h->add("cotflow.group", group_);
  // Whose count it is in: this run's events are in its parked figures; a
  // sensor event (no input record, ref tp 0) is in none.
  h->add("cotflow.run", run_);
  if (ev.ref.tp == 0)
    h->add("cotflow.sensor", "1");
  producer_->produce(topic_, ev.uid, ev.xml, ev.ref.tp, ev.ref.offset,
                     ev.timestamp_ms, h);
}

void parking_lot::serve(std::vector<record_ref>& durable) {
  delivered_.clear();
  producer_->poll(0, delivered_);
  for (auto& d : delivered_) {
    durable.push_back({d.tp, d.offset});
    // The latest report is the newest event: offsets only go down when
    // the topic was created again, and then the old ones mean nothing.
    last_parked_[d.partition] = d.message_offset;
    high_parked_.parked(d.partition, d.message_offset);
  }
}

size_t parking_lot::replay(size_t max, int64_t now_ms,
                           std::deque<event_ref>& out, stale_drops& stale) {
  holding_ = false;
  if (paused_) {
    replayer_->pause(false);
    paused_ = false;
  }
  std::shared_ptr<cot_events> events; // made for the first event
  replayer_->poll(0, max, [&](uint32_t tp, const rd_kafka_message_t& msg) {
    rd_kafka_headers_t* headers = nullptr;
    if (rd_kafka_message_headers(&msg, &headers) != RD_KAFKA_RESP_ERR_NO_ERROR)
      headers = nullptr;
    // Another deployment's (a parking topic shared by consumer groups
    // with a destination of the same name, or a new group id on a topic
    // an old one parked in): passed over, never sent to this one's
    // server. Events parked before the header existed have none: they
    // are replayed, as they were.
    if (auto owner = header(headers, "cotflow.group");
        owner && *owner != group_) {
      ++foreign_;
      if (warned_owners_.insert(std::string{*owner}).second)
        log::warn("replayer",
                  topic_
                    + ": passing over events parked by "
                      "consumer group '"
                    + std::string{*owner}
                    + "' (another deployment, or this one "
                      "before kafka.group_id changed: its "
                      "events are not replayed here); counted "
                      "in cotflow_parked_foreign_total",
                  {{"topic", topic_},
                   {"partition", msg.partition},
                   {"offset", msg.offset}});
      replayer_->ack(tp, msg.offset, 1);
      return;
    }
    auto stale_ms = header_int(headers, "cotflow.stale").value_or(0);
    auto flags = replayed_flags(header(headers, "cotflow.run"),
                                header(headers, "cotflow.sensor").has_value(),
                                run_);
    record_ref ref{tp | flags, msg.offset};
    if (stale_ms != 0 && stale_ms <= now_ms) {
      if (flags & inherited_flag)
        ++stale.inherited;
      else if (!(flags & sensor_flag))
        ++stale.counted;
      replayer_->ack(tp, msg.offset, 1);
      return;
    }
    cot_event ev;
    ev.ref = ref;
    ev.timestamp_ms = header_int(headers, "cotflow.timestamp").value_or(-1);
    if (msg.key)
      ev.uid.assign(static_cast<const char*>(msg.key), msg.key_len);
    ev.type = header_str(headers, "cotflow.type");
    ev.source = header_str(headers, "cotflow.source");
    ev.stale_ms = stale_ms;
    ev.xml.assign(static_cast<const char*>(msg.payload), msg.len);
    if (!events)
      events = std::make_shared<cot_events>();
    events->push_back(std::move(ev));
  });
  if (!events)
    return 0;
  for (size_t i = 0; i < events->size(); ++i)
    out.emplace_back(events, i);
  return events->size();
}

void parking_lot::hold() {
  auto now = std::chrono::steady_clock::now();
  if (!holding_) {
    holding_ = true;
    holding_since_ = now;
  }
  // A short gap between replays keeps fetching; a longer one pauses, so
  // that what is fetched meanwhile is not thrown away and fetched again.
  if (!paused_ && now - holding_since_ > std::chrono::milliseconds{500}) {
    replayer_->pause(true);
    paused_ = true;
  }
  if (paused_)
    replayer_->idle(0);
}

void parking_lot::done(const record_ref& ref) {
  replayer_->ack(ref.tp & ~replay_flags, ref.offset, 1);
}

bool parking_lot::caught_up() {
  if (producer_->outstanding() > 0)
    return false;
  for (auto it = last_parked_.begin(); it != last_parked_.end();) {
    auto tp = replayer_->handle(topic_, it->first);
    if (tp == 0) {
      // Not (yet) ours: before our replayer joined its group nothing can
      // be judged; after that, another instance replays this partition.
      if (replayer_stats_->ever_assigned) {
        it = last_parked_.erase(it);
        continue;
      }
      return false;
    }
    if (replayer_->next(tp) <= it->second)
      return false;
    it = last_parked_.erase(it);
  }
  return true;
}

void parking_lot::store_positions() {
  replayer_->store_positions();
}

int64_t parking_lot::backlog() {
  // While the breaker is open the replayer is paused and fetches nothing:
  // the high watermark it knows stays where it was. What this instance
  // parked since, Kafka confirmed with its offsets: the backlog grows live.
  int64_t total = 0;
  for (auto& p : replayer_->lag())
    total += std::max<int64_t>(0, high_parked_.end(p.partition, p.high)
                                    - p.position);
  return total;
}

} // namespace cotflow
