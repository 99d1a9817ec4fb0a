#include "commands/embedded.hpp"

#include "pipeline/core/log.hpp"

#include <algorithm>
#include <chrono>

namespace cotflow::commands {

namespace {

/// How long `run` waits at start for the brokers' answer to the question
/// whether they are an embedded broker (on loopback: milliseconds).
constexpr std::chrono::milliseconds embedded_probe{1000};

} // namespace

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
  if (cfg.kafka.brokers != "embedded") {
    // Another process's embedded broker (`cotflow broker`, a test's, a
    // benchmark's) gets the embedded settings too.
    cfg.kafka.embedded = answers_as_embedded_broker(cfg, embedded_probe);
    if (cfg.kafka.embedded) {
      std::string props;
      for (auto& [k, v] : embedded_consumer_properties())
        props += (props.empty() ? "" : ", ") + k + "=" + v;
      log::info("broker", cfg.kafka.brokers
                            + " is an embedded broker: its consumers get "
                            + props);
    }
    return true;
  }
  broker = start_broker(cfg, partitions);
  if (!broker)
    return false;
  cfg.kafka.brokers = broker->bootstraps();
  cfg.kafka.embedded = true;
  return true;
}

} // namespace cotflow::commands
