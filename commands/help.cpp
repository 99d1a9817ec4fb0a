#include "commands/commands.hpp"

#include <librdkafka/rdkafkacpp.h>

#include <iostream>

namespace cotflow::commands {

int cmd_version() {
  std::cout << "cotflow " << COTFLOW_VERSION << " (librdkafka "
            << RdKafka::version_str() << ", CAF 0.17)\n";
  return 0;
}

int cmd_help(const std::string& command) {
  std::cout << command_help(command);
  return 0;
}

int cmd_completion() {
  std::cout << bash_completion();
  return 0;
}

int cmd_man() {
  std::cout << man_page(COTFLOW_VERSION);
  return 0;
}

int cmd_missing() {
  std::cerr << usage();
  return exit_config;
}

} // namespace cotflow::commands
