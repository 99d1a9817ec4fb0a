// bench_parking: a TAK destination that is down, its parking topic and the
// replay, measured end to end (issue 6).
//
//   bench_parking COTFLOW_BIN [--scenarios
//   replay,stall-refused,stall-blackhole,outage]
//                 [--replay-records N] [--parking-partitions P] [--window W]
//                 [--stall-rate R] [--stall-seconds S] [--outage-records N]
//                 [--outage-rate R] [--outage-seconds S]
//                 [--outage-pings answer|silent] [--fetch-wait MS]
//                 [--cotflow-env KEY=VALUE]... [--log-dir DIR] [--summary FILE]
//
// Each scenario gets a fresh embedded broker (librdkafka mock cluster) in
// this process, topics with 6 partitions, and a `cotflow run --config
// /dev/null` child. TAK receivers are local TCP listeners in this process
// that count `</event>` in the byte stream (and the "seq=N" of each event).
//
//   replay          one TAK destination, down (its port bound but not
//                   listening: connects are refused). N detections are
//                   published and parked; then the receiver starts listening
//                   and the replay is timed from the first event to the
//                   last. Baseline: a plain consumer with cotflow's consumer
//                   settings reads the same parking topic in this process.
//                   The parking topic is created beforehand with P
//                   partitions (0 = let cotflow's producer auto-create it,
//                   4 partitions on the mock): the mock keeps only ~5 MB per
//                   partition, so P * 5 MB must hold the backlog.
//   stall-refused   two TAK destinations, `down` (connects refused) and
//                   `up` (a reading receiver), plus the Kafka output; R
//                   records/s for S seconds. Peak RSS of cotflow, whether
//                   the Kafka output and `up` kept the offered rate, whether
//                   the source ever paused. All settings as shipped.
//   stall-blackhole the same, but `down` accepts connections and never
//                   reads (a hung server: writes block until
//                   tak.write_timeout_ms).
//   outage          one TAK destination and a stream of N records at R/s
//                   (100,000 at 1,000/s by default); its receiver goes down
//                   twice for S seconds (25) and comes back on the same
//                   port (issue 21). Missing records, and per outage the
//                   duplicates next to what cotflow may resend: the bytes
//                   the receiver's kernel had not acknowledged at the loss
//                   plus tak.resend_margin_bytes, but no more than what
//                   went out after the latest ping the receiver answered,
//                   in events. The receiver answers pings as TAK Server
//                   does, or with --outage-pings silent never. Not in the
//                   default list: `BENCH_ONLY=outage bench/run.sh` runs it
//                   both ways.
//
// Prints Markdown on stdout, progress on stderr, key=value lines to
// --summary (keys prefixed with the scenario name).
#include "config/config.hpp"
#include "pipeline/codec/generator.hpp"
#include "pipeline/core/time.hpp"
#include "pipeline/kafka/kafka.hpp"
#include "pipeline/ops/http_client.hpp"
#include "pipeline/ops/top.hpp"

#include "bench/harness.hpp"
#include "tests/support/http_get.hpp"

#include <librdkafka/rdkafkacpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iomanip>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {

using namespace bench;

const int partitions = 6;

// ---- cotflow child and its log ---------------------------------------------

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// Waits until the log contains `text`; seconds waited, or -1.
double wait_log(const std::string& path, const std::string& text,
                double timeout_s, child* proc = nullptr) {
  auto t0 = clock_type::now();
  while (secs_since(t0) < timeout_s) {
    if (read_file(path).find(text) != std::string::npos)
      return secs_since(t0);
    if (proc && !proc->alive())
      return -1;
    sleep_ms(20);
  }
  return -1;
}

/// The HTTP port cotflow's log names once it started; exits, naming the
/// scenario `what`, when it does not start within 30 s.
int http_port(const std::string& what, const std::string& log_path,
              child& proc) {
  auto t0 = clock_type::now();
  while (secs_since(t0) < 30 && proc.alive()) {
    if (auto port = cotflow::test::http_port_in(read_file(log_path)))
      return port;
    sleep_ms(20);
  }
  die(what + ": cotflow did not start (log: " + log_path + ")");
}

/// One /metrics scrape: name{labels} -> value (empty on failure).
std::map<std::string, double> scrape(int port) {
  if (port <= 0)
    return {};
  auto r = cotflow::http_get("127.0.0.1", port, "/metrics", "", 2000);
  if (!r || r->status != 200)
    return {};
  return cotflow::parse_prometheus(r->body);
}

/// The value of metric `name` whose labels contain `label` (or the
/// unlabelled one when `label` is empty); -1 when absent.
double metric(const std::map<std::string, double>& m, const std::string& name,
              const std::string& label = "") {
  for (auto& [k, v] : m) {
    if (k.compare(0, name.size(), name) != 0)
      continue;
    auto rest = std::string_view{k}.substr(name.size());
    if (label.empty() ? rest.empty()
                      : (!rest.empty() && rest[0] == '{'
                         && rest.find(label) != std::string_view::npos))
      return v;
  }
  return -1;
}

std::vector<std::string> log_problems(const std::string& path, size_t& lines) {
  std::ifstream in(path);
  std::string line;
  std::map<std::string, int> seen;
  std::vector<std::string> order;
  lines = 0;
  while (std::getline(in, line)) {
    ++lines;
    bool bad = line.find("\"level\":\"warn\"") != std::string::npos
               || line.find("\"level\":\"error\"") != std::string::npos
               || line.find("%3|") != std::string::npos
               || line.find("%4|") != std::string::npos;
    if (!bad)
      continue;
    auto key = line;
    auto m = line.find("\"level\"");
    if (m != std::string::npos)
      key = line.substr(m);
    // Group messages that differ only in numbers (queue sizes, delays).
    std::string norm;
    for (char ch : key)
      if (!(ch >= '0' && ch <= '9'))
        norm += ch;
      else if (norm.empty() || norm.back() != '#')
        norm += '#';
    if (seen[norm]++ == 0)
      order.push_back(norm);
  }
  std::vector<std::string> out;
  for (auto& k : order)
    out.push_back(std::to_string(seen[k]) + " x " + k.substr(0, 240));
  return out;
}

std::string mb(long kb) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f", static_cast<double>(kb) / 1024.0);
  return buf;
}

struct options {
  std::string cotflow_bin;
  std::string log_dir = ".";
  std::string fetch_wait; // empty: librdkafka's default
  std::vector<std::pair<std::string, std::string>> cot_env;
  uint64_t replay_records = 200000;
  int parking_partitions = 64;
  int64_t window = 30000;
  /// Partitions of the input topic (the mock keeps ~5 MB of each).
  int input_partitions = partitions;
  int64_t stall_rate = 10000;
  double stall_seconds = 60;
  /// `outage`: records of the stream, its rate, each outage's length.
  uint64_t outage_records = 100000;
  int64_t outage_rate = 1000;
  double outage_seconds = 25;
  /// `outage`: the receiver answers pings as TAK Server does (t-x-c-t-r),
  /// or never, as a plain CoT listener.
  bool outage_answer_pings = true;
};

std::vector<std::pair<std::string, std::string>>
cotflow_env(const options& o, const std::string& bootstrap) {
  auto env = o.cot_env;
  env.emplace_back("COTFLOW_KAFKA_BROKERS", bootstrap);
  env.emplace_back("COTFLOW_HTTP_ADDRESS", "127.0.0.1:0");
  if (!o.fetch_wait.empty()) {
    bool merged = false;
    for (auto& [k, v] : env)
      if (k == "COTFLOW_KAFKA_PROPERTIES") {
        v += ",fetch.wait.max.ms=" + o.fetch_wait;
        merged = true;
      }
    if (!merged)
      env.emplace_back("COTFLOW_KAFKA_PROPERTIES",
                       "fetch.wait.max.ms=" + o.fetch_wait);
  }
  return env;
}

/// cotflow's environment with one TCP TAK destination `dest` at `port`,
/// its reconnects and breaker fast (50/200 ms, 500/2000 ms, as in the
/// parking integration test) so that delivery resumes soon after the
/// receiver is up; everything else as shipped.
std::vector<std::pair<std::string, std::string>>
fast_tak_env(const options& o, const std::string& bootstrap,
             const std::string& dest, uint16_t port) {
  auto env = cotflow_env(o, bootstrap);
  env.emplace_back("COTFLOW_TAK_DESTINATIONS",
                   dest + "=tcp://127.0.0.1:" + std::to_string(port));
  env.emplace_back("COTFLOW_TAK_RECONNECT_MIN_MS", "50");
  env.emplace_back("COTFLOW_TAK_RECONNECT_MAX_MS", "200");
  env.emplace_back("COTFLOW_TAK_BREAKER_OPEN_MIN_MS", "500");
  env.emplace_back("COTFLOW_TAK_BREAKER_OPEN_MAX_MS", "2000");
  return env;
}

