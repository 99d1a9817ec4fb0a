#pragma once

#include "pipeline/core/stats.hpp"
#include "pipeline/ops/http_server.hpp"

#include <memory>
#include <string>

namespace cotflow {

/// GET /tail?uid=U&type=PREFIX&source=S&dead_letters=1 (the token
/// applies): the CoT events (or the dead letters) passing through the
/// pipeline, one per line, as they pass, for `cotflow tail`. A viewer
/// that cannot keep up loses lines, said in a "# N lines dropped" line;
/// the pipeline never waits for it. An idle stream gets an empty line
/// every few seconds, which is how a viewer that left is noticed.
void add_tail_route(http_server& http, std::shared_ptr<stats> st);

/// The value of `key` in a query string ("a=1&b=2"), percent-decoded.
std::string query_value(const std::string& query, const std::string& key);

} // namespace cotflow
