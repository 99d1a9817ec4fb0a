#include "config/keys.hpp"

#include "pipeline/core/text.hpp"

#include <algorithm>
#include <cctype>
#include <sstream>
#include <type_traits>
#include <utility>

namespace cotflow {

std::optional<std::string> topic_name_problem(const std::string& name) {
  // Kafka's own rule (clients and brokers refuse anything else).
  bool legal = !name.empty() && name.size() <= 249 && name != "."
               && name != "..";
  for (unsigned char ch : name)
    legal = legal && (std::isalnum(ch) || ch == '.' || ch == '_' || ch == '-');
  if (legal)
    return std::nullopt;
  return "'" + name
         + "' is not a Kafka topic name (1-249 characters of "
           "[A-Za-z0-9._-], not . or ..)";
}

namespace {

/// Why one entry of a bootstrap list is not [SCHEME://]host:port.
std::optional<std::string> broker_problem(std::string b) {
  auto bad = [&b](const std::string& why) {
    return std::optional<std::string>{"'" + b + "' " + why};
  };
  // librdkafka takes a security protocol in front of each address.
  if (auto sep = b.find("://"); sep != std::string::npos) {
    auto scheme = b.substr(0, sep);
    std::transform(scheme.begin(), scheme.end(), scheme.begin(),
                   [](unsigned char c) { return std::toupper(c); });
    if (scheme != "PLAINTEXT" && scheme != "SSL" && scheme != "SASL_PLAINTEXT"
        && scheme != "SASL_SSL")
      return bad("has an unknown scheme (PLAINTEXT, SSL, SASL_PLAINTEXT or "
                 "SASL_SSL)");
    b = b.substr(sep + 3);
  }
  auto colon = b.rfind(':');
  if (colon == std::string::npos || colon == 0)
    return bad("is not host:port");
  auto host = b.substr(0, colon);
  auto port = parse_int(b.substr(colon + 1));
  bool host_ok = true;
  if (host.front() == '[') {
    host_ok = host.size() > 2 && host.back() == ']';
    for (size_t i = 1; host_ok && i + 1 < host.size(); ++i)
      host_ok = std::isxdigit(static_cast<unsigned char>(host[i]))
                || host[i] == ':' || host[i] == '.';
  } else {
    for (unsigned char ch : host)
      host_ok = host_ok
                && (std::isalnum(ch) || ch == '.' || ch == '-' || ch == '_');
  }
  if (!host_ok)
    return bad("is not host:port (a host name, an IPv4 address or [IPv6])");
  if (!port || *port < 1 || *port > 65535)
    return bad("is not host:port (a port in 1..65535)");
  return std::nullopt;
}

} // namespace

std::optional<std::string> broker_list_problem(const std::string& brokers) {
  if (brokers == "embedded")
    return std::nullopt;
  auto trim = [](std::string s) {
    auto first = s.find_first_not_of(" \t");
    auto last = s.find_last_not_of(" \t");
    return first == std::string::npos ? std::string{}
                                      : s.substr(first, last - first + 1);
  };
  size_t start = 0;
  for (;;) {
    auto comma = brokers.find(',', start);
    auto entry = trim(brokers.substr(start, comma - start));
    if (entry.empty())
      return "'" + brokers
             + "' has an empty entry (host:port[,host:port...] or embedded)";
    if (auto p = broker_problem(entry))
      return *p + (entry == brokers ? std::string{} : " in '" + brokers + "'")
             + " (expected host:port[,host:port...] or embedded)";
    if (comma == std::string::npos)
      return std::nullopt;
    start = comma + 1;
  }
}

namespace {

std::string text_of(int64_t v) {
  return std::to_string(v);
}

std::string text_of(double v) {
  std::ostringstream out;
  out << v;
  return out.str();
}

/// Builds one row of the table. A row reads
///
///   COTFLOW_KEY(pipeline, batch_size, "records per batch (max)")
///     .defaults_to(50).range(1, 100000).hot(),
///
/// Without `defaults_to` the default is the empty or zero value; without
/// `hot` a change needs a restart.
template <class T>
class key_decl {
public:
  key_decl(const char* section, const char* name, const char* description,
           key_field<T> field)
    : section_{section}, name_{name},
      description_{description}, field_{std::move(field)} {}

