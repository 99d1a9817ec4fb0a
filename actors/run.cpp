#include "actors/run.hpp"

#include "actors/batcher.hpp"
#include "actors/dispatcher.hpp"
#include "actors/encoder.hpp"
#include "actors/sinks.hpp"
#include "actors/source.hpp"
#include "actors/tak_sink.hpp"
#include "messages/registration.hpp"
#include "pipeline/ops/http_server.hpp"
#include "pipeline/core/json.hpp"
#include "pipeline/kafka/kafka_stats.hpp"
#include "pipeline/core/log.hpp"
#include "pipeline/tak/circuit_breaker.hpp"
#include "pipeline/ops/dashboard.hpp"
#include "pipeline/ops/metrics.hpp"
#include "pipeline/supervision/restart_policy.hpp"
#include "pipeline/core/time.hpp"

#include <caf/all.hpp>

#include <cstdio>
#include <sys/stat.h>
#include <thread>

namespace cotflow {

namespace {

struct system_config : caf::actor_system_config {
  explicit system_config(size_t threads) {
    cotflow::add_message_types(*this);
    set("scheduler.max-threads", threads);
    // Workers wait on a condition variable instead of CAF's default
    // work stealing, whose idle workers poll every 50 µs for as long as
    // work keeps arriving within ~25 ms (always, for a live stream): at
    // 100 records/s that polling was 0.2 cores of an otherwise idle
    // process, at 10,000/s half of cotflow's CPU. Same throughput at full
    // load (bench/ANALYSIS.md).
    set("scheduler.policy", caf::atom("sharing"));
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
    {
      auto r = st->last_reload();
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
    w.Key("records");
    w.StartObject();
    w.Key("in");
    w.Uint64(st->consumed);
    w.Key("out");
    w.Uint64(st->delivered());
    w.Key("dead_lettered");
    w.Uint64(st->dead_lettered);
    w.Key("parked");
    w.Uint64(st->parked);
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
        w.Key("lost");
        w.Uint64(d->parked_lost);
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

namespace {

/// The clients of the pipeline, created before the actors so that a bad
/// setting fails the start, not a running actor. The consumers (input and
/// parking replayers) outlive a restart in place, so that it costs no
/// rebalance; the producers are made afresh for each incarnation.
struct clients {
  std::shared_ptr<tracked_producer> cot;
  std::shared_ptr<tracked_producer> dead_letters;
  std::vector<std::shared_ptr<parking_lot>> lots;
  std::shared_ptr<tracked_consumer> consumer;
};

/// `look_up`: learn the output topics before the first record (see below).
/// Only at start: an in-place restart recreates the producers, and a
/// blocking lookup per restart added up under a burst of restarts (the
/// crashing-sinks test, 100k records with a sink failing on 1 in 500, did
/// not finish in 100 s under `ctest -j2` twice when every restart looked up;
/// with the lookup at start only it does).
bool make_producers(const config& cfg, clients& c, bool look_up) {
  std::string err;
  c.cot.reset();
  if (cfg.sinks.kafka && !(c.cot = tracked_producer::make(cfg, err))) {
    log::error("pipeline", err);
    return false;
  }
  if (!(c.dead_letters = tracked_producer::make(cfg, err))) {
    log::error("pipeline", err);
    return false;
  }
  // Learn the output topics now: otherwise the first dead letter waited
  // ~1 s for librdkafka's scan of unknown topics, holding its partition's
  // commit point and, under load, the source's credit (a 0.8 s stall at
  // the start of every backlog in bench/). The parking topics are left
  // to their first use: looking them up would auto-create them on
  // clusters that allow it.
  if (!look_up)
    return true;
  constexpr int lookup_ms = 2000;
  if (c.cot)
    c.cot->prepare(cfg.kafka.output_topic, lookup_ms);
  c.dead_letters->prepare(cfg.kafka.dead_letter_topic, lookup_ms);
  return true;
}

bool make_consumers(const config& cfg, dest_mask all,
                    std::shared_ptr<stats> st, clients& c) {
  std::string err;
  // Each TAK destination's parking topic, with its replayer.
  c.lots.clear();
  for (auto& [name, url] : cfg.tak.destinations) {
    std::shared_ptr<parking_lot> lot;
    if (!cfg.kafka.parking_topic.empty()
        && !(lot = parking_lot::make(cfg, name, err))) {
      log::error("pipeline", err);
      return false;
    }
    c.lots.push_back(std::move(lot));
  }
  if (!(c.consumer = tracked_consumer::make(cfg, all, st, err))) {
    log::error("pipeline", err);
    return false;
  }
  return true;
}

tunables tunables_of(const config& c) {
  tunables t;
  t.batch_size = c.pipeline.batch_size;
  t.batch_age_ms = c.pipeline.batch_age_ms;
  t.max_in_flight = c.pipeline.max_in_flight;
  t.queue_events = c.tak.queue_events;
  t.breaker_failures = c.tak.breaker_failures;
  t.breaker_failure_rate = c.tak.breaker_failure_rate;
  t.breaker_window = c.tak.breaker_window;
  t.breaker_open_min_ms = c.tak.breaker_open_min_ms;
  t.breaker_open_max_ms = c.tak.breaker_open_max_ms;
  t.breaker_probes = c.tak.breaker_probes;
  return t;
}

/// Modification time of `path` (0 when it cannot be read).
int64_t mtime_of(const std::string& path) {
  struct stat sb;
  if (path.empty() || ::stat(path.c_str(), &sb) != 0)
    return 0;
  return static_cast<int64_t>(sb.st_mtim.tv_sec) * 1000000000
         + sb.st_mtim.tv_nsec;
}

/// Loads the configuration again and works out what changed: the hot keys
/// are copied into `current` (and returned true, for the actors to apply);
/// keys that need a restart, or a configuration that does not validate,
/// are reported in the log and /status and change nothing.
bool reload(const run_hooks& hooks, config& current, stats& st,
            const char* why) {
  reload_info info = st.last_reload();
  info.reloads += 1;
  info.at = rfc3339(now_ms());
  info.applied.clear();
  info.restart_required.clear();
  info.errors.clear();
  auto res = hooks.load();
  if (!res.ok()) {
    info.result = "refused";
    info.errors = res.errors;
    log::error("config", std::string{why} + ": the new configuration is "
                           "invalid; keeping the running one ("
                           + std::to_string(res.errors.size())
                           + " problems)");
    for (auto& e : res.errors)
      log::error("config", e);
    st.reloaded(std::move(info));
    return false;
  }
  // The key table says which changed keys a running pipeline takes; those
  // are copied into `next`, the others are only reported.
  auto plan = plan_reload(current, res.cfg);
  auto& next = plan.next;
  info.applied = std::move(plan.applied);
  info.restart_required = std::move(plan.restart_required);
  // The combination must still hold together (max_in_flight >= batch_size
  // was checked on the new file as a whole; a mix of old restart keys and
  // new hot keys is checked here).
  if (auto errs = validate(next); !errs.empty()) {
    info.result = "refused";
    info.errors = errs;
    info.applied.clear();
    for (auto& e : errs)
      log::error("config", std::string{why} + ": " + e);
    st.reloaded(std::move(info));
    return false;
  }
  auto join = [](const std::vector<std::string>& v) {
    std::string out;
    for (auto& x : v)
      out += (out.empty() ? "" : ", ") + x;
    return out;
  };
  if (info.applied.empty() && info.restart_required.empty()) {
    info.result = "unchanged";
    log::info("config", std::string{why} + ": configuration unchanged");
  } else {
    info.result = info.applied.empty() ? "unchanged" : "applied";
    if (!info.applied.empty())
      log::info("config", std::string{why} + ": applied "
                            + join(info.applied));
    if (!info.restart_required.empty())
      log::warn("config", std::string{why} + ": "
                            + join(info.restart_required)
                            + " changed but take effect only after a "
                              "restart; the running values stay");
  }
  bool changed = !info.applied.empty();
  st.reloaded(std::move(info));
  if (changed) {
    current = std::move(next);
    log::configure(current.log.level, current.log.format);
  }
  return changed;
}

/// The supervision tree's nodes, as /supervision shows them.
struct tree {
  std::shared_ptr<actor_info> root, source, batcher, dispatcher, dead_letters;
  std::vector<std::shared_ptr<actor_info>> encoders, sinks;
};

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
  // root supervisor (one-for-all: the stages restart together, from the
  // committed offsets); the dispatcher supervises the encoder pool
  // (one-for-one).
  auto add_actor = [&](std::string name, std::string parent) {
    auto a = std::make_shared<actor_info>();
    a->name = std::move(name);
    a->parent = std::move(parent);
    st->actors.push_back(a);
    return a;
  };
  tree t;
  t.root = add_actor("cotflow", "");
  t.source = add_actor("source", "cotflow");
  t.batcher = add_actor("batcher", "cotflow");
  t.dispatcher = add_actor("dispatcher", "cotflow");
  const auto cpus = usable_cpus();
  const auto encoders = encoder_count(cfg.pipeline);
  for (int64_t i = 0; i < encoders; ++i)
    t.encoders.push_back(add_actor("encoder-" + std::to_string(i), "dispatcher"));
  for (auto& d : st->destinations)
    t.sinks.push_back(add_actor("sink-" + d->name, "cotflow"));
  t.dead_letters = add_actor("dead-letter-sink", "cotflow");
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
    add_dashboard(*http);
    log::info("http", "operations endpoints on http://" + http->address()
                        + " (/ /metrics /health/live /health/ready /status"
                          " /supervision)");
  }
  clients c;
  if (!make_producers(cfg, c, true) || !make_consumers(cfg, all, st, c))
    return 1;
  // Consumers replaced after a failed rewind, closed (out of the group) but
  // destroyed only after the actor system: records still on their way
  // (an old encoder's queue) hold their messages, and librdkafka's destroy
  // waits for every message to go.
  std::vector<std::shared_ptr<tracked_consumer>> retired;
  // The CPUs it may use (a container's CPU limit, not the node's cores).
  auto threads = static_cast<size_t>(std::max(2u, cpus));
  system_config sys_cfg{threads};
  caf::actor_system sys{sys_cfg};
  restart_policy policy{static_cast<int>(cfg.supervision.max_restarts),
                        std::chrono::milliseconds{cfg.supervision.window_ms},
                        std::chrono::milliseconds{
                          cfg.supervision.backoff_min_ms},
                        std::chrono::milliseconds{
                          cfg.supervision.backoff_max_ms}};
  int exit_code = 0;
  caf::scoped_actor self{sys};
  // The XML buffers of batches of events no destination holds any more,
  // back to the encoders the same way.
  auto xml_buffers = std::make_shared<string_pool>(8 << 20, 16384, xml_room);
  // The running configuration: the start one plus what reloads applied.
  config current = cfg;
  auto file_mtime = mtime_of(cfg.file);
  auto next_file_check = std::chrono::steady_clock::now();
  for (;;) {
    shared_cfg = std::make_shared<const config>(current);
    auto src = sys.spawn<caf::detached>(source, c.consumer, current.pipeline,
                                        st,
                                        current.faults.rebalance_interval_ms);
    std::vector<cot_sink_actor> sinks;
    dest_mask bit = 1;
    if (cfg.sinks.kafka) {
      sinks.push_back(sys.spawn<caf::detached>(kafka_cot_sink, c.cot,
                                               cfg.kafka.output_topic, bit,
                                               src, st, kafka_dest,
                                               cfg.faults.sink_throw_rate));
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
                                               tak_dests[i], c.lots[i]));
      ++i;
      bit <<= 1;
    }
    auto dls = sys.spawn<caf::detached>(dead_letter_sink, c.dead_letters,
                                        cfg.kafka.dead_letter_topic, all, src,
                                        st,
                                        static_cast<size_t>(
                                          cfg.pipeline.max_record_bytes));
    // The actors own the producers now.
    c.cot.reset();
    c.dead_letters.reset();
    auto brk = sys.spawn(dispatcher,
                         encoder_args{shared_cfg, sinks, dls, src, st,
                                      xml_buffers},
                         t.encoders);
    auto bat = sys.spawn(batcher, current.pipeline, brk, st);
    std::vector<std::pair<caf::actor, std::shared_ptr<actor_info>>> everyone;
    everyone.emplace_back(caf::actor_cast<caf::actor>(src), t.source);
    everyone.emplace_back(caf::actor_cast<caf::actor>(bat), t.batcher);
    everyone.emplace_back(caf::actor_cast<caf::actor>(brk), t.dispatcher);
    for (size_t i = 0; i < sinks.size(); ++i)
      everyone.emplace_back(caf::actor_cast<caf::actor>(sinks[i]),
                            t.sinks[i]);
    everyone.emplace_back(caf::actor_cast<caf::actor>(dls), t.dead_letters);
    for (auto& [a, info] : everyone) {
      info->up = true;
      self->monitor(a);
    }
    self->send(src, atom::start::value, bat);
    st->running = true;
    log::info("pipeline", "running: " + std::to_string(t.encoders.size())
                            + " encoders, " + std::to_string(everyone.size() - 4)
                            + " destinations, " + std::to_string(threads)
                            + " scheduler threads ("
                            + std::to_string(cpus)
                            + " usable CPUs)");
    std::string failed;
    while (!hooks.stop->load() && failed.empty()) {
      self->receive(
        [&](caf::down_msg& dm) {
          std::string name = caf::to_string(dm.source);
          for (auto& [a, info] : everyone)
            if (a.address() == dm.source) {
              name = info->name;
              info->up = false;
              info->failed(caf::to_string(dm.reason));
            }
          log::error("pipeline", name + " failed: "
                                   + caf::to_string(dm.reason));
          failed = name;
        },
        caf::after(std::chrono::milliseconds{100}) >>
          [&] {
            if (hooks.tick)
              hooks.tick();
          });
      // Reload on SIGHUP or when the config file changed (checked once a
      // second): the actors take the new tunables between two messages, so
      // no record is lost or sent twice.
      const char* why = nullptr;
      if (hooks.reload && hooks.reload->exchange(false))
        why = "SIGHUP";
      auto now = std::chrono::steady_clock::now();
      if (!cfg.file.empty() && now >= next_file_check) {
        next_file_check = now + std::chrono::seconds{1};
        auto m = mtime_of(cfg.file);
        if (m != file_mtime) {
          file_mtime = m;
          if (!why)
            why = "config file changed";
        }
      }
      if (why && hooks.load && reload(hooks, current, *st, why)) {
        auto t = tunables_of(current);
        self->send(src, t);
        self->send(bat, t);
        for (auto& sink : sinks)
          self->send(sink, t);
      }
    }
    sinks.clear();
    if (failed.empty()) {
      // Stop requested: drain, commit, stop everything.
      st->draining = true;
      auto grace = std::chrono::milliseconds{current.pipeline.drain_timeout_ms
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
    }
    // Stop this incarnation and wait until every actor is gone, so that its
    // consumer has left the group and its clients are flushed before the
    // next one starts (or the process ends).
    size_t alive = 0;
    for (auto& [a, info] : everyone) {
      self->send_exit(a, caf::exit_reason::user_shutdown);
      alive += info->up ? 1 : 0;
    }
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds{30};
    while (alive > 0 && std::chrono::steady_clock::now() < until) {
      self->receive(
        [&](caf::down_msg& dm) {
          for (auto& [a, info] : everyone)
            if (a.address() == dm.source && info->up) {
              info->up = false;
              --alive;
            }
        },
        caf::after(std::chrono::milliseconds{100}) >> [&] {});
    }
    if (hooks.tick)
      hooks.tick();
    if (failed.empty())
      break;
    // One-for-all: the stages restart together from the committed offsets
    // (what the failed incarnation had in flight is consumed again: at
    // least once, nothing lost) unless failures come too fast.
    st->running = false;
    auto delay = policy.failed(std::chrono::steady_clock::now());
    if (!delay) {
      t.root->failed(failed + " failed; restart intensity exceeded");
      log::error("pipeline", failed + " failed and the pipeline restarted "
                               + std::to_string(policy.restarts())
                               + " times within "
                               + std::to_string(cfg.supervision.window_ms)
                               + " ms: escalating, exiting");
      return 1;
    }
    t.root->restarts += 1;
    t.root->failed(failed + " failed");
    log::warn("pipeline", failed + " failed; restarting the pipeline from "
                            "the committed offsets in "
                            + std::to_string(delay->count()) + " ms");
    auto resume = std::chrono::steady_clock::now() + *delay;
    while (std::chrono::steady_clock::now() < resume && !hooks.stop->load())
      self->receive(caf::after(std::chrono::milliseconds{10}) >> [&] {});
    if (hooks.stop->load())
      break;
    // Same group members, rewound: no rebalance. A consumer that cannot
    // rewind is replaced (it leaves the group; its successor joins).
    bool rewound = c.consumer->rewind(5000);
    for (auto& lot : c.lots)
      rewound = rewound && (!lot || lot->rewind(5000));
    if (!rewound) {
      // Leaves the group now, unless an actor that did not stop still
      // uses it (not thread-safe): then it leaves when destroyed.
      if (c.consumer.use_count() == 1)
        c.consumer->close();
      retired.push_back(std::move(c.consumer));
      c.lots.clear();
      if (!make_consumers(cfg, all, st, c))
        return 1;
    }
    if (!make_producers(cfg, c, false))
      return 1;
  }
  return exit_code;
}

} // namespace cotflow
