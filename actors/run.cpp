#include "actors/run.hpp"

#include "actors/assembly.hpp"
#include "actors/detail/failure.hpp"
#include "messages/registration.hpp"
#include "pipeline/core/files.hpp"
#include "pipeline/core/log.hpp"
#include "pipeline/ingest/http_ingest.hpp"
#include "pipeline/ops/dashboard.hpp"
#include "pipeline/ops/http_server.hpp"
#include "pipeline/ops/metrics.hpp"
#include "pipeline/ops/reload.hpp"
#include "pipeline/ops/status.hpp"
#include "pipeline/ops/tail.hpp"
#include "pipeline/supervision/restart_policy.hpp"

#include <caf/all.hpp>

#include <optional>

/// The root supervisor: starts the operations endpoints and the clients,
/// then runs incarnations of the pipeline (actors/assembly.hpp) until a
/// stop; a failed stage restarts them all from the committed offsets
/// (one-for-all), unless failures come too fast.
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

/// Says which configuration file was loaded (or none: defaults only) and
/// how many keys the environment set.
void log_config_source(const config& cfg) {
  size_t from_env = 0;
  for (auto& [key, source] : cfg.sources)
    from_env += source.rfind("env ", 0) == 0;
  auto env = from_env == 0 ? std::string{}
                           : " and " + std::to_string(from_env)
                               + (from_env == 1 ? " key" : " keys")
                               + " from COTFLOW_* variables";
  if (cfg.file.empty())
    log::info("config", "no configuration file: defaults" + env,
              {{"file", ""}});
  else
    log::info("config", "configuration file " + cfg.file + env,
              {{"file", cfg.file}});
}

/// Fails (logged) when `sinks.file` cannot be opened for appending.
bool check_file_sink(const config& cfg) {
  if (cfg.sinks.file.empty())
    return true;
  if (auto problem = check_appendable(cfg.sinks.file)) {
    log::error("pipeline", "sinks.file: " + *problem);
    return false;
  }
  return true;
}

/// Starts the HTTP port (none when `http.address` is empty); false when
/// it cannot listen (logged).
bool start_http(const config& cfg, const metrics& probe,
                std::shared_ptr<stats> st, std::unique_ptr<http_server>& http) {
  if (cfg.http.address.empty())
    return true;
  std::string err;
  http = http_server::start(cfg.http.address, cfg.http.token, err);
  if (!http) {
    log::error("pipeline", err);
    return false;
  }
  add_status_routes(*http, probe, cfg, st);
  add_tail_route(*http, st);
  add_dashboard(*http);
  log::info("http", "operations endpoints on http://" + http->address()
                      + " (/ /metrics /health/live /health/ready /status"
                        " /supervision)");
  return true;
}

/// Starts the HTTP ingest (none when `ingest.address` is empty); false
/// when it cannot (logged).
bool start_ingest(const config& cfg, std::shared_ptr<stats> st,
                  std::unique_ptr<http_ingest>& ingest) {
  if (cfg.ingest.address.empty())
    return true;
  std::string err;
  ingest = http_ingest::start(cfg, std::move(st), err);
  if (!ingest) {
    log::error("pipeline", err);
    return false;
  }
  auto& in = cfg.ingest;
  std::string guard = in.token.empty() ? "no token" : "token";
  if (!in.tls_client_ca.empty())
    guard = in.token.empty() ? "client certificates"
                             : "client certificates and token";
  log::info("ingest", std::string{"detections taken at POST "}
                        + (in.tls_cert.empty() ? "http://" : "https://")
                        + ingest->address() + "/v1/detections (" + guard + ")");
  return true;
}

/// A stage that failed: its name and why (the exception's text).
struct failure {
  std::string stage;
  std::string why;
};