  /// The value when neither the file nor the environment sets one.
  key_decl& defaults_to(T value) {
    default_ = std::move(value);
    return *this;
  }

  /// A reload applies a change of this key (see takes_effect). Only for a
  /// key whose users take a new value while running: the actors read
  /// theirs from the running configuration that `tunables` carries, the
  /// logger is reconfigured; any other key would be reported applied but
  /// unused (the config test every_hot_key_is_read_outside_config catches
  /// a hot key nothing reads).
  key_decl& hot() {
    effect_ = takes_effect::on_reload;
    return *this;
  }

  /// The value must be within [lo, hi].
  key_decl& range(T lo, T hi) {
    static_assert(std::is_arithmetic_v<T>, "range() needs a number");
    auto b = "[" + text_of(lo) + ", " + text_of(hi) + "]";
    // The two messages are the ones validate() always gave.
    if constexpr (std::is_integral_v<T>)
      return add_check(b,
                       [lo, hi, b](const T& v) -> std::optional<std::string> {
                         if (v >= lo && v <= hi)
                           return std::nullopt;
                         return text_of(v) + " is out of range " + b;
                       });
    else
      return add_check(b,
                       [lo, hi, b](const T& v) -> std::optional<std::string> {
                         if (v >= lo && v <= hi)
                           return std::nullopt;
                         return "must be within " + b;
                       });
  }

  /// The value must be one of `allowed`.
  key_decl& one_of(std::vector<std::string> allowed) {
    static_assert(std::is_same_v<T, std::string>, "one_of() needs a string");
    std::string b;
    for (size_t i = 0; i < allowed.size(); ++i)
      b += (i == 0 ? "" : i + 1 == allowed.size() ? " or " : ", ") + allowed[i];
    return add_check(b, [allowed, b](const T& v) -> std::optional<std::string> {
      if (std::find(allowed.begin(), allowed.end(), v) != allowed.end())
        return std::nullopt;
      return "'" + v + "' must be " + b;
    });
  }

  /// The value must not be empty; `why` is the message when it is.
  key_decl& not_empty(std::string why = "must not be empty") {
    return add_check("not empty",
                     [why](const T& v) -> std::optional<std::string> {
                       if (!v.empty())
                         return std::nullopt;
                       return why;
                     });
  }

  /// The value (each one, for a list) must have the form `form` ("a Kafka
  /// topic name"): `problem` says why one has not, or nothing. An empty
  /// string is left to not_empty() and the rules between keys.
  key_decl& form(std::string form,
                 std::optional<std::string> (*problem)(const std::string&)) {
    return add_check(form, [problem](const T& v) -> std::optional<std::string> {
      if constexpr (std::is_same_v<T, std::string>) {
        return v.empty() ? std::nullopt : problem(v);
      } else {
        static_assert(std::is_same_v<T, std::vector<std::string>>,
                      "form() needs a string or a list of strings");
        std::optional<std::string> all; // every bad item, not the first
        for (auto& item : v)
          if (auto p = problem(item))
            all = all ? *all + "; " + *p : *p;
        return all;
      }
    });
  }

  operator config_key() const {
    config_key k;
    k.section = section_;
    k.name = name_;
    k.description = description_;
    k.effect = effect_;
    k.field = field_;
    k.set_default = [f = field_, v = default_](config& c) { f(c) = v; };
    k.bounds = bounds_;
    // The first bound a value breaks is its problem.
    k.check = [f = field_, checks = checks_, path = k.path()](const config& c) {
      for (auto& check : checks)
        if (auto problem = check(f(const_cast<config&>(c))))
          return std::optional{path + ": " + *problem};
      return std::optional<std::string>{};
    };
    return k;
  }

private:
  using check_fn = std::function<std::optional<std::string>(const T&)>;

