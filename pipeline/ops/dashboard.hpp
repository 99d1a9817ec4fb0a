#pragma once

#include "pipeline/ops/http_server.hpp"

#include <string>

namespace cotflow {

/// The dashboard page: one self-contained HTML document (inline CSS and
/// JavaScript, charts drawn on <canvas>, no external URL). In the browser it
/// fetches /metrics, /status and /supervision every second and keeps about
/// two minutes of history; a `#token=...` fragment in the page URL is sent
/// as the bearer token to /status and /supervision.
const std::string& dashboard_html();

/// Serves the dashboard at "/" (open: the page itself holds no data).
void add_dashboard(http_server& http);

} // namespace cotflow
