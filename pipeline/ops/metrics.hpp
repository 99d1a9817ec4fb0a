#pragma once

#include "pipeline/core/stats.hpp"

#include <memory>
#include <string>

namespace cotflow {

/// The Prometheus side of the stats: registers the histograms that the
/// actors observe into, and renders every `cotflow_` metric in the text
/// exposition format at scrape time.
class metrics {
public:
  explicit metrics(std::shared_ptr<stats> st);
  ~metrics();

  /// Creates the histograms of `st` and of its destinations; call once
  /// after the destinations are listed and before the actors start.
  void attach();

  /// The Prometheus text exposition of all metrics.
  std::string text() const;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace cotflow
