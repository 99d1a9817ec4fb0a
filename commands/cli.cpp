#include "commands/cli.hpp"

#include "commands/signal_waiter.hpp"
#include "pipeline/core/files.hpp"
#include "pipeline/core/log.hpp"
#include "pipeline/kafka/kafka.hpp"
#include "pipeline/tak/tak_connection.hpp"

#include <cstdlib>
#include <iostream>

namespace cotflow::commands {

const char* const usage = R"(usage: cotflow COMMAND [OPTIONS]

commands:
  run            run the pipeline (kafka.brokers: embedded starts a broker)
  demo           embedded broker + generated detections + pipeline + live
                 summary, until Ctrl-C
  broker         run the embedded Kafka-protocol broker alone; prints its
                 bootstrap address
  loadgen        publish generated detections at --rate (0 = as fast as
                 possible) for --count N or --seconds N; options --malformed
                 F, --geojson F, --tracks N, --sensors N, --seed N
  top            live view of a running instance: rates, latency,
                 destinations, supervision tree (--url http://host:port,
                 default http.address; --token T; --frames N to stop)
  config check   validate the configuration and what run checks at start
                 (Kafka client settings, sinks.file; nothing connects);
                 lists every problem (exit 2)
  config show    print the effective configuration and where each key came
                 from
  version        print the version

options:
  --config PATH        config file (default search: ./cotflow.yaml,
                       /etc/cotflow/cotflow.yaml,
                       ~/.config/cotflow/cotflow.yaml)
  --rate N             demo: detections per second (default 200)
  --count N            demo: stop publishing after N detections
  --output PATH        demo: CoT file (default ./cotflow-demo.cot)
  --partitions N       demo/broker/embedded: partitions per input topic
                       (default 6)
)";

std::optional<invocation> parse(int argc, char** argv, int first) {
  invocation inv;
  bool ok = true;
  for (int i = first; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--", 0) == 0) {
      auto eq = a.find('=');
      if (eq != std::string::npos) {
        inv.opts[a.substr(2, eq - 2)] = a.substr(eq + 1);
      } else if (i + 1 < argc) {
        inv.opts[a.substr(2)] = argv[++i];
      } else {
        std::cerr << "cotflow: option " << a << " needs a value\n";
        ok = false;
      }
    } else {
      inv.positional.push_back(a);
    }
  }
  if (!ok)
    return std::nullopt;
  inv.loaded = load(inv.opts);
  return inv;
}

bool prepare(invocation& inv, signal_waiter& sig) {
  auto& res = inv.loaded;
  if (!res.ok()) {
    report_errors(res);
    return false;
  }
  log::configure(res.cfg.log.level, res.cfg.log.format);
  for (auto& w : res.warnings)
    log::warn("config", w);
  // The drain's own limit plus time to commit, flush and close.
  sig.grace(std::chrono::milliseconds{res.cfg.pipeline.drain_timeout_ms}
            + std::chrono::seconds{10});
  bool ok = true;
  inv.partitions = static_cast<int>(
    int_option(inv.opts, "partitions", inv.partitions, ok));
  return ok && inv.partitions >= 1;
}

int64_t int_option(const option_map& opts, const std::string& name,
                   int64_t fallback, bool& ok) {
  auto it = opts.find(name);
  if (it == opts.end())
    return fallback;
  char* end = nullptr;
  auto v = std::strtoll(it->second.c_str(), &end, 10);
  if (*end != '\0' || v < 0) {
    std::cerr << "cotflow: --" << name << " expects a non-negative integer\n";
    ok = false;
  }
  return v;
}

std::string string_option(const option_map& opts, const std::string& name,
                          const std::string& fallback) {
  auto it = opts.find(name);
  return it == opts.end() ? fallback : it->second;
}

load_result load(const option_map& opts) {
  return load_config(string_option(opts, "config", ""), process_env(),
                     process_env_names());
}

void check_start(load_result& res) {
  for (auto& problem : check_client_confs(res.cfg))
    res.errors.push_back(problem);
  for (auto& problem : check_tak_credentials(res.cfg))
    res.errors.push_back(problem);
  if (!res.cfg.sinks.file.empty())
    if (auto problem = check_appendable(res.cfg.sinks.file))
      res.errors.push_back("sinks.file: " + *problem);
}

int report_errors(const load_result& res) {
  std::cerr << "cotflow: invalid configuration"
            << (res.cfg.file.empty() ? "" : " in " + res.cfg.file) << " ("
            << res.errors.size() << " problem"
            << (res.errors.size() == 1 ? "" : "s") << "):\n";
  for (auto& e : res.errors)
    std::cerr << "  - " << e << "\n";
  return exit_config;
}

} // namespace cotflow::commands
