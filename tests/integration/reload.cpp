// Hot reload: SIGHUP and a changed config file apply the tunables to the
// running pipeline without losing or duplicating a record; keys that need a
// restart are reported, not applied; an invalid file is refused and the
// running configuration stays.
#include <boost/test/unit_test.hpp>

#include "tests/support/broker_fixture.hpp"
#include "tests/support/child_log.hpp"
#include "tests/support/http_get.hpp"
#include "tests/support/kafka_client.hpp"

#include "pipeline/core/json.hpp"

#include <csignal>
#include <fstream>
#include <map>

using namespace cotflow::test;
using namespace std::chrono_literals;

namespace {

void write_file(const std::string& path, const std::string& text) {
  // Through a rename, as editors and config management do: the watcher
  // never sees half a file.
  auto tmp = path + ".tmp";
  std::ofstream{tmp} << text;
  std::rename(tmp.c_str(), path.c_str());
}

std::string config_text(int batch_size, const std::string& group) {
  return "kafka:\n  group_id: " + group + "\npipeline:\n  batch_size: "
         + std::to_string(batch_size) + "\n  batch_age_ms: 1000\n";
}

struct batches {
  double sum = 0;
  double count = 0;
};

batches batch_sizes(int port) {
  auto m = scrape(port);
  return {m["cotflow_batch_size_records_sum"],
          m["cotflow_batch_size_records_count"]};
}

rapidjson::Document status(int port) {
  rapidjson::Document d;
  auto r = http_get(port, "/status");
  BOOST_REQUIRE(r);
  d.Parse(r->body.c_str());
  BOOST_REQUIRE(!d.HasParseError());
  return d;
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(reload, broker_fixture)

BOOST_AUTO_TEST_CASE(tunables_apply_live_and_bad_files_are_refused) {
  auto path = "/tmp/cotflow-reload-" + std::to_string(getpid()) + ".yaml";
  write_file(path, config_text(200, "reload"));
  auto e = env("ignored");
  // The group comes from the file (the environment would override it).
  e.erase(std::remove_if(
            e.begin(), e.end(),
            [](auto& kv) { return kv.first == "COTFLOW_KAFKA_GROUP_ID"; }),
          e.end());
  child run{{cotflow_bin(), "run", "--config", path}, e, true};
  std::string log;
  auto port = wait_for_http_port(run, log);
  // Batches fill to 200 (a full batch goes before its 1 s age).
  auto first = publish_generated(bootstrap, input_topic, 6000, 0.0, 1, 0);
  BOOST_REQUIRE(eventually(
    [&] {
      read_log(run, log);
      return all_committed("reload");
    },
    60s));
  auto before = batch_sizes(port);
  BOOST_TEST_MESSAGE("mean batch before: " << before.sum / before.count);
  BOOST_CHECK_GE(before.sum / before.count, 100);
  // A new batch size and a new group: the first applies, the second needs
  // a restart and is only reported.
  write_file(path, config_text(10, "another-group"));
  run.signal(SIGHUP);
  BOOST_REQUIRE(eventually(
    [&] {
      read_log(run, log);
      auto d = status(port);
      return std::string{d["reload"]["result"].GetString()} == "applied";
    },
    30s));
  {
    auto d = status(port);
    auto& r = d["reload"];
    BOOST_REQUIRE_EQUAL(r["applied"].Size(), 1u);
    BOOST_CHECK_EQUAL(std::string{r["applied"][0].GetString()},
                      "pipeline.batch_size");
    BOOST_REQUIRE_EQUAL(r["restart_required"].Size(), 1u);
    BOOST_CHECK_EQUAL(std::string{r["restart_required"][0].GetString()},
                      "kafka.group_id");
  }
  auto second = publish_generated(bootstrap, input_topic, 3000, 0.0, 2, 100000);
  // Still the old group: the new group_id was not half-applied.
  BOOST_REQUIRE(eventually(
    [&] {
      read_log(run, log);
      return all_committed("reload");
    },
    60s));
  auto after = batch_sizes(port);
  auto mean = (after.sum - before.sum) / (after.count - before.count);
  BOOST_TEST_MESSAGE("mean batch after: " << mean);
  BOOST_CHECK_LE(mean, 10);
  // An invalid file is refused (seen by the file watcher, no signal) and
  // the running configuration stays.
  write_file(path, "pipeline:\n  batch_size: 0\n  batch_age_ms: -5\n");
  BOOST_REQUIRE(eventually(
    [&] {
      read_log(run, log);
      auto d = status(port);
      return std::string{d["reload"]["result"].GetString()} == "refused";
    },
    30s));
  BOOST_CHECK_EQUAL(status(port)["reload"]["errors"].Size(), 2u);
  auto third = publish_generated(bootstrap, input_topic, 500, 0.0, 3, 200000);
  BOOST_REQUIRE(eventually(
    [&] {
      read_log(run, log);
      return all_committed("reload");
    },
    60s));
  auto last = batch_sizes(port);
  BOOST_CHECK_LE((last.sum - after.sum) / (last.count - after.count), 10);
  run.signal(SIGTERM);
  auto rc = run.wait(60s);
  BOOST_REQUIRE(rc);
  BOOST_CHECK_EQUAL(*rc, 0);
  read_log(run, log);
  BOOST_CHECK(log.find("take effect only after a restart")
              != std::string::npos);
  BOOST_CHECK(log.find("invalid; keeping the running one")
              != std::string::npos);
  // Every record exactly once across the reloads.
  std::map<uint64_t, int> out;
  for (auto& r : read_topic(bootstrap, "cot"))
    out[*seq_of(r.payload)] += 1;
  size_t missing = 0, twice = 0;
  for (auto* part : {&first, &second, &third})
    for (auto& p : *part) {
      auto it = out.find(p.seq);
      missing += it == out.end();
      twice += it != out.end() && it->second > 1;
    }
  BOOST_CHECK_EQUAL(missing, 0u);
  BOOST_CHECK_EQUAL(twice, 0u);
  std::remove(path.c_str());
}

BOOST_AUTO_TEST_SUITE_END()
