#include "pipeline/ops/status.hpp"

#include "pipeline/core/counts.hpp"
#include "pipeline/core/json.hpp"
#include "pipeline/core/time.hpp"
#include "pipeline/kafka/kafka_stats.hpp"
#include "pipeline/ops/http_server.hpp"
#include "pipeline/ops/metrics.hpp"
#include "pipeline/tak/circuit_breaker.hpp"

#include <functional>

namespace cotflow {

namespace {

using json_writer = rapidjson::Writer<rapidjson::StringBuffer>;

/// The supervision tree, nested from the root down.
std::string supervision_json(const stats& st) {
  rapidjson::StringBuffer buf;
  json_writer w{buf};
  std::function<void(const actor_info&)> node = [&](const actor_info& a) {
    w.StartObject();
    w.Key("name");
    w.String(a.name.c_str());
    w.Key("state");
    w.String(a.up ? "running" : "failed");
    w.Key("restarts");
    w.Uint64(a.restarts);
    w.Key("last_failure");
    auto f = a.last_failure();
    w.String(f.c_str());
    w.Key("children");
    w.StartArray();
    for (auto& c : st.actors)
      if (c->parent == a.name)
        node(*c);
    w.EndArray();
    w.EndObject();
  };
  for (auto& a : st.actors)
    if (a->parent.empty())
      node(*a);
  return buf.GetString();
}

/// The last reload: when, its result, and which keys it applied, left for
/// a restart or refused.
void write_reload(json_writer& w, const reload_info& r) {
  auto list = [&](const char* key, const std::vector<std::string>& v) {
    w.Key(key);
    w.StartArray();
    for (auto& x : v)
      w.String(x.c_str());
    w.EndArray();
  };
  w.Key("reload");
  w.StartObject();
  w.Key("reloads");
  w.Uint64(r.reloads);
  w.Key("at");
  w.String(r.at.c_str());
  w.Key("result");
  w.String(r.result.c_str());
  list("applied", r.applied);
  list("restart_required", r.restart_required);
  list("errors", r.errors);
  w.EndObject();
}

/// The input side: brokers, group, partitions, pause and lag.
void write_kafka(json_writer& w, const stats& st, const std::string& brokers,
                 const std::string& group) {
  w.Key("kafka");
  w.StartObject();
  w.Key("brokers");
  w.String(brokers.c_str());
  w.Key("group_id");
  w.String(group.c_str());
  w.Key("assigned_partitions");
  w.Int64(st.assigned_partitions);
  w.Key("paused");
  w.Bool(st.paused);
  // Lag per partition from librdkafka's statistics (input and parking
  // topics), as of its last report.
  w.Key("lag");
  w.StartArray();
  for (auto& [client, k] : kafka_stats::instance().snapshot())
    for (auto& [tp, lag] : k.lag) {
      w.StartObject();
      w.Key("topic");
      w.String(tp.first.c_str());
      w.Key("partition");
      w.Int(tp.second);
      w.Key("records");
      w.Int64(lag);
      w.EndObject();
    }
  w.EndArray();
  w.EndObject();
}

/// The record counts of the whole pipeline (see count_records).
void write_records(json_writer& w, const stats& st) {
  auto r = count_records(st);
  w.Key("records");
  w.StartObject();
  auto field = [&](const char* key, uint64_t v) {
    w.Key(key);
    w.Uint64(v);
  };
  field("in", r.in);
  field("out", r.out);
  field("delivered", r.delivered);
  field("waiting", r.waiting);
  field("replayed", r.replayed);
  field("parked", r.parked);
  field("dropped", r.dropped);
  field("dropped_filter", r.dropped_filter);
  field("dropped_in_parking", r.dropped_in_parking);
  field("dropped_at_destination", r.dropped_at_destination);
  field("dead_lettered", r.dead_lettered);
  w.Key("in_flight");
  w.Int64(r.in_flight);
  w.EndObject();
}

/// One destination; a TAK destination with its breaker and parking.
void write_destination(json_writer& w, const destination_stats& d) {
  w.StartObject();
  w.Key("name");
  w.String(d.name.c_str());
  w.Key("kind");
  w.String(d.kind.c_str());
  w.Key("endpoint");
  w.String(d.endpoint.c_str());
  w.Key("connected");
  w.Bool(d.connected);
  w.Key("events");
  w.Uint64(d.events);
  w.Key("queue");
  w.Int64(d.queue);
  w.Key("reconnects");
  w.Uint64(d.reconnects);
  w.Key("last_error");
  auto e = d.last_error();
  w.String(e.c_str());
  if (d.kind != "kafka" && d.kind != "file") {
    w.Key("breaker");
    w.StartObject();
    w.Key("state");
    w.String(to_string(static_cast<circuit_state>(d.breaker.load())));
    w.Key("trips");
    w.Uint64(d.breaker_trips);
    w.Key("last_trip_reason");
    auto r = d.trip_reason();
    w.String(r.c_str());
    w.EndObject();
    w.Key("parking");
    w.StartObject();
    w.Key("topic");
    w.String(d.parking_topic.c_str());
    w.Key("active");
    w.Bool(d.parking);
    auto p = parking_of(d);
    w.Key("parked");
    w.Uint64(p.parked);
    w.Key("replayed"); // parked events replayed (unparked)
    w.Uint64(p.replayed);
    w.Key("dropped");
    w.Uint64(p.dropped);
    w.Key("dropped_stale");
    w.Uint64(d.parked_stale);
    w.Key("waiting");
    w.Uint64(p.waiting());
    w.Key("backlog");
    w.Int64(d.parking_backlog);
    w.Key("lost");
    w.Uint64(d.parked_lost);
    // An earlier run's (or another instance's) parked events this one
    // took back: apart from the figures above.
    w.Key("inherited_replayed");
    w.Uint64(d.inherited_replayed);
    w.Key("inherited_dropped");
    w.Uint64(d.inherited_dropped);
    w.EndObject();
  }
  w.EndObject();
}

/// What /status shows besides the counters.
struct status_context {
  int64_t started_ms;
  std::string file, brokers, group;
};

std::string status_json(const stats& st, const status_context& c) {
  rapidjson::StringBuffer buf;
  json_writer w{buf};
  w.StartObject();
  w.Key("version");
  w.String(COTFLOW_VERSION_STRING);
  w.Key("uptime_s");
  w.Double(static_cast<double>(now_ms() - c.started_ms) / 1000.0);
  w.Key("config");
  w.String(c.file.empty() ? "defaults and environment" : c.file.c_str());
  write_reload(w, st.last_reload());
  w.Key("ready");
  w.Bool(st.ready());
  w.Key("draining");
  w.Bool(st.draining);
  write_kafka(w, st, c.brokers, c.group);
  write_records(w, st);
  w.Key("destinations");
  w.StartArray();
  for (auto& d : st.destinations)
    write_destination(w, *d);
  w.EndArray();
  w.EndObject();
  return buf.GetString();
}

} // namespace

void add_status_routes(http_server& http, const metrics& probe,
                       const config& cfg, std::shared_ptr<stats> st) {
  http.route(
    "/metrics",
    [&probe] {
      return http_response{200, "text/plain; version=0.0.4; charset=utf-8",
                           probe.text()};
    },
    true);
  http.route(
    "/health/live",
    [] {
      return http_response{200, "text/plain", "live\n"};
    },
    true);
  http.route(
    "/health/ready",
    [st] {
      if (st->ready())
        return http_response{200, "text/plain", "ready\n"};
      auto why = !st->running   ? "starting\n"
                 : st->draining ? "draining\n"
                                : "no partition assigned\n";
      return http_response{503, "text/plain", why};
    },
    true);
  http.route("/supervision", [st] {
    return http_response{200, "application/json", supervision_json(*st)};
  });
  status_context c{now_ms(), cfg.file, cfg.kafka.brokers, cfg.kafka.group_id};
  http.route("/status", [st, c] {
    return http_response{200, "application/json", status_json(*st, c)};
  });
}

} // namespace cotflow
