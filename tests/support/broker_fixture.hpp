#pragma once

#include "tests/support/kafka_client.hpp"
#include "tests/support/process.hpp"

#include <boost/test/unit_test.hpp>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <unistd.h>
#include <vector>

namespace cotflow::test {

using namespace std::chrono_literals;

inline const std::string input_topic = "detections";

/// A `cotflow broker` process and the settings to point cotflow at it.
struct broker_fixture {
  explicit broker_fixture(int partitions = 6)
    : broker(
      {cotflow_bin(), "broker", "--partitions", std::to_string(partitions)}) {
    for (int i = 0; i < 10 && bootstrap.empty(); ++i) {
      auto line = broker.read_line(20s);
      BOOST_REQUIRE_MESSAGE(line, "the broker printed no bootstrap line");
      if (line->rfind("bootstrap: ", 0) == 0)
        bootstrap = line->substr(11);
    }
    BOOST_REQUIRE(!bootstrap.empty());
    std::ofstream{empty_config}; // defaults only, whatever is in $HOME
  }

  ~broker_fixture() {
    broker.signal(SIGTERM);
    broker.wait(10s);
    std::remove(empty_config.c_str());
  }

  std::vector<std::pair<std::string, std::string>>
  env(const std::string& group) const {
    return {{"COTFLOW_KAFKA_BROKERS", bootstrap},
            {"COTFLOW_KAFKA_GROUP_ID", group},
            {"COTFLOW_LOG_LEVEL", "info"},
            // Several cotflow processes run at once: no fixed port.
            {"COTFLOW_HTTP_ADDRESS", "127.0.0.1:0"}};
  }

  /// Starts `cotflow run` in group `group` with `extra` environment.
  std::unique_ptr<child>
  run(const std::string& group,
      const std::vector<std::pair<std::string, std::string>>& extra = {},
      bool capture_stderr = false) const {
    auto e = env(group);
    e.insert(e.end(), extra.begin(), extra.end());
    return std::make_unique<child>(
      std::vector<std::string>{cotflow_bin(), "run", "--config", empty_config},
      e, capture_stderr);
  }

  bool all_committed(const std::string& group) const {
    auto highs = high_watermarks(bootstrap, input_topic);
    auto done = committed(bootstrap, group, input_topic);
    for (auto& [p, hi] : highs)
      if (hi > 0 && done[p] < hi)
        return false;
    return true;
  }

  child broker;
  std::string bootstrap;
  std::string empty_config = "/tmp/cotflow-test-empty-"
                             + std::to_string(getpid()) + ".yaml";
};

} // namespace cotflow::test
