#include "commands/commands.hpp"
#include "commands/embedded.hpp"
#include "commands/signal_waiter.hpp"

#include <chrono>
#include <iostream>
#include <thread>

namespace cotflow::commands {

int cmd_broker(const invocation& inv, signal_waiter& sig) {
  auto& cfg = inv.loaded.cfg;
  auto broker = start_broker(cfg, inv.partitions);
  if (!broker)
    return 1;
  std::cout << "bootstrap: " << broker->bootstraps() << std::endl;
  std::cout << "topics: ";
  for (auto& t : cfg.kafka.input_topics)
    std::cout << t << "(" << inv.partitions << ") ";
  std::cout << cfg.kafka.output_topic << "(" << inv.partitions << ") "
            << cfg.kafka.dead_letter_topic << "(1)" << std::endl;
  sig.start();
  while (!sig.stop)
    std::this_thread::sleep_for(std::chrono::milliseconds{100});
  return 0;
}

} // namespace cotflow::commands
