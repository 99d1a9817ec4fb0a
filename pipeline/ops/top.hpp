#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>

namespace cotflow {

/// One scrape of a running instance, as `cotflow top` sees it.
struct top_sample {
  /// Seconds since some fixed point (for rates).
  double at = 0;
  /// Prometheus samples: "name{label="v",...}" -> value.
  std::map<std::string, double> metrics;
  std::string status_json;
  std::string supervision_json;
  /// /status or /supervision answered 401: the token is missing or wrong.
  bool unauthorized = false;
};

/// Scrapes /metrics, /status and /supervision of the instance at
/// `host`:`port` (bearer `token` when not empty); `at` is the seconds from
/// `since` to the /metrics answer. Nothing when /metrics does not answer
/// 200; the JSON of the others stays empty when they do not.
std::optional<top_sample>
scrape_top(const std::string& host, int port, const std::string& token,
           std::chrono::steady_clock::time_point since);

/// Parses the Prometheus text exposition into samples.
std::map<std::string, double> parse_prometheus(const std::string& text);

/// The `q` quantile (0..1) of histogram `name` for the samples whose labels
/// contain `label` ("destination=\"kafka\""), over what was observed
/// between `before` and `now`; negative when nothing was.
double histogram_quantile(const std::map<std::string, double>& before,
                          const std::map<std::string, double>& now,
                          const std::string& name, const std::string& label,
                          double q);

/// What to say when the instance at `url` answered 401: which token it
/// wants and how to pass it.
std::string top_unauthorized(const std::string& url);

/// Renders one frame of `cotflow top` (plain text lines, 80 columns).
std::string render_top(const std::string& url, const top_sample& before,
                       const top_sample& now);

} // namespace cotflow