std::unique_ptr<cotflow::embedded_broker>
fresh_broker(const std::vector<std::pair<std::string, int>>& topics) {
  std::string err;
  auto broker = cotflow::embedded_broker::start(1, err);
  if (!broker)
    die(err);
  for (auto& [topic, parts] : topics)
    if (!broker->create_topic(topic, parts, err))
      die(err);
  return broker;
}

/// cot + cot-dead-letter records so far (one per processed input).
int64_t kafka_outputs(kafka_observer& obs) {
  auto a = obs.high_sum("cot", partitions);
  auto b = obs.high_sum("cot-dead-letter", 1);
  return a < 0 || b < 0 ? -1 : a + b;
}

// ---- scenario replay --------------------------------------------------------

struct replay_result {
  uint64_t records = 0;
  uint64_t valid = 0;
  int parking_partitions = 0;
  double breaker_open_s = -1; // from start until the log says so
  double park_out_s = 0;      // publish start -> every Kafka output
  double park_commit_s = -1;  // publish start -> input offsets committed
  int64_t parked = 0;         // records in the parking topic
  double park_cpu_us = 0;
  long park_rss_kb = -1;
  double first_s = -1; // receiver up -> first replayed event
  double last_s = -1;  // receiver up -> last replayed event
  uint64_t events = 0, distinct = 0, dups = 0, other = 0;
  double rps = 0, steady_rps = 0;
  double longest_gap_s = 0;
  double replay_cpu_us = 0;
  long replay_rss_kb = -1;
  double direct_s = -1;         // receiver up -> "delivering directly again"
  double parking_commit_s = -1; // receiver up -> parking offsets committed
  double park_other_cores = 0, replay_other_cores = 0;
  double raw_rps = 0; // baseline: plain consumer of the topic
  std::vector<double> raw_runs;
  uint64_t raw_records = 0;
  std::optional<int> exit_code;
  double stop_s = 0;
  size_t log_lines = 0;
  std::vector<std::string> problems;
  std::map<std::string, double> metrics_end;
};

/// Baseline: a plain consumer with cotflow's consumer settings (and the
/// scenario's fetch.wait.max.ms) reads the whole parking topic. Records/s
/// from the first message to the last.
double raw_read(const options& o, const std::string& bootstrap,
                const std::string& topic, int parts, int64_t expect,
                uint64_t& got) {
  auto cfg = cotflow::default_config();
  cfg.kafka.brokers = bootstrap;
  cfg.kafka.group_id = "bench-raw-replay";
  cfg.kafka.client_id = "bench-raw-replay";
  cfg.kafka.embedded = cotflow::answers_as_embedded_broker(cfg, 1000ms);
  if (!o.fetch_wait.empty())
    cfg.kafka.properties["fetch.wait.max.ms"] = o.fetch_wait;
  std::string err;
  auto conf = cotflow::make_client_conf(cfg, cotflow::client_role::consumer,
                                        err);
  if (!conf)
    die("raw reader: " + err);
  std::unique_ptr<RdKafka::KafkaConsumer> c{
    RdKafka::KafkaConsumer::create(conf.get(), err)};
  if (!c)
    die("raw reader: " + err);
  std::vector<RdKafka::TopicPartition*> tps;
  for (int p = 0; p < parts; ++p)
    tps.push_back(RdKafka::TopicPartition::create(
      topic, p, RdKafka::Topic::OFFSET_BEGINNING));
  c->assign(tps);
  RdKafka::TopicPartition::destroy(tps);
  got = 0;
  clock_type::time_point first{}, last{};
  auto t0 = clock_type::now();
  auto idle_since = clock_type::now();
  while (static_cast<int64_t>(got) < expect && secs_since(t0) < 120
         && secs_since(idle_since) < 10) {
    std::unique_ptr<RdKafka::Message> m{c->consume(100)};
    if (m->err() != RdKafka::ERR_NO_ERROR)
      continue;
    auto now = clock_type::now();
    if (got == 0)
      first = now;
    last = now;
    idle_since = now;
    ++got;
  }
  c->close();
  auto s = std::chrono::duration<double>(last - first).count();
  return s > 0 ? static_cast<double>(got) / s : 0;
}

replay_result run_replay(const options& o, uint64_t seq_base) {
  replay_result r;
  r.records = o.replay_records;
  const std::string dest = "tak";
  const std::string parking_topic = "cotflow.parking." + dest;
  std::vector<std::pair<std::string, int>> topics{
    {"detections", o.input_partitions},
    {"cot", partitions},
    {"cot-dead-letter", 1}};
  if (o.parking_partitions > 0)
    topics.emplace_back(parking_topic, o.parking_partitions);
  r.parking_partitions = o.parking_partitions > 0 ? o.parking_partitions : 4;
  auto broker = fresh_broker(topics);
  auto bootstrap = broker->bootstraps();
  tak_receiver rx{receiver(seq_base, o.replay_records)};
  progress("replay: broker %s, TAK receiver port %u (down: refusing)",
           bootstrap.c_str(), rx.port());

  // The replay starts soon after the receiver is up; its rate is timed
  // from the first replayed event.
  auto env = fast_tak_env(o, bootstrap, dest, rx.port());
  auto log_path = o.log_dir + "/cotflow-parking-replay.log";
  child proc{
    {o.cotflow_bin, "run", "--config", "/dev/null"}, env, log_file{log_path}};
  auto port = http_port("replay", log_path, proc);
  r.breaker_open_s = wait_log(log_path, "circuit breaker open", 60, &proc);
  if (r.breaker_open_s < 0)
    die("replay: the breaker of the dead destination did not open (log: "
        + log_path + ")");
  progress("replay: breaker open; publishing %llu records",
           static_cast<unsigned long long>(o.replay_records));

  // Park: publish as fast as the window allows (the input topic also keeps
  // only ~5 MB per partition), paced by the Kafka output.
  kafka_observer obs{bootstrap, "bench-observer"};
  kafka_observer group_obs{bootstrap, "cotflow"};
  auto before = kafka_outputs(obs);
  std::atomic<int64_t> done{0};
  std::atomic<bool> stop_mon{false};
  std::thread mon{[&] {
    kafka_observer m{bootstrap, "bench-monitor"};
    while (!stop_mon) {
      auto v = kafka_outputs(m);
      if (v >= 0)
        done = v - before;
      sleep_ms(5);
    }
  }};
  reset_peak_rss(proc.pid());
  auto cpu0 = cpu_seconds(proc.pid());
  load_meter park_load{proc.pid()};
  cotflow::detection_generator::options go;
  go.seed = 7;
  go.tracks = 2000; // many uids: the parking topic is keyed by uid
  go.first_seq = seq_base;
  cotflow::detection_generator gen{go};
  cotflow::generated_record rec;
  auto t0 = clock_type::now();
  {
    auto pub = publisher(bootstrap, "5");
    uint64_t sent = 0;
    while (sent < o.replay_records) {
      if (!proc.alive())
        die("replay: cotflow exited while parking (log: " + log_path + ")");
      if (static_cast<int64_t>(sent) - done.load() >= o.window) {
        pub->poll();
        std::this_thread::sleep_for(200us);
        continue;
      }
      auto chunk = std::min<uint64_t>(o.replay_records - sent, 1000);
      auto now = cotflow::now_ms();
      for (uint64_t i = 0; i < chunk; ++i, ++sent) {
        gen.next(rec, now);
        r.valid += rec.valid;
        send(*pub, "detections", rec.key, rec.payload);
      }
      pub->poll();
    }
    pub->flush(30000);
  }
  auto deadline = clock_type::now() + 120s;
  while (done.load() < static_cast<int64_t>(o.replay_records)
         && clock_type::now() < deadline && proc.alive())
    sleep_ms(5);
  r.park_out_s = secs_since(t0);
  stop_mon = true;
  mon.join();
  // Parked = acknowledged: the input offsets get committed although the
  // destination has nothing.
  auto ends = obs.highs("detections", o.input_partitions);
  deadline = clock_type::now() + 120s;
  while (clock_type::now() < deadline) {
    if (group_obs.committed_reached("detections", ends)) {
      r.park_commit_s = secs_since(t0);
      break;
    }
    sleep_ms(20);
  }
  r.park_other_cores = park_load.other_cores();
  r.park_cpu_us = (cpu_seconds(proc.pid()) - cpu0) * 1e6
                  / static_cast<double>(o.replay_records);
  r.park_rss_kb = vm_kb(proc.pid(), "VmHWM");
  deadline = clock_type::now() + 30s;
  while (clock_type::now() < deadline) {
    r.parked = obs.high_sum(parking_topic, r.parking_partitions);
    if (r.parked >= static_cast<int64_t>(r.valid))
      break;
    sleep_ms(50);
  }
  progress("replay: %llu records processed after %.2f s, committed after "
           "%.2f s, %lld parked (%llu valid)",
           static_cast<unsigned long long>(o.replay_records), r.park_out_s,
           r.park_commit_s, static_cast<long long>(r.parked),
           static_cast<unsigned long long>(r.valid));
  if (rx.events() != 0)
    die("replay: the receiver got events while down");

  // Replay: bring the destination up.
  reset_peak_rss(proc.pid());
  cpu0 = cpu_seconds(proc.pid());
  load_meter replay_load{proc.pid()};
  rx.listen_now();
  auto expect = static_cast<uint64_t>(std::max<int64_t>(r.parked, 0));
  auto t_up = clock_type::now();
  uint64_t last_count = 0;
  auto last_move = clock_type::now();
  auto last_report = clock_type::now();
  while (rx.distinct() < r.valid && secs_since(t_up) < 300) {
    auto n = rx.events();
    if (n != last_count) {
      last_count = n;
      last_move = clock_type::now();
    } else if (n > 0 && secs_since(last_move) > 20) {
      progress("replay: no progress for 20 s at %llu events",
               static_cast<unsigned long long>(n));
      break;
    }
    if (!proc.alive())
      die("replay: cotflow exited during the replay (log: " + log_path + ")");
    if (secs_since(last_report) > 2) {
      last_report = clock_type::now();
      progress("replay: %llu events received (%.1f s since up)",
               static_cast<unsigned long long>(n), secs_since(t_up));
    }
    sleep_ms(2);
  }
  r.replay_cpu_us = (cpu_seconds(proc.pid()) - cpu0) * 1e6
                    / static_cast<double>(std::max<uint64_t>(expect, 1));
  r.replay_rss_kb = vm_kb(proc.pid(), "VmHWM");
  r.replay_other_cores = replay_load.other_cores();
  r.events = rx.events();
  r.distinct = rx.distinct();
  r.dups = rx.duplicates();
  r.other = rx.other();
  r.first_s = rx.first_s();
  r.last_s = rx.last_s();
  if (r.last_s > r.first_s)
    r.rps = static_cast<double>(r.events) / (r.last_s - r.first_s);
  auto samples = rx.samples();
  if (auto* f = std::fopen((o.log_dir + "/replay-receiver.csv").c_str(), "w")) {
    std::fprintf(f, "seconds_since_up,events\n");
    for (auto& [s, n] : samples)
      std::fprintf(f, "%.4f,%llu\n", s, static_cast<unsigned long long>(n));
    std::fclose(f);
  }
  double t10 = -1, t90 = -1, prev = r.first_s;
  for (auto& [s, n] : samples) {
    if (t10 < 0 && n >= r.events / 10)
      t10 = s;
    if (t90 < 0 && n >= r.events * 9 / 10)
      t90 = s;
    r.longest_gap_s = std::max(r.longest_gap_s, s - prev);
    prev = s;
  }
  if (t90 > t10 && t10 >= 0)
    r.steady_rps = static_cast<double>(r.events * 8 / 10) / (t90 - t10);
  progress("replay: %llu events (%llu distinct, %llu duplicates) from %.2f "
           "s to %.2f s after up: %.0f/s",
           static_cast<unsigned long long>(r.events),
           static_cast<unsigned long long>(r.distinct),
           static_cast<unsigned long long>(r.dups), r.first_s, r.last_s, r.rps);
  auto d = wait_log(log_path, "delivering directly again", 30, &proc);
  if (d >= 0)
    r.direct_s = secs_since(t_up);
  kafka_observer park_obs{bootstrap, "cotflow.parking." + dest};
  auto pends = obs.highs(parking_topic, r.parking_partitions);
  deadline = clock_type::now() + 30s;
  while (clock_type::now() < deadline) {
    if (park_obs.committed_reached(parking_topic, pends)) {
      r.parking_commit_s = secs_since(t_up);
      break;
    }
    sleep_ms(50);
  }
  r.metrics_end = scrape(port);

  auto s0 = clock_type::now();
  proc.signal(SIGTERM);
  r.exit_code = proc.wait(30s);
  r.stop_s = secs_since(s0);
  r.problems = log_problems(log_path, r.log_lines);

  // Baseline on the same topic, cotflow gone: best of three reads (it
  // varies a lot with what else runs in this process and on the machine).
  for (int i = 0; i < 3; ++i) {
    uint64_t got = 0;
    auto rps = raw_read(o, bootstrap, parking_topic, r.parking_partitions,
                        r.parked, got);
    r.raw_runs.push_back(rps);
    if (rps > r.raw_rps) {
      r.raw_rps = rps;
      r.raw_records = got;
    }
    progress("replay: baseline plain consumer read %llu records at %.0f/s",
             static_cast<unsigned long long>(got), rps);
  }
  return r;
}

