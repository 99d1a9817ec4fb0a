#pragma once

#include "config/config.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

/// The table of configuration keys: each key declared once, with its
/// description, default, bounds and whether a reload applies it (as
/// Redpanda's `config/configuration.cc`). Defaults, range checks,
/// environment overrides, `config show`, unknown-key detection and hot
/// reload all walk this table.
namespace cotflow {

/// When a changed value of a key takes effect in a running process.
enum class takes_effect {
  /// Read once at start; a reload reports the change and keeps the value.
  on_restart,
  /// A reload (SIGHUP or a changed file) copies the new value into the
  /// running configuration's field of the key; the pipeline then passes
  /// the running configuration on (`tunables` to the actors, the log
  /// settings to the logger).
  on_reload,
};

/// Where a key of value type `T` is stored in a config.
template <class T>
using key_field = std::function<T&(config&)>;

/// A key's storage, by its value type (the types a key can have).
using key_storage = std::variant<
  key_field<std::string>, key_field<int64_t>, key_field<double>,
  key_field<bool>, key_field<std::vector<std::string>>,
  key_field<std::map<std::string, std::string>>,
  key_field<std::map<std::string, int64_t>>, key_field<presentation_rule>,
  key_field<std::map<std::string, presentation_rule>>>;

/// One row of the table: a documented key and everything known about it.
struct config_key {
  /// The YAML section and key; the path is "section.key".
  const char* section;
  const char* name;
  /// One line for `config show` and `deploy/cotflow.yaml`.
  const char* description;
  takes_effect effect = takes_effect::on_restart;
  key_storage field;
  /// Writes the key's default into a config.
  std::function<void(config&)> set_default;
  /// Checks the key's value against its own bounds (range, allowed values,
  /// not empty): the problem with the key's path, or nothing. Rules that
  /// relate keys to each other live in `validate()`.
  std::function<std::optional<std::string>(const config&)> check;
  /// The bounds in words ("[1, 100000]", "drop or flag"); empty for none.
  std::string bounds;

  /// "section.key".
  std::string path() const;
  /// COTFLOW_SECTION_KEY, the environment variable that overrides it.
  std::string env_name() const;
  /// Whether a reload applies it (see takes_effect).
  bool hot() const {
    return effect == takes_effect::on_reload;
  }
};

/// Why `name` cannot be a Kafka topic (Kafka's rule: 1-249 characters of
/// [A-Za-z0-9._-], not "." or ".."), or nothing.
std::optional<std::string> topic_name_problem(const std::string& name);

/// Why `brokers` is not a bootstrap list host:port[,host:port...] (each
/// address may start with a security protocol, SSL://host:port, as
/// librdkafka allows) nor the word `embedded`, or nothing.
std::optional<std::string> broker_list_problem(const std::string& brokers);

/// Every key, grouped by section in the order `config show` prints them.
const std::vector<config_key>& config_keys();

/// The key of path "section.key", or null.
const config_key* find_key(const std::string& path);

} // namespace cotflow
