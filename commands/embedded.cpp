#include "commands/embedded.hpp"

#include "pipeline/core/log.hpp"

#include <algorithm>

namespace cotflow::commands {

std::unique_ptr<embedded_broker> start_broker(const config& cfg,
                                              int partitions) {
  std::string err;
  auto broker = embedded_broker::start(1, err);
  if (!broker) {
    log::error("broker", err);
    return nullptr;
  }
  bool ok = true;
  for (auto& t : cfg.kafka.input_topics)
    ok = ok && broker->create_topic(t, partitions, err);
  ok = ok && broker->create_topic(cfg.kafka.output_topic, partitions, err);
  ok = ok && broker->create_topic(cfg.kafka.dead_letter_topic, 1, err);
  // Parking topics with room to spare: the embedded broker keeps only about
  // 5 MB per partition (it drops the oldest), where auto-creation would
  // give four partitions.
  if (!cfg.kafka.parking_topic.empty())
    for (auto& [name, url] : cfg.tak.destinations)
      ok = ok
           && broker->create_topic(cfg.kafka.parking_topic + "." + name,
                                   std::max(partitions, 12), err);
  if (!ok) {
    log::error("broker", err);
    return nullptr;
  }
  log::info("broker",
            "embedded Kafka-protocol broker at " + broker->bootstraps());
  return broker;
}

bool start_embedded_if_asked(config& cfg, int partitions,
                             std::unique_ptr<embedded_broker>& broker) {
  if (cfg.kafka.brokers != "embedded")
    return true;
  broker = start_broker(cfg, partitions);
  if (!broker)
    return false;
  cfg.kafka.brokers = broker->bootstraps();
  cfg.kafka.embedded = true;
  return true;
}

} // namespace cotflow::commands