  key_decl& add_check(const std::string& bounds, check_fn check) {
    bounds_ += (bounds_.empty() ? "" : "; ") + bounds;
    checks_.push_back(std::move(check));
    return *this;
  }

  const char* section_;
  const char* name_;
  const char* description_;
  key_field<T> field_;
  T default_{};
  takes_effect effect_ = takes_effect::on_restart;
  std::vector<check_fn> checks_;
  std::string bounds_;
};

template <class F>
auto declare(const char* section, const char* name, const char* description,
             F field) {
  using T = std::decay_t<decltype(field(std::declval<config&>()))>;
  return key_decl<T>{section, name, description, key_field<T>{field}};
}

// The section and key name are the config's member names, so a key cannot
// be declared without a field to hold it.
#define COTFLOW_KEY(sec, k, desc)                                              \
  declare(                                                                     \
    #sec, #k, desc, [](config & c) -> auto& { return c.sec.k; })

// Long because it is data, not steps: one row per key, in the order
// `config show` prints them; splitting it would only scatter the table.
std::vector<config_key> table() {
  return {
    COTFLOW_KEY(kafka, brokers,
                "Kafka bootstrap servers (host:port,...); 'embedded' starts "
                "the in-process broker")
      .defaults_to("localhost:9092")
      .not_empty()
      .form("host:port[,host:port...] or embedded", broker_list_problem),
    COTFLOW_KEY(kafka, group_id, "consumer group of all instances")
      .defaults_to("cotflow")
      .not_empty(),
    COTFLOW_KEY(kafka, client_id, "client.id of every Kafka client")
      .defaults_to("cotflow"),
    COTFLOW_KEY(kafka, input_topics, "topics with detections")
      .defaults_to({"detections"})
      .not_empty("at least one topic is required")
      .form("Kafka topic names", topic_name_problem),
    COTFLOW_KEY(kafka, output_topic, "topic that receives CoT XML")
      .defaults_to("cot")
      .form("a Kafka topic name", topic_name_problem),
    COTFLOW_KEY(kafka, dead_letter_topic,
                "topic for records that cannot be converted, with reasons")
      .defaults_to("cot-dead-letter")
      .not_empty("must not be empty (bad input is never dropped)")
      .form("a Kafka topic name", topic_name_problem),
    COTFLOW_KEY(kafka, parking_topic,
                "prefix of the parking topics: while destination X is down "
                "or slow its events go to <prefix>.X and are replayed when "
                "it is back; empty = hold them in memory")
      .defaults_to("cotflow.parking")
      .form("a Kafka topic name", topic_name_problem),
    // librdkafka's default is 45 s: the partitions of a killed instance
    // would stand still that long, too long for tracks that go stale in
    // a minute. Heartbeats go every third of it.
    COTFLOW_KEY(kafka, session_timeout_ms,
                "how long a killed or hung instance keeps its partitions "
                "before the group hands them to the others (librdkafka's "
                "session.timeout.ms; heartbeats every third of it); the "
                "broker's group.min.session.timeout.ms (6 s by default) is "
                "the floor")
      .defaults_to(10000)
      .range(1000, 1800000),
    // A healthy pipeline delivers what it has in flight in well under a
    // second; a destination that is down parks its events once its
    // breaker opens. Meanwhile the next owner reads nothing of those
    // partitions, so the bound stays below the session timeout (what a
    // killed instance costs anyway) and far below max.poll.interval.ms
    // (300 s, the rebalance timeout with the eager assignors, where the
    // whole group waits).
    COTFLOW_KEY(kafka, revoke_drain_ms,
                "how long partitions revoked in a rebalance (an instance "
                "joining or leaving) stay paused with this instance until "
                "their records in flight are delivered and committed, so "
                "that the next owner does not deliver them again; what is "
                "still in flight then is left to it (duplicates). 5 s: a "
                "healthy pipeline delivers in well under a second, and the "
                "next owner reads nothing of them meanwhile; below "
                "session_timeout_ms (required). 0: hand them over at once")
      .defaults_to(5000)
      .range(0, 120000),
    COTFLOW_KEY(kafka, group_instance_id,
                "static group membership (group.instance.id): an instance "
                "that restarts within session_timeout_ms gets its "
                "partitions back without a rebalance. Empty: off; "
                "'hostname': this host's name (a StatefulSet pod's is "
                "stable); else the id itself, unique per instance")
      .defaults_to(""),
    COTFLOW_KEY(kafka, properties,
                "librdkafka properties passed to every client (security, "
                "SASL, SSL, timeouts, compression); a value ${env:NAME} or "
                "${file:PATH} is read from there (secrets); from the "
                "environment: k=v pairs separated by commas (\\, for a "
                "comma) added to the file's"),

    COTFLOW_KEY(pipeline, batch_size, "records per batch (max)")
      .defaults_to(50)
      .range(1, 100000)
      .hot(),
    COTFLOW_KEY(pipeline, batch_age_ms,
                "a batch leaves at this age at the latest; at once when "
                "the source has nothing more ready")
      .defaults_to(100)
      .range(1, 60000)
      .hot(),
    COTFLOW_KEY(pipeline, max_in_flight,
                "records dispatched but not yet delivered; the consumer "
                "pauses at this bound")
      .defaults_to(10000)
      .range(1, 10000000)
      .hot(),
    // 0 resolves to usable_cpus() (see encoder_count).
    COTFLOW_KEY(pipeline, encoders,
                "encoder workers; 0 = one per usable CPU (a container: its "
                "CPU limit)")
      .defaults_to(0)
      .range(0, 256),
    COTFLOW_KEY(pipeline, commit_interval_ms,
                "how often delivered offsets are committed (librdkafka's "
                "auto.commit.interval.ms; applied at start)")
      .defaults_to(1000)
      .range(10, 600000),
    // Below Kafka's default 1 MB message limit, so that a dead letter (the
    // whole record plus headers) of a record refused for its size fits.
    COTFLOW_KEY(pipeline, max_record_bytes,
                "larger records are dead-lettered (whole, with their headers)")
      .defaults_to(64 * 1024)
      .range(64, 900 * 1024),
    COTFLOW_KEY(pipeline, max_text_bytes,
                "longer text fields (callsign, remarks, classification, "
                "affiliation) are cut to this on a character boundary and end "
                "in '...' (U+2026), counted in "
                "cotflow_text_fields_truncated_total; ids stay refused when "
                "too long")
      .defaults_to(4096)
      .range(16, 1024 * 1024),
    COTFLOW_KEY(pipeline, drain_timeout_ms,
                "grace period to drain in-flight work on shutdown")
      .defaults_to(10000)
      .range(0, 3600000),
    COTFLOW_KEY(pipeline, poll_timeout_ms,
                "longest time between two polls of the Kafka consumer; "
                "fetched records and acknowledgements that free credit "
                "start one at once")
      .defaults_to(100)
      .range(1, 1000),

    COTFLOW_KEY(cot, default_type, "CoT type when classification is unknown")
      .defaults_to("a-u-G"),
    COTFLOW_KEY(cot, how, "CoT how attribute").defaults_to("m-g").not_empty(),
    COTFLOW_KEY(cot, stale_s, "stale = now + this many seconds")
      .defaults_to(120)
      .range(1, 31 * 24 * 3600),
    COTFLOW_KEY(cot, stale_by_type,
                "stale seconds per CoT type prefix (longest prefix wins)"),
    COTFLOW_KEY(cot, max_age_s,
                "records older than this are dropped and counted")
      .defaults_to(3600)
      .range(1, 365 * 24 * 3600),
    COTFLOW_KEY(cot, min_confidence,
                "confidence below this is dropped or flagged")
      .defaults_to(0.0)
      .range(0.0, 1.0),
    COTFLOW_KEY(cot, low_confidence,
                "what happens below min_confidence: drop or flag")
      .defaults_to("drop")
      .one_of({"drop", "flag"}),
    COTFLOW_KEY(cot, uid_prefix, "prefix of every CoT uid"),
    COTFLOW_KEY(cot, missing_time,
                "a GeoJSON Feature without properties.time or .start gets "
                "its Kafka record's timestamp (kafka_timestamp; the receive "
                "time when the record has none), the receive time "
                "(receive_time), or is dead-lettered (refuse); the event "
                "says which in <_cotflow_ time_source=...>")
      .defaults_to("kafka_timestamp")
      .one_of({"kafka_timestamp", "receive_time", "refuse"}),
    COTFLOW_KEY(cot, out_of_range,
                "hae, ce, le, course or speed outside the range a TAK Server "
                "with its scrubber keeps (speed 0..999999 m/s, ...) is "
                "dead-lettered as out_of_range (refuse) or set to the nearest "
                "end of it (clamp), counted in cotflow_values_clamped_total "
                "and named in <_cotflow_ clamped=...>; lat, lon are always "
                "refused")
      .defaults_to("refuse")
      .one_of({"refuse", "clamp"}),
    // ATAK draws a shape's vertices one by one; a thousand is far beyond a
    // hand-drawn area and well inside a record of 64 KiB (about 40 bytes
    // per vertex in the event).
    COTFLOW_KEY(cot, max_vertices,
                "a GeoJSON LineString or Polygon with more positions than "
                "this is dead-lettered (out_of_range)")
      .defaults_to(1000)
      .range(4, 100000),
    // MIL-STD-2525 function codes as TAK clients draw them.
    COTFLOW_KEY(cot, classification_types,
                "classification -> CoT type after the affiliation")
      .defaults_to({
        {"person", "G-U-C-I"},
        {"vehicle", "G-E-V"},
        {"car", "G-E-V-C"},
        {"truck", "G-E-V-C"},
        {"tank", "G-E-V-A-T"},
        {"uav", "A-M-F-Q"},
        {"drone", "A-M-F-Q"},
        {"aircraft", "A"},
        {"helicopter", "A-M-H"},
        {"vessel", "S"},
        {"boat", "S-X"},
        {"building", "G-I"},
        {"unknown", "G"},
      }),
    COTFLOW_KEY(cot, affiliation_codes,
                "affiliation -> one-letter CoT affiliation")
      .defaults_to({
        {"pending", "p"},
        {"unknown", "u"},
        {"assumed_friend", "a"},
        {"friend", "f"},
        {"neutral", "n"},
        {"suspect", "s"},
        {"hostile", "h"},
        {"joker", "j"},
        {"faker", "k"},
        {"none", "o"},
        {"other", "x"},
      }),

    // Empty by default: events look as they always did (cot.how, no icon,
    // colour, team or sensor) until an operator says what a feed is.
    COTFLOW_KEY(presentation, sources,
                "per detection source (its `source` field): {how, color, "
                "icon, team: {name, role, endpoint}, sensor: {uid, type, "
                "callsign, lat, lon, hae, azimuth, fov, vfov, range}}; wins "
                "over the type's rule, field by field "
                "(docs/presentation.md)"),
    COTFLOW_KEY(presentation, types,
                "per CoT type prefix (the longest wins): {how, color, icon, "
                "team}"),
    COTFLOW_KEY(presentation, low_confidence,
                "for records kept below cot.min_confidence (cot."
                "low_confidence: flag): {how, color, icon, type}; wins over "
                "the source's and the type's rules"),

    COTFLOW_KEY(sinks, kafka, "send CoT to kafka.output_topic")
      .defaults_to(true),
    COTFLOW_KEY(sinks, file,
                "append CoT to this file, one event per line; empty = off"),

    COTFLOW_KEY(tak, destinations,
                "TAK servers: name -> tcp://host:8087, udp://host:port or "
                "udp://239.2.3.1:6969?ttl=1&interface=ADDR"),
    COTFLOW_KEY(tak, connect_timeout_ms,
                "give up a TCP connect after this long")
      .defaults_to(5000)
      .range(1, 600000),
    COTFLOW_KEY(tak, write_timeout_ms,
                "a write blocked this long counts as a dead connection")
      .defaults_to(10000)
      .range(1, 600000),
    COTFLOW_KEY(tak, reconnect_min_ms,
                "first reconnect delay (doubles, with jitter)")
      .defaults_to(1000)
      .range(1, 3600000),
    COTFLOW_KEY(tak, reconnect_max_ms, "longest reconnect delay")
      .defaults_to(60000)
      .range(1, 3600000),
    COTFLOW_KEY(tak, healthy_after_ms,
                "a connection up this long resets the reconnect delay")
      .defaults_to(30000)
      .range(0, 3600000),
    COTFLOW_KEY(tak, write_bytes,
                "most bytes of events gathered into one socket write")
      .defaults_to(64 * 1024)
      .range(1024, 16 * 1024 * 1024),
    COTFLOW_KEY(tak, ping_interval_ms,
                "TCP and TLS destinations send a t-x-c-t ping this often "
                "(ping=false in a destination's URL: never); 0 = never")
      .defaults_to(15000)
      .range(0, 3600000),
    COTFLOW_KEY(tak, ping_timeout_ms,
                "no bytes from the server this long after a ping: "
                "reconnect")
      .defaults_to(10000)
      .range(1, 3600000),
    // PyTAK and plain CoT listeners never answer a ping; TAK Server does.
    COTFLOW_KEY(tak, ping_silent_cycles,
                "after this many keepalive pings in a row go unanswered "
                "(each one a reconnect), the server is taken for one that "
                "never answers: its connections are kept without pings, "
                "and a warning says so; 0 = reconnect every time")
      .defaults_to(3)
      .range(0, 1000),
    // A TAK server reads a connection in order: its answer to a ping says
    // it read everything written before the ping, so a lost connection
    // resends only what went out after the latest answered one. A ping is
    // ~250 bytes: 0.1% of 256 KiB, and ~530 events of ~495 bytes resent at
    // most per loss (plus what goes out while an answer travels) instead
    // of the margin's ~12,700.
    COTFLOW_KEY(tak, ping_every_bytes,
                "while events are written to a TCP/TLS destination, a "
                "keepalive ping also goes out once this many bytes were "
                "written since the previous one; a server that answers "
                "(TAK Server) confirms what it read, and a lost connection "
                "resends only what was written after the latest answered "
                "ping; 0 = pings only every ping_interval_ms (with pings "
                "off, ping_interval_ms 0 or ping=false, none at all)")
      .defaults_to(256 * 1024)
      .range(0, 256 * 1024 * 1024),
    // TAK Server offers version 1 as soon as a connection is up; a server
    // that says nothing in this time does not speak it.
    COTFLOW_KEY(tak, negotiate_offer_ms,
                "protocol=negotiate destinations: how long a new connection "
                "looks for the server's offer of TAK Protocol version 1 "
                "(writing XML meanwhile) before it settles for XML")
      .defaults_to(5000)
      .range(1, 600000),
    // The protocol asks a client to wait at least a minute before it gives
    // up and disconnects.
    COTFLOW_KEY(tak, negotiate_response_ms,
                "protocol=negotiate destinations: how long cotflow waits, "
                "writing nothing, for the answer to its request for TAK "
                "Protocol version 1; without one it reconnects and that "
                "destination stays with XML")
      .defaults_to(60000)
      .range(1, 600000),
    COTFLOW_KEY(tak, hello_uid,
                "uid of the identity event cotflow sends first on each TCP "
                "and TLS connection (hello=false in a URL: none); empty = "
                "cotflow-<host name>"),
    COTFLOW_KEY(tak, hello_callsign, "callsign in that identity event")
      .defaults_to("cotflow")
      .not_empty(),
    // Covers our capped send buffer plus what a server's receive buffer may
    // hold unread when it dies.
    COTFLOW_KEY(tak, replay_bytes,
                "the latest bytes written on a connection kept to be sent "
                "again if it is lost: the most that is resent (when the "
                "kernel cannot say what the server acknowledged, all of "
                "it); keep it above the send buffer plus resend_margin_bytes")
      .defaults_to(8 * 1024 * 1024)
      .range(0, 256 * 1024 * 1024),
    // What a server's kernel may hold acknowledged but unread when the
    // server dies: up to its receive buffer, which Linux grows for a
    // reader that falls behind up to net.ipv4.tcp_rmem's maximum, 6 MiB by
    // default. 512 KiB lost events in a test whose receiver was killed
    // mid-stream (tests/integration/tak.cpp): the kernel's acknowledgement
    // alone does not say what the server read.
    COTFLOW_KEY(tak, resend_margin_bytes,
                "after a lost TCP/TLS connection, what the server's kernel "
                "had not acknowledged is sent again, plus this many bytes "
                "before it (what the server's kernel acknowledged but the "
                "server may not have read or processed: its receive buffer; "
                "lower it for servers whose buffer is known to be smaller); "
                "never more than what was written after the latest ping the "
                "server answered (see ping_every_bytes), so it is the "
                "bound for servers that do not answer pings; duplicates "
                "rather than losses")
      .defaults_to(6 * 1024 * 1024)
      .range(0, 256 * 1024 * 1024),
    COTFLOW_KEY(tak, queue_events,
                "events one destination holds in memory; beyond that its "
                "events are parked")
      .defaults_to(2000)
      .range(1, 10000000)
      .hot(),
    COTFLOW_KEY(tak, breaker_failures,
                "consecutive failed connects or writes that open a "
                "destination's circuit breaker; 0 = never")
      .defaults_to(5)
      .range(0, 1000000)
      .hot(),
    COTFLOW_KEY(tak, breaker_failure_rate,
                "share of failures over the last breaker_window outcomes "
                "that opens the breaker; 0 = never")
      .defaults_to(0.5)
      .range(0.0, 1.0)
      .hot(),
    COTFLOW_KEY(tak, breaker_window, "outcomes the failure rate is judged over")
      .defaults_to(20)
      .range(1, 100000)
      .hot(),
    COTFLOW_KEY(tak, breaker_open_min_ms,
                "first wait of an open breaker before it probes (doubles "
                "with each failed probe, with jitter)")
      .defaults_to(30000)
      .range(1, 86400000)
      .hot(),
    COTFLOW_KEY(tak, breaker_open_max_ms, "longest wait of an open breaker")
      .defaults_to(300000)
      .range(1, 86400000)
      .hot(),
    COTFLOW_KEY(tak, breaker_probes,
                "batches a half-open breaker lets through; that many "
                "successes close it")
      .defaults_to(1)
      .range(1, 1000)
      .hot(),

    COTFLOW_KEY(http, address,
                "operations HTTP port (metrics, health, status); empty = off")
      .defaults_to("127.0.0.1:9180"),
    COTFLOW_KEY(http, token,
                "bearer token required for all but /metrics and /health/*"),
    COTFLOW_KEY(http, ready_timeout_ms,
                "/health/ready fails when no partition is assigned this long")
      .defaults_to(30000)
      .range(0, 3600000),

    COTFLOW_KEY(ingest, address,
                "HTTP detection ingest (POST /v1/detections) on this "
                "host:port, e.g. 127.0.0.1:8088; empty = off"),
    COTFLOW_KEY(ingest, token,
                "bearer token the ingest requires (set it whenever the "
                "address is not loopback)"),
    COTFLOW_KEY(ingest, topic,
                "Kafka topic the ingest writes records to; empty = the "
                "first of kafka.input_topics")
      .form("a Kafka topic name", topic_name_problem),
    COTFLOW_KEY(ingest, max_body_bytes,
                "larger request bodies are refused (413)")
      .defaults_to(8 * 1024 * 1024)
      .range(1024, 256 * 1024 * 1024),
    COTFLOW_KEY(ingest, timeout_ms,
                "a request waits this long for Kafka to confirm its records, "
                "then is answered 503 with Retry-After (its records may "
                "still arrive: a retry can duplicate them)")
      .defaults_to(10000)
      .range(1, 600000),
    COTFLOW_KEY(ingest, tls_cert,
                "HTTPS for the ingest: a PEM file with the server certificate "
                "(and its chain) and its private key, e.g. cat server.crt "
                "server.key; empty = plain HTTP"),
    COTFLOW_KEY(ingest, tls_client_ca,
                "with tls_cert, mutual TLS: clients must present a "
                "certificate signed by a CA in this PEM file (with or "
                "instead of the bearer token); empty = any client"),

    COTFLOW_KEY(supervision, max_restarts,
                "restarts of one group of workers allowed within window_ms "
                "before the failure escalates (the root exits non-zero)")
      .defaults_to(5)
      .range(0, 1000000),
    COTFLOW_KEY(supervision, window_ms,
                "the window of supervision.max_restarts")
      .defaults_to(10000)
      .range(1, 86400000),
    COTFLOW_KEY(supervision, backoff_min_ms,
                "first restart delay (doubles with recent failures)")
      .defaults_to(100)
      .range(0, 3600000),
    COTFLOW_KEY(supervision, backoff_max_ms, "longest restart delay")
      .defaults_to(5000)
      .range(0, 3600000),

    COTFLOW_KEY(faults, encoder_throw_rate,
                "fault injection: share of records on which an encoder "
                "worker throws (tests and demos; 0 = off)")
      .range(0.0, 1.0),
    COTFLOW_KEY(faults, rebalance_interval_ms,
                "fault injection: this often the source goes through a "
                "rebalance of its whole assignment (revoke, then assign "
                "from the committed offsets) (0 = off)")
      .range(0, 86400000),
    COTFLOW_KEY(faults, sink_throw_rate,
                "fault injection: share of CoT batches on which a destination "
                "actor throws, so the pipeline restarts from the committed "
                "offsets (0 = off)")
      .range(0.0, 1.0),
    COTFLOW_KEY(faults, destination_down,
                "fault injection: the TAK destination of this name fails "
                "every connect and write for a period (empty = off)"),
    COTFLOW_KEY(faults, destination_down_after_ms,
                "when that period starts, after the start of the process")
      .range(0, 86400000),
    COTFLOW_KEY(faults, destination_down_for_ms, "how long that period lasts")
      .range(0, 86400000),

    COTFLOW_KEY(log, level, "trace, debug, info, warn or error")
      .defaults_to("info")
      .one_of({"trace", "debug", "info", "warn", "error"})
      .hot(),
    COTFLOW_KEY(log, format, "json or text")
      .defaults_to("json")
      .one_of({"json", "text"})
      .hot(),
  };
}

#undef COTFLOW_KEY

} // namespace

std::string config_key::path() const {
  return std::string{section} + "." + name;
}

std::string config_key::env_name() const {
  std::string s = std::string{"COTFLOW_"} + section + "_" + name;
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return std::toupper(c); });
  return s;
}

const std::vector<config_key>& config_keys() {
  static const std::vector<config_key> keys = table();
  return keys;
}

const config_key* find_key(const std::string& path) {
  for (auto& k : config_keys())
    if (k.path() == path)
      return &k;
  return nullptr;
}

} // namespace cotflow
