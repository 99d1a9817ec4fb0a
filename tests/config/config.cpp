#include <boost/test/unit_test.hpp>

#include "config/config.hpp"
#include "config/keys.hpp"
#include "pipeline/tak/url/url.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <type_traits>
#include <unistd.h>
#include <utility>
#include <variant>
#include <vector>

using cotflow::config;
using cotflow::load_config_text;
using cotflow::load_result;

namespace {

using env_map = std::map<std::string, std::string>;

/// A fake environment holding exactly `vars`.
cotflow::env_lookup fake_env(env_map vars = {}) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end())
      return std::nullopt;
    return it->second;
  };
}

load_result load(const std::string& yaml, env_map vars = {}) {
  std::vector<std::string> names;
  for (auto& [name, value] : vars)
    names.push_back(name);
  return load_config_text(yaml, "test.yaml", fake_env(std::move(vars)), names);
}

std::string joined(const std::vector<std::string>& errors) {
  std::string s;
  for (const auto& e : errors)
    s += "\n  " + e;
  return s;
}

/// True when some error starts with `path` (the key path it concerns).
bool has_error(const std::vector<std::string>& errors,
               const std::string& path) {
  for (const auto& e : errors)
    if (e.rfind(path, 0) == 0)
      return true;
  return false;
}

/// Every documented key path.
const std::vector<std::string> all_keys = {
  "kafka.brokers",
  "kafka.group_id",
  "kafka.client_id",
  "kafka.input_topics",
  "kafka.output_topic",
  "kafka.dead_letter_topic",
  "kafka.properties",
  "pipeline.batch_size",
  "pipeline.batch_age_ms",
  "pipeline.max_in_flight",
  "pipeline.encoders",
  "pipeline.commit_interval_ms",
  "pipeline.max_record_bytes",
  "pipeline.drain_timeout_ms",
  "pipeline.poll_timeout_ms",
  "cot.default_type",
  "cot.how",
  "cot.stale_s",
  "cot.stale_by_type",
  "cot.max_age_s",
  "cot.min_confidence",
  "cot.low_confidence",
  "cot.uid_prefix",
  "cot.classification_types",
  "cot.affiliation_codes",
  "presentation.sources",
  "presentation.types",
  "presentation.low_confidence",
  "sinks.kafka",
  "sinks.file",
  "log.level",
  "log.format",
};

std::string env_name(const std::string& path) {
  std::string s = "COTFLOW_" + path;
  for (auto& c : s)
    c = c == '.' ? '_' : static_cast<char>(std::toupper(c));
  return s;
}

/// One environment override and how to see that it took effect.
struct env_case {
  std::string path;
  std::string value;
  std::function<bool(const config&)> applied;
  env_map also = {};
};

const std::vector<env_case>& env_cases() {
  using map = std::map<std::string, std::string>;
  static const std::vector<env_case> cases = {
    {"kafka.brokers", "b1:9092,b2:9092",
     [](auto& c) { return c.kafka.brokers == "b1:9092,b2:9092"; }},
    {"kafka.group_id", "g2", [](auto& c) { return c.kafka.group_id == "g2"; }},
    {"kafka.client_id", "c2",
     [](auto& c) { return c.kafka.client_id == "c2"; }},
    {"kafka.input_topics", "a,b",
     [](auto& c) {
       return c.kafka.input_topics == std::vector<std::string>{"a", "b"};
     }},
    {"kafka.output_topic", "out2",
     [](auto& c) { return c.kafka.output_topic == "out2"; }},
    {"kafka.dead_letter_topic", "dlq2",
     [](auto& c) { return c.kafka.dead_letter_topic == "dlq2"; }},
    {"kafka.properties", "security.protocol=SSL,ssl.ca.location=/ca.pem",
     [](auto& c) {
       return c.kafka.properties
              == map{{"security.protocol", "SSL"},
                     {"ssl.ca.location", "/ca.pem"}};
     }},
    {"pipeline.batch_size", "200",
     [](auto& c) { return c.pipeline.batch_size == 200; }},
    {"pipeline.batch_age_ms", "250",
     [](auto& c) { return c.pipeline.batch_age_ms == 250; }},
    {"pipeline.max_in_flight", "5000",
     [](auto& c) { return c.pipeline.max_in_flight == 5000; }},
    {"pipeline.encoders", "3",
     [](auto& c) { return c.pipeline.encoders == 3; }},
    {"pipeline.commit_interval_ms", "500",
     [](auto& c) { return c.pipeline.commit_interval_ms == 500; }},
    {"pipeline.max_record_bytes", "1024",
     [](auto& c) { return c.pipeline.max_record_bytes == 1024; }},
    {"pipeline.drain_timeout_ms", "2000",
     [](auto& c) { return c.pipeline.drain_timeout_ms == 2000; }},
    {"pipeline.poll_timeout_ms", "7",
     [](auto& c) { return c.pipeline.poll_timeout_ms == 7; }},
    {"cot.default_type", "a-n-G",
     [](auto& c) { return c.cot.default_type == "a-n-G"; }},
    {"cot.how", "h-e", [](auto& c) { return c.cot.how == "h-e"; }},
    {"cot.stale_s", "30", [](auto& c) { return c.cot.stale_s == 30; }},
    {"cot.stale_by_type", "a-h=60,a-f-A=90",
     [](auto& c) {
       return c.cot.stale_by_type
              == std::map<std::string, int64_t>{{"a-h", 60}, {"a-f-A", 90}};
     }},
    {"cot.max_age_s", "600", [](auto& c) { return c.cot.max_age_s == 600; }},
    {"cot.min_confidence", "0.25",
     [](auto& c) { return c.cot.min_confidence == 0.25; }},
    {"cot.low_confidence", "flag",
     [](auto& c) { return c.cot.low_confidence == "flag"; }},
    {"cot.uid_prefix", "x.", [](auto& c) { return c.cot.uid_prefix == "x."; }},
    {"cot.classification_types", "person=G-U-C,kayak=S-X",
     [](auto& c) {
       return c.cot.classification_types
              == map{{"person", "G-U-C"}, {"kayak", "S-X"}};
     }},
    {"cot.affiliation_codes", "friend=f,foe=h",
     [](auto& c) {
       return c.cot.affiliation_codes == map{{"friend", "f"}, {"foe", "h"}};
     }},
    {"presentation.sources", "{cam-north: {how: m-i, team: {name: Cyan}}}",
     [](auto& c) {
       auto& s = c.presentation.sources;
       return s.size() == 1 && s.at("cam-north").how == "m-i"
              && s.at("cam-north").team->name == "Cyan";
     }},
    {"presentation.types", "{a-h: {color: '#FFFF0000'}}",
     [](auto& c) {
       return c.presentation.types.at("a-h").color == "#FFFF0000";
     }},
    {"presentation.low_confidence",
     "{how: h-e}",
     [](auto& c) { return c.presentation.low_confidence.how == "h-e"; },
     {{"COTFLOW_COT_LOW_CONFIDENCE", "flag"}}},
    {"sinks.kafka",
     "false",
     [](auto& c) { return !c.sinks.kafka; },
     {{"COTFLOW_SINKS_FILE", "/tmp/cot.xml"}}},
    {"sinks.file", "/tmp/cot.xml",
     [](auto& c) { return c.sinks.file == "/tmp/cot.xml"; }},
    {"log.level", "debug", [](auto& c) { return c.log.level == "debug"; }},
    {"log.format", "text", [](auto& c) { return c.log.format == "text"; }},
  };
  return cases;
}

const std::string full_yaml = R"(
kafka:
  brokers: "k1:9092,k2:9092"
  group_id: grp
  client_id: cli
  input_topics: [in1, in2]
  output_topic: cot-out
  dead_letter_topic: dead
  properties:
    security.protocol: SSL
    linger.ms: "5"
pipeline:
  batch_size: 20
  batch_age_ms: 50
  max_in_flight: 400
  encoders: 2
  commit_interval_ms: 250
  max_record_bytes: 2048
  drain_timeout_ms: 3000
  poll_timeout_ms: 10
cot:
  default_type: a-u-A
  how: h-g-i-g-o
  stale_s: 60
  stale_by_type:
    a-h-G: 30
    a-f: 300
  max_age_s: 120
  min_confidence: 0.4
  low_confidence: flag
  uid_prefix: "site1."
  classification_types:
    person: G-U-C-I
    kayak: S-X
  affiliation_codes:
    hostile: h
    friend: f
presentation:
  sources:
    cam-north:
      how: m-i
      color: "#FF00FF00"
      icon: "f7f71666-8b28-4b57-9fbb-e38e61d33b79/Google/camera.png"
      team: {name: Dark Blue, role: Team Lead, endpoint: "*:-1:stcp"}
      sensor: {uid: cam-north-1, callsign: North gate, lat: 48.8566123,
               lon: 2.3522219, hae: 35, azimuth: 270, fov: 60, vfov: 40,
               range: 800}
    radar: {how: m-r, sensor: {type: a-f-G-E-S}}
  types:
    a-h: {color: "#FFFF0000", icon: "COT_MAPPING_2525B/a-h/a-h-G"}
  low_confidence: {type: a-u-G, color: "#80FFFF00", how: h-e}
sinks:
  kafka: false
  file: /var/tmp/cot.log
