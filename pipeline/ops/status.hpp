#pragma once

#include "config/config.hpp"
#include "pipeline/core/stats.hpp"

#include <memory>

namespace cotflow {

class http_server;
class metrics;

/// Serves the operations endpoints on `http` (SPEC §7): `/metrics` from
/// `probe`, `/health/live`, `/health/ready`, `/supervision` (the tree of
/// actors as JSON) and `/status` (configuration, reload, Kafka, records and
/// each destination with its breaker and parking, as JSON).
void add_status_routes(http_server& http, const metrics& probe,
                       const config& cfg, std::shared_ptr<stats> st);

} // namespace cotflow
