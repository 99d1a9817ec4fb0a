#include "pipeline/ops/metrics.hpp"

#include "pipeline/core/counts.hpp"
#include "pipeline/kafka/kafka_stats.hpp"
#include "pipeline/ops/process_stats.hpp"

#include <prometheus/collectable.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <sstream>

namespace cotflow {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

/// Reads the shared counters at scrape time: the hot path only bumps
/// atomics and never touches the registry.
class stats_collector : public prometheus::Collectable {
public:
  explicit stats_collector(std::shared_ptr<stats> st) : st_(std::move(st)) {}

  std::vector<MetricFamily> Collect() const override {
    std::vector<MetricFamily> out;
    auto& s = *st_;
    auto add = [&](const char* name, const char* help, MetricType type,
                   double value, std::vector<ClientMetric::Label> labels = {}) {
      for (auto& f : out)
        if (f.name == name) {
          f.metric.push_back(sample(type, value, std::move(labels)));
          return;
        }
      out.push_back({name, help, type, {}});
      out.back().metric.push_back(sample(type, value, std::move(labels)));
    };
    auto c = MetricType::Counter;
    auto g = MetricType::Gauge;
    add("cotflow_records_in_total", "Records consumed from the input topics", c,
        s.consumed);
    // Derived in one place (pipeline/core/counts.hpp): in = out + dropped
    // (but parking and destination) + dead-lettered + in flight; out =
    // delivered + waiting + dropped (parking, destination).
    auto r = count_records(s);
    add("cotflow_records_out_total",
        "Records every destination took: written, or parked in Kafka for a "
        "TAK destination that was down",
        c, r.out);
    add("cotflow_records_delivered_total",
        "Records that reached every destination, parked ones once replayed", c,
        r.delivered);
    add("cotflow_records_waiting",
        "Records parked for a destination and not replayed to it yet", g,
        r.waiting);
    add("cotflow_records_replayed_total",
        "Parked events replayed, all destinations", c, r.replayed);
    add("cotflow_records_dead_lettered_total",
        "Records sent to the dead-letter topic", c, s.dead_lettered);
    add("cotflow_dead_letters_truncated_total",
        "Dead letters Kafka refused as too large (message.max.bytes, the "
        "topic's max.message.bytes), sent cut with the header "
        "cotflow.truncated",
        c, s.dead_letters_cut);
    add("cotflow_records_parked_total",
        "Records acknowledged with at least one destination holding them in "
        "its parking topic (replayed later, or dropped there)",
        c, r.parked);
    add("cotflow_records_dropped_total",
        "Records dropped and counted, by reason (parking: parked for a "
        "destination and never delivered there, stale or deleted by "
        "retention; destination: a destination dropped them at their "
        "write, stale by then or not encodable for it)",
        c, s.dropped_stale, {{"reason", "stale"}});
    add("cotflow_records_dropped_total", "", c, s.dropped_too_old,
        {{"reason", "too_old"}});
    add("cotflow_records_dropped_total", "", c, s.dropped_low_confidence,
        {{"reason", "low_confidence"}});
    add("cotflow_records_dropped_total", "", c, r.dropped_in_parking,
        {{"reason", "parking"}});
    add("cotflow_records_dropped_total", "", c, r.dropped_at_destination,
        {{"reason", "destination"}});
    add("cotflow_text_characters_replaced_total",
        "Characters of text fields replaced by U+FFFD: not UTF-8, or not "
        "allowed in XML",
        c, s.text_replaced_chars);
    add("cotflow_text_fields_truncated_total",
        "Text fields cut to pipeline.max_text_bytes", c,
        s.text_truncated_fields);
    add("cotflow_values_clamped_total",
        "Numbers set to the nearest end of their range (cot.out_of_range: "
        "clamp)",
        c, s.values_clamped);
    add("cotflow_batches_total", "Batches formed by the batcher", c, s.batches);
    add("cotflow_in_flight_records",
        "Records handed out by the source and not yet acknowledged", g,
        s.in_flight);
    add("cotflow_consumer_paused",
        "1 while the source holds its partitions paused (credit exhausted)", g,
        s.paused ? 1 : 0);
    add("cotflow_assigned_partitions", "Input partitions assigned", g,
        s.assigned_partitions);
    add("cotflow_revoked_partitions_total",
        "Partitions revoked in a rebalance, by whether their records in "
        "flight were delivered before the hand-over (drained) or left to "
        "the next owner (abandoned: kafka.revoke_drain_ms passed, or the "
        "assignment was lost)",
        c, s.revoked_drained, {{"outcome", "drained"}});
    add("cotflow_revoked_partitions_total", "", c, s.revoked_abandoned,
        {{"outcome", "abandoned"}});
    add("cotflow_revoke_records_total",
        "Records in flight on revoked partitions: delivered before the "
        "hand-over (drained) or left to the next owner, which delivers them "
        "again (abandoned)",
        c, s.revoke_records_drained, {{"outcome", "drained"}});
    add("cotflow_revoke_records_total", "", c, s.revoke_records_abandoned,
        {{"outcome", "abandoned"}});
    add("cotflow_offset_commits_total", "Offset commits confirmed", c,
        s.commits);
    add("cotflow_delivery_retries_total",
        "Kafka deliveries that failed and were produced again", c,
        s.delivery_retries);
    add("cotflow_ready", "1 while /health/ready answers 200", g,
        s.ready() ? 1 : 0);
    add("cotflow_build_info", "The running build: 1, with its version", g, 1,
        {{"version", COTFLOW_VERSION_STRING}});
    // The process_* metrics of the Prometheus clients' conventions.
    if (auto p = read_process_sample()) {
      add("process_cpu_seconds_total",
          "Total user and system CPU time spent in seconds", c, p->cpu_seconds);
      add("process_resident_memory_bytes", "Resident memory size in bytes", g,
          p->resident_bytes);
      add("process_virtual_memory_bytes", "Virtual memory size in bytes", g,
          p->virtual_bytes);
      add("process_start_time_seconds",
          "Start time of the process since unix epoch in seconds", g,
          p->start_time_seconds);
      add("process_open_fds", "Number of open file descriptors", g,
          p->open_fds);
      add("process_max_fds", "Maximum number of open file descriptors", g,
          p->max_fds);
    }
    for (auto& a : s.actors)
      add("cotflow_actor_restarts_total",
          "Restarts of an actor by its supervisor", c, a->restarts,
          {{"actor", a->name}});
    add("cotflow_tail_viewers", "`cotflow tail` viewers attached", g,
        static_cast<double>(s.tap.viewers()));
    add("cotflow_tail_dropped_total",
        "Lines `cotflow tail` viewers lost because they fell behind", c,
        static_cast<double>(s.tap.dropped()));
    if (s.ingest.on) {
      auto& in = s.ingest;
      for (auto [code, n] :
           {std::pair{"202", &in.accepted}, std::pair{"400", &in.bad_request},
            std::pair{"401", &in.unauthorized}, std::pair{"413", &in.too_large},
            std::pair{"429", &in.busy}, std::pair{"503", &in.unavailable}})
        add("cotflow_ingest_requests_total",
            "HTTP ingest requests by the status answered", c, *n,
            {{"code", code}});
      add("cotflow_ingest_records_total",
          "HTTP ingest records Kafka confirmed in the input topic", c,
          in.records);
      add("cotflow_ingest_refused_total",
          "HTTP ingest records refused (400; sent to the dead-letter topic)", c,
          in.refused);
    }
    for (auto& d : s.destinations) {
      std::vector<ClientMetric::Label> l{{"destination", d->name},
                                         {"kind", d->kind}};
      add("cotflow_destination_connected",
          "1 while the destination is connected", g, d->connected ? 1 : 0, l);
      add("cotflow_destination_events_total",
          "Events delivered to the destination", c, d->events, l);
      add("cotflow_destination_bytes_total", "Bytes written to the destination",
          c, d->bytes, l);
      add("cotflow_destination_reconnects_total",
          "Connections re-established after a loss", c, d->reconnects, l);
      add("cotflow_destination_skipped_total",
          "Events the destination's filter or coalescing left out", c,
          d->skipped, l);
      // The metric keeps its legacy name: it counts resent events, not
      // parked ones replayed (cotflow_unparked_total).
      add("cotflow_destination_replayed_total",
          "Events sent again after a lost connection", c, d->resent, l);
      add("cotflow_destination_resent_bytes_total",
          "Bytes of the events sent again after a lost connection", c,
          d->resent_bytes, l);
      add("cotflow_destination_unacknowledged_at_loss_bytes_total",
          "Bytes the server had not acknowledged when a connection was "
          "lost: what is resent besides tak.resend_margin_bytes",
          c, d->unacknowledged_at_loss, l);
      add("cotflow_destination_unconfirmed_at_loss_bytes_total",
          "Bytes of events written after the latest ping the server "
          "answered when a connection was lost: the most that is resent",
          c, d->unconfirmed_at_loss, l);
      add("cotflow_destination_ping_answers_total",
          "Answers (t-x-c-t-r) to keepalive pings from the server", c,
          d->ping_answers, l);
      add("cotflow_destination_dropped_stale_total",
          "Events whose stale time passed before they reached the "
          "destination's socket: dropped, not written",
          c, d->stale_at_write, l);
      add("cotflow_destination_queue_events",
          "Events waiting in the destination's queue", g, d->queue, l);
      if (d->kind == "kafka" || d->kind == "file")
        continue;
      add("cotflow_destination_tak_protocol",
          "TAK Protocol version the destination's connection writes: 0 XML, "
          "1 protobuf",
          g, d->protocol, l);
      add("cotflow_destination_unencodable_total",
          "Events that could not be encoded in TAK Protocol version 1: "
          "dropped",
          c, d->unencodable, l);
      add("cotflow_breaker_state",
          "Circuit breaker of the destination: 0 closed, 1 open, "
          "2 half-open",
          g, d->breaker, l);
      add("cotflow_breaker_trips_total", "Times the circuit breaker opened", c,
          d->breaker_trips, l);
      add("cotflow_parking_active",
          "1 while new events of the destination go to its parking topic", g,
          d->parking ? 1 : 0, l);
      add("cotflow_parked_total",
          "Events parked for the destination (confirmed by Kafka)", c,
          d->parked, l);
      auto p = parking_of(*d);
      add("cotflow_unparked_total", "Parked events replayed to the destination",
          c, p.replayed, l);
      add("cotflow_parked_dropped_total",
          "Parked events taken back and not delivered: stale by their replay "
          "or write, or not encodable",
          c, p.dropped, l);
      add("cotflow_parking_waiting_events",
          "Events parked for the destination by this instance and not "
          "replayed yet: parked - replayed - dropped - lost",
          g, p.waiting(), l);
      add("cotflow_parked_dropped_stale_total",
          "Parked events dropped because their stale time passed", c,
          d->parked_stale, l);
      add("cotflow_parking_backlog_records",
          "Events in the parking topic the replayer has not taken yet (any "
          "instance's, earlier runs' too)",
          g, d->parking_backlog, l);
      add("cotflow_parked_lost_total",
          "Parked events deleted from the parking topic (retention) before "
          "their replay: lost for the destination",
          c, d->parked_lost, l);
      add("cotflow_parked_foreign_total",
          "Events another deployment (consumer group) parked in the shared "
          "parking topic, passed over by this one's replayer",
          c, d->parked_foreign, l);
      auto outcome = [&](const char* o) {
        auto with = l;
        with.push_back({"outcome", o});
        return with;
      };
      add("cotflow_parked_inherited_total",
          "Events an earlier run or another instance parked, taken back by "
          "this one: replayed, or dropped (stale, not encodable); not in "
          "this instance's parked, replayed, dropped or waiting",
          c, d->inherited_replayed, outcome("replayed"));
      add("cotflow_parked_inherited_total", "", c, d->inherited_dropped,
          outcome("dropped"));
    }
    // librdkafka's own statistics, as of its last report.
    for (auto& [client, k] : kafka_stats::instance().snapshot()) {
      for (auto& [tp, lag] : k.lag)
        add("cotflow_kafka_consumer_lag_records",
            "Records behind the partition's high watermark (librdkafka "
            "statistics; input and parking topics)",
            g, static_cast<double>(lag),
            {{"topic", tp.first}, {"partition", std::to_string(tp.second)}});
      std::vector<ClientMetric::Label> l{{"client", client}, {"type", k.type}};
      add("cotflow_kafka_client_queue_messages",
          "Messages in a Kafka client's queues (librdkafka msg_cnt)", g,
          static_cast<double>(k.queue_messages), l);
      add("cotflow_kafka_client_queue_bytes",
          "Bytes in a Kafka client's queues (librdkafka msg_size)", g,
          static_cast<double>(k.queue_bytes), l);
      for (auto& [broker, n] : k.waiting_requests)
        add("cotflow_kafka_broker_waiting_requests",
            "Requests sent to a broker and awaiting its reply", g,
            static_cast<double>(n), {{"client", client}, {"broker", broker}});
      for (auto& [broker, rtt] : k.rtt_seconds)
        add("cotflow_kafka_broker_rtt_seconds",
            "Average broker round-trip time over the last statistics "
            "interval",
            g, rtt, {{"client", client}, {"broker", broker}});
    }
    return out;
  }

private:
  static ClientMetric sample(MetricType type, double value,
                             std::vector<ClientMetric::Label> labels) {
    ClientMetric m;
    m.label = std::move(labels);
    if (type == MetricType::Counter)
      m.counter.value = value;
    else
      m.gauge.value = value;
    return m;
  }

