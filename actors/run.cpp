#include "actors/run.hpp"

#include "actors/batcher.hpp"
#include "actors/breaker.hpp"
#include "actors/encoder.hpp"
#include "actors/sinks.hpp"
#include "actors/source.hpp"
#include "actors/tak_sink.hpp"
#include "pipeline/http_server.hpp"
#include "pipeline/json.hpp"
#include "pipeline/log.hpp"
#include "pipeline/circuit_breaker.hpp"
#include "pipeline/metrics.hpp"
#include "pipeline/time.hpp"

#include <caf/all.hpp>

#include <cstdio>
#include <thread>

namespace cotflow {

namespace {

struct system_config : caf::actor_system_config {
  explicit system_config(size_t threads) {
    add_message_type<record_ref>("record_ref");
    add_message_type<record>("record");
    add_message_type<record_chunk>("record_chunk");
    add_message_type<batch>("batch");
    add_message_type<cot_event>("cot_event");
    add_message_type<cot_batch>("cot_batch");
    add_message_type<dead_letter>("dead_letter");
    add_message_type<dead_letter_batch>("dead_letter_batch");
    add_message_type<ack>("ack");
    add_message_type<batcher_actor>("batcher_actor");
    set("scheduler.max-threads", threads);
  }
};

/// The operations endpoints (SPEC §7).
void add_routes(http_server& http, const metrics& probe, const config& cfg,
                std::shared_ptr<stats> st) {
  auto started = now_ms();
  http.route(
    "/metrics",
    [&probe] {
      return http_response{200, "text/plain; version=0.0.4; charset=utf-8",
                           probe.text()};
    },
    true);
  http.route(
    "/health/live", [] { return http_response{200, "text/plain", "live\n"}; },
    true);
  http.route(
    "/health/ready",
    [st] {
      if (st->ready())
        return http_response{200, "text/plain", "ready\n"};
      auto why = !st->running    ? "starting\n"
                 : st->draining  ? "draining\n"
                                 : "no partition assigned\n";
      return http_response{503, "text/plain", why};
    },
    true);
  http.route("/supervision", [st] {
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w{buf};
    // Nested from the root down.
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
      for (auto& c : st->actors)
        if (c->parent == a.name)
          node(*c);
      w.EndArray();
      w.EndObject();
    };
    for (auto& a : st->actors)
      if (a->parent.empty())
        node(*a);
    return http_response{200, "application/json", buf.GetString()};
  });
  http.route("/status", [st, started, file = cfg.file,
                         brokers = cfg.kafka.brokers,
                         group = cfg.kafka.group_id] {
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w{buf};
    w.StartObject();
    w.Key("version");
    w.String(COTFLOW_VERSION_STRING);
    w.Key("uptime_s");
    w.Double(static_cast<double>(now_ms() - started) / 1000.0);
    w.Key("config");
    w.String(file.empty() ? "defaults and environment" : file.c_str());
    w.Key("ready");
    w.Bool(st->ready());
    w.Key("draining");
    w.Bool(st->draining);
    w.Key("kafka");
    w.StartObject();
    w.Key("brokers");
    w.String(brokers.c_str());
    w.Key("group_id");
    w.String(group.c_str());
    w.Key("assigned_partitions");
    w.Int64(st->assigned_partitions);
    w.Key("paused");
    w.Bool(st->paused);
    w.EndObject();
    w.Key("records");
    w.StartObject();
    w.Key("in");
    w.Uint64(st->consumed);
    w.Key("out");
    w.Uint64(st->delivered());
    w.Key("dead_lettered");
    w.Uint64(st->dead_lettered);
    w.Key("dropped");
    w.Uint64(st->dropped());
    w.Key("in_flight");
    w.Int64(st->in_flight);
    w.EndObject();
    w.Key("destinations");
    w.StartArray();
    for (auto& d : st->destinations) {
      w.StartObject();
      w.Key("name");
      w.String(d->name.c_str());
      w.Key("kind");
      w.String(d->kind.c_str());
      w.Key("endpoint");
      w.String(d->endpoint.c_str());
      w.Key("connected");
      w.Bool(d->connected);
      w.Key("events");
      w.Uint64(d->events);
      w.Key("queue");
      w.Int64(d->queue);
      w.Key("reconnects");
      w.Uint64(d->reconnects);
      w.Key("last_error");
      auto e = d->last_error();
      w.String(e.c_str());
      if (d->kind != "kafka" && d->kind != "file") {
        w.Key("breaker");
        w.StartObject();
        w.Key("state");
        w.String(to_string(static_cast<circuit_state>(d->breaker.load())));
        w.Key("trips");
        w.Uint64(d->breaker_trips);
        w.Key("last_trip_reason");
        auto r = d->trip_reason();
        w.String(r.c_str());
        w.EndObject();
        w.Key("parking");
        w.StartObject();
        w.Key("topic");
        w.String(d->parking_topic.c_str());
        w.Key("active");
        w.Bool(d->parking);
        w.Key("parked");
        w.Uint64(d->parked);
        w.Key("replayed");
        w.Uint64(d->unparked);
        w.Key("dropped_stale");
        w.Uint64(d->parked_stale);
        w.Key("backlog");
        w.Int64(d->parking_backlog);
        w.EndObject();
      }
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    return http_response{200, "application/json", buf.GetString()};
  });
}

} // namespace

int run_pipeline(const config& cfg, std::shared_ptr<stats> st,
                 const run_hooks& hooks) {
  auto shared_cfg = std::make_shared<const config>(cfg);
  // Destinations, each with its acknowledgement bit.
  auto n_dest = static_cast<unsigned>((cfg.sinks.kafka ? 1 : 0)
                                      + (cfg.sinks.file.empty() ? 0 : 1)
                                      + cfg.tak.destinations.size());
  auto all = all_destinations(n_dest);
  std::string err;
  std::shared_ptr<tracked_producer> cot_producer;
  if (cfg.sinks.kafka) {
    cot_producer = tracked_producer::make(cfg, err);
    if (!cot_producer) {
      log::error("pipeline", err);
      return 1;
    }
  }
  std::shared_ptr<tracked_producer> dl_producer = tracked_producer::make(cfg,
                                                                         err);
  if (!dl_producer) {
    log::error("pipeline", err);
    return 1;
  }
  if (!cfg.sinks.file.empty()) {
    if (auto f = std::fopen(cfg.sinks.file.c_str(), "a")) {
      std::fclose(f);
    } else {
      log::error("pipeline", "sinks.file: cannot open " + cfg.sinks.file
                               + " for appending");
      return 1;
    }
  }
  // Destinations as the operations endpoints show them.
  auto add_dest = [&](std::string name, std::string kind, std::string where) {
    auto d = std::make_shared<destination_stats>();
    d->name = std::move(name);
    d->kind = std::move(kind);
    d->endpoint = std::move(where);
    st->destinations.push_back(d);
    return d;
  };
  std::shared_ptr<destination_stats> kafka_dest, file_dest;
  std::vector<std::shared_ptr<destination_stats>> tak_dests;
  if (cfg.sinks.kafka)
    kafka_dest = add_dest("kafka", "kafka", cfg.kafka.output_topic);
  if (!cfg.sinks.file.empty())
    file_dest = add_dest("file", "file", cfg.sinks.file);
  for (auto& [name, url] : cfg.tak.destinations)
    tak_dests.push_back(
      add_dest(name, url.substr(0, url.find(':')), url.substr(0, url.find('?'))));
  st->ready_timeout_ms = cfg.http.ready_timeout_ms;
  // The supervision tree, as data for /supervision: the run loop is the
  // root supervisor; the breaker supervises the encoder pool.
  auto add_actor = [&](std::string name, std::string parent) {
    auto a = std::make_shared<actor_info>();
    a->name = std::move(name);
    a->parent = std::move(parent);
    st->actors.push_back(a);
    return a;
  };
  auto root = add_actor("cotflow", "");
  auto source_info = add_actor("source", "cotflow");
  auto batcher_info = add_actor("batcher", "cotflow");
  auto breaker_info = add_actor("breaker", "cotflow");
  std::vector<std::shared_ptr<actor_info>> encoder_infos;
  for (int64_t i = 0; i < encoder_count(cfg.pipeline); ++i)
    encoder_infos.push_back(
      add_actor("encoder-" + std::to_string(i), "breaker"));
  std::vector<std::shared_ptr<actor_info>> sink_infos;
  for (auto& d : st->destinations)
    sink_infos.push_back(add_actor("sink-" + d->name, "cotflow"));
  auto dls_info = add_actor("dead-letter-sink", "cotflow");
  metrics probe{st};
  probe.attach();
  std::unique_ptr<http_server> http;
  if (!cfg.http.address.empty()) {
    http = http_server::start(cfg.http.address, cfg.http.token, err);
    if (!http) {
      log::error("pipeline", err);
      return 1;
    }
    add_routes(*http, probe, cfg, st);
    log::info("http", "operations endpoints on http://" + http->address()
                        + " (/metrics /health/live /health/ready /status)");
  }
  // Each TAK destination's parking topic, with its replayer.
  std::vector<std::shared_ptr<parking_lot>> lots;
  for (auto& [name, url] : cfg.tak.destinations) {
    std::shared_ptr<parking_lot> lot;
    if (!cfg.kafka.parking_topic.empty()) {
      lot = parking_lot::make(cfg, name, err);
      if (!lot) {
        log::error("pipeline", err);
        return 1;
      }
    }
    lots.push_back(std::move(lot));
  }
  std::shared_ptr<tracked_consumer> consumer = tracked_consumer::make(cfg, all,
                                                                      st, err);
  if (!consumer) {
    log::error("pipeline", err);
    return 1;
  }
  auto threads = static_cast<size_t>(
    std::max(2u, std::thread::hardware_concurrency()));
  system_config sys_cfg{threads};
  caf::actor_system sys{sys_cfg};
  int exit_code = 0;
  {
    caf::scoped_actor self{sys};
    auto src = sys.spawn<caf::detached>(source, consumer, cfg.pipeline, st);
    consumer.reset();
    std::vector<cot_sink_actor> sinks;
    dest_mask bit = 1;
    if (cfg.sinks.kafka) {
      sinks.push_back(sys.spawn<caf::detached>(kafka_cot_sink, cot_producer,
                                               cfg.kafka.output_topic, bit,
                                               src, st, kafka_dest));
      bit <<= 1;
    }
    if (!cfg.sinks.file.empty()) {
      sinks.push_back(sys.spawn<caf::detached>(file_sink, cfg.sinks.file, bit,
                                               src, st, file_dest));
      bit <<= 1;
    }
    // One actor per TAK destination, each with its own queue: a dead server
    // does not hold up the others' writes.
    size_t i = 0;
    for (auto& [name, url] : cfg.tak.destinations) {
      sinks.push_back(sys.spawn<caf::detached>(tak_sink, name, url,
                                               shared_cfg, bit, src, st,
                                               tak_dests[i], lots[i]));
      ++i;
      bit <<= 1;
    }
    lots.clear();
    cot_producer.reset();
    auto dls = sys.spawn<caf::detached>(dead_letter_sink, dl_producer,
                                        cfg.kafka.dead_letter_topic, all, src,
                                        st,
                                        static_cast<size_t>(
                                          cfg.pipeline.max_record_bytes));
    dl_producer.reset();
    auto brk = sys.spawn(breaker,
                         encoder_args{shared_cfg, sinks, dls, src, st},
                         encoder_infos);
    auto bat = sys.spawn(batcher, cfg.pipeline, brk, st);
    std::vector<std::pair<caf::actor, std::shared_ptr<actor_info>>> everyone;
    everyone.emplace_back(caf::actor_cast<caf::actor>(src), source_info);
    everyone.emplace_back(caf::actor_cast<caf::actor>(bat), batcher_info);
    everyone.emplace_back(caf::actor_cast<caf::actor>(brk), breaker_info);
    for (size_t i = 0; i < sinks.size(); ++i)
      everyone.emplace_back(caf::actor_cast<caf::actor>(sinks[i]),
                            sink_infos[i]);
    everyone.emplace_back(caf::actor_cast<caf::actor>(dls), dls_info);
    for (auto& [a, info] : everyone)
      self->monitor(a);
    self->send(src, atom::start::value, bat);
    st->running = true;
    log::info("pipeline", "running: " + std::to_string(encoder_infos.size())
                            + " encoders, " + std::to_string(sinks.size())
                            + " destinations");
    bool failed = false;
    while (!hooks.stop->load() && !failed) {
      self->receive(
        [&](caf::down_msg& dm) {
          // The root escalates: a failed stage (or a breaker whose workers
          // exceeded the restart intensity) ends the process non-zero, and
          // its orchestrator restarts it from the committed offsets.
          std::string name = caf::to_string(dm.source);
          for (auto& [a, info] : everyone)
            if (a.address() == dm.source) {
              name = info->name;
              info->up = false;
              info->failed(caf::to_string(dm.reason));
            }
          root->failed(name + " failed");
          log::error("pipeline", name + " failed: "
                                   + caf::to_string(dm.reason)
                                   + "; stopping the process");
          failed = true;
        },
        caf::after(std::chrono::milliseconds{100}) >>
          [&] {
            if (hooks.tick)
              hooks.tick();
          });
    }
    st->draining = true;
    if (!failed) {
      auto grace = std::chrono::milliseconds{cfg.pipeline.drain_timeout_ms
                                             + 5000};
      self->request(src, grace, atom::stop::value)
        .receive(
          [&](uint64_t left) {
            if (left != 0)
              exit_code = 1;
          },
          [&](caf::error& e) {
            log::error("pipeline", "drain failed: " + caf::to_string(e));
            exit_code = 1;
          });
    } else {
      exit_code = 1;
    }
    for (auto& [a, info] : everyone) {
      self->demonitor(a);
      self->send_exit(a, caf::exit_reason::user_shutdown);
    }
    if (hooks.tick)
      hooks.tick();
  }
  return exit_code;
}

} // namespace cotflow
