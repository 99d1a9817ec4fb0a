#include "pipeline/ops/tail.hpp"

#include <chrono>
#include <cstdlib>

namespace cotflow {

std::string query_value(const std::string& query, const std::string& key) {
  size_t at = 0;
  while (at <= query.size()) {
    auto amp = query.find('&', at);
    auto pair = query.substr(at, amp == std::string::npos ? amp : amp - at);
    auto eq = pair.find('=');
    if (pair.substr(0, eq) == key) {
      std::string raw = eq == std::string::npos ? "" : pair.substr(eq + 1);
      std::string out;
      for (size_t i = 0; i < raw.size(); ++i) {
        if (raw[i] == '%' && i + 2 < raw.size()) {
          out += static_cast<char>(
            std::strtol(raw.substr(i + 1, 2).c_str(), nullptr, 16));
          i += 2;
        } else {
          out += raw[i] == '+' ? ' ' : raw[i];
        }
      }
      return out;
    }
    if (amp == std::string::npos)
      break;
    at = amp + 1;
  }
  return "";
}

void add_tail_route(http_server& http, std::shared_ptr<stats> st) {
  http.stream_route(
    "/tail", [st](const std::string& query,
                  const std::function<bool(std::string_view)>& write) {
      event_tap::filter f;
      f.dead_letters = query_value(query, "dead_letters") == "1";
      f.uid = query_value(query, "uid");
      f.type = query_value(query, "type");
      f.source = query_value(query, "source");
      auto viewer = st->tap.attach(f);
      uint64_t reported = 0;
      auto idle_since = std::chrono::steady_clock::now();
      for (;;) {
        auto lines = viewer->take(std::chrono::milliseconds{200});
        std::string out;
        for (auto& l : lines) {
          out += l;
          out += '\n';
        }
        if (auto lost = viewer->dropped(); lost != reported) {
          out += "# " + std::to_string(lost - reported)
                 + " lines dropped: this viewer fell behind\n";
          reported = lost;
        }
        auto now = std::chrono::steady_clock::now();
        if (out.empty() && now - idle_since >= std::chrono::seconds{2})
          out = "\n";
        if (!out.empty()) {
          idle_since = now;
          if (!write(out))
            break;
        } else if (!write({})) {
          break; // the server stops
        }
      }
      st->tap.detach(viewer);
    });
}

} // namespace cotflow