/// Runs one incarnation until a stop or a stage fails; returns the failed
/// stage (none after a stop). Reloads on SIGHUP or a changed file in
/// between: the actors take the new tunables between two messages, so no
/// record is lost or sent twice.
std::optional<failure> supervise(caf::scoped_actor& self, stages& s,
                                 const run_hooks& hooks,
                                 reload_trigger& trigger, config& current,
                                 stats& st) {
  std::optional<failure> failed;
  while (!hooks.stop->load() && !failed) {
    self->receive(
      [&](caf::down_msg& dm) {
        failure f{caf::to_string(dm.source), detail::failure_text(dm.reason)};
        for (auto& [a, info] : s.everyone)
          if (a.address() == dm.source) {
            f.stage = info->name;
            info->up = false;
            info->failed(f.why);
          }
        log::error("pipeline", f.stage + " failed: " + f.why,
                   {{"error", f.why}});
        failed = std::move(f);
      },
      caf::after(std::chrono::milliseconds{100}) >>
        [&] {
          if (hooks.tick)
            hooks.tick();
        });
    const char* why = trigger.poll(std::chrono::steady_clock::now());
    if (why && hooks.load && reload_config(hooks.load, current, st, why)) {
      tunables t{std::make_shared<const config>(current)};
      self->send(s.source, t);
      self->send(s.batcher, t);
      for (auto& sink : s.sinks)
        self->send(sink, t);
    }
  }
  return failed;
}

/// Asks the source to drain (every record in flight acknowledged, offsets
/// committed); false when records were left or the drain failed.
bool drain(caf::scoped_actor& self, const stages& s, const config& current) {
  bool clean = true;
  auto grace = std::chrono::milliseconds{current.pipeline.drain_timeout_ms
                                         + 5000};
  auto answer = self->request(s.source, grace, atom::stop::value);
  answer.receive(
    [&](uint64_t left) {
      if (left != 0)
        clean = false;
    },
    [&](caf::error& e) {
      log::error("pipeline", "drain failed: " + caf::to_string(e));
      clean = false;
    });
  return clean;
}

/// Stops every stage and waits until all are gone (30 s at most), so that
/// the incarnation's consumer has left the group and its clients are
/// flushed before the next one starts (or the process ends).
void stop_all(caf::scoped_actor& self, stages& s) {
  size_t alive = 0;
  for (auto& [a, info] : s.everyone) {
    self->send_exit(a, caf::exit_reason::user_shutdown);
    alive += info->up ? 1 : 0;
  }
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds{30};
  while (alive > 0 && std::chrono::steady_clock::now() < until) {
    self->receive(
      [&](caf::down_msg& dm) {
        for (auto& [a, info] : s.everyone)
          if (a.address() == dm.source && info->up) {
            info->up = false;
            --alive;
          }
      },
      caf::after(std::chrono::milliseconds{100}) >> [&] {});
  }
}

/// What follows a failed incarnation.
enum class restart { now, escalate, stopped };

/// One-for-all: the stages restart together from the committed offsets
/// (what the failed incarnation had in flight is consumed again: at least
/// once, nothing lost) after the policy's backoff, unless failures come too
/// fast (escalate) or a stop comes first.
restart after_failure(caf::scoped_actor& self, restart_policy& policy,
                      const failure& failed, const layout& l,
                      const run_hooks& hooks) {
  auto delay = policy.failed(std::chrono::steady_clock::now());
  auto& name = failed.stage;
  if (!delay) {
    l.root->failed(name + " failed (" + failed.why
                   + "); restart intensity exceeded");
    // The restarts the intensity counted, not those of the whole run.
    log::error(
      "pipeline",
      name + " failed and the pipeline restarted "
        + std::to_string(policy.recent_restarts()) + " times within the last "
        + std::to_string(policy.window().count()) + " ms: escalating, exiting",
      {{"error", failed.why}});
    return restart::escalate;
  }
  l.root->restarts += 1;
  l.root->failed(name + " failed: " + failed.why);
  log::warn("pipeline",
            name
              + " failed; restarting the pipeline from "
                "the committed offsets in "
              + std::to_string(delay->count()) + " ms",
            {{"error", failed.why}});
  auto resume = std::chrono::steady_clock::now() + *delay;
  while (std::chrono::steady_clock::now() < resume && !hooks.stop->load())
    self->receive(caf::after(std::chrono::milliseconds{10}) >> [&] {});
  return hooks.stop->load() ? restart::stopped : restart::now;
}

