#include "pipeline/ops/dashboard.hpp"

#include <string_view>

namespace cotflow {

// The page is dashboard.html next to this file, compiled in by
// cmake/embed.cmake: one document, nothing else to fetch, because the
// operations port may be the only thing reachable (no CDN, no internet),
// and nothing beside the binary to install or lose. Elements with an id are
// stable: the integration test reads them.
std::string_view dashboard_page();

const std::string& dashboard_html() {
  static const std::string html{dashboard_page()};
  return html;
}

void add_dashboard(http_server& http) {
  http.route(
    "/",
    [] {
      return http_response{200, "text/html; charset=utf-8", dashboard_html()};
    },
    true);
}

} // namespace cotflow
