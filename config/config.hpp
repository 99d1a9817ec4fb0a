#pragma once

#include "config/presentation.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

/// Typed configuration of cotflow. Depends on nothing else in the project.
/// Every key's default, bounds and description are declared once, in the
/// table of config/keys.cpp; the structs below are only its storage, so
/// their members start empty or zero (`default_config()` fills them).
namespace cotflow {

/// Where the Kafka side of the pipeline lives.
struct kafka_config {
  std::string brokers;
  std::string group_id;
  std::string client_id;
  std::vector<std::string> input_topics;
  std::string output_topic;
  std::string dead_letter_topic;
  /// Prefix of the parking topics: destination X parks to "<prefix>.X".
  /// Empty: no parking (an open breaker holds events in memory).
  std::string parking_topic;
  int64_t session_timeout_ms = 0;
  /// How long revoked partitions wait for their records in flight.
  int64_t revoke_drain_ms = 0;
  /// Static membership: "" (off), "hostname", or the id itself.
  std::string group_instance_id;
  /// librdkafka properties passed through verbatim to every client.
  std::map<std::string, std::string> properties;
  /// Set (not configured) when brokers is an embedded broker: this
  /// process's, or another's that answers as one (recognized at start).
  bool embedded = false;
};

/// Batching, bounds and timing of the actor pipeline.
struct pipeline_config {
  int64_t batch_size = 0;
  int64_t batch_age_ms = 0;
  int64_t max_in_flight = 0;
  int64_t encoders = 0;
  int64_t commit_interval_ms = 0;
  int64_t max_record_bytes = 0;
  int64_t max_text_bytes = 0;
  int64_t drain_timeout_ms = 0;
  int64_t poll_timeout_ms = 0;
};

/// How detections become CoT events.
struct cot_config {
  std::string default_type;
  std::string how;
  int64_t stale_s = 0;
  /// Time to live per CoT type prefix; the longest matching prefix wins.
  std::map<std::string, int64_t> stale_by_type;
  int64_t max_age_s = 0;
  double min_confidence = 0;
  /// "drop" or "flag" for records below min_confidence.
  std::string low_confidence;
  std::string uid_prefix;
  std::string missing_time;
  /// "refuse" or "clamp" a number outside the range TAK Server keeps.
  std::string out_of_range;
  /// Most vertices of a GeoJSON LineString or Polygon.
  int64_t max_vertices = 0;
  /// classification -> CoT type suffix after the affiliation ("G-U-C-I").
  std::map<std::string, std::string> classification_types;
  /// affiliation word -> one-letter CoT affiliation ("hostile" -> "h").
  std::map<std::string, std::string> affiliation_codes;
};

/// Where CoT events go.
struct sinks_config {
  bool kafka = false;
  /// One event per line; empty disables the file sink.
  std::string file;
};

/// Streaming CoT to TAK servers.
struct tak_config {
  /// Destination name -> URL.
  std::map<std::string, std::string> destinations;
  int64_t connect_timeout_ms = 0;
  int64_t write_timeout_ms = 0;
  int64_t reconnect_min_ms = 0;
  int64_t reconnect_max_ms = 0;
  /// A connection up this long resets the reconnect backoff.
  int64_t healthy_after_ms = 0;
  /// Most bytes gathered into one socket write.
  int64_t write_bytes = 0;
  /// TCP and TLS destinations send a t-x-c-t ping this often; 0 = never.
  int64_t ping_interval_ms = 0;
  /// No bytes from the server this long after a ping: the link is dead.
  int64_t ping_timeout_ms = 0;
  int64_t ping_silent_cycles = 0;
  /// While events are written, a ping also goes out every this many bytes.
  int64_t ping_every_bytes = 0;
  /// protocol=negotiate: how long to look for the server's offer of TAK
  /// Protocol version 1, and to wait for the answer to the request.
  int64_t negotiate_offer_ms = 0;
  int64_t negotiate_response_ms = 0;
  /// cotflow's identity event on each new TCP/TLS connection.
  std::string hello_uid;
  std::string hello_callsign;
  /// Events written on a connection that then fails are sent again, up to
  /// this many of the latest bytes: the kernel accepted them but the server
  /// may never have read them (TAK has no acknowledgement).
  int64_t replay_bytes = 0;
  int64_t resend_margin_bytes = 0;
  /// Events one destination holds in memory; beyond that (or while its
  /// breaker is open) its events go to its parking topic.
  int64_t queue_events = 0;
  /// Circuit breaker of each destination (see circuit_breaker).
  int64_t breaker_failures = 0;
  double breaker_failure_rate = 0;
  int64_t breaker_window = 0;
  int64_t breaker_open_min_ms = 0;
  int64_t breaker_open_max_ms = 0;
  int64_t breaker_probes = 0;
};

/// Restarts of failed actors (OTP-style intensity).
struct supervision_config {
  int64_t max_restarts = 0;
  int64_t window_ms = 0;
  int64_t backoff_min_ms = 0;
  int64_t backoff_max_ms = 0;
};

/// Fault injection for tests and demos; everything off by default.
struct faults_config {
  /// Share of records on which an encoder worker throws (0..1).
  double encoder_throw_rate = 0;
  /// The source goes through a rebalance of its whole assignment this
  /// often (0 = never).
  int64_t rebalance_interval_ms = 0;
  /// Share of CoT batches on which a destination actor (Kafka or TAK sink)
  /// throws: the root supervisor restarts the pipeline.
  double sink_throw_rate = 0;
  /// The TAK destination of this name fails every connect and write from
  /// `destination_down_after_ms` after start for `destination_down_for_ms`.
  std::string destination_down;
  int64_t destination_down_after_ms = 0;
  int64_t destination_down_for_ms = 0;
};

/// The operations HTTP port.
struct http_config {
  /// host:port to listen on; empty disables the endpoints.
  std::string address;
  /// When set, every path but /metrics and /health/* needs
  /// "Authorization: Bearer <token>".
  std::string token;
  /// /health/ready turns 503 when no partition is assigned this long.
  int64_t ready_timeout_ms = 0;
};

/// HTTP detection ingest (POST /v1/detections), off unless an address is
/// set.
struct ingest_config {
  /// host:port to listen on; empty: off.
  std::string address;
  /// When set, requests need "Authorization: Bearer <token>".
  std::string token;
  /// The topic records go to; empty: the first of kafka.input_topics.
  std::string topic;
  /// Larger request bodies are refused (413).
  int64_t max_body_bytes = 0;
  /// How long a request waits for Kafka to confirm its records (then 503).
  int64_t timeout_ms = 0;
  /// HTTPS: a PEM file with the server's certificate (and chain) and its
  /// private key; empty: plain HTTP.
  std::string tls_cert;
  /// With tls_cert: clients must present a certificate signed by a CA of
  /// this PEM file (mutual TLS); empty: any client.
  std::string tls_client_ca;
};

/// Structured logging.
struct log_config {
  std::string level;
  std::string format;
};

/// The whole, validated configuration.
struct config {
  kafka_config kafka;
  pipeline_config pipeline;
  cot_config cot;
  presentation_config presentation;
  sinks_config sinks;
  tak_config tak;
  http_config http;
  ingest_config ingest;
  supervision_config supervision;
  faults_config faults;
  log_config log;
  /// The file it came from, empty for defaults only.
  std::string file;
  /// Key path -> "default", "file" or "env COTFLOW_...".
  std::map<std::string, std::string> sources;
};

/// Returns a configuration with every key's default from the table.
config default_config();

/// The outcome of loading: a config, or every problem found.
struct load_result {
  config cfg;
  std::vector<std::string> errors;
  /// What was ignored but may be a mistake (a misspelt COTFLOW_*
  /// variable); the configuration is usable.
  std::vector<std::string> warnings;
  bool ok() const {
    return errors.empty();
  }
};

/// Looks up an environment variable; replaceable in tests.
using env_lookup
  = std::function<std::optional<std::string>(const std::string&)>;

/// The process environment.
env_lookup process_env();

/// The names of the process's environment variables that start with
/// COTFLOW_ (see unknown_env_vars).
std::vector<std::string> process_env_names();

/// A warning for each of `names` that claims to override a key but is
/// none: COTFLOW_<SECTION>_... with a section of the configuration, not
/// the variable of one of its keys, with the nearest key's variable. Other
/// COTFLOW_* names are left alone: scripts, tests and build tools use
/// them for their own purposes (COTFLOW_BIN, COTFLOW_REQUIRE_SHARED).
std::vector<std::string>
unknown_env_vars(const std::vector<std::string>& names);

/// Finds the config file: `explicit_path`, else the SPEC search order.
std::optional<std::string> find_config_file(const std::string& explicit_path);

/// Loads YAML text (may be empty) plus environment overrides, validates,
/// and reports all problems at once with their key paths. `env_names`, the
/// names of the variables set, are checked for misspelt overrides
/// (warnings).
load_result load_config_text(const std::string& yaml, const std::string& file,
                             const env_lookup& env,
                             const std::vector<std::string>& env_names = {});

/// Loads from the search path (or `explicit_path`) and the environment.
load_result load_config(const std::string& explicit_path, const env_lookup& env,
                        const std::vector<std::string>& env_names = {});

/// Edits (insert, delete, replace one character) from `a` to `b`.
size_t edit_distance(const std::string& a, const std::string& b);

/// " (did you mean X?)" for the candidate nearest to `unknown`, when it is
/// near enough to be a misspelling of it (at most a third of it changed);
/// else nothing. For configuration keys and command-line words alike.
std::string did_you_mean(const std::string& unknown,
                         const std::vector<std::string>& candidates);

/// `s` as a double-quoted YAML scalar (`config show`).
std::string yaml_quote(const std::string& s);

/// Checks ranges and cross-key rules; returns every problem.
std::vector<std::string> validate(const config& cfg);

/// Renders the effective config as YAML, each key commented with its source.
std::string show_config(const config& cfg);

/// The keys (section.key) whose values differ between `a` and `b`.
std::vector<std::string> changed_keys(const config& a, const config& b);

/// Keys a running pipeline applies on a reload; the others need a restart.
bool hot_reloadable(const std::string& key);

/// What a reload does with a newly loaded configuration.
struct reload_plan {
  /// The running configuration with the changed hot keys taken over.
  config next;
  /// Hot keys whose values changed; `next` holds their new values.
  std::vector<std::string> applied;
  /// Keys whose values changed but take effect only after a restart;
  /// `next` keeps their running values.
  std::vector<std::string> restart_required;
};

/// Compares `running` with `loaded` key by key (see config/keys.hpp).
/// `next` is not validated: a mix of running restart keys and new hot keys
/// may break a rule between keys that `loaded` alone kept.
reload_plan plan_reload(const config& running, const config& loaded);

/// Number of encoder workers to run (resolves 0 to usable_cpus()).
int64_t encoder_count(const pipeline_config& cfg);

/// The CPUs this process can use, at least 1: the CPUs in its affinity mask
/// (taskset, cpusets), capped by a CFS quota (a container's CPU limit) on
/// its cgroup or an ancestor, rounded up. hardware_concurrency() alone
/// counts the node's CPUs, so a pod limited to 2 of 64 ran 64 encoders.
unsigned usable_cpus();

/// CPUs allowed by a CFS quota, rounded up; 0 for no limit or unreadable
/// text. `cpu_max` is a cgroup v2 cpu.max ("max 100000", "150000 100000");
/// for cgroup v1 pass "QUOTA PERIOD" from cpu.cfs_quota_us/cfs_period_us
/// (a quota of -1 is no limit).
unsigned cpus_of_quota(const std::string& cpu_max);

} // namespace cotflow
