#include "commands/commands.hpp"
#include "commands/embedded.hpp"
#include "commands/pipeline_hooks.hpp"
#include "commands/signal_waiter.hpp"

#include "actors/run.hpp"

namespace cotflow::commands {

run_hooks pipeline_hooks(signal_waiter& sig, const option_map& opts,
                         const config& orig, const config& running) {
  run_hooks hooks;
  hooks.stop = &sig.stop;
  hooks.reload = &sig.reload;
  hooks.load = [opts, orig, running] {
    auto r = load(opts);
    if (r.ok()) {
      if (r.cfg.kafka.brokers == orig.kafka.brokers) {
        r.cfg.kafka.brokers = running.kafka.brokers;
        r.cfg.kafka.embedded = running.kafka.embedded;
      }
      if (r.cfg.sinks.file == orig.sinks.file)
        r.cfg.sinks.file = running.sinks.file;
      if (r.cfg.tak.breaker_open_min_ms == orig.tak.breaker_open_min_ms)
        r.cfg.tak.breaker_open_min_ms = running.tak.breaker_open_min_ms;
      // The demo's TAK destinations (its own server, --tak).
      for (auto& [name, url] : running.tak.destinations)
        if (!orig.tak.destinations.count(name))
          r.cfg.tak.destinations.emplace(name, url);
    }
    return r;
  };
  return hooks;
}

int cmd_run(const invocation& inv, signal_waiter& sig) {
  auto cfg = inv.loaded.cfg;
  std::unique_ptr<embedded_broker> broker;
  if (!start_embedded_if_asked(cfg, inv.partitions, broker))
    return 1;
  auto st = std::make_shared<stats>();
  sig.start();
  return run_pipeline(cfg, st,
                      pipeline_hooks(sig, inv.opts, inv.loaded.cfg, cfg));
}

} // namespace cotflow::commands