  std::shared_ptr<stats> st_;
};

} // namespace

struct metrics::impl {
  std::shared_ptr<stats> st;
  std::shared_ptr<prometheus::Registry> registry
    = std::make_shared<prometheus::Registry>();
  std::shared_ptr<stats_collector> collector;
};

metrics::metrics(std::shared_ptr<stats> st) : impl_(new impl) {
  impl_->st = st;
  impl_->collector = std::make_shared<stats_collector>(std::move(st));
}

metrics::~metrics() = default;

void latency_tally::flush_into(prometheus::Histogram* h) {
  if (!any_)
    return;
  if (h)
    h->ObserveMultiple(counts_, sum_);
  std::fill(counts_.begin(), counts_.end(), 0.0);
  sum_ = 0;
  any_ = false;
}

void metrics::attach() {
  auto& st = *impl_->st;
  auto& batch = prometheus::BuildHistogram()
                  .Name("cotflow_batch_size_records")
                  .Help("Records per batch")
                  .Register(*impl_->registry);
  st.batch_size = &batch.Add({}, prometheus::Histogram::BucketBoundaries{
                                   1, 2, 5, 10, 20, 50, 100, 200, 500, 1000});
  auto& latency = prometheus::BuildHistogram()
                    .Name("cotflow_end_to_end_latency_seconds")
                    .Help("Kafka record timestamp to delivery, per "
                          "destination")
                    .Register(*impl_->registry);
  auto& writes = prometheus::BuildHistogram()
                   .Name("cotflow_destination_write_seconds")
                   .Help("Duration of one socket write to a TAK server")
                   .Register(*impl_->registry);
  prometheus::Histogram::BucketBoundaries secs = latency_buckets();
  st.ingest.latency = &prometheus::BuildHistogram()
                         .Name("cotflow_ingest_request_seconds")
                         .Help("HTTP ingest: a request's arrival to its answer")
                         .Register(*impl_->registry)
                         .Add({}, secs);
  for (auto& d : st.destinations) {
    d->latency = &latency.Add({{"destination", d->name}}, secs);
    d->write_latency = &writes.Add({{"destination", d->name}}, secs);
  }
}

std::string metrics::text() const {
  auto families = impl_->collector->Collect();
  auto more = impl_->registry->Collect();
  families.insert(families.end(), more.begin(), more.end());
  std::ostringstream out;
  prometheus::TextSerializer{}.Serialize(out, families);
  return out.str();
}

} // namespace cotflow
