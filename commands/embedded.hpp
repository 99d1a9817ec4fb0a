#pragma once

#include "config/config.hpp"
#include "pipeline/kafka/kafka.hpp"

#include <memory>

namespace cotflow::commands {

/// Starts the embedded broker with the topics of `cfg`: the input and
/// output topics with `partitions` each, the dead-letter topic, a parking
/// topic per TAK destination. Null (and logged) on failure.
std::unique_ptr<embedded_broker> start_broker(const config& cfg,
                                              int partitions);

/// When kafka.brokers is `embedded`: starts the broker into `broker` and
/// points `cfg` at it. Otherwise sets kafka.embedded when the brokers
/// answer as an embedded broker (another process's). False when the broker
/// could not start.
bool start_embedded_if_asked(config& cfg, int partitions,
                             std::unique_ptr<embedded_broker>& broker);

} // namespace cotflow::commands
