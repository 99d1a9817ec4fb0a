#include "commands/commands.hpp"

#include <librdkafka/rdkafkacpp.h>

#include <iostream>

namespace cotflow::commands {

int cmd_config(const invocation& inv) {
  auto res = inv.loaded;
  auto sub = inv.positional.empty() ? std::string{"check"}
                                    : inv.positional.front();
  // What `run` checks when it starts, so that the check says all of it.
  if (sub == "check")
    check_start(res);
  for (auto& w : res.warnings)
    std::cerr << "cotflow: warning: " << w << "\n";
  if (!res.ok())
    return report_errors(res);
  if (sub == "show") {
    std::cout << show_config(res.cfg);
    return 0;
  }
  if (sub == "check") {
    std::cout << "configuration OK"
              << (res.cfg.file.empty() ? " (defaults and environment)"
                                       : " (" + res.cfg.file + ")")
              << "\n";
    return 0;
  }
  std::cerr << "cotflow: unknown config command '" << sub << "'\n" << usage;
  return exit_config;
}

int cmd_version() {
  std::cout << "cotflow " << COTFLOW_VERSION << " (librdkafka "
            << RdKafka::version_str() << ", CAF 0.17)\n";
  return 0;
}

int cmd_help() {
  std::cout << usage;
  return 0;
}

int cmd_missing() {
  std::cerr << usage;
  return exit_config;
}

int cmd_unknown(const std::string& name) {
  std::cerr << "cotflow: unknown command '" << name << "'\n" << usage;
  return exit_config;
}

} // namespace cotflow::commands
