#include "commands/cli.hpp"

#include "commands/signal_waiter.hpp"
#include "pipeline/core/files.hpp"
#include "pipeline/core/log.hpp"
#include "pipeline/ingest/http_ingest.hpp"
#include "pipeline/kafka/kafka.hpp"
#include "pipeline/tak/tak_connection.hpp"

#include <cstdlib>
#include <iostream>

namespace cotflow::commands {

invocation configured(command_line line) {
  invocation inv;
  inv.command = std::move(line.command);
  inv.opts = std::move(line.opts);
  inv.positional = std::move(line.positional);
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
  for (auto& problem : check_ingest_tls(res.cfg))
    res.errors.push_back(problem);
  if (!res.cfg.sinks.file.empty())
    if (auto problem = check_appendable(res.cfg.sinks.file))
      res.errors.push_back("sinks.file: " + *problem);
}

std::optional<http_endpoint> parse_http_url(std::string addr) {
  if (addr.rfind("http://", 0) == 0)
    addr = addr.substr(7);
  while (!addr.empty() && addr.back() == '/')
    addr.pop_back();
  auto colon = addr.rfind(':');
  if (colon == std::string::npos)
    return std::nullopt;
  http_endpoint e;
  e.host = addr.substr(0, colon);
  if (e.host == "0.0.0.0" || e.host.empty())
    e.host = "127.0.0.1";
  e.port = std::atoi(addr.c_str() + colon + 1);
  e.url = "http://" + e.host + ":" + std::to_string(e.port);
  return e;
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
