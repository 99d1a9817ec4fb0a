#include "commands/commands.hpp"

#include <iostream>

namespace cotflow::commands {

int cmd_config(const invocation& inv) {
  auto res = inv.loaded;
  // What `run` checks when it starts, so that the check says all of it.
  if (inv.command == "config check")
    check_start(res);
  for (auto& w : res.warnings)
    std::cerr << "cotflow: warning: " << w << "\n";
  if (!res.ok())
    return report_errors(res);
  if (inv.command == "config show") {
    std::cout << show_config(res.cfg);
    return 0;
  }
  std::cout << "configuration OK"
            << (res.cfg.file.empty() ? " (defaults and environment)"
                                     : " (" + res.cfg.file + ")")
            << "\n";
  return 0;
}

} // namespace cotflow::commands