/// Gets the clients ready for the next incarnation: the same group members
/// rewound (no rebalance), or, for a consumer that cannot rewind, a new
/// one (it leaves the group; its successor joins); new producers.
bool renew_clients(const config& cfg, const layout& l,
                   std::shared_ptr<stats> st, clients& c,
                   std::vector<std::shared_ptr<tracked_consumer>>& retired) {
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
    if (!make_consumers(cfg, l.all, st, c))
      return false;
  }
  return make_producers(cfg, c, false);
}

} // namespace

int run_pipeline(const config& cfg, std::shared_ptr<stats> st,
                 const run_hooks& hooks) {
  log_config_source(cfg);
  if (!check_file_sink(cfg))
    return 1;
  auto l = describe(cfg, *st);
  st->ready_timeout_ms = cfg.http.ready_timeout_ms;
  metrics probe{st};
  probe.attach();
  std::unique_ptr<http_server> http;
  if (!start_http(cfg, probe, st, http))
    return 1;
  std::unique_ptr<http_ingest> ingest;
  if (!start_ingest(cfg, st, ingest))
    return 1;
  clients c;
  if (!make_producers(cfg, c, true) || !make_consumers(cfg, l.all, st, c))
    return 1;
  // Consumers replaced after a failed rewind, closed (out of the group) but
  // destroyed only after the actor system: records still on their way
  // (an old encoder's queue) hold their messages, and librdkafka's destroy
  // waits for every message to go.
  std::vector<std::shared_ptr<tracked_consumer>> retired;
  // The CPUs it may use (a container's CPU limit, not the node's cores).
  const auto cpus = usable_cpus();
  // The source, the stages and the Kafka output share the scheduler's
  // threads; librdkafka's threads and the TAK destinations' (detached)
  // need a CPU too. On 2 CPUs one scheduler thread: a second one woke for
  // hand-offs the first then took itself, and cost ~20% more CPU at
  // 10,000 records/s for the same throughput (bench/ANALYSIS.md).
  auto threads = static_cast<size_t>(cpus > 1 ? cpus - 1 : 1);
  system_config sys_cfg{threads};
  caf::actor_system sys{sys_cfg};
  restart_policy policy{
    static_cast<int>(cfg.supervision.max_restarts),
    std::chrono::milliseconds{cfg.supervision.window_ms},
    std::chrono::milliseconds{cfg.supervision.backoff_min_ms},
    std::chrono::milliseconds{cfg.supervision.backoff_max_ms}};
  int exit_code = 0;
  caf::scoped_actor self{sys};
  // The XML buffers of batches of events no destination holds any more,
  // back to the encoders the same way.
  auto xml_buffers = std::make_shared<string_pool>(8 << 20, 16384, xml_room);
  // The running configuration: the start one plus what reloads applied.
  config current = cfg;
  reload_trigger trigger{cfg.file, hooks.reload};
  for (;;) {
    auto s = spawn_stages(sys, cfg, current, l, c, st, xml_buffers);
    for (auto& [a, info] : s.everyone) {
      info->up = true;
      self->monitor(a);
    }
    self->send(s.source, atom::start::value, s.batcher);
    st->running = true;
    log::info("pipeline", "running: " + std::to_string(l.encoders.size())
                            + " encoders, " + std::to_string(s.sinks.size())
                            + " destinations, " + std::to_string(threads)
                            + " scheduler threads (" + std::to_string(cpus)
                            + " usable CPUs)");
    auto failed = supervise(self, s, hooks, trigger, current, *st);
    s.sinks.clear();
    if (!failed) {
      // Stop requested: take no more records, drain, commit, stop
      // everything.
      if (ingest)
        ingest->stop_taking();
      st->draining = true;
      if (!drain(self, s, current))
        exit_code = 1;
    }
    stop_all(self, s);
    if (hooks.tick)
      hooks.tick();
    if (!failed)
      break;
    st->running = false;
    auto next = after_failure(self, policy, *failed, l, hooks);
    if (next == restart::escalate)
      return 1;
    if (next == restart::stopped)
      break;
    if (!renew_clients(cfg, l, st, c, retired))
      return 1;
  }
  return exit_code;
}

} // namespace cotflow