// ---- scenario stall ---------------------------------------------------------

struct stall_second {
  double t = 0;
  int64_t published = 0;
  int64_t outputs = 0; // Kafka: cot + dead letter
  uint64_t up = 0;     // events at the `up` receiver
  int64_t parked = -1;
  long rss_kb = -1;
  double paused = -1, in_flight = -1, queue_down = -1, breaker_down = -1,
         parking_down = -1;
};

struct stall_result {
  std::string mode;
  int64_t rate = 0;
  double seconds = 0;
  uint64_t published = 0, valid = 0;
  long peak_rss_kb = -1; // VmHWM over the stall (reset at its start)
  long rss_start_kb = -1, rss_end_kb = -1;
  int64_t outputs = 0;
  uint64_t up_events = 0, up_distinct = 0, up_dups = 0;
  double kafka_min_rps = 0, kafka_median_rps = 0;
  double up_min_rps = 0, up_median_rps = 0;
  int64_t max_lag = 0; // published - Kafka outputs, at the 1 s samples
  double paused_max = -1;
  double in_flight_max = -1;
  double queue_down_max = -1;
  double parked_total = -1, trips = -1, parking_active = -1;
  double drain_s = -1; // after publishing stopped until Kafka caught up
  double commit_s = -1;
  double cpu_us = 0;
  double other_cores = 0;
  /// "Offset out of range" resets of the input consumer in cotflow's log:
  /// it fell further behind than the mock keeps (~5 MB per partition).
  size_t offset_resets = 0;
  double kafka_min5_rps = 0, up_min5_rps = 0; // over 5 s windows
  size_t down_connections = 0;
  std::optional<int> exit_code;
  double stop_s = 0;
  size_t log_lines = 0;
  std::vector<std::string> problems;
  std::vector<stall_second> timeline;
  bool flowing = false;
};