log:
  level: warn
  format: text
)";

} // namespace

BOOST_AUTO_TEST_SUITE(loading)

BOOST_AUTO_TEST_CASE(empty_text_gives_every_default) {
  auto r = load_config_text("", "", fake_env());
  BOOST_TEST_REQUIRE(r.ok(), joined(r.errors));
  const auto& c = r.cfg;
  // The defaults as deploy/cotflow.yaml documents them.
  BOOST_TEST(c.kafka.brokers == "localhost:9092");
  BOOST_TEST(c.kafka.group_id == "cotflow");
  BOOST_TEST(c.kafka.client_id == "cotflow");
  BOOST_TEST(c.kafka.input_topics == std::vector<std::string>{"detections"},
             boost::test_tools::per_element());
  BOOST_TEST(c.kafka.output_topic == "cot");
  BOOST_TEST(c.kafka.dead_letter_topic == "cot-dead-letter");
  BOOST_TEST(c.kafka.properties.empty());
  BOOST_TEST(c.pipeline.batch_size == 50);
  BOOST_TEST(c.pipeline.batch_age_ms == 100);
  BOOST_TEST(c.pipeline.max_in_flight == 10000);
  BOOST_TEST(c.pipeline.encoders == 0);
  BOOST_TEST(c.pipeline.commit_interval_ms == 1000);
  BOOST_TEST(c.pipeline.max_record_bytes == 64 * 1024);
  BOOST_TEST(c.pipeline.drain_timeout_ms == 10000);
  BOOST_TEST(c.pipeline.poll_timeout_ms == 100);
  BOOST_TEST(c.cot.default_type == "a-u-G");
  BOOST_TEST(c.cot.how == "m-g");
  BOOST_TEST(c.cot.stale_s == 120);
  BOOST_TEST(c.cot.max_age_s == 3600);
  BOOST_TEST(c.cot.min_confidence == 0.0);
  BOOST_TEST(c.cot.low_confidence == "drop");
  BOOST_TEST(c.cot.classification_types.at("person") == "G-U-C-I");
  BOOST_TEST(c.cot.affiliation_codes.at("hostile") == "h");
  BOOST_TEST(c.sinks.kafka);
  BOOST_TEST(c.sinks.file.empty());
  BOOST_TEST(c.log.level == "info");
  BOOST_TEST(c.log.format == "json");
  BOOST_TEST(c.file.empty());
  for (const auto& k : all_keys)
    BOOST_TEST_CONTEXT(k) {
      BOOST_TEST_REQUIRE(c.sources.count(k) == 1u);
      BOOST_TEST(c.sources.at(k) == "default");
    }
}

BOOST_AUTO_TEST_CASE(the_defaults_pass_validation) {
  auto errors = cotflow::validate(cotflow::default_config());
  BOOST_TEST(errors.empty(), joined(errors));
}

BOOST_AUTO_TEST_CASE(yaml_values_are_applied_and_recorded_as_file) {
  auto r = load(full_yaml);
  BOOST_TEST_REQUIRE(r.ok(), joined(r.errors));
  const auto& c = r.cfg;
  BOOST_TEST(c.file == "test.yaml");
  BOOST_TEST(c.kafka.brokers == "k1:9092,k2:9092");
  BOOST_TEST(c.kafka.group_id == "grp");
  BOOST_TEST(c.kafka.client_id == "cli");
  BOOST_TEST(c.kafka.input_topics == (std::vector<std::string>{"in1", "in2"}),
             boost::test_tools::per_element());
  BOOST_TEST(c.kafka.output_topic == "cot-out");
  BOOST_TEST(c.kafka.dead_letter_topic == "dead");
  BOOST_TEST(c.kafka.properties.size() == 2u);
  BOOST_TEST(c.kafka.properties.at("linger.ms") == "5");
  BOOST_TEST(c.pipeline.batch_size == 20);
  BOOST_TEST(c.pipeline.batch_age_ms == 50);
  BOOST_TEST(c.pipeline.max_in_flight == 400);
  BOOST_TEST(c.pipeline.encoders == 2);
  BOOST_TEST(c.pipeline.commit_interval_ms == 250);
  BOOST_TEST(c.pipeline.max_record_bytes == 2048);
  BOOST_TEST(c.pipeline.drain_timeout_ms == 3000);
  BOOST_TEST(c.pipeline.poll_timeout_ms == 10);
  BOOST_TEST(c.cot.default_type == "a-u-A");
  BOOST_TEST(c.cot.how == "h-g-i-g-o");
  BOOST_TEST(c.cot.stale_s == 60);
  BOOST_TEST(c.cot.stale_by_type.size() == 2u);
  BOOST_TEST(c.cot.stale_by_type.at("a-h-G") == 30);
  BOOST_TEST(c.cot.stale_by_type.at("a-f") == 300);
  BOOST_TEST(c.cot.max_age_s == 120);
  BOOST_TEST(c.cot.min_confidence == 0.4);
  BOOST_TEST(c.cot.low_confidence == "flag");
  BOOST_TEST(c.cot.uid_prefix == "site1.");
  // A mapping in the file replaces the default mapping.
  BOOST_TEST(c.cot.classification_types.size() == 2u);
  BOOST_TEST(c.cot.classification_types.at("kayak") == "S-X");
  BOOST_TEST(c.cot.affiliation_codes.size() == 2u);
  BOOST_TEST(!c.sinks.kafka);
  BOOST_TEST(c.sinks.file == "/var/tmp/cot.log");
  BOOST_TEST(c.log.level == "warn");
  BOOST_TEST(c.log.format == "text");
  for (const auto& k : all_keys)
    BOOST_TEST_CONTEXT(k) {
      BOOST_TEST(c.sources.at(k) == "file");
    }
}

BOOST_AUTO_TEST_CASE(keys_not_in_the_file_keep_their_defaults) {
  auto r = load("pipeline:\n  batch_size: 10\n");
  BOOST_TEST_REQUIRE(r.ok(), joined(r.errors));
  BOOST_TEST(r.cfg.pipeline.batch_size == 10);
  BOOST_TEST(r.cfg.sources.at("pipeline.batch_size") == "file");
  BOOST_TEST(r.cfg.pipeline.batch_age_ms == 100);
  BOOST_TEST(r.cfg.sources.at("pipeline.batch_age_ms") == "default");
}