double median(std::vector<double> v) {
  if (v.empty())
    return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

stall_result run_stall(const options& o, bool blackhole, uint64_t seq_base) {
  stall_result r;
  r.mode = blackhole ? "blackhole" : "refused";
  r.rate = o.stall_rate;
  auto name = "stall-" + r.mode;
  auto broker = fresh_broker({{"detections", o.input_partitions},
                              {"cot", partitions},
                              {"cot-dead-letter", 1}});
  auto bootstrap = broker->bootstraps();
  auto total = static_cast<uint64_t>(static_cast<double>(o.stall_rate)
                                     * o.stall_seconds);
  const uint64_t warm = 200;
  tak_receiver up{receiver(seq_base, total)};
  up.listen_now();
  tak_receiver down{receiver(0, 0, true)};
  if (blackhole)
    down.listen_now();
  progress("%s: broker %s, up port %u, down port %u (%s)", name.c_str(),
           bootstrap.c_str(), up.port(), down.port(),
           blackhole ? "accepts, never reads" : "refusing");
  auto env = cotflow_env(o, bootstrap);
  env.emplace_back("COTFLOW_TAK_DESTINATIONS",
                   "down=tcp://127.0.0.1:" + std::to_string(down.port())
                     + ",up=tcp://127.0.0.1:" + std::to_string(up.port()));
  auto log_path = o.log_dir + "/cotflow-parking-" + name + ".log";
  child proc{
    {o.cotflow_bin, "run", "--config", "/dev/null"}, env, log_file{log_path}};
  auto port = http_port(name, log_path, proc);
  kafka_observer obs{bootstrap, "bench-observer"};
  kafka_observer group_obs{bootstrap, "cotflow"};
  cotflow::detection_generator::options go;
  go.seed = 11;
  go.tracks = 2000;
  go.first_seq = seq_base + total; // the warm-up records come after
  cotflow::detection_generator wgen{go};
  cotflow::generated_record rec;
  auto pub = publisher(bootstrap, "5");
  for (uint64_t i = 0; i < warm; ++i) {
    wgen.next(rec, cotflow::now_ms());
    send(*pub, "detections", rec.key, rec.payload);
  }
  pub->flush(30000);
  auto deadline = clock_type::now() + 60s;
  while (clock_type::now() < deadline
         && (kafka_outputs(obs) < static_cast<int64_t>(warm)
             || up.events() < warm * 9 / 10))
    sleep_ms(20);
  if (kafka_outputs(obs) < static_cast<int64_t>(warm))
    die(name + ": no output within 60 s (log: " + log_path + ")");
  auto before = kafka_outputs(obs);
  auto up_before = up.events();
  progress("%s: warm; offering %lld records/s for %.0f s", name.c_str(),
           static_cast<long long>(o.stall_rate), o.stall_seconds);

  // A sampler once per second: outputs, receiver, parking, RSS, metrics.
  std::atomic<int64_t> published{0};
  std::atomic<bool> stop_sampler{false};
  std::mutex tl_mtx;
  auto t0 = clock_type::now();
  const std::string parking_topic = "cotflow.parking.down";
  std::thread sampler{[&] {
    kafka_observer m{bootstrap, "bench-monitor"};
    int k = 0;
    while (!stop_sampler) {
      stall_second s;
      s.t = secs_since(t0);
      s.published = published.load();
      auto o2 = kafka_outputs(m);
      s.outputs = o2 < 0 ? -1 : o2 - before;
      s.up = up.events() - up_before;
      s.parked = m.high_sum(parking_topic, 4); // auto-created: 4 partitions
      s.rss_kb = vm_kb(proc.pid(), "VmRSS");
      auto mm = scrape(port);
      s.paused = metric(mm, "cotflow_consumer_paused");
      s.in_flight = metric(mm, "cotflow_in_flight_records");
      s.queue_down = metric(mm, "cotflow_destination_queue_events",
                            "destination=\"down\"");
      s.breaker_down = metric(mm, "cotflow_breaker_state",
                              "destination=\"down\"");
      s.parking_down = metric(mm, "cotflow_parking_active",
                              "destination=\"down\"");
      {
        std::lock_guard<std::mutex> g{tl_mtx};
        r.timeline.push_back(s);
      }
      ++k;
      auto next = t0 + std::chrono::milliseconds{1000 * k};
      while (!stop_sampler && clock_type::now() < next)
        sleep_ms(5);
    }
  }};
  reset_peak_rss(proc.pid());
  r.rss_start_kb = vm_kb(proc.pid(), "VmRSS");
  auto cpu0 = cpu_seconds(proc.pid());
  load_meter load{proc.pid()};
  go.first_seq = seq_base;
  cotflow::detection_generator gen{go};
  uint64_t sent = 0;
  while (sent < total) {
    auto due = static_cast<uint64_t>(secs_since(t0)
                                     * static_cast<double>(o.stall_rate));
    if (sent >= due) {
      pub->poll();
      std::this_thread::sleep_for(200us);
      continue;
    }
    if (!proc.alive())
      die(name + ": cotflow exited (log: " + log_path + ")");
    auto now = cotflow::now_ms();
    while (sent < std::min(due, total)) {
      gen.next(rec, now);
      r.valid += rec.valid;
      send(*pub, "detections", rec.key, rec.payload, now);
      ++sent;
    }
    published = static_cast<int64_t>(sent);
    pub->poll();
  }
  r.seconds = secs_since(t0);
  r.other_cores = load.other_cores();
  pub->flush(30000);
  r.published = sent;
  auto t_end = clock_type::now();
  deadline = t_end + 30s;
  while (clock_type::now() < deadline && proc.alive()) {
    auto v = kafka_outputs(obs);
    if (v - before >= static_cast<int64_t>(sent)) {
      r.drain_s = secs_since(t_end);
      break;
    }
    sleep_ms(10);
  }
  auto ends = obs.highs("detections", o.input_partitions);
  deadline = clock_type::now() + 30s;
  while (clock_type::now() < deadline) {
    if (group_obs.committed_reached("detections", ends)) {
      r.commit_s = secs_since(t_end);
      break;
    }
    sleep_ms(20);
  }
  stop_sampler = true;
  sampler.join();
  r.cpu_us = (cpu_seconds(proc.pid()) - cpu0) * 1e6
             / static_cast<double>(std::max<uint64_t>(sent, 1));
  r.peak_rss_kb = vm_kb(proc.pid(), "VmHWM");
  r.rss_end_kb = vm_kb(proc.pid(), "VmRSS");
  r.outputs = kafka_outputs(obs) - before;
  r.up_events = up.events() - up_before;
  r.up_distinct = up.distinct();
  r.up_dups = up.duplicates();
  r.down_connections = down.connections();
  auto mm = scrape(port);
  r.parked_total = metric(mm, "cotflow_parked_total", "destination=\"down\"");
  r.trips = metric(mm, "cotflow_breaker_trips_total", "destination=\"down\"");
  r.parking_active = metric(mm, "cotflow_parking_active",
                            "destination=\"down\"");
  if (auto* f = std::fopen((o.log_dir + "/" + name + "-timeline.csv").c_str(),
                           "w")) {
    std::fprintf(f, "s,published,kafka_outputs,up_events,parked,rss_kb,"
                    "paused,in_flight,down_queue,down_breaker,down_parking\n");
    for (auto& s : r.timeline)
      std::fprintf(f, "%.2f,%lld,%lld,%llu,%lld,%ld,%.0f,%.0f,%.0f,%.0f,%.0f\n",
                   s.t, static_cast<long long>(s.published),
                   static_cast<long long>(s.outputs),
                   static_cast<unsigned long long>(s.up),
                   static_cast<long long>(s.parked), s.rss_kb, s.paused,
                   s.in_flight, s.queue_down, s.breaker_down, s.parking_down);
    std::fclose(f);
  }
  // Per-second rates over the offered period, without its first and last
  // second (start-up of the pacing and the cut at the end).
  std::vector<double> kafka_rps, up_rps;
  for (size_t i = 1; i < r.timeline.size(); ++i) {
    auto& a = r.timeline[i - 1];
    auto& b = r.timeline[i];
    r.max_lag = std::max(r.max_lag, b.published - b.outputs);
    r.paused_max = std::max(r.paused_max, b.paused);
    r.in_flight_max = std::max(r.in_flight_max, b.in_flight);
    r.queue_down_max = std::max(r.queue_down_max, b.queue_down);
    if (a.t < 1.5 || b.t > r.seconds - 0.5)
      continue;
    auto dt = b.t - a.t;
    kafka_rps.push_back(static_cast<double>(b.outputs - a.outputs) / dt);
    up_rps.push_back(static_cast<double>(b.up - a.up) / dt);
  }
  if (!kafka_rps.empty()) {
    r.kafka_min_rps = *std::min_element(kafka_rps.begin(), kafka_rps.end());
    r.up_min_rps = *std::min_element(up_rps.begin(), up_rps.end());
  }
  r.kafka_median_rps = median(kafka_rps);
  r.up_median_rps = median(up_rps);
  // The same over 5 s windows: the mock holds an empty fetch for
  // fetch.wait.max.ms (500 ms at librdkafka's default, which cotflow no
  // longer uses there), so single seconds saw one or two bursts of output.
  r.kafka_min5_rps = r.up_min5_rps = -1;
  for (size_t i = 0; i + 5 < r.timeline.size(); ++i) {
    auto& a = r.timeline[i];
    auto& b = r.timeline[i + 5];
    if (a.t < 0.5 || b.t > r.seconds + 0.5)
      continue;
    auto dt = b.t - a.t;
    auto k = static_cast<double>(b.outputs - a.outputs) / dt;
    auto u = static_cast<double>(b.up - a.up) / dt;
    r.kafka_min5_rps = r.kafka_min5_rps < 0 ? k : std::min(r.kafka_min5_rps, k);
    r.up_min5_rps = r.up_min5_rps < 0 ? u : std::min(r.up_min5_rps, u);
  }
  // "Kept flowing": the source never held its partitions paused, every 5 s
  // window moved at least 90% of the offered rate to Kafka and to the live
  // TAK destination (which gets the ~99% valid records), and the Kafka
  // output never lagged the input by more than 2 s of it.
  auto rate = static_cast<double>(o.stall_rate);
  r.flowing = r.kafka_min5_rps >= 0.9 * rate
              && r.up_min5_rps >= 0.9 * 0.99 * rate
              && static_cast<double>(r.max_lag) <= 2 * rate
              && r.paused_max <= 0;
  progress("%s: peak RSS %s MB, Kafka min %.0f/s, up min %.0f/s, paused max "
           "%.0f, parked %.0f",
           name.c_str(), mb(r.peak_rss_kb).c_str(), r.kafka_min_rps,
           r.up_min_rps, r.paused_max, r.parked_total);
  auto s0 = clock_type::now();
  proc.signal(SIGTERM);
  r.exit_code = proc.wait(60s);
  r.stop_s = secs_since(s0);
  r.problems = log_problems(log_path, r.log_lines);
  {
    std::ifstream in(log_path);
    std::string line;
    while (std::getline(in, line))
      if (line.find("Offset out of range") != std::string::npos
          && line.find("detections") != std::string::npos)
        ++r.offset_resets;
  }
  return r;
}

// ---- scenario outage --------------------------------------------------------

/// One receiver outage and what it cost.
struct outage_one {
  double down_at_s = 0;       // since the stream started
  double down_s = 0;          // how long the receiver was down
  double back_s = -1;         // receiver up -> first event again
  uint64_t events_before = 0; // at the receiver when it went down
  uint64_t dups = 0;          // duplicates from this outage's reconnect on
  // From cotflow's metrics, over the outage: events and bytes sent again,
  // the bytes the server's kernel had not acknowledged at the loss.
  double resent = -1, resent_bytes = -1, unacked = -1;
  // The bytes written after the latest ping the receiver answered (the
  // whole replay window when it answered none).
  double unconfirmed = -1;
};

struct outage_result {
  uint64_t records = 0, valid = 0;
  int64_t rate = 0;
  double stream_s = 0;
  double margin_bytes = 0, replay_bytes = 0;
  bool resend_as_shipped = true;
  bool answer_pings = true;
  double ping_answers = -1;
  std::vector<outage_one> outages;
  uint64_t events = 0, distinct = 0, dups = 0, other = 0;
  double bytes_per_event = 0; // cotflow's bytes / events to the receiver
  double settle_s = -1;       // stream end -> every valid record received
  double stale_dropped = -1, parked_stale = -1, parked = -1, reconnects = -1;
  std::optional<int> exit_code;
  double stop_s = 0;
  size_t log_lines = 0;
  std::vector<std::string> problems;
};

/// A tak.* size of cotflow's as this run has it: --cotflow-env, else the
/// default.
double tak_bytes_setting(const options& o, const std::string& env_key,
                         int64_t fallback) {
  for (auto& [k, v] : o.cot_env)
    if (k == env_key)
      return std::stod(v);
  return static_cast<double>(fallback);
}

outage_result run_outage(const options& o, uint64_t seq_base) {
  outage_result r;
  r.records = o.outage_records;
  r.rate = o.outage_rate;
  auto defaults = cotflow::default_config();
  r.margin_bytes = tak_bytes_setting(o, "COTFLOW_TAK_RESEND_MARGIN_BYTES",
                                     defaults.tak.resend_margin_bytes);
  r.replay_bytes = tak_bytes_setting(o, "COTFLOW_TAK_REPLAY_BYTES",
                                     defaults.tak.replay_bytes);
  r.resend_as_shipped
    = r.margin_bytes == static_cast<double>(defaults.tak.resend_margin_bytes)
      && r.replay_bytes == static_cast<double>(defaults.tak.replay_bytes);
  auto stream_s = static_cast<double>(o.outage_records)
                  / static_cast<double>(o.outage_rate);
  // Two outages, at a fifth and at three fifths of the stream, each over
  // before the stream ends: both losses cut a connection that is writing.
  std::vector<double> downs{0.2 * stream_s, 0.6 * stream_s};
  if (downs[1] + o.outage_seconds > 0.95 * stream_s
      || downs[0] + o.outage_seconds > downs[1] - 5)
    die("outage: " + std::to_string(o.outage_records) + " records at "
        + std::to_string(o.outage_rate)
        + "/s do not fit two outages of --outage-seconds "
        + std::to_string(o.outage_seconds) + " s with time between them");
  const std::string dest = "tak";
  auto broker = fresh_broker(
    {{"detections", o.input_partitions},
     {"cot", partitions},
     {"cot-dead-letter", 1},
     {"cotflow.parking." + dest, std::max(o.parking_partitions, 12)}});
  auto bootstrap = broker->bootstraps();
  auto rx_opts = receiver(seq_base, o.outage_records);
  rx_opts.answer_pings = o.outage_answer_pings;
  r.answer_pings = o.outage_answer_pings;
  tak_receiver rx{rx_opts};
  rx.listen_now();
  progress("outage: broker %s, TAK receiver port %u (%s pings)",
           bootstrap.c_str(), rx.port(),
           o.outage_answer_pings ? "answering" : "never answering");
  // The reconnect follows the receiver within a second, so that each
  // outage ends with a connection that resends.
  auto env = fast_tak_env(o, bootstrap, dest, rx.port());
  // A receiver that never answers: cotflow still pings it, but does not
  // reconnect for the silence within the run, so that each resend is an
  // outage's.
  if (!o.outage_answer_pings)
    env.emplace_back("COTFLOW_TAK_PING_TIMEOUT_MS", "3600000");
  auto log_path = o.log_dir + "/cotflow-parking-outage.log";
  child proc{
    {o.cotflow_bin, "run", "--config", "/dev/null"}, env, log_file{log_path}};
  auto port = http_port("outage", log_path, proc);
  auto lbl = std::string{"destination=\"" + dest + "\""};
  auto dest_metric = [&](const std::map<std::string, double>& m,
                         const char* name) { return metric(m, name, lbl); };

  cotflow::detection_generator::options go;
  go.seed = 13;
  go.tracks = 2000;
  go.first_seq = seq_base;
  cotflow::detection_generator gen{go};
  cotflow::generated_record rec;
  auto pub = publisher(bootstrap, "5");
  progress("outage: %llu records at %lld/s (%.0f s), the receiver down for "
           "%.0f s at %.0f s and at %.0f s",
           static_cast<unsigned long long>(o.outage_records),
           static_cast<long long>(o.outage_rate), stream_s, o.outage_seconds,
           downs[0], downs[1]);
  std::map<std::string, double> before_loss;
  auto t0 = clock_type::now();
  uint64_t sent = 0;
  size_t next_down = 0;
  bool down = false;
  uint64_t dups_at_down = 0, events_at_up = 0;
  bool awaiting_back = false;
  auto up_at = clock_type::now();
  auto last_report = clock_type::now();
  while (sent < o.outage_records || down) {
    auto t = secs_since(t0);
    if (!down && next_down < downs.size() && t >= downs[next_down]) {
      // Down: listener and connections closed, the port refused, what the
      // receiver's kernel held unread gone with them.
      before_loss = scrape(port);
      outage_one one;
      one.down_at_s = t;
      one.events_before = rx.events();
      // The previous outage's duplicates came in since its reconnect.
      if (!r.outages.empty())
        r.outages.back().dups = rx.duplicates() - dups_at_down;
      dups_at_down = rx.duplicates();
      rx.stop();
      r.outages.push_back(one);
      down = true;
      progress("outage %zu: receiver down at %.1f s after %llu events",
               r.outages.size(), t,
               static_cast<unsigned long long>(one.events_before));
    } else if (down && t >= downs[next_down] + o.outage_seconds) {
      auto& one = r.outages.back();
      auto m = scrape(port);
      auto delta = [&](const char* name) {
        auto a = dest_metric(before_loss, name);
        auto b = dest_metric(m, name);
        return a < 0 || b < 0 ? -1.0 : b - a;
      };
      one.resent = delta("cotflow_destination_replayed_total");
      one.resent_bytes = delta("cotflow_destination_resent_bytes_total");
      one.unacked = delta(
        "cotflow_destination_unacknowledged_at_loss_bytes_total");
      one.unconfirmed = delta(
        "cotflow_destination_unconfirmed_at_loss_bytes_total");
      events_at_up = rx.events();
      rx.start();
      up_at = clock_type::now();
      awaiting_back = true;
      one.down_s = t - one.down_at_s;
      down = false;
      ++next_down;
      progress("outage %zu: receiver up after %.1f s; cotflow resent %.0f "
               "events (%.0f bytes; %.0f unacknowledged at the loss)",
               r.outages.size(), one.down_s, one.resent, one.resent_bytes,
               one.unacked);
    }
    if (awaiting_back && rx.events() > events_at_up) {
      r.outages.back().back_s = secs_since(up_at);
      awaiting_back = false;
    }
    if (!proc.alive())
      die("outage: cotflow exited (log: " + log_path + ")");
    auto due = std::min<uint64_t>(
      o.outage_records,
      static_cast<uint64_t>(t * static_cast<double>(o.outage_rate)));
    if (sent >= due) {
      pub->poll();
      std::this_thread::sleep_for(500us);
      continue;
    }
    auto now = cotflow::now_ms();
    while (sent < due) {
      gen.next(rec, now);
      r.valid += rec.valid;
      send(*pub, "detections", rec.key, rec.payload, now);
      ++sent;
    }
    pub->poll();
    if (secs_since(last_report) > 10) {
      last_report = clock_type::now();
      progress("outage: %.0f s, %llu published, %zu events at the receiver "
               "(%llu duplicates)",
               t, static_cast<unsigned long long>(sent), rx.events(),
               static_cast<unsigned long long>(rx.duplicates()));
    }
  }
  r.stream_s = secs_since(t0);
  pub->flush(30000);
  // Every valid record at the receiver, or no progress for 60 s.
  auto t_end = clock_type::now();
  auto last_move = clock_type::now();
  uint64_t last_distinct = rx.distinct();
  while (rx.distinct() < r.valid && secs_since(last_move) < 60
         && proc.alive()) {
    if (rx.distinct() != last_distinct) {
      last_distinct = rx.distinct();
      last_move = clock_type::now();
    }
    sleep_ms(20);
  }
  if (rx.distinct() >= r.valid)
    r.settle_s = secs_since(t_end);
  // A moment for late duplicates (a replay still under way).
  sleep_ms(2000);
  r.outages.back().dups = rx.duplicates() - dups_at_down;
  r.events = rx.events();
  r.distinct = rx.distinct();
  r.dups = rx.duplicates();
  r.other = rx.other();
  auto m = scrape(port);
  auto bytes = dest_metric(m, "cotflow_destination_bytes_total");
  auto events = dest_metric(m, "cotflow_destination_events_total");
  r.bytes_per_event = events > 0 ? bytes / events : 0;
  r.stale_dropped = dest_metric(m, "cotflow_destination_dropped_stale_total");
  r.parked_stale = dest_metric(m, "cotflow_parked_dropped_stale_total");
  r.parked = dest_metric(m, "cotflow_parked_total");
  r.reconnects = dest_metric(m, "cotflow_destination_reconnects_total");
  r.ping_answers = dest_metric(m, "cotflow_destination_ping_answers_total");
  progress("outage: %llu events, %llu distinct of %llu valid, %llu "
           "duplicates",
           static_cast<unsigned long long>(r.events),
           static_cast<unsigned long long>(r.distinct),
           static_cast<unsigned long long>(r.valid),
           static_cast<unsigned long long>(r.dups));
  auto s0 = clock_type::now();
  proc.signal(SIGTERM);
  r.exit_code = proc.wait(60s);
  r.stop_s = secs_since(s0);
  r.problems = log_problems(log_path, r.log_lines);
  return r;
}

// ---- report -----------------------------------------------------------------

std::string exit_text(const std::optional<int>& c) {
  return c ? std::to_string(*c) : std::string{"none (killed)"};
}

/// The last line of a scenario's report: cotflow's exit on SIGTERM and the
/// warnings and errors of its log.
template <class Result>
void report_shutdown(const Result& r) {
  std::printf("- SIGTERM → exit code %s after %.2f s; %zu log lines, %zu "
              "distinct warnings/errors (digits folded to #)%s\n",
              exit_text(r.exit_code).c_str(), r.stop_s, r.log_lines,
              r.problems.size(), r.problems.empty() ? "." : ":");
  for (size_t i = 0; i < r.problems.size() && i < 10; ++i)
    std::printf("  - `%s`\n", r.problems[i].c_str());
  std::printf("\n");
}

void report_replay(const options& o, const replay_result& r) {
  std::printf("### Parking replay (`replay`)\n\n");
  std::printf(
    "One TAK destination `tak`, down (its port bound but not listening: "
    "connects refused); tak.reconnect_min/max_ms=50/200 and "
    "tak.breaker_open_min/max_ms=500/2000 so that the replay starts soon "
    "after the receiver is up (as in tests/integration/parking.cpp); "
    "everything else as shipped%s. %llu detections (tracks=2000, 1%% "
    "malformed) published while it was down, as fast as a window of %lld "
    "records ahead of the Kafka output allows. Parking topic `%s` %s with "
    "%d partitions (the mock keeps ~5 MB per partition). Then the receiver "
    "(in the benchmark process, counting `</event>`) starts listening; the "
    "replay is timed from its first event to its last.\n\n",
    o.fetch_wait.empty()
      ? ""
      : (", fetch.wait.max.ms=" + o.fetch_wait + " on every client").c_str(),
    static_cast<unsigned long long>(r.records),
    static_cast<long long>(o.window), "cotflow.parking.tak",
    o.parking_partitions > 0 ? "created by the benchmark"
                             : "auto-created by cotflow's producer",
    r.parking_partitions);
  std::printf("| phase | records | s | records/s | CPU µs/record | peak RSS MB "
              "|\n|---|---:|---:|---:|---:|---:|\n");
  std::printf("| park (publish start → every Kafka output) | %llu | %.2f | "
              "%.0f | %.1f | %s |\n",
              static_cast<unsigned long long>(r.records), r.park_out_s,
              static_cast<double>(r.records) / r.park_out_s, r.park_cpu_us,
              mb(r.park_rss_kb).c_str());
  std::printf("| replay (first → last event at the receiver) | %llu | %.2f | "
              "**%.0f** | %.1f | %s |\n",
              static_cast<unsigned long long>(r.events), r.last_s - r.first_s,
              r.rps, r.replay_cpu_us, mb(r.replay_rss_kb).c_str());
  std::string runs;
  for (auto v : r.raw_runs)
    runs += (runs.empty() ? "" : ", ") + std::to_string(static_cast<long>(v));
  std::printf("| baseline: plain consumer of the parking topic (cotflow's "
              "consumer settings, no socket; best of 3: %s) | %llu | %.2f | "
              "%.0f | — | — |\n\n",
              runs.c_str(), static_cast<unsigned long long>(r.raw_records),
              r.raw_rps > 0 ? static_cast<double>(r.raw_records) / r.raw_rps
                            : 0.0,
              r.raw_rps);
  std::printf("**Ratio replay/baseline: %.2f**; steady replay rate "
              "(10%%-90%% of the events): %.0f/s; longest gap between reads "
              "at the receiver: %.3f s. Other load on the machine (CPU of "
              "processes that are neither this benchmark nor cotflow): %.2f "
              "cores while parking, %.2f while replaying.\n\n",
              r.raw_rps > 0 ? r.rps / r.raw_rps : 0.0, r.steady_rps,
              r.longest_gap_s, r.park_other_cores, r.replay_other_cores);
  std::printf("- Breaker open %.2f s after start-up; input offsets committed "
              "%.2f s after the publish started (parked counts as "
              "acknowledged); %lld records in the parking topic for %llu "
              "valid inputs.\n",
              r.breaker_open_s, r.park_commit_s,
              static_cast<long long>(r.parked),
              static_cast<unsigned long long>(r.valid));
  std::printf(
    "- Receiver up → first replayed event %.2f s (the open "
    "breaker's wait), → last %.2f s, → \"delivering directly "
    "again\" %s, → parking offsets committed %s.\n",
    r.first_s, r.last_s,
    r.direct_s >= 0 ? (std::to_string(r.direct_s).substr(0, 5) + " s").c_str()
                    : "not within 30 s",
    r.parking_commit_s >= 0
      ? (std::to_string(r.parking_commit_s).substr(0, 5) + " s").c_str()
      : "not within 30 s");
  std::printf("- Received %llu events: %llu distinct of %llu valid inputs, "
              "%llu duplicates, %llu without a known seq; %llu missing.\n",
              static_cast<unsigned long long>(r.events),
              static_cast<unsigned long long>(r.distinct),
              static_cast<unsigned long long>(r.valid),
              static_cast<unsigned long long>(r.dups),
              static_cast<unsigned long long>(r.other),
              static_cast<unsigned long long>(
                r.valid > r.distinct ? r.valid - r.distinct : 0));
  auto lbl = std::string{"destination=\"tak\""};
  std::printf("- cotflow metrics at the end: parked_total %.0f, "
              "unparked_total %.0f, parked_dropped_stale_total %.0f, "
              "breaker_trips_total %.0f, parking_active %.0f.\n",
              metric(r.metrics_end, "cotflow_parked_total", lbl),
              metric(r.metrics_end, "cotflow_unparked_total", lbl),
              metric(r.metrics_end, "cotflow_parked_dropped_stale_total", lbl),
              metric(r.metrics_end, "cotflow_breaker_trips_total", lbl),
              metric(r.metrics_end, "cotflow_parking_active", lbl));
  report_shutdown(r);
}

void report_stall(const options& o, const stall_result& r) {
  std::printf("### Stalled destination (`stall-%s`)\n\n", r.mode.c_str());
  std::printf(
    "Two TAK destinations: `down` (%s) and `up` (a receiver in the "
    "benchmark process that reads everything), plus the Kafka output; all "
    "settings as shipped%s (breaker opens after 5 failures, first open wait "
    "30 s, tak.queue_events 2000, parking topic auto-created with 4 "
    "partitions). %lld records/s offered for %.0f s (%llu records, 1%% "
    "malformed). Peak RSS is VmHWM reset at the start of the offered "
    "period.\n\n",
    r.mode == "refused" ? "port bound, not listening: connects refused"
                        : "accepts connections and never reads: writes "
                          "block until tak.write_timeout_ms (10 s)",
    o.fetch_wait.empty()
      ? ""
      : (", fetch.wait.max.ms=" + o.fetch_wait + " on every client").c_str(),
    static_cast<long long>(r.rate), o.stall_seconds,
    static_cast<unsigned long long>(r.published));
  std::printf("| peak RSS MB | RSS MB start → end | Kafka out/s: min 5 s "
              "window, min 1 s (median 1 s) | `up` events/s: min 5 s, min 1 s "
              "(median 1 s) | max lag records | "
              "source paused | in flight max | `down` queue max | parked "
              "| CPU µs/record |\n");
  std::printf("|---:|---|---:|---:|---:|---|---:|---:|---:|---:|\n");
  std::printf("| **%s** | %s → %s | %.0f, %.0f (%.0f) | %.0f, %.0f (%.0f) | "
              "%lld | %s | %.0f | %.0f | %.0f | %.1f |\n\n",
              mb(r.peak_rss_kb).c_str(), mb(r.rss_start_kb).c_str(),
              mb(r.rss_end_kb).c_str(), r.kafka_min5_rps, r.kafka_min_rps,
              r.kafka_median_rps, r.up_min5_rps, r.up_min_rps, r.up_median_rps,
              static_cast<long long>(r.max_lag),
              r.paused_max > 0 ? "**yes**"
                               : (r.paused_max < 0 ? "unknown" : "never"),
              r.in_flight_max, r.queue_down_max, r.parked_total, r.cpu_us);
  std::printf("Every 10 s (cumulative counts since the offered period "
              "started):\n\n");
  std::printf("| s | published | Kafka outputs | `up` events | parked "
              "(topic) | RSS MB | in flight | `down` queue | `down` breaker "
              "(0 closed, 1 open, 2 half-open) | parking |\n");
  std::printf("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  for (size_t i = 0; i < r.timeline.size(); ++i) {
    auto& s = r.timeline[i];
    if (i % 10 != 0 && i + 1 != r.timeline.size())
      continue;
    std::printf("| %.0f | %lld | %lld | %llu | %lld | %s | %.0f | %.0f | %.0f "
                "| %.0f |\n",
                s.t, static_cast<long long>(s.published),
                static_cast<long long>(s.outputs),
                static_cast<unsigned long long>(s.up),
                static_cast<long long>(s.parked), mb(s.rss_kb).c_str(),
                s.in_flight, s.queue_down, s.breaker_down, s.parking_down);
  }
  std::printf("\n- Kafka output and `up` %s (criterion: the source never "
              "paused, every 5 s window moved ≥ 90%% of the offered rate to "
              "Kafka and to `up`, Kafka never more than 2 s of input behind): "
              "Kafka min %.0f/s, `up` min %.0f/s over 5 s; max lag %lld "
              "records; source paused: %s. Other load on the machine: %.2f "
              "cores.\n",
              r.flowing ? "**kept flowing**" : "**did not keep flowing**",
              r.kafka_min5_rps, r.up_min5_rps,
              static_cast<long long>(r.max_lag),
              r.paused_max > 0 ? "yes" : "never", r.other_cores);
  std::printf(
    "- After the last publish: Kafka output complete %s, input "
    "offsets committed %s; `up` got %llu events (%llu "
    "distinct, %llu copies again) for %llu valid inputs; `down` accepted %zu "
    "connections; breaker trips %.0f, parking active at the end "
    "%.0f.\n",
    r.drain_s >= 0
      ? ("after " + std::to_string(r.drain_s).substr(0, 5) + " s").c_str()
      : "— not within 30 s",
    r.commit_s >= 0 ? ("after " + std::to_string(r.commit_s).substr(0, 5)
                       + " s (from the last publish)")
                        .c_str()
                    : "— not within 30 s",
    static_cast<unsigned long long>(r.up_events),
    static_cast<unsigned long long>(r.up_distinct),
    static_cast<unsigned long long>(r.up_dups),
    static_cast<unsigned long long>(r.valid), r.down_connections, r.trips,
    r.parking_active);
  if (r.offset_resets > 0 || r.outputs < static_cast<int64_t>(r.published))
    std::printf(
      "- **%lld of %llu inputs never reached the Kafka output**; "
      "the input consumer logged %zu \"Offset out of range\" "
      "resets: it fell more than the mock's ~5 MB per partition "
      "behind, and the mock had deleted those records (a real "
      "broker's retention would have kept them; the stall that "
      "caused the lag is cotflow's).\n",
      static_cast<long long>(static_cast<int64_t>(r.published) - r.outputs),
      static_cast<unsigned long long>(r.published), r.offset_resets);
  report_shutdown(r);
}

/// The bound of one outage, in events: what cotflow resends at most (the
/// bytes the server's kernel had not acknowledged, plus the margin, but
/// no more than the bytes written after the latest ping the server
/// answered) over the mean bytes of the events resent (of all events when
/// none was), plus the one event that crosses the bound (it goes whole).
double outage_bound_events(const outage_result& r, const outage_one& one) {
  auto per_event = one.resent > 0 ? one.resent_bytes / one.resent
                                  : r.bytes_per_event;
  if (one.unacked < 0 || per_event <= 0)
    return -1;
  auto bytes = one.unacked + r.margin_bytes;
  if (one.unconfirmed >= 0)
    bytes = std::min(bytes, one.unconfirmed);
  return std::ceil(bytes / per_event) + 1;
}

uint64_t outage_missing(const outage_result& r) {
  return r.valid > r.distinct ? r.valid - r.distinct : 0;
}

/// Every outage's duplicates within its bound (and the bound known).
bool outage_within_bounds(const outage_result& r) {
  for (auto& one : r.outages) {
    auto bound = outage_bound_events(r, one);
    if (bound < 0 || static_cast<double>(one.dups) > bound)
      return false;
  }
  return true;
}

void report_outage(const options& o, const outage_result& r) {
  std::printf("### Receiver outages (`outage`)\n\n");
  std::printf(
    "One TAK destination `tak` (TCP) and the Kafka output; %llu detections "
    "(tracks=2000, 1%% malformed) at %lld/s. The receiver (in the benchmark "
    "process, counting each seq) goes down twice for %.0f s, at a fifth and "
    "at three fifths of the stream: its listener and connections closed (so "
    "what its kernel held unread is lost, as with a killed server), "
    "connects refused, then it listens again on the same port. It %s "
    "cotflow's keepalive pings (%.0f answers in the run)%s. "
    "tak.reconnect_min/max_ms=50/200 and tak.breaker_open_min/max_ms="
    "500/2000 (as in `replay`), so that cotflow is back within a second of "
    "the receiver%s; the resend settings %s: "
    "tak.resend_margin_bytes=%.0f, tak.replay_bytes=%.0f, "
    "tak.ping_every_bytes as shipped. The bound of an "
    "outage is what cotflow may resend: the bytes the receiver's kernel had "
    "not acknowledged at the loss (read by cotflow after its latest write; "
    "from its metrics) plus the margin, but no more than the bytes written "
    "after the latest ping the receiver answered, in events at the mean "
    "bytes of the events resent (%.0f bytes an event over the whole run), "
    "plus the one event that crosses it.\n\n",
    static_cast<unsigned long long>(r.records), static_cast<long long>(r.rate),
    o.outage_seconds, r.answer_pings ? "answers" : "never answers",
    r.ping_answers,
    r.answer_pings ? " as TAK Server does (t-x-c-t-r)"
                   : " (a plain CoT listener; tak.ping_timeout_ms=3600000 "
                     "so that cotflow does not reconnect for the silence "
                     "during the run)",
    o.fetch_wait.empty()
      ? ""
      : (", fetch.wait.max.ms=" + o.fetch_wait + " on every client").c_str(),
    r.resend_as_shipped ? "as shipped" : "as set by --cotflow-env",
    r.margin_bytes, r.replay_bytes, r.bytes_per_event);
  std::printf("| outage | down at s | down for s | events received before "
              "| first event again after s | resent events | resent bytes "
              "| unacknowledged bytes at the loss | bytes after the latest "
              "answered ping | bound: min(unacknowledged + margin, after "
              "the answer), events | duplicates | within the bound |\n");
  std::printf("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
  for (size_t i = 0; i < r.outages.size(); ++i) {
    auto& one = r.outages[i];
    auto bound = outage_bound_events(r, one);
    std::printf("| %zu | %.1f | %.1f | %llu | %.2f | %.0f | %.0f | %.0f | "
                "%.0f | %.0f | **%llu** | %s |\n",
                i + 1, one.down_at_s, one.down_s,
                static_cast<unsigned long long>(one.events_before), one.back_s,
                one.resent, one.resent_bytes, one.unacked, one.unconfirmed,
                bound, static_cast<unsigned long long>(one.dups),
                bound < 0                                ? "unknown"
                : static_cast<double>(one.dups) <= bound ? "yes"
                                                         : "**no**");
  }
  std::printf("\n- Received %llu events: %llu distinct of %llu valid inputs, "
              "**%llu missing**, **%llu duplicates** (%.1f%% of the valid "
              "ones), %llu without a known seq; every valid record at the "
              "receiver %s.\n",
              static_cast<unsigned long long>(r.events),
              static_cast<unsigned long long>(r.distinct),
              static_cast<unsigned long long>(r.valid),
              static_cast<unsigned long long>(outage_missing(r)),
              static_cast<unsigned long long>(r.dups),
              r.valid > 0 ? 100.0 * static_cast<double>(r.dups)
                              / static_cast<double>(r.valid)
                          : 0.0,
              static_cast<unsigned long long>(r.other),
              r.settle_s >= 0
                ? ("after " + std::to_string(r.settle_s).substr(0, 5)
                   + " s from the last publish")
                    .c_str()
                : "— **not within 60 s without progress**");
  std::printf("- cotflow metrics at the end: reconnects_total %.0f, "
              "parked_total %.0f, dropped_stale_total %.0f, "
              "parked_dropped_stale_total %.0f.\n",
              r.reconnects, r.parked, r.stale_dropped, r.parked_stale);
  report_shutdown(r);
}

} // namespace

int main(int argc, char** argv) {
  bench::program_name = "bench_parking";
  if (argc < 2 || argv[1][0] == '-') {
    std::fprintf(
      stderr,
      "usage: bench_parking COTFLOW_BIN [--scenarios "
      "replay,stall-refused,stall-blackhole] [--replay-records N]"
      " [--parking-partitions P] [--input-partitions N] [--window W]"
      " [--stall-rate R]"
      " [--stall-seconds S] [--outage-records N] [--outage-rate R]"
      " [--outage-seconds S] [--outage-pings answer|silent] [--fetch-wait MS]"
      " [--cotflow-env KEY=VALUE]..."
      " [--log-dir DIR] [--summary FILE]\n");
    return 2;
  }
  options o;
  o.cotflow_bin = argv[1];
  std::string scenarios = "replay,stall-refused,stall-blackhole";
  std::string summary;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc)
        die("missing value of " + a);
      return argv[++i];
    };
    if (a == "--scenarios")
      scenarios = next();
    else if (a == "--replay-records")
      o.replay_records = std::stoull(next());
    else if (a == "--parking-partitions")
      o.parking_partitions = std::stoi(next());
    else if (a == "--input-partitions")
      o.input_partitions = std::stoi(next());
    else if (a == "--window")
      o.window = std::stoll(next());
    else if (a == "--stall-rate")
      o.stall_rate = std::stoll(next());
    else if (a == "--stall-seconds")
      o.stall_seconds = std::stod(next());
    else if (a == "--outage-records")
      o.outage_records = std::stoull(next());
    else if (a == "--outage-rate")
      o.outage_rate = std::stoll(next());
    else if (a == "--outage-seconds")
      o.outage_seconds = std::stod(next());
    else if (a == "--outage-pings") {
      auto v = next();
      if (v != "answer" && v != "silent")
        die("--outage-pings wants answer or silent");
      o.outage_answer_pings = v == "answer";
    } else if (a == "--fetch-wait")
      o.fetch_wait = next() == "default" ? "" : argv[i];
    else if (a == "--cotflow-env") {
      auto kv = next();
      auto eq = kv.find('=');
      if (eq == std::string::npos)
        die("--cotflow-env wants KEY=VALUE");
      o.cot_env.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
    } else if (a == "--log-dir")
      o.log_dir = next();
    else if (a == "--summary")
      summary = next();
    else
      die("unknown argument " + a);
  }
  if (::access(o.cotflow_bin.c_str(), X_OK) != 0)
    die("not executable: " + o.cotflow_bin);
  std::signal(SIGPIPE, SIG_IGN);
  std::vector<std::string> list;
  {
    std::stringstream in(scenarios);
    std::string item;
    while (std::getline(in, item, ','))
      if (!item.empty())
        list.push_back(item);
  }
  std::optional<replay_result> replay;
  std::vector<stall_result> stalls;
  std::optional<outage_result> outage;
  uint64_t seq_base = 3000000000ULL;
  for (auto& s : list) {
    if (s == "replay")
      replay = run_replay(o, seq_base);
    else if (s == "stall-refused")
      stalls.push_back(run_stall(o, false, seq_base));
    else if (s == "stall-blackhole")
      stalls.push_back(run_stall(o, true, seq_base));
    else if (s == "outage")
      outage = run_outage(o, seq_base);
    else
      die("unknown scenario " + s);
    seq_base += 100000000ULL;
  }

  struct rusage self_usage {};
  getrusage(RUSAGE_SELF, &self_usage);
  if (replay)
    report_replay(o, *replay);
  for (auto& s : stalls)
    report_stall(o, s);
  if (outage)
    report_outage(o, *outage);
  std::printf("Benchmark process (broker, publisher, receivers): %.1f s CPU, "
              "peak RSS %s MB.\n\n",
              static_cast<double>(self_usage.ru_utime.tv_sec)
                + static_cast<double>(self_usage.ru_stime.tv_sec)
                + static_cast<double>(self_usage.ru_utime.tv_usec
                                      + self_usage.ru_stime.tv_usec)
                    / 1e6,
              mb(self_usage.ru_maxrss).c_str());

  bool ok = true;
  std::ofstream out;
  if (!summary.empty())
    out.open(summary, std::ios::app);
  if (replay) {
    auto& r = *replay;
    if (out) {
      out << "replay.records=" << r.records << "\n"
          << "replay.valid=" << r.valid << "\n"
          << "replay.parked=" << r.parked << "\n"
          << "replay.events=" << r.events << "\n"
          << "replay.missing="
          << (r.valid > r.distinct ? r.valid - r.distinct : 0) << "\n"
          << "replay.dups=" << r.dups << "\n"
          << "replay.rps=" << r.rps << "\n"
          << "replay.steady_rps=" << r.steady_rps << "\n"
          << "replay.raw_rps=" << r.raw_rps << "\n"
          << "replay.ratio=" << (r.raw_rps > 0 ? r.rps / r.raw_rps : 0) << "\n"
          << "replay.park_rps=" << static_cast<double>(r.records) / r.park_out_s
          << "\n"
          << "replay.rss_mb=" << static_cast<double>(r.replay_rss_kb) / 1024.0
          << "\n"
          << "replay.partitions=" << r.parking_partitions << "\n"
          << "replay.other_cores=" << r.replay_other_cores << "\n"
          << "replay.exit=" << (r.exit_code ? *r.exit_code : -1) << "\n";
    }
    ok = ok && r.exit_code && *r.exit_code == 0;
  }
  for (auto& s : stalls) {
    auto k = "stall-" + s.mode + ".";
    if (out) {
      out << k << "rss_peak_mb=" << static_cast<double>(s.peak_rss_kb) / 1024.0
          << "\n"
          << k << "kafka_min_rps=" << s.kafka_min_rps << "\n"
          << k << "kafka_median_rps=" << s.kafka_median_rps << "\n"
          << k << "up_median_rps=" << s.up_median_rps << "\n"
          << k << "up_min_rps=" << s.up_min_rps << "\n"
          << k << "kafka_min5_rps=" << s.kafka_min5_rps << "\n"
          << k << "up_min5_rps=" << s.up_min5_rps << "\n"
          << k << "other_cores=" << s.other_cores << "\n"
          << k << "paused_max=" << s.paused_max << "\n"
          << k << "flowing=" << (s.flowing ? 1 : 0) << "\n"
          << k << "max_lag=" << s.max_lag << "\n"
          << k << "parked=" << s.parked_total << "\n"
          << k << "lost=" << (static_cast<int64_t>(s.published) - s.outputs)
          << "\n"
          << k << "published=" << s.published << "\n"
          << k << "offered_rps="
          << (s.seconds > 0 ? static_cast<double>(s.published) / s.seconds : 0)
          << "\n"
          << k << "up_missing="
          << (static_cast<int64_t>(s.valid)
              - static_cast<int64_t>(s.up_distinct))
          << "\n"
          << k << "up_duplicates=" << s.up_dups << "\n"
          << k << "offset_resets=" << s.offset_resets << "\n"
          << k << "exit=" << (s.exit_code ? *s.exit_code : -1) << "\n";
    }
    ok = ok && s.exit_code && *s.exit_code == 0;
  }
  bool missing = false;
  if (outage) {
    auto& r = *outage;
    if (out) {
      out << std::fixed << std::setprecision(1);
      double bound = 0;
      for (size_t i = 0; i < r.outages.size(); ++i) {
        auto& one = r.outages[i];
        auto k = "outage." + std::to_string(i + 1) + ".";
        auto b = outage_bound_events(r, one);
        bound += std::max(b, 0.0);
        out << k << "dups=" << one.dups << "\n"
            << k << "resent=" << one.resent << "\n"
            << k << "resent_bytes=" << one.resent_bytes << "\n"
            << k << "unacked_bytes=" << one.unacked << "\n"
            << k << "unconfirmed_bytes=" << one.unconfirmed << "\n"
            << k << "bound_events=" << b << "\n";
      }
      out << "outage.records=" << r.records << "\n"
          << "outage.valid=" << r.valid << "\n"
          << "outage.missing=" << outage_missing(r) << "\n"
          << "outage.dups=" << r.dups << "\n"
          << "outage.bound_events=" << bound << "\n"
          << "outage.within_bound=" << (outage_within_bounds(r) ? 1 : 0) << "\n"
          << "outage.bytes_per_event=" << r.bytes_per_event << "\n"
          << "outage.margin_bytes=" << r.margin_bytes << "\n"
          << "outage.ping_answers=" << r.ping_answers << "\n"
          << "outage.exit=" << (r.exit_code ? *r.exit_code : -1) << "\n";
    }
    ok = ok && r.exit_code && *r.exit_code == 0;
    missing = outage_missing(r) > 0;
  }
  return !ok ? 3 : missing ? 4 : 0;
}