BOOST_AUTO_TEST_CASE(a_comma_separated_scalar_list_is_accepted_in_yaml) {
  auto r = load("kafka:\n  input_topics: a,b\n");
  BOOST_TEST_REQUIRE(r.ok(), joined(r.errors));
  BOOST_TEST(r.cfg.kafka.input_topics == (std::vector<std::string>{"a", "b"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(an_empty_section_is_allowed) {
  auto r = load("kafka:\ncot:\n");
  BOOST_TEST(r.ok(), joined(r.errors));
}

BOOST_AUTO_TEST_CASE(every_env_override_takes_effect) {
  BOOST_TEST_REQUIRE(env_cases().size() == all_keys.size());
  for (const auto& c : env_cases()) {
    BOOST_TEST_CONTEXT(c.path) {
      auto name = env_name(c.path);
      env_map vars = c.also;
      vars[name] = c.value;
      auto r = load("", vars);
      BOOST_TEST(r.ok(), joined(r.errors));
      BOOST_TEST(c.applied(r.cfg));
      BOOST_TEST(r.cfg.sources.at(c.path) == "env " + name);
    }
  }
}

BOOST_AUTO_TEST_CASE(env_overrides_win_over_the_file) {
  auto r = load(full_yaml, {{"COTFLOW_PIPELINE_BATCH_SIZE", "7"},
                            {"COTFLOW_KAFKA_INPUT_TOPICS", "x,y,z"},
                            {"COTFLOW_COT_MIN_CONFIDENCE", "0.9"},
                            {"COTFLOW_SINKS_KAFKA", "true"},
                            {"COTFLOW_COT_AFFILIATION_CODES", "ally=f"}});
  BOOST_TEST_REQUIRE(r.ok(), joined(r.errors));
  const auto& c = r.cfg;
  BOOST_TEST(c.pipeline.batch_size == 7);
  BOOST_TEST(c.sources.at("pipeline.batch_size")
             == "env COTFLOW_PIPELINE_BATCH_SIZE");
  BOOST_TEST(c.kafka.input_topics.size() == 3u);
  BOOST_TEST(c.cot.min_confidence == 0.9);
  BOOST_TEST(c.sinks.kafka);
  BOOST_TEST(c.cot.affiliation_codes.size() == 1u);
  BOOST_TEST(c.cot.affiliation_codes.at("ally") == "f");
  BOOST_TEST(c.sources.at("pipeline.batch_age_ms") == "file");
}

BOOST_AUTO_TEST_CASE(bool_env_values_accept_the_usual_spellings) {
  for (auto v : {"true", "1", "yes", "on"}) {
    auto r = load("", {{"COTFLOW_SINKS_KAFKA", v}});
    BOOST_TEST(r.cfg.sinks.kafka, v);
  }
  for (auto v : {"false", "0", "no", "off"}) {
    auto r = load(
      "", {{"COTFLOW_SINKS_KAFKA", v}, {"COTFLOW_SINKS_FILE", "/tmp/x"}});
    BOOST_TEST(!r.cfg.sinks.kafka, v);
  }
}

BOOST_AUTO_TEST_CASE(invalid_yaml_is_reported) {
  auto r = load("kafka: [unclosed\n  brokers: x\n");
  BOOST_TEST(!r.ok());
  BOOST_TEST_REQUIRE(r.errors.size() >= 1u);
  BOOST_TEST(r.errors[0].find("test.yaml") != std::string::npos);
  BOOST_TEST(r.errors[0].find("YAML") != std::string::npos);
}

// yaml-cpp reads an unterminated quote as a value that runs to the end of
// the file: the keys after it vanished into kafka.brokers, and the file
// passed. A strict reader (libyaml, js-yaml) refuses it.
BOOST_AUTO_TEST_CASE(an_unterminated_quote_is_refused_not_read_to_the_end) {
  const std::vector<std::string> cases = {
    // The file of issue 22: the rest is indented with a tab.
    "kafka:\n  brokers: \"kafka1:9092\n\tgroup_id: x\npipeline:\n"
    "  batch_size: 10\n",
    "kafka:\n  brokers: \"kafka1:9092\n  group_id: x\n",
    "kafka:\n  brokers: 'kafka1:9092\n  group_id: x\n",
    "kafka:\n  brokers: \"kafka1:9092\\\"\n",
    "kafka:\n  brokers: !!str \"kafka1:9092\n",
    "\xEF\xBB\xBFkafka:\n  brokers: \"kafka1:9092\n",
    "cot:\n  uid_prefix: \"h\xC3\xA9llo\"\n  how: \"m-g\n",
  };
  for (const auto& yaml : cases)
    BOOST_TEST_CONTEXT(yaml) {
      auto r = load(yaml);
      BOOST_TEST(!r.ok());
      BOOST_TEST(joined(r.errors).find("never closed") != std::string::npos,
                 joined(r.errors));
    }
  auto r = load(cases.front());
  BOOST_TEST(joined(r.errors).find("line 2, column 12") != std::string::npos,
             joined(r.errors));
}

BOOST_AUTO_TEST_CASE(a_key_given_twice_or_a_second_document_is_refused) {
  const std::vector<std::pair<std::string, std::string>> cases = {
    {"kafka:\n  brokers: a:1\n  brokers: b:2\n", "kafka.brokers"},
    {"kafka:\n  brokers: a:1\npipeline:\n  batch_size: 5\nkafka:\n"
     "  group_id: g\n",
     "kafka"},
    {"kafka:\n  properties:\n    acks: all\n    acks: \"1\"\n",
     "kafka.properties.acks"},
    {"kafka:\n  brokers: a:1\n---\nkafka:\n  brokers: b:2\n", "documents"},
  };
  for (const auto& [yaml, what] : cases)
    BOOST_TEST_CONTEXT(yaml) {
      auto r = load(yaml);
      BOOST_TEST(!r.ok());
      BOOST_TEST(joined(r.errors).find(what) != std::string::npos,
                 joined(r.errors));
    }
}

BOOST_AUTO_TEST_CASE(quoted_values_and_tabs_that_yaml_allows_still_load) {
  auto r = load("kafka:\n"
                "  brokers:\t\"k1:9092,\n"
                "    k2:9092\"\n"
                "  client_id: 'it''s'\n"
                "  group_id: \"a\\\"b\"\n"
                "\t\n"
                "cot:\n"
                "  uid_prefix: |-\n"
                "    x\n");
  BOOST_TEST(r.ok(), joined(r.errors));
  BOOST_TEST(r.cfg.kafka.brokers == "k1:9092, k2:9092");
  BOOST_TEST(r.cfg.kafka.client_id == "it's");
  BOOST_TEST(r.cfg.kafka.group_id == "a\"b");
}

BOOST_AUTO_TEST_CASE(kafka_brokers_must_be_host_port_pairs_or_embedded) {
  for (auto good :
       {"k1:9092", "k1:9092,k2:9092", "k1:9092, k2:9092", "10.0.0.1:9092",
        "[::1]:9092", "SSL://k1:9093,sasl_ssl://k2:9094",
        "kafka-0.kafka.svc.cluster.local:9092", "embedded"})
    BOOST_TEST_CONTEXT(good) {
      auto r = load("", {{"COTFLOW_KAFKA_BROKERS", good}});
      BOOST_TEST(r.ok(), joined(r.errors));
    }
  for (auto bad :
       {"k1", "k1:", ":9092", "k1:0", "k1:65536", "k1:port", "k 1:9092",
        "k1:9092,,k2:9092", "k1:9092,", "ftp://k1:1", "[::1:9092",
        "kafka1:9092 group_id: x pipeline: "
        "batch_size: 10 "})
    BOOST_TEST_CONTEXT(bad) {
      auto r = load("", {{"COTFLOW_KAFKA_BROKERS", bad}});
      BOOST_TEST(!r.ok());
      BOOST_TEST(has_error(r.errors, "kafka.brokers"), joined(r.errors));
    }
}

BOOST_AUTO_TEST_CASE(every_topic_key_takes_only_kafka_topic_names) {
  const std::string longest(249, 't');
  const std::vector<std::string> keys = {
    "kafka.input_topics", "kafka.output_topic", "kafka.dead_letter_topic",
    "kafka.parking_topic"};
  for (auto& key : keys) {
    for (auto good : {std::string{"a.b_c-D9"}, longest})
      BOOST_TEST_CONTEXT(key << " = " << good) {
        auto r = load("", {{env_name(key), good}});
        BOOST_TEST(r.ok(), joined(r.errors));
      }
    for (auto bad :
         {std::string{"a b"}, std::string{"."}, std::string{".."},
          std::string{"x/y"}, std::string{"caf\xC3\xA9"}, longest + "t"})
      BOOST_TEST_CONTEXT(key << " = " << bad) {
        auto r = load("", {{env_name(key), bad}});
        BOOST_TEST(!r.ok());
        BOOST_TEST(has_error(r.errors, key), joined(r.errors));
      }
  }
  // Each bad input topic is named, not only the first.
  auto r = load("kafka:\n  input_topics: [ok, \"a b\", \"..\"]\n");
  BOOST_TEST(joined(r.errors).find("'a b'") != std::string::npos);
  BOOST_TEST(joined(r.errors).find("'..'") != std::string::npos);
  // A destination's parking topic, <prefix>.<name>, is a topic too.
  r = load("kafka:\n  parking_topic: " + std::string(200, 'p')
           + "\ntak:\n  destinations:\n    " + std::string(60, 'd')
           + ": tcp://h:1\n");
  BOOST_TEST(has_error(r.errors, "tak.destinations.ddd"), joined(r.errors));
}

BOOST_AUTO_TEST_CASE(a_directory_given_as_the_config_file_is_refused) {
  auto dir = std::filesystem::temp_directory_path()
             / ("cotflow-config-dir-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  auto r = cotflow::load_config(dir.string(), fake_env());
  std::filesystem::remove(dir);
  BOOST_TEST(!r.ok());
  BOOST_TEST(joined(r.errors).find(dir.string() + ": is a directory")
               != std::string::npos,
             joined(r.errors));
  // An empty file (or /dev/null) is still a config of defaults.
  BOOST_TEST(cotflow::load_config("/dev/null", fake_env()).ok());
}

BOOST_AUTO_TEST_CASE(a_top_level_that_is_not_a_mapping_is_reported) {
  auto r = load("- a\n- b\n");
  BOOST_TEST(!r.ok());
  r = load("just text");
  BOOST_TEST(!r.ok());
}

BOOST_AUTO_TEST_CASE(an_unknown_section_is_reported) {
  auto r = load("kafak:\n  brokers: x\n");
  BOOST_TEST(!r.ok());
  BOOST_TEST(has_error(r.errors, "kafak"), joined(r.errors));
}

BOOST_AUTO_TEST_CASE(an_unknown_key_is_reported_with_its_path) {
  auto r = load("kafka:\n  brokerz: x\n");
  BOOST_TEST(!r.ok());
  BOOST_TEST(has_error(r.errors, "kafka.brokerz"), joined(r.errors));
}

BOOST_AUTO_TEST_CASE(an_unknown_key_or_section_is_told_the_nearest_known_one) {
  auto r = load("pipeline:\n  batchsize: 7\nkafak:\n  brokers: x\n");
  BOOST_TEST(joined(r.errors).find("pipeline.batchsize: unknown key (did you "
                                   "mean pipeline.batch_size?)")
               != std::string::npos,
             joined(r.errors));
  BOOST_TEST(joined(r.errors).find("kafak: unknown section (did you mean "
                                   "kafka?)")
               != std::string::npos,
             joined(r.errors));
  // Nothing is suggested for a name like no key.
  r = load("pipeline:\n  colour_of_the_sky: blue\n");
  BOOST_TEST(joined(r.errors).find("did you mean") == std::string::npos,
             joined(r.errors));
}

// Issue 22: COTFLOW_PIPELINE_BATCHSIZE was silently ignored (the variable
// of pipeline.batch_size is COTFLOW_PIPELINE_BATCH_SIZE).
BOOST_AUTO_TEST_CASE(a_misspelt_variable_is_warned_about_with_the_nearest) {
  auto r = load("", {{"COTFLOW_PIPELINE_BATCHSIZE", "7"},
                     {"COTFLOW_KAFKA_BOOTSTRAP_SERVERS", "k:9092"},
                     {"COTFLOW_TAK_QUEUE_EVENTS", "10"}});
  BOOST_TEST(r.ok(), joined(r.errors));
  BOOST_TEST(r.cfg.pipeline.batch_size == 50);
  BOOST_TEST(r.cfg.tak.queue_events == 10);
  BOOST_TEST(r.warnings
               == (std::vector<std::string>{
                 "COTFLOW_KAFKA_BOOTSTRAP_SERVERS: not a configuration key, "
                 "ignored",
                 "COTFLOW_PIPELINE_BATCHSIZE: not a configuration key, "
                 "ignored (did you mean COTFLOW_PIPELINE_BATCH_SIZE?)"}),
             joined(r.warnings));
  // Only names that claim a section are checked: others belong to
  // scripts and tests (and cotflow cannot tell a typo among them).
  r = load("", {{"COTFLOW_BIN", "/x"},
                {"COTFLOW_REQUIRE_SHARED", "1"},
                {"COTFLOW_PIPLINE_BATCH_SIZE", "7"},
                {"COTFLOW_COT_XSD", "/x.xsd"},
                {"COTFLOW_LOG_", "x"}});
  BOOST_TEST(r.warnings.empty(), joined(r.warnings));
}

// Every COTFLOW_* variable the project's own scripts, tests and build
// read or set (getenv, CTest ENVIRONMENT, shell) is either a key's or
// not warned about; a new one in a section's name space fails here.
BOOST_AUTO_TEST_CASE(no_variable_the_project_itself_uses_is_warned_about) {
  namespace fs = std::filesystem;
  const fs::path root = COTFLOW_SOURCE_DIR;
  const std::regex use{
    R"re(getenv\("(COTFLOW_[A-Z0-9_]+)"\))re"
    R"re(|"(COTFLOW_[A-Z0-9_]+)=|\$\{?(COTFLOW_[A-Z0-9_]+))re"};
  std::set<std::string> names;
  std::vector<fs::path> files = {root / "dev", root / "CMakeLists.txt"};
  for (auto dir : {"tests", "bench", "commands", "actors", "pipeline", "config",
                   "deploy", ".ci"})
    if (fs::exists(root / dir))
      for (fs::recursive_directory_iterator it{root / dir}, end; it != end;
           ++it) {
        // Not the project's: the conformance tests' npm packages (after
        // `npm ci`, thousands of files).
        if (it->is_directory() && it->path().filename() == "node_modules")
          it.disable_recursion_pending();
        else if (it->is_regular_file())
          files.push_back(it->path());
      }
  for (auto& f : files) {
    std::ifstream in{f};
    std::string text{std::istreambuf_iterator<char>{in}, {}};
    // std::regex is slow (under ASan, this test took a minute): only the
    // files that name a variable at all are searched.
    if (text.find("COTFLOW_") == std::string::npos)
      continue;
    for (std::sregex_iterator it{text.begin(), text.end(), use}, end; it != end;
         ++it)
      for (size_t g = 1; g <= 3; ++g)
        if ((*it)[g].matched)
          names.insert((*it)[g].str());
  }
  BOOST_TEST(names.count("COTFLOW_BIN") == 1u);
  BOOST_TEST(names.count("COTFLOW_COT_XSD") == 1u);
  auto warned = cotflow::unknown_env_vars({names.begin(), names.end()});
  BOOST_TEST(warned.empty(), joined(warned));
}

BOOST_AUTO_TEST_CASE(a_section_that_is_not_a_mapping_is_reported) {
  auto r = load("pipeline: 5\n");
  BOOST_TEST(!r.ok());
  BOOST_TEST(has_error(r.errors, "pipeline"), joined(r.errors));
}

BOOST_AUTO_TEST_CASE(values_of_the_wrong_type_are_reported_with_their_path) {
  const std::vector<std::pair<std::string, std::string>> cases = {
    {"pipeline:\n  batch_size: ten\n", "pipeline.batch_size"},
    {"pipeline:\n  batch_size: 1.5\n", "pipeline.batch_size"},
    {"pipeline:\n  batch_size: [1, 2]\n", "pipeline.batch_size"},
    {"pipeline:\n  batch_size: 99999999999999999999999\n",
     "pipeline.batch_size"},
    {"cot:\n  min_confidence: high\n", "cot.min_confidence"},
    {"cot:\n  min_confidence: .nan\n", "cot.min_confidence"},
    {"sinks:\n  kafka: maybe\n", "sinks.kafka"},
    {"kafka:\n  input_topics: {a: 1}\n", "kafka.input_topics"},
    {"kafka:\n  input_topics: [[a]]\n", "kafka.input_topics"},
    {"kafka:\n  properties: [a, b]\n", "kafka.properties"},
    {"kafka:\n  properties: {a: [1]}\n", "kafka.properties"},
    {"kafka:\n  brokers: {a: b}\n", "kafka.brokers"},
    {"cot:\n  stale_by_type: {a-h: soon}\n", "cot.stale_by_type"},
  };
  for (const auto& [yaml, path] : cases)
    BOOST_TEST_CONTEXT(yaml) {
      auto r = load(yaml);
      BOOST_TEST(!r.ok());
      BOOST_TEST(has_error(r.errors, path), joined(r.errors));
    }
}

BOOST_AUTO_TEST_CASE(env_values_of_the_wrong_type_name_key_and_variable) {
  const std::vector<std::pair<std::string, std::string>> cases = {
    {"pipeline.batch_size", "ten"},
    {"pipeline.encoders", ""},
    {"cot.min_confidence", "inf"},
    {"cot.min_confidence", "0.5x"},
    {"sinks.kafka", "maybe"},
    {"kafka.properties", "novalue"},
    {"kafka.properties", "=v"},
    {"cot.stale_by_type", "a-h=soon"},
    {"cot.classification_types", "person"},
  };
  for (const auto& [path, value] : cases)
    BOOST_TEST_CONTEXT(path << " = '" << value << "'") {
      auto r = load("", {{env_name(path), value}});
      BOOST_TEST(!r.ok());
      BOOST_TEST(has_error(r.errors, path), joined(r.errors));
      BOOST_TEST(joined(r.errors).find(env_name(path)) != std::string::npos,
                 joined(r.errors));
    }
}

BOOST_AUTO_TEST_CASE(out_of_range_values_are_reported_with_their_path) {
  const std::vector<std::pair<std::string, std::string>> cases = {
    {"pipeline:\n  batch_size: 0\n", "pipeline.batch_size"},
    {"pipeline:\n  batch_size: -5\n", "pipeline.batch_size"},
    {"pipeline:\n  batch_age_ms: 0\n", "pipeline.batch_age_ms"},
    {"pipeline:\n  max_in_flight: 0\n", "pipeline.max_in_flight"},
    {"pipeline:\n  encoders: 300\n", "pipeline.encoders"},
    {"pipeline:\n  commit_interval_ms: 1\n", "pipeline.commit_interval_ms"},
    {"pipeline:\n  max_record_bytes: 10\n", "pipeline.max_record_bytes"},
    {"pipeline:\n  drain_timeout_ms: -1\n", "pipeline.drain_timeout_ms"},
    {"pipeline:\n  poll_timeout_ms: 5000\n", "pipeline.poll_timeout_ms"},
    {"cot:\n  stale_s: 0\n", "cot.stale_s"},
    {"cot:\n  stale_by_type: {a-h: 0}\n", "cot.stale_by_type.a-h"},
    {"cot:\n  stale_by_type: {\"not a type\": 5}\n", "cot.stale_by_type"},
    {"cot:\n  max_age_s: 0\n", "cot.max_age_s"},
    {"cot:\n  min_confidence: 1.5\n", "cot.min_confidence"},
    {"cot:\n  min_confidence: -0.1\n", "cot.min_confidence"},
    {"cot:\n  low_confidence: ignore\n", "cot.low_confidence"},
    {"cot:\n  default_type: Hostile\n", "cot.default_type"},
    {"cot:\n  how: \"\"\n", "cot.how"},
    {"cot:\n  classification_types: {x: \"G E\"}\n",
     "cot.classification_types.x"},
    {"cot:\n  affiliation_codes: {x: H}\n", "cot.affiliation_codes.x"},
    {"cot:\n  affiliation_codes: {x: hh}\n", "cot.affiliation_codes.x"},
    {"kafka:\n  brokers: \"\"\n", "kafka.brokers"},
    {"kafka:\n  group_id: \"\"\n", "kafka.group_id"},
    {"kafka:\n  input_topics: []\n", "kafka.input_topics"},
    {"kafka:\n  dead_letter_topic: \"\"\n", "kafka.dead_letter_topic"},
    {"kafka:\n  output_topic: \"\"\n", "kafka.output_topic"},
    {"log:\n  level: loud\n", "log.level"},
    {"log:\n  format: xml\n", "log.format"},
  };
  for (const auto& [yaml, path] : cases)
    BOOST_TEST_CONTEXT(yaml) {
      auto r = load(yaml);
      BOOST_TEST(!r.ok());
      BOOST_TEST(has_error(r.errors, path), joined(r.errors));
    }
}

BOOST_AUTO_TEST_CASE(a_config_with_several_problems_reports_all_of_them) {
  auto r = load(R"(
kafka:
  brokerz: x
  properties:
    enable.auto.commit: "true"
pipeline:
  batch_size: ten
  encoders: 999
cot:
  min_confidence: 3
  low_confidence: maybe
nonsense:
  a: 1
log:
  level: loud
)",
                {{"COTFLOW_PIPELINE_POLL_TIMEOUT_MS", "soon"}});
  BOOST_TEST(!r.ok());
  for (auto path : {"kafka.brokerz", "kafka.properties.enable.auto.commit",
                    "pipeline.batch_size", "pipeline.encoders",
                    "cot.min_confidence", "cot.low_confidence", "nonsense",
                    "log.level", "pipeline.poll_timeout_ms"})
    BOOST_TEST(has_error(r.errors, path),
               "no error for " << path << ":" << joined(r.errors));
  BOOST_TEST(r.errors.size() >= 9u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(validation)

BOOST_AUTO_TEST_CASE(max_in_flight_must_be_at_least_batch_size) {
  auto c = cotflow::default_config();
  c.pipeline.batch_size = 100;
  c.pipeline.max_in_flight = 99;
  BOOST_TEST(has_error(cotflow::validate(c), "pipeline.max_in_flight"));
  c.pipeline.max_in_flight = 100;
  BOOST_TEST(cotflow::validate(c).empty(), joined(cotflow::validate(c)));
  auto r = load("pipeline:\n  batch_size: 500\n  max_in_flight: 100\n");
  BOOST_TEST(has_error(r.errors, "pipeline.max_in_flight"), joined(r.errors));
}

BOOST_AUTO_TEST_CASE(a_config_without_any_sink_is_refused) {
  auto c = cotflow::default_config();
  c.sinks.kafka = false;
  c.sinks.file.clear();
  BOOST_TEST(has_error(cotflow::validate(c), "sinks"));
  c.sinks.file = "/tmp/out.cot";
  BOOST_TEST(cotflow::validate(c).empty(), joined(cotflow::validate(c)));
}

BOOST_AUTO_TEST_CASE(a_revoke_drain_bound_past_the_session_is_refused) {
  // A member that holds a revoke that long loses its membership.
  auto c = cotflow::default_config();
  c.kafka.revoke_drain_ms = c.kafka.session_timeout_ms;
  BOOST_TEST(has_error(cotflow::validate(c), "kafka.revoke_drain_ms"));
  c.kafka.revoke_drain_ms = c.kafka.session_timeout_ms - 1;
  BOOST_TEST(cotflow::validate(c).empty(), joined(cotflow::validate(c)));
  c.kafka.revoke_drain_ms = 0;
  BOOST_TEST(cotflow::validate(c).empty(), joined(cotflow::validate(c)));
}

BOOST_AUTO_TEST_CASE(a_uid_prefix_with_control_characters_is_refused) {
  // It starts every uid and Kafka key, where ids may hold none.
  auto c = cotflow::default_config();
  c.cot.uid_prefix = "cam-\x01";
  BOOST_TEST(has_error(cotflow::validate(c), "cot.uid_prefix"));
  c.cot.uid_prefix = "tab\t";
  BOOST_TEST(has_error(cotflow::validate(c), "cot.uid_prefix"));
  c.cot.uid_prefix = "\xc3\xa9quipe-";
  BOOST_TEST(cotflow::validate(c).empty(), joined(cotflow::validate(c)));
}

BOOST_AUTO_TEST_CASE(an_input_topic_equal_to_an_output_topic_is_refused) {
  auto c = cotflow::default_config();
  c.kafka.input_topics = {"detections", "cot"};
  c.kafka.output_topic = "cot";
  BOOST_TEST(has_error(cotflow::validate(c), "kafka.input_topics"));
  c.kafka.input_topics = {"cot-dead-letter"};
  BOOST_TEST(has_error(cotflow::validate(c), "kafka.input_topics"));
  auto r = load("", {{"COTFLOW_KAFKA_OUTPUT_TOPIC", "detections"}});
  BOOST_TEST(has_error(r.errors, "kafka.input_topics"), joined(r.errors));
}

BOOST_AUTO_TEST_CASE(kafka_properties_owned_by_cotflow_are_refused) {
  for (auto key : {"enable.auto.commit", "group.id", "bootstrap.servers",
                   "enable.auto.offset.store"}) {
    BOOST_TEST_CONTEXT(key) {
      auto c = cotflow::default_config();
      c.kafka.properties[key] = "x";
      BOOST_TEST(has_error(cotflow::validate(c),
                           std::string{"kafka.properties."} + key));
    }
  }
  auto r = load(
    "", {{"COTFLOW_KAFKA_PROPERTIES", "linger.ms=5,enable.auto.commit=true"}});
  BOOST_TEST(has_error(r.errors, "kafka.properties.enable.auto.commit"),
             joined(r.errors));
  BOOST_TEST(!has_error(r.errors, "kafka.properties.linger.ms"));
}

BOOST_AUTO_TEST_CASE(validate_reports_every_problem_at_once) {
  auto c = cotflow::default_config();
  c.kafka.brokers.clear();
  c.pipeline.batch_size = 0;
  c.cot.stale_s = 0;
  c.log.format = "xml";
  auto errors = cotflow::validate(c);
  BOOST_TEST(has_error(errors, "kafka.brokers"));
  BOOST_TEST(has_error(errors, "pipeline.batch_size"));
  BOOST_TEST(has_error(errors, "cot.stale_s"));
  BOOST_TEST(has_error(errors, "log.format"));
}

BOOST_AUTO_TEST_CASE(encoder_count_resolves_zero_to_the_cores) {
  cotflow::pipeline_config p;
  p.encoders = 3;
  BOOST_TEST(cotflow::encoder_count(p) == 3);
  p.encoders = 0;
  BOOST_TEST(cotflow::encoder_count(p) >= 1);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(showing)

BOOST_AUTO_TEST_CASE(show_config_lists_every_key_with_its_source) {
  auto r = load("pipeline:\n  batch_size: 20\n",
                {{"COTFLOW_LOG_LEVEL", "debug"}});
  BOOST_TEST_REQUIRE(r.ok(), joined(r.errors));
  auto text = cotflow::show_config(r.cfg);
  for (const auto& k : all_keys) {
    BOOST_TEST_CONTEXT(k) {
      auto key = k.substr(k.find('.') + 1);
      auto section = k.substr(0, k.find('.'));
      BOOST_TEST(text.find("\n" + section + ":\n") != std::string::npos);
      BOOST_TEST(text.find("\n  " + key + ":") != std::string::npos);
      BOOST_TEST(text.find(env_name(k)) != std::string::npos);
    }
  }
  BOOST_TEST(text.find("test.yaml") != std::string::npos);
  BOOST_TEST(text.find("[file; COTFLOW_PIPELINE_BATCH_SIZE]")
             != std::string::npos);
  BOOST_TEST(text.find("[env COTFLOW_LOG_LEVEL; COTFLOW_LOG_LEVEL]")
             != std::string::npos);
  BOOST_TEST(text.find("[default; COTFLOW_LOG_FORMAT]") != std::string::npos);
  BOOST_TEST(text.find("batch_size: 20") != std::string::npos);
  BOOST_TEST(text.find("level: \"debug\"") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(show_config_output_loads_back_to_the_same_values) {
  auto r = load(full_yaml);
  BOOST_TEST_REQUIRE(r.ok(), joined(r.errors));
  auto again = load(cotflow::show_config(r.cfg));
  BOOST_TEST_REQUIRE(again.ok(), joined(again.errors));
  const auto& a = r.cfg;
  const auto& b = again.cfg;
  BOOST_TEST(a.kafka.brokers == b.kafka.brokers);
  BOOST_TEST(a.kafka.input_topics == b.kafka.input_topics,
             boost::test_tools::per_element());
  BOOST_TEST((a.kafka.properties == b.kafka.properties));
  BOOST_TEST(a.pipeline.batch_size == b.pipeline.batch_size);
  BOOST_TEST(a.cot.min_confidence == b.cot.min_confidence);
  BOOST_TEST((a.cot.stale_by_type == b.cot.stale_by_type));
  BOOST_TEST((a.cot.classification_types == b.cot.classification_types));
  BOOST_TEST(a.sinks.kafka == b.sinks.kafka);
  BOOST_TEST(a.sinks.file == b.sinks.file);
  BOOST_TEST(a.log.level == b.log.level);
  BOOST_TEST((a.presentation.sources == b.presentation.sources));
  BOOST_TEST((a.presentation.types == b.presentation.types));
  BOOST_TEST((a.presentation.low_confidence == b.presentation.low_confidence));
}

// SPEC §6: secrets are never logged, and `cotflow config show` output is
// what operators paste into tickets: secret values are hidden, keys shown.
BOOST_AUTO_TEST_CASE(show_config_never_prints_secret_values) {
  auto r = load("", {{"COTFLOW_KAFKA_PROPERTIES",
                      "sasl.password=hunter2,ssl.key.password=s3cret"}});
  BOOST_TEST_REQUIRE(r.ok(), joined(r.errors));
  auto text = cotflow::show_config(r.cfg);
  BOOST_TEST(text.find("sasl.password") != std::string::npos);
  BOOST_TEST(text.find("hunter2") == std::string::npos);
  BOOST_TEST(text.find("s3cret") == std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_CASE(the_ingest_needs_an_address_of_its_own) {
  auto same = load("http:\n  address: 127.0.0.1:9180\ningest:\n  address: "
                   "127.0.0.1:9180\n");
  BOOST_TEST(joined(same.errors)
                 .find("ingest.address: '127.0.0.1:9180' is "
                       "http.address too")
               != std::string::npos,
             joined(same.errors));
  auto bad = load("ingest:\n  address: nowhere\n  topic: 'a b'\n");
  BOOST_TEST(joined(bad.errors)
                 .find("ingest.address: 'nowhere' must be "
                       "host:port")
               != std::string::npos,
             joined(bad.errors));
  BOOST_TEST(joined(bad.errors).find("ingest.topic") != std::string::npos);
  auto free_ports = load("http:\n  address: 127.0.0.1:0\ningest:\n  "
                         "address: 127.0.0.1:0\n");
  BOOST_TEST(free_ports.ok(), joined(free_ports.errors));
}

BOOST_AUTO_TEST_SUITE(tak_urls)

BOOST_AUTO_TEST_CASE(tak_urls_in_the_usual_forms_parse) {
  std::string err;
  auto t = cotflow::parse_tak_url("tcp://tak.example.org:8087", err);
  BOOST_REQUIRE(t);
  BOOST_TEST(t->scheme == "tcp");
  BOOST_TEST(t->host == "tak.example.org");
  BOOST_TEST(t->port == 8087);
  auto m = cotflow::parse_tak_url(
    "udp://239.2.3.1:6969?ttl=4&interface=10.1.2.3", err);
  BOOST_REQUIRE(m);
  BOOST_TEST(m->ttl == 4);
  BOOST_TEST(m->interface == "10.1.2.3");
  auto v6 = cotflow::parse_tak_url("tcp://[::1]:8087", err);
  BOOST_REQUIRE(v6);
  BOOST_TEST(v6->host == "::1");
  using choice = cotflow::tak_protocol_choice;
  BOOST_TEST((v6->protocol == choice::xml));
  for (auto [url, want] :
       {std::pair{"tcp://h:1?protocol=negotiate", choice::negotiate},
        std::pair{"tcp://h:1?protocol=1", choice::v1},
        std::pair{"tcp://h:1?protocol=xml", choice::xml},
        std::pair{"udp://h:1?protocol=mesh", choice::mesh}}) {
    auto u = cotflow::parse_tak_url(url, err);
    BOOST_REQUIRE_MESSAGE(u, url << ": " << err);
    BOOST_TEST((u->protocol == want), url);
  }
}

BOOST_AUTO_TEST_CASE(bad_tak_urls_are_refused_with_a_reason) {
  for (auto bad :
       {"tak.example.org:8087", "http://h:1", "tcp://h", "tcp://h:0",
        "tcp://h:70000", "tcp://:8087", "udp://h:1?ttl=300", "tcp://h:1?ttl=2",
        "udp://h:1?x=1", "tcp://h:1?protocol=mesh", "udp://h:1?protocol=1",
        "udp://h:1?protocol=negotiate", "tls://h:1?protocol=2"}) {
    std::string err;
    BOOST_TEST(!cotflow::parse_tak_url(bad, err), bad);
    BOOST_TEST(!err.empty(), bad);
  }
}

// Issue 22: a tls:// destination whose CA, certificate and key are all
// missing said only that the CA was.
BOOST_AUTO_TEST_CASE(every_problem_of_a_tak_url_is_listed_not_only_the_first) {
  const std::string url = "tls://h:8089?ca=/missing/ca.pem"
                          "&cert=/missing/c.pem&key=/missing/k.pem"
                          "&verify=perhaps&coalesce=maybe";
  std::vector<std::string> problems;
  BOOST_TEST(!cotflow::parse_tak_url(url, problems));
  BOOST_TEST(
    problems
      == (std::vector<std::string>{"ca file '/missing/ca.pem' cannot be read",
                                   "cert file '/missing/c.pem' cannot be read",
                                   "key file '/missing/k.pem' cannot be read",
                                   "verify must be true or false",
                                   "coalesce must be true or false"}),
    joined(problems));
  // A bad address does not hide the options' problems, nor the TLS rules.
  problems.clear();
  BOOST_TEST(!cotflow::parse_tak_url("tls://h?cert=/missing/c.pem", problems));
  BOOST_TEST(
    problems
      == (std::vector<std::string>{"'tls://h?cert=/missing/c.pem' has no port",
                                   "cert file '/missing/c.pem' cannot be read",
                                   "cert and key go together"}),
    joined(problems));
  // The one-string form keeps every message.
  std::string err;
  BOOST_TEST(!cotflow::parse_tak_url(url, err));
  BOOST_TEST(err.find("ca file") != std::string::npos, err);
  BOOST_TEST(err.find("; key file") != std::string::npos, err);
  // The configuration reports each with the destination's name.
  auto res = load("tak:\n  destinations:\n    tak: \"" + url + "\"\n");
  for (auto what : {"ca file", "cert file", "key file", "verify", "coalesce"})
    BOOST_TEST(
      joined(res.errors).find(std::string{"tak.destinations.tak: "} + what)
        != std::string::npos,
      what << joined(res.errors));
}

BOOST_AUTO_TEST_CASE(a_bad_destination_is_reported_with_its_name) {
  auto res = cotflow::load_config_text(
    "tak:\n  destinations:\n    good: tcp://h:8087\n    bad: tcp://h\n", "",
    [](const std::string&) { return std::optional<std::string>{}; });
  BOOST_REQUIRE_EQUAL(res.errors.size(), 1u);
  BOOST_TEST(res.errors[0].find("tak.destinations.bad") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_CASE(kafka_properties_from_the_environment_add_to_the_file) {
  auto r = load("kafka:\n  properties:\n    compression.type: lz4\n"
                "    security.protocol: SSL\n",
                {{"COTFLOW_KAFKA_PROPERTIES",
                  "security.protocol=SASL_SSL,sasl.jaas.x=a=b\\,c=d"}});
  BOOST_TEST_REQUIRE(r.ok(), joined(r.errors));
  auto& p = r.cfg.kafka.properties;
  BOOST_TEST(p.at("compression.type") == "lz4");
  BOOST_TEST(p.at("security.protocol") == "SASL_SSL");
  // '=' after the first belongs to the value; "\," is a comma.
  BOOST_TEST(p.at("sasl.jaas.x") == "a=b,c=d");
}

BOOST_AUTO_TEST_CASE(secrets_come_from_the_environment_or_a_file) {
  auto path = "/tmp/cotflow-config-test-secret-" + std::to_string(getpid());
  std::ofstream{path} << "from-a-file\n";
  auto r = load("kafka:\n  properties:\n"
                "    sasl.password: ${env:KAFKA_PASSWORD}\n"
                "    ssl.key.password: ${file:"
                  + path
                  + "}\n"
                    "http:\n  token: ${env:HTTP_TOKEN}\n",
                {{"KAFKA_PASSWORD", "from-the-env"}, {"HTTP_TOKEN", "t0k"}});
  std::remove(path.c_str());
  BOOST_TEST_REQUIRE(r.ok(), joined(r.errors));
  BOOST_TEST(r.cfg.kafka.properties.at("sasl.password") == "from-the-env");
  BOOST_TEST(r.cfg.kafka.properties.at("ssl.key.password") == "from-a-file");
  BOOST_TEST(r.cfg.http.token == "t0k");
  auto shown = cotflow::show_config(r.cfg);
  BOOST_TEST(shown.find("from-the-env") == std::string::npos);
  BOOST_TEST(shown.find("from-a-file") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(missing_secret_sources_are_reported_by_key) {
  auto r = load("kafka:\n  properties:\n"
                "    sasl.password: ${env:NOT_SET_ANYWHERE}\n"
                "    ssl.key.password: ${file:/nonexistent/secret}\n");
  BOOST_TEST(!r.ok());
  auto all = joined(r.errors);
  BOOST_TEST(all.find("kafka.properties.sasl.password: environment variable "
                      "NOT_SET_ANYWHERE is not set")
               != std::string::npos,
             all);
  BOOST_TEST(all.find("kafka.properties.ssl.key.password: cannot read "
                      "/nonexistent/secret")
               != std::string::npos,
             all);
}

BOOST_AUTO_TEST_CASE(a_cpu_quota_caps_the_cpus_used) {
  // cgroup v2 cpu.max: quota and period in µs, "max" for no limit.
  BOOST_CHECK_EQUAL(cotflow::cpus_of_quota("max 100000"), 0u);
  BOOST_CHECK_EQUAL(cotflow::cpus_of_quota("200000 100000"), 2u);
  // A fractional limit (1.5 CPUs, "1500m") rounds up.
  BOOST_CHECK_EQUAL(cotflow::cpus_of_quota("150000 100000"), 2u);
  BOOST_CHECK_EQUAL(cotflow::cpus_of_quota("50000 100000"), 1u);
  // cgroup v1 has -1 for no limit; unreadable files give empty text.
  BOOST_CHECK_EQUAL(cotflow::cpus_of_quota("-1 100000"), 0u);
  BOOST_CHECK_EQUAL(cotflow::cpus_of_quota(" "), 0u);
  BOOST_CHECK_EQUAL(cotflow::cpus_of_quota("100000 0"), 0u);
  BOOST_CHECK_EQUAL(cotflow::cpus_of_quota("abc 100000"), 0u);
  // What this process may use is within what the machine has.
  auto n = cotflow::usable_cpus();
  BOOST_CHECK_GE(n, 1u);
  BOOST_CHECK_LE(n, std::max(1u, std::thread::hardware_concurrency()));
}

BOOST_AUTO_TEST_CASE(encoders_default_to_the_usable_cpus) {
  cotflow::pipeline_config p;
  p.encoders = 0;
  BOOST_CHECK_EQUAL(cotflow::encoder_count(p),
                    static_cast<int64_t>(cotflow::usable_cpus()));
  p.encoders = 3;
  BOOST_CHECK_EQUAL(cotflow::encoder_count(p), 3);
}

BOOST_AUTO_TEST_SUITE(key_table)

BOOST_AUTO_TEST_CASE(every_key_has_a_description_and_a_default_in_bounds) {
  auto defaults = cotflow::default_config();
  std::set<std::string> paths;
  for (const auto& k : cotflow::config_keys())
    BOOST_TEST_CONTEXT(k.path()) {
      BOOST_TEST(std::string{k.description}.size() > 3u);
      BOOST_TEST(paths.insert(k.path()).second, "declared twice");
      auto problem = k.check(defaults);
      BOOST_TEST(!problem, problem.value_or(""));
      BOOST_TEST(defaults.sources.at(k.path()) == "default");
    }
}

BOOST_AUTO_TEST_CASE(a_value_outside_a_keys_bounds_is_reported_with_them) {
  auto c = cotflow::default_config();
  c.tak.breaker_window = 0;
  c.log.level = "loud";
  c.faults.sink_throw_rate = 2;
  auto errors = cotflow::validate(c);
  auto has = [&](const std::string& e) {
    return std::find(errors.begin(), errors.end(), e) != errors.end();
  };
  BOOST_TEST(has("tak.breaker_window: 0 is out of range [1, 100000]"),
             joined(errors));
  BOOST_TEST(has("log.level: 'loud' must be trace, debug, info, warn or "
                 "error"),
             joined(errors));
  BOOST_TEST(has("faults.sink_throw_rate: must be within [0, 1]"),
             joined(errors));
  BOOST_TEST(cotflow::find_key("tak.breaker_window")->bounds == "[1, 100000]");
}

BOOST_AUTO_TEST_CASE(the_hot_keys_are_the_tunables_and_the_log) {
  std::vector<std::string> hot;
  for (const auto& k : cotflow::config_keys())
    if (k.hot())
      hot.push_back(k.path());
  const std::vector<std::string> expected = {
    "pipeline.batch_size",
    "pipeline.batch_age_ms",
    "pipeline.max_in_flight",
    "tak.queue_events",
    "tak.breaker_failures",
    "tak.breaker_failure_rate",
    "tak.breaker_window",
    "tak.breaker_open_min_ms",
    "tak.breaker_open_max_ms",
    "tak.breaker_probes",
    "log.level",
    "log.format",
  };
  BOOST_TEST(hot == expected, boost::test_tools::per_element());
  for (const auto& k : cotflow::config_keys())
    BOOST_TEST(cotflow::hot_reloadable(k.path()) == k.hot(), k.path());
  BOOST_TEST(!cotflow::hot_reloadable("no.such_key"));
}

namespace {

/// C++ source without its comments and string literals (so that a key
/// named in a log line or a comment is not taken for a read of it).
std::string code_of(const std::string& src) {
  std::string out;
  size_t i = 0, n = src.size();
  while (i < n) {
    if (src.compare(i, 2, "//") == 0) {
      i = src.find('\n', i);
      i = i == std::string::npos ? n : i;
    } else if (src.compare(i, 2, "/*") == 0) {
      i = src.find("*/", i + 2);
      i = i == std::string::npos ? n : i + 2;
    } else if (src.compare(i, 2, "R\"") == 0) {
      auto open = src.find('(', i);
      auto close = ")" + src.substr(i + 2, open - i - 2) + "\"";
      i = src.find(close, open);
      i = i == std::string::npos ? n : i + close.size();
      out += "\"\"";
    } else if (src[i] == '"' || src[i] == '\'') {
      char quote = src[i++];
      while (i < n && src[i] != quote)
        i += src[i] == '\\' ? 2 : 1;
      ++i;
      out += "\"\"";
    } else {
      out += src[i++];
    }
  }
  return out;
}

} // namespace

// A hot key that no actor reads is reported "applied" on a reload and
// changes nothing. Actors read the running configuration that `tunables`
// carries, so there is no list of hot keys to compare the table with; what
// a test can see without a pipeline is the code: some file of actors/ or
// pipeline/ (a .hpp and its .cpp count as one) must read the key's member,
// through its section (`current.log.level`), through a name given to its
// section (`auto& cfg = t.running->tak;` ... `cfg.queue_events`) or in a
// file that names the section's struct (`c.breaker_probes` in
// `breaker_settings::from(const tak_config& c)`). It cannot tell a read at
// start from a read on reload: the actor tests and integration/reload.cpp
// show that the reads happen on reload.
BOOST_AUTO_TEST_CASE(every_hot_key_is_read_outside_config) {
  namespace fs = std::filesystem;
  const fs::path root = COTFLOW_SOURCE_DIR;
  std::map<std::string, std::string> units; // path without extension -> code
  for (auto dir : {"actors", "pipeline"})
    for (auto& e : fs::recursive_directory_iterator(root / dir)) {
      auto ext = e.path().extension();
      if (!e.is_regular_file() || (ext != ".cpp" && ext != ".hpp"))
        continue;
      std::ifstream in{e.path()};
      std::stringstream text;
      text << in.rdbuf();
      auto unit = fs::path{e.path()}.replace_extension().string();
      units[unit] += code_of(text.str()) + "\n";
    }
  BOOST_TEST_REQUIRE(units.size() > 10u, "no sources under " << root);
  size_t hot = 0;
  for (const auto& k : cotflow::config_keys()) {
    if (!k.hot())
      continue;
    ++hot;
    const std::string section = k.section, name = k.name;
    const std::regex via_section{"\\b" + section + "\\s*\\.\\s*" + name
                                 + "\\b"};
    const std::regex as_member{"(\\.|->)\\s*" + name + "\\b"};
    const std::regex section_struct{"\\b" + section + "_config\\b"};
    // `auto& cfg = t.running->tak;` names the section `cfg`.
    const std::regex alias{"(\\w+)\\s*=\\s*[\\w.>-]*(\\.|->)" + section
                           + "\\s*;"};
    auto via_alias = [&](const std::string& code) {
      for (std::sregex_iterator m{code.begin(), code.end(), alias}, end;
           m != end; ++m)
        if (std::regex_search(code, std::regex{"\\b" + (*m)[1].str()
                                               + "\\s*\\.\\s*" + name + "\\b"}))
          return true;
      return false;
    };
    bool read = false;
    // Each way of reading the key names it: code that does not is not
    // searched (std::regex is slow, under ASan above all).
    for (auto& [unit, code] : units)
      read = read
             || (code.find(name) != std::string::npos
                 && (std::regex_search(code, via_section) || via_alias(code)
                     || (std::regex_search(code, section_struct)
                         && std::regex_search(code, as_member))));
    BOOST_TEST(read, k.path() << " is hot, but no code in "
                                 "actors/ or pipeline/ reads it");
  }
  BOOST_TEST(hot > 0u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(reloading)

BOOST_AUTO_TEST_CASE(a_hot_keys_change_is_applied) {
  auto running = cotflow::default_config();
  auto loaded = load("pipeline:\n  batch_size: 10\n");
  BOOST_TEST_REQUIRE(loaded.ok(), joined(loaded.errors));
  auto plan = cotflow::plan_reload(running, loaded.cfg);
  BOOST_TEST(plan.applied == std::vector<std::string>{"pipeline.batch_size"},
             boost::test_tools::per_element());
  BOOST_TEST(plan.restart_required.empty());
  BOOST_TEST(plan.next.pipeline.batch_size == 10);
  BOOST_TEST(plan.next.sources.at("pipeline.batch_size") == "file");
  BOOST_TEST(plan.next.file == running.file);
}

BOOST_AUTO_TEST_CASE(a_restart_keys_change_is_reported_and_not_applied) {
  auto running = cotflow::default_config();
  auto loaded = load("kafka:\n  group_id: another\npipeline:\n"
                     "  batch_size: 10\n");
  BOOST_TEST_REQUIRE(loaded.ok(), joined(loaded.errors));
  auto plan = cotflow::plan_reload(running, loaded.cfg);
  BOOST_TEST(plan.restart_required
               == std::vector<std::string>{"kafka.group_id"},
             boost::test_tools::per_element());
  BOOST_TEST(plan.applied == std::vector<std::string>{"pipeline.batch_size"},
             boost::test_tools::per_element());
  BOOST_TEST(plan.next.kafka.group_id == "cotflow");
  BOOST_TEST(plan.next.sources.at("kafka.group_id") == "default");
  BOOST_TEST(plan.next.pipeline.batch_size == 10);
}

BOOST_AUTO_TEST_CASE(every_key_is_either_applied_or_needs_a_restart) {
  auto running = cotflow::default_config();
  for (const auto& k : cotflow::config_keys())
    BOOST_TEST_CONTEXT(k.path()) {
      // Another value of the key, whatever its type.
      auto loaded = running;
      std::visit(
        [&](auto& field) {
          auto& v = field(loaded);
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, bool>)
            v = !v;
          else if constexpr (std::is_arithmetic_v<T>)
            v = v + 1;
          else if constexpr (std::is_same_v<T, std::string>)
            v += "x";
          else if constexpr (std::is_same_v<T, std::vector<std::string>>)
            v.push_back("x");
          else if constexpr (std::is_same_v<T, cotflow::presentation_rule>)
            v.how += "x";
          else
            v["x"] = {};
        },
        k.field);
      auto plan = cotflow::plan_reload(running, loaded);
      const std::vector<std::string> just_this = {k.path()};
      if (k.hot()) {
        BOOST_TEST(plan.applied == just_this, boost::test_tools::per_element());
        BOOST_TEST(plan.restart_required.empty());
        BOOST_TEST(cotflow::changed_keys(plan.next, loaded).empty());
      } else {
        BOOST_TEST(plan.restart_required == just_this,
                   boost::test_tools::per_element());
        BOOST_TEST(plan.applied.empty());
        BOOST_TEST(cotflow::changed_keys(plan.next, running).empty());
      }
    }
}

BOOST_AUTO_TEST_CASE(an_unchanged_configuration_plans_nothing) {
  auto running = cotflow::default_config();
  auto plan = cotflow::plan_reload(running, load("").cfg);
  BOOST_TEST(plan.applied.empty());
  BOOST_TEST(plan.restart_required.empty());
}

BOOST_AUTO_TEST_CASE(a_changed_secret_is_reported_though_it_is_never_shown) {
  // Both render as "(hidden)" in config show.
  auto running = load("http:\n  token: old-token\nkafka:\n  properties:\n"
                      "    sasl.password: hunter1\n");
  auto loaded = load("http:\n  token: new-token\nkafka:\n  properties:\n"
                     "    sasl.password: hunter2\n");
  BOOST_TEST_REQUIRE(running.ok(), joined(running.errors));
  BOOST_TEST_REQUIRE(loaded.ok(), joined(loaded.errors));
  auto plan = cotflow::plan_reload(running.cfg, loaded.cfg);
  BOOST_TEST(plan.restart_required
               == (std::vector<std::string>{"kafka.properties", "http.token"}),
             boost::test_tools::per_element());
  BOOST_TEST(plan.next.http.token == "old-token");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(presentation)

BOOST_AUTO_TEST_CASE(presentation_is_off_by_default) {
  auto c = cotflow::default_config();
  BOOST_TEST(c.presentation.sources.empty());
  BOOST_TEST(c.presentation.types.empty());
  BOOST_TEST((c.presentation.low_confidence == cotflow::presentation_rule{}));
}

BOOST_AUTO_TEST_CASE(every_presentation_field_is_read_from_yaml) {
  auto r = load(full_yaml);
  BOOST_TEST_REQUIRE(r.ok(), joined(r.errors));
  const auto& p = r.cfg.presentation;
  BOOST_TEST_REQUIRE(p.sources.size() == 2u);
  const auto& cam = p.sources.at("cam-north");
  BOOST_TEST(cam.how == "m-i");
  BOOST_TEST(cam.color == "#FF00FF00");
  BOOST_TEST(cam.icon
             == "f7f71666-8b28-4b57-9fbb-e38e61d33b79/Google/camera.png");
  BOOST_TEST_REQUIRE(cam.team.has_value());
  BOOST_TEST(cam.team->name == "Dark Blue");
  BOOST_TEST(cam.team->role == "Team Lead");
  BOOST_TEST(cam.team->endpoint == "*:-1:stcp");
  BOOST_TEST_REQUIRE(cam.sensor.has_value());
  BOOST_TEST(cam.sensor->uid == "cam-north-1");
  BOOST_TEST(cam.sensor->callsign == "North gate");
  BOOST_TEST(cam.sensor->lat == 48.8566123);
  BOOST_TEST(cam.sensor->lon == 2.3522219);
  BOOST_TEST(cam.sensor->hae == 35);
  BOOST_TEST(cam.sensor->azimuth == 270);
  BOOST_TEST(cam.sensor->fov == 60);
  BOOST_TEST(cam.sensor->vfov == 40);
  BOOST_TEST(cam.sensor->range == 800);
  BOOST_TEST(cam.sensor->placed());
  const auto& radar = p.sources.at("radar");
  BOOST_TEST(radar.how == "m-r");
  BOOST_TEST(!radar.sensor->placed());
  BOOST_TEST(std::isnan(radar.sensor->lat));
  BOOST_TEST(radar.sensor->type == "a-f-G-E-S");
  BOOST_TEST(p.types.at("a-h").color == "#FFFF0000");
  BOOST_TEST(p.low_confidence.type == "a-u-G");
  BOOST_TEST(p.low_confidence.how == "h-e");
}

BOOST_AUTO_TEST_CASE(every_presentation_problem_is_listed) {
  auto r = load(R"(
cot:
  low_confidence: drop
presentation:
  sources:
    cam:
      how: gps
      colour: "#FFFF0000"
      color: red
      icon: camera.png
      type: a-h-G
      team: {name: Cyan Blue, role: Captain, rol: x}
      sensor: {lat: 91, lon: 2, azimut: 10, fov: 0, range: -5, hae: high,
               type: "b m"}
    cam2: {sensor: {lon: 2}}
    radar: [m-r]
  types:
    a-h: {sensor: {lat: 1, lon: 2}, how: m-x-}
    A h: {}
  low_confidence: {team: {name: Cyan}, type: "a h"}
)");
  BOOST_TEST(!r.ok());
  // What cannot be read, word for word...
  for (const char* expected :
       {"presentation.sources.cam.colour: unknown key (did you mean color?)",
        "presentation.sources.cam.team.rol: unknown key (did you mean role?)",
        "presentation.sources.cam.sensor.azimut: unknown key (did you mean "
        "azimuth?)",
        "presentation.sources.cam.sensor.hae: expected a number, got 'high'",
        "presentation.sources.radar: expected a mapping"})
    BOOST_TEST_CONTEXT(expected) {
      BOOST_TEST(std::count(r.errors.begin(), r.errors.end(), expected) == 1,
                 joined(r.errors));
    }
  // ... and every value that is read but wrong.
  for (const char* path :
       {"presentation.sources.cam.how:", "presentation.sources.cam.color:",
        "presentation.sources.cam.icon:", "presentation.sources.cam.type:",
        "presentation.sources.cam.team.name:",
        "presentation.sources.cam.team.role:",
        "presentation.sources.cam.sensor.lat:",
        "presentation.sources.cam.sensor.fov:",
        "presentation.sources.cam.sensor.range:",
        "presentation.sources.cam.sensor.type:",
        "presentation.sources.cam2.sensor:", "presentation.types.a-h.sensor:",
        "presentation.types.a-h.how:", "presentation.types.A h:",
        "presentation.low_confidence.team:",
        "presentation.low_confidence.type:",
        "presentation.low_confidence: applies only with"})
    BOOST_TEST_CONTEXT(path) {
      BOOST_TEST(has_error(r.errors, path), joined(r.errors));
    }
}

BOOST_AUTO_TEST_CASE(a_bad_presentation_from_the_environment_names_it) {
  auto r = load("", {{"COTFLOW_PRESENTATION_SOURCES", "{cam: {colr: x}}"},
                     {"COTFLOW_PRESENTATION_TYPES", "[a-h]"}});
  BOOST_TEST(!r.ok());
  BOOST_TEST(has_error(r.errors, "presentation.sources.cam.colr (from "
                                 "COTFLOW_PRESENTATION_SOURCES): unknown key"),
             joined(r.errors));
  BOOST_TEST(has_error(r.errors, "presentation.types (from "
                                 "COTFLOW_PRESENTATION_TYPES): expected a "
                                 "YAML mapping"),
             joined(r.errors));
}

BOOST_AUTO_TEST_CASE(colours_are_atak_signed_argb_integers) {
  using cotflow::argb_of;
  BOOST_TEST(*argb_of("#FFFF0000") == -65536);
  BOOST_TEST(*argb_of("#ff0000") == -65536); // #RRGGBB is opaque
  BOOST_TEST(*argb_of("#FFFFFFFF") == -1);
  BOOST_TEST(*argb_of("#7F00FF00") == 0x7F00FF00);
  BOOST_TEST(*argb_of("#00000000") == 0);
  for (const char* bad :
       {"", "FF0000", "#FF00", "#GG0000", "#FF00000", "#FFFF00000", "red"})
    BOOST_TEST_CONTEXT(bad) {
      BOOST_TEST(!argb_of(bad).has_value());
    }
}

BOOST_AUTO_TEST_CASE(a_presentation_change_needs_a_restart) {
  auto running = cotflow::default_config();
  auto loaded = load("presentation:\n  types:\n    a-h: {how: m-f}\n");
  BOOST_TEST_REQUIRE(loaded.ok(), joined(loaded.errors));
  auto plan = cotflow::plan_reload(running, loaded.cfg);
  BOOST_TEST(plan.restart_required
               == std::vector<std::string>{"presentation.types"},
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()
