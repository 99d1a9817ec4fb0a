// bench_pipeline: end-to-end benchmark of cotflow against a raw librdkafka
// passthrough on the same embedded broker, in one process tree (issue 6).
//
//   bench_pipeline COTFLOW_BIN [--records N] [--window W] [--rates
//   100,1000,10000]
//                  [--latency-seconds S] [--latency-segment-records N]
//                  [--max-seconds S] [--log-dir DIR]
//                  [--summary FILE] [--dump-latency DIR] [--plot FILE.svg]
//                  [--perf PERF_BIN] [--tput-reps N] [--malformed SHARE]
//                  [--baseline-cmd CMD [--baseline-name NAME]] [--no-tak]
//                  [--tak-destinations 1,2] [--tak-protocols]
//
// This process hosts the embedded broker (librdkafka mock cluster, 6
// partitions per topic), publishes the generated detections and observes the
// outputs. Two children consume from it over loopback TCP:
//   baseline  this binary re-executed as `bench_pipeline passthrough`: a
//             consumer-group member with manual commits and an idempotent
//             producer built from cotflow's own make_client_conf(), copying
//             every record to another topic (no decode, no encode);
//             `bench_pipeline fused` is the same loop writing each record
//             as its CoT event, with cotflow's decoder and encoder on the
//             consuming thread: the floor of a design without hand-offs,
//             for --baseline-cmd (see bench/ANALYSIS.md, issue 25);
//   cotflow   `COTFLOW_BIN run --config /dev/null` with
//             COTFLOW_KAFKA_BROKERS=<bootstrap> and the scenario's topics
//             (everything else at its default; both recognize the
//             embedded broker and take its settings), and one TAK
//             destination:
//             a TCP receiver in this process that reads every event
//             (--no-tak: Kafka output only). A record counts as done when
//             it is on the output topic and, as an event, at the receiver.
// --tak-destinations 1,2 gives cotflow that many TAK destinations (each a
// receiver of its own; a record is done when every output has it): the
// first count for the latency phases and the throughput runs, each further
// one as another cotflow instance in the throughput runs' turns (baseline,
// cotflow with 1, cotflow with 2, baseline, ...), each against the same
// baseline runs. Every throughput run publishes records of seqs of its own
// (the same to every pipeline): each receiver counts every seq (missing,
// duplicates), the Kafka outputs are counted by high watermarks per run,
// and the latency phases count every seq at the output topic and the first
// receiver; a record missing after the throughput runs makes the program
// exit 4.
// For each: latency at fixed offered rates, then maximum throughput (the
// median of --tput-reps runs), peak
// RSS (VmHWM, reset per phase through /proc/PID/clear_refs) and CPU per
// record (/proc/PID/stat), then SIGTERM and the exit code. Prints Markdown
// on stdout, progress on stderr, key=value lines to --summary.
//
// The mock broker keeps only ~5 MB / 100k records per partition and drops
// the oldest, so the throughput publisher never runs more than --window
// records ahead of what the pipeline has delivered (outputs observed through
// the high watermarks of the output topics).
//
// The mock broker also finds the data of every fetch by walking the
// partition's message sets from the oldest (rdkafka_mock.c,
// rd_kafka_mock_msgset_find: "FIXME: Maintain an index"), so a fetch costs
// more the more message sets a partition holds, and low rates leave many
// tiny ones: a 10,000/s phase after the lower rates stalled both pipelines
// for up to 2 s in most full runs. So every latency phase and the
// throughput runs start a fresh instance of the pipeline on fresh topics.
// Within one phase the topics grow too: at 10,000/s the mock's fetches
// stalled cotflow for 30-55 ms in the last second of half the 5 s phases.
// So a phase of more than --latency-segment-records records runs as
// segments, each with its own instance and topics, its percentiles taken
// over all the segments' records.
//
// --tak-protocols measures TAK Protocol version 1 against XML instead
// (issue 21): two cotflow instances whose TAK destination differs only in
// protocol=xml and protocol=1, each writing to a receiver of its own that
// splits what it reads as that protocol frames it, take the throughput
// runs in turns (no passthrough, no latency phases). Every run publishes
// records of seqs of its own (the same records to both), and the
// receivers count each seq, so that a record missing at a receiver or
// delivered twice shows.
#include "config/config.hpp"
#include "pipeline/codec/cot_encoder.hpp"
#include "pipeline/codec/decoder.hpp"
#include "pipeline/codec/generator.hpp"
#include "pipeline/core/time.hpp"
#include "pipeline/kafka/kafka.hpp"

#include "bench/harness.hpp"

#include <librdkafka/rdkafkacpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

using namespace bench;

const int partitions = 6;

// ---- the passthrough baseline (child mode) ----------------------------------

std::atomic<bool> g_stop{false};

class passthrough_dr : public RdKafka::DeliveryReportCb {
public:
  // Per input partition: delivered flags from `base` on.
  struct part {
    int64_t base = -1;
    std::deque<bool> done;
    int64_t committed = -1;
  };
  std::vector<part> parts = std::vector<part>(64);
  uint64_t failed = 0;

  void dispatched(int32_t p, int64_t offset) {
    auto& pt = parts[static_cast<size_t>(p)];
    if (pt.base < 0)
      pt.base = offset;
    while (pt.base + static_cast<int64_t>(pt.done.size()) < offset)
      pt.done.push_back(true); // gap: nothing to wait for
    pt.done.push_back(false);
  }

  void dr_cb(RdKafka::Message& msg) override {
    auto v = reinterpret_cast<uintptr_t>(msg.msg_opaque());
    auto p = static_cast<size_t>(v >> 48);
    auto offset = static_cast<int64_t>(v & ((uintptr_t{1} << 48) - 1));
    if (msg.err() != RdKafka::ERR_NO_ERROR) {
      ++failed; // with the idempotent producer this is fatal; counted
      return;
    }
    auto& pt = parts[p];
    pt.done[static_cast<size_t>(offset - pt.base)] = true;
  }

  /// The contiguous delivered prefix of every partition that moved.
  std::vector<std::pair<int32_t, int64_t>> due() {
    std::vector<std::pair<int32_t, int64_t>> out;
    for (size_t p = 0; p < parts.size(); ++p) {
      auto& pt = parts[p];
      while (!pt.done.empty() && pt.done.front()) {
        pt.done.pop_front();
        ++pt.base;
      }
      if (pt.base >= 0 && pt.base > pt.committed)
        out.emplace_back(static_cast<int32_t>(p), pt.base);
    }
    return out;
  }
};

/// Turns each record into the CoT event cotflow would write for it, on the
/// thread that consumed it (`bench_pipeline fused`): the floor of a design
/// that consumes, converts and produces on one thread, with cotflow's own
/// decoder and encoder and no hand-off. A record that is not an event (a
/// malformed or a dropped one) goes out as it came.
class fused_codec {
public:
  explicit fused_codec(const cotflow::config& cfg)
    : dec_(cfg), enc_(cfg.cot, cfg.presentation),
      time_from_kafka_(cfg.cot.missing_time == "kafka_timestamp") {}

  /// Points `payload` and `key` at what goes out for `msg`.
  void convert(const RdKafka::Message& msg, const void*& payload, size_t& len,
               const void*& key, size_t& key_len) {
    std::string_view bytes{static_cast<const char*>(msg.payload()), msg.len()};
    if (dec_.decode(bytes, det_))
      return;
    auto now = cotflow::now_ms();
    cotflow::fill_missing_time(det_, msg.timestamp().timestamp, now,
                               time_from_kafka_);
    xml_.clear();
    if (enc_.encode(det_, now, xml_, &type_, &stale_)
        != cotflow::encode_outcome::encoded)
      return;
    enc_.uid(det_, uid_);
    payload = xml_.data();
    len = xml_.size();
    key = uid_.data();
    key_len = uid_.size();
  }

private:
  cotflow::decoder dec_;
  cotflow::cot_encoder enc_;
  bool time_from_kafka_;
  cotflow::detection det_;
  std::string xml_, uid_, type_;
  int64_t stale_ = 0;
};

/// Copies every record of `in` to `out` (`fused`: as its CoT event),
/// committing what was delivered.
int run_passthrough(const std::string& brokers, const std::string& in,
                    const std::string& out, const std::string& group,
                    const std::map<std::string, std::string>& props,
                    bool fused = false) {
  std::signal(SIGTERM, [](int) { g_stop = true; });
  std::signal(SIGINT, [](int) { g_stop = true; });
  // The same client settings as cotflow's source and Kafka sink.
  auto cfg = cotflow::default_config();
  cfg.kafka.brokers = brokers;
  cfg.kafka.group_id = group;
  cfg.kafka.client_id = "bench-passthrough";
  cfg.kafka.properties = props; // like cotflow's kafka.properties
  // Like `cotflow run`: the embedded broker's settings on an embedded broker.
  cfg.kafka.embedded = cotflow::answers_as_embedded_broker(cfg, 1000ms);
  std::string err;
  auto cconf = cotflow::make_client_conf(cfg, cotflow::client_role::consumer,
                                         err);
  auto pconf = cotflow::make_client_conf(cfg, cotflow::client_role::producer,
                                         err);
  if (!cconf || !pconf)
    die("passthrough: " + err);
  std::optional<fused_codec> codec;
  if (fused)
    codec.emplace(cfg);
  passthrough_dr dr;
  if (pconf->set("dr_cb", static_cast<RdKafka::DeliveryReportCb*>(&dr), err)
      != RdKafka::Conf::CONF_OK)
    die(err);
  std::unique_ptr<RdKafka::KafkaConsumer> consumer{
    RdKafka::KafkaConsumer::create(cconf.get(), err)};
  std::unique_ptr<RdKafka::Producer> producer{
    RdKafka::Producer::create(pconf.get(), err)};
  if (!consumer || !producer)
    die("passthrough: " + err);
  if (consumer->subscribe({in}) != RdKafka::ERR_NO_ERROR)
    die("passthrough: subscribe failed");
  auto commit = [&] {
    auto due = dr.due();
    if (due.empty())
      return;
    std::vector<RdKafka::TopicPartition*> offs;
    for (auto& [p, o] : due)
      offs.push_back(RdKafka::TopicPartition::create(in, p, o));
    if (consumer->commitSync(offs) == RdKafka::ERR_NO_ERROR)
      for (auto& [p, o] : due)
        dr.parts[static_cast<size_t>(p)].committed = o;
    RdKafka::TopicPartition::destroy(offs);
  };
  // A record ends the wait at once; between records the loop serves
  // delivery reports and its commit timer every 5 ms.
  constexpr int poll_timeout = 5;
  auto interval = std::chrono::milliseconds{cfg.pipeline.commit_interval_ms};
  auto last_commit = clock_type::now();
  uint64_t copied = 0;
  while (!g_stop) {
    std::unique_ptr<RdKafka::Message> msg{consumer->consume(poll_timeout)};
    if (msg->err() == RdKafka::ERR_NO_ERROR) {
      dr.dispatched(msg->partition(), msg->offset());
      auto opaque = (static_cast<uintptr_t>(msg->partition()) << 48)
                    | static_cast<uintptr_t>(msg->offset());
      const void* payload = msg->payload();
      size_t len = msg->len();
      const void* key = msg->key() ? msg->key()->data() : nullptr;
      size_t key_len = msg->key() ? msg->key()->size() : 0;
      if (codec)
        codec->convert(*msg, payload, len, key, key_len);
      for (;;) {
        auto rc = producer->produce(
          out, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
          const_cast<void*>(payload), len, key, key_len, 0, nullptr,
          reinterpret_cast<void*>(opaque));
        if (rc == RdKafka::ERR_NO_ERROR)
          break;
        if (rc != RdKafka::ERR__QUEUE_FULL)
          die("passthrough produce: " + RdKafka::err2str(rc));
        producer->poll(10);
      }
      ++copied;
    }
    producer->poll(0);
    if (clock_type::now() - last_commit >= interval) {
      commit();
      last_commit = clock_type::now();
    }
  }
  producer->flush(10000);
  producer->poll(0);
  commit();
  consumer->close();
  std::fprintf(stderr,
               "%s: copied %llu records, %llu failed "
               "deliveries\n",
               fused ? "fused" : "passthrough",
               static_cast<unsigned long long>(copied),
               static_cast<unsigned long long>(dr.failed));
  return dr.failed == 0 ? 0 : 1;
}

// ---- measurements -----------------------------------------------------------

/// Records expected at one destination and what it got of them.
struct counts {
  uint64_t expected = 0;
  uint64_t distinct = 0;
  uint64_t duplicates = 0;
  bool measured = false;

  int64_t missing() const {
    return static_cast<int64_t>(expected) - static_cast<int64_t>(distinct);
  }
  counts& operator+=(const counts& o) {
    expected += o.expected;
    distinct += o.distinct;
    duplicates += o.duplicates;
    measured = measured || o.measured;
    return *this;
  }
};

/// Marks the seq at `index` of a phase seen in `seen` and counts it in `c`
/// as a first copy or a duplicate.
void count_seq(std::vector<uint8_t>& seen, size_t index, counts& c) {
  if (seen[index] == 0) {
    seen[index] = 1;
    ++c.distinct;
  } else {
    ++c.duplicates;
  }
}

struct latency_result {
  int64_t rate = 0;
  double seconds = 0;
  uint64_t published = 0;
  uint64_t matched = 0;
  double offered_achieved = 0;
  // Percentiles in ms: consume time minus publish time (what a reader of the
  // output topic sees), and output record CreateTime minus input timestamp.
  double p50 = 0, p95 = 0, p99 = 0, max = 0;
  double c50 = 0, c99 = 0;
  // cotflow's local TCP (TAK) receiver: read time minus publish time.
  uint64_t tcp_matched = 0;
  double tcp50 = -1, tcp99 = -1;
  /// Records of the phase that should reach the output topic (and the TAK
  /// destination); distinct seqs of them seen there within 5 s of the
  /// phase's end, and copies seen again.
  counts kafka, tak;
  double cpu_us_per_record = 0;
  long peak_rss_kb = -1;
};

struct throughput_result {
  uint64_t records = 0;
  double out_seconds = 0;
  double commit_seconds = -1;
  double steady_rps = 0;
  double longest_stall_s = 0;
  double cpu_us_per_record = 0;
  long peak_rss_kb = -1;
  int64_t outputs = 0;
  /// Records on the output topics (high watermarks, every output topic,
  /// no TAK destination), at the end of the run.
  int64_t kafka_outputs = 0;
  /// Events cotflow's local TCP (TAK) receiver got in the run; -1 without.
  int64_t tcp_events = -1;
  /// Bytes it read in the run; -1 without.
  int64_t tcp_bytes = -1;

  /// Records/s to the last output: the throughput figure of a run.
  double rps() const {
    return static_cast<double>(records) / out_seconds;
  }
};

double pct(std::vector<double>& v, double p) {
  if (v.empty())
    return 0;
  auto idx = static_cast<size_t>(p / 100.0 * static_cast<double>(v.size()));
  return v[std::min(idx, v.size() - 1)];
}

/// What one pipeline under test looks like from outside.
struct target {
  std::string name;
  std::string group;
  std::string in_topic;
  /// Output topics with their partition counts; their record counts grow by
  /// one per input record (CoT or dead letter).
  std::vector<std::pair<std::string, int>> outputs;
  /// The topic whose records carry the latency (payload has "seq=N").
  std::string latency_topic;
  child* proc = nullptr;
  /// cotflow's first TAK destination, a local TCP receiver (null: none),
  /// the one the latency phases time. Every record on `latency_topic` is
  /// also an event here.
  tak_receiver* tcp = nullptr;
  /// Every TAK destination's receiver, `tcp` first (--tak-destinations).
  std::vector<tak_receiver*> tcps;
};

/// Records on the output topics of `t` (high watermarks); -1 when a topic
/// is not known yet.
int64_t kafka_outputs_now(kafka_observer& obs, const target& t,
                          int64_t* no_event = nullptr) {
  int64_t sum = 0, other = 0;
  for (auto& [topic, n] : t.outputs) {
    auto s = obs.high_sum(topic, n);
    if (s < 0)
      return -1;
    sum += s;
    if (topic != t.latency_topic)
      other += s;
  }
  if (no_event)
    *no_event = other;
  return sum;
}

/// Input records done: outputs on every topic, and with TCP receivers at
/// most as many as the one that got the fewest events (plus the records
/// that are no event): a record is done when every output has it.
int64_t outputs_now(kafka_observer& obs, const target& t) {
  int64_t no_event = 0;
  auto sum = kafka_outputs_now(obs, t, &no_event);
  if (sum < 0)
    return -1;
  for (auto* rx : t.tcps)
    sum = std::min(sum, static_cast<int64_t>(rx->events()) + no_event);
  return sum;
}

/// Publishes `count` records and waits until the target produced as many
/// outputs (the group is then assigned and the pipeline warm).
bool warm_up(const std::string& bootstrap, kafka_observer& obs, const target& t,
             uint64_t count, std::chrono::seconds timeout) {
  auto before = outputs_now(obs, t);
  auto pub = publisher(bootstrap, "5");
  cotflow::detection_generator::options o;
  o.seed = 1;
  o.malformed = 0.0;
  o.first_seq = 900000000000ULL;
  cotflow::detection_generator gen{o};
  cotflow::generated_record rec;
  for (uint64_t i = 0; i < count; ++i) {
    gen.next(rec, cotflow::now_ms());
    send(*pub, t.in_topic, rec.key, rec.payload);
  }
  pub->flush(30000);
  auto deadline = clock_type::now() + timeout;
  while (clock_type::now() < deadline) {
    if (!t.proc->alive())
      return false;
    if (outputs_now(obs, t) - before >= static_cast<int64_t>(count))
      return true;
    sleep_ms(50);
  }
  return false;
}

// Partitions of each cotflow instance's parking topic (see the launcher):
// 16 keep ~80 MB of parked events on the mock broker. Not more: cotflow's
// replayer fetches every partition of it all the time, and with 64 that
// was 2-5% of a core more at fetch.wait.max.ms=5 (CPU per record at
// 100/s 680 -> 900 µs, at 10,000/s 27 -> 32 µs).
constexpr int parking_partitions = 16;
std::string dump_dir;      // --dump-latency: per-record CSVs go here
std::string dump_scenario; // the scenario being measured, for file names
std::string perf_bin;      // --perf: perf(1) records the throughput phases
// --tput-reps: throughput runs per pipeline; the report takes the median.
// One run's rate swings by a third on this machine (the baseline's too).
int tput_reps = 1;
std::string perf_dir; // where perf-<scenario>.data goes (--log-dir)
// --baseline-cmd: another pipeline in the passthrough's place (see usage).
std::string baseline_cmd;
// --baseline-name: what the report calls the --baseline-cmd pipeline
// (default "baseline").
std::string baseline_name;
// --no-tak: cotflow without its TAK destination (Kafka output only).
bool with_tak = true;
// --malformed: share of malformed records in every generated stream.
double malformed_share = 0.01;
// --tak-protocols: TAK destination protocol=xml against protocol=1 (see the
// top of this file) instead of the passthrough against cotflow.
bool tak_protocols = false;
// --tak-destinations: cotflow's TAK destinations; the first count is the
// instance of the latency phases and the throughput runs, each further one
// another instance in the throughput runs' turns.
std::vector<int> tak_counts{1};

const char* baseline_label() {
  if (baseline_cmd.empty())
    return "baseline passthrough";
  return baseline_name.empty() ? "baseline (command)" : baseline_name.c_str();
}

/// The baseline's name in the latency rows and the shutdown lines.
const char* baseline_short() {
  return baseline_name.empty() || baseline_cmd.empty() ? "baseline"
                                                       : baseline_name.c_str();
}

/// The samples of the segments of one latency phase (see measure_latency),
/// summed up by summarize().
struct latency_samples {
  std::vector<double> lat_ms, create_ms, tcp_ms;
  uint64_t published = 0, matched = 0, expected = 0, tcp_matched = 0;
  double seconds = 0, cpu_seconds = 0;
  long peak_rss_kb = -1;
  bool tcp = false;
  /// Every record of the segments counted at the output topic and at the
  /// timed TAK destination.
  counts kafka, tak;
  /// --dump-latency: one file per phase; index and published_s go on from
  /// one segment to the next, leaving out the restart between them.
  std::FILE* dump = nullptr;
};

/// One segment of a latency phase: `total` records at `rate` on `t`, its
/// samples added to `acc`; `label` names it in the progress line.
void latency_phase(const std::string& bootstrap, kafka_observer& obs,
                   const target& t, int64_t rate, uint64_t total,
                   uint64_t first_seq, const std::string& label,
                   latency_samples& acc) {
  auto n_out = 0;
  for (auto& [topic, n] : t.outputs)
    if (topic == t.latency_topic)
      n_out = n;
  // Reader of the output topic, positioned at its current end.
  auto conf = conf_of({{"bootstrap.servers", bootstrap},
                       {"group.id", "bench-latency-reader"},
                       {"client.id", "bench-latency-reader"},
                       {"enable.auto.commit", "false"},
                       {"fetch.wait.max.ms", "2"}});
  std::string err;
  std::unique_ptr<RdKafka::KafkaConsumer> reader{
    RdKafka::KafkaConsumer::create(conf.get(), err)};
  if (!reader)
    die("latency reader: " + err);
  auto ends = obs.highs(t.latency_topic, n_out);
  std::vector<RdKafka::TopicPartition*> parts;
  for (int p = 0; p < n_out; ++p)
    parts.push_back(RdKafka::TopicPartition::create(
      t.latency_topic, p, ends[static_cast<size_t>(p)]));
  reader->assign(parts);
  RdKafka::TopicPartition::destroy(parts);

  // Publish time (wall µs) by seq - first_seq; 0 = not published yet.
  std::vector<std::atomic<int64_t>> sent_us(total);
  std::vector<double> lat_ms;
  std::vector<double> create_ms;
  std::atomic<bool> stop_reader{false};
  std::atomic<uint64_t> matched{0};
  std::atomic<bool> warm_seen{false};
  auto* dump = acc.dump;
  // Index and time in the dump continue from the segments before.
  auto index_base = acc.published;
  auto seconds_base = acc.seconds;
  int64_t start_us = 0;
  std::vector<double> tcp_ms;
  std::atomic<uint64_t> tcp_matched{0};
  // Copies of each seq at the output topic and at the TAK destination
  // (each written by one thread, read after it stopped).
  std::vector<uint8_t> kafka_seen(total), tak_seen(total);
  counts kafka_count, tak_count;
  if (t.tcp)
    t.tcp->on_event([&](uint64_t seq) {
      if (seq < first_seq || seq - first_seq >= total)
        return;
      auto sent = sent_us[seq - first_seq].load();
      if (sent == 0)
        return;
      tcp_ms.push_back(static_cast<double>(wall_us() - sent) / 1000.0);
      count_seq(tak_seen, seq - first_seq, tak_count);
      ++tcp_matched;
    });
  std::thread reader_thread{[&] {
    while (!stop_reader) {
      std::unique_ptr<RdKafka::Message> msg{reader->consume(5)};
      if (msg->err() != RdKafka::ERR_NO_ERROR)
        continue;
      auto now = wall_us();
      auto seq = seq_of({static_cast<const char*>(msg->payload()), msg->len()});
      if (seq && *seq == first_seq + total)
        warm_seen = true;
      if (!seq || *seq < first_seq || *seq - first_seq >= total)
        continue;
      auto sent = sent_us[*seq - first_seq].load();
      if (sent == 0)
        continue;
      count_seq(kafka_seen, *seq - first_seq, kafka_count);
      lat_ms.push_back(static_cast<double>(now - sent) / 1000.0);
      if (dump)
        std::fprintf(
          dump, "%llu,%.3f,%.3f\n",
          static_cast<unsigned long long>(*seq - first_seq + index_base),
          seconds_base + static_cast<double>(sent - start_us) / 1e6,
          static_cast<double>(now - sent) / 1000.0);
      auto ts = msg->timestamp();
      if (ts.type != RdKafka::MessageTimestamp::MSG_TIMESTAMP_NOT_AVAILABLE)
        create_ms.push_back(static_cast<double>(ts.timestamp * 1000 - sent)
                            / 1000.0);
      ++matched;
    }
  }};

  // Pace at `rate`; linger 1 ms so the publisher adds little of its own.
  // One record first (its seq is just past the range), waited for at the
  // reader, so that client start-up of the publisher and of the reader is
  // not counted as latency.
  auto pub = publisher(bootstrap, "1");
  {
    cotflow::detection_generator::options wo;
    wo.malformed = 0;
    wo.first_seq = first_seq + total;
    cotflow::detection_generator warm{wo};
    cotflow::generated_record w;
    warm.next(w, cotflow::now_ms());
    send(*pub, t.in_topic, w.key, w.payload);
    pub->flush(30000);
    auto deadline = clock_type::now() + 20s;
    while (!warm_seen && clock_type::now() < deadline)
      sleep_ms(5);
    if (!warm_seen)
      progress("  %s @ %lld/s: warm-up record not seen within 20 s",
               t.name.c_str(), static_cast<long long>(rate));
    sleep_ms(100);
  }
  cotflow::detection_generator::options o;
  o.seed = static_cast<uint64_t>(rate);
  o.first_seq = first_seq;
  o.malformed = malformed_share;
  cotflow::detection_generator gen{o};
  cotflow::generated_record rec;
  uint64_t valid = 0;
  reset_peak_rss(t.proc->pid());
  auto cpu0 = cpu_seconds(t.proc->pid());
  start_us = wall_us();
  auto t0 = clock_type::now();
  uint64_t sent = 0;
  while (sent < total) {
    auto due = static_cast<uint64_t>(secs_since(t0)
                                     * static_cast<double>(rate));
    if (sent >= due) {
      pub->poll();
      std::this_thread::sleep_for(200us);
      continue;
    }
    while (sent < std::min(due, total)) {
      auto now_us = wall_us();
      gen.next(rec, now_us / 1000);
      // The record's Kafka timestamp: ms part of the same wall time.
      sent_us[rec.seq - first_seq] = now_us;
      send(*pub, t.in_topic, rec.key, rec.payload, now_us / 1000);
      valid += rec.valid;
      ++sent;
    }
    pub->poll();
  }
  auto seconds_taken = secs_since(t0);
  pub->flush(30000);
  // Wait for the stragglers (at most 5 s).
  auto expect = t.latency_topic == t.outputs.front().first
                    && t.outputs.size() == 1
                  ? total
                  : valid;
  auto deadline = clock_type::now() + 5s;
  while (matched < expect && clock_type::now() < deadline)
    sleep_ms(10);
  if (t.tcp) {
    while (tcp_matched < expect && clock_type::now() < deadline)
      sleep_ms(10);
    t.tcp->on_event({}); // waits for a call in progress
    tak_count.expected = valid;
    tak_count.measured = true;
    acc.tak += tak_count;
    acc.tcp = true;
    acc.tcp_matched += tcp_matched.load();
    acc.tcp_ms.insert(acc.tcp_ms.end(), tcp_ms.begin(), tcp_ms.end());
  }
  auto cpu1 = cpu_seconds(t.proc->pid());
  acc.peak_rss_kb = std::max(acc.peak_rss_kb, vm_kb(t.proc->pid(), "VmHWM"));
  stop_reader = true;
  reader_thread.join();
  reader->close();
  kafka_count.expected = expect;
  kafka_count.measured = true;
  acc.kafka += kafka_count;
  acc.seconds += seconds_taken;
  acc.cpu_seconds += cpu1 - cpu0;
  acc.published += sent;
  acc.matched += matched;
  acc.expected += expect;
  acc.lat_ms.insert(acc.lat_ms.end(), lat_ms.begin(), lat_ms.end());
  acc.create_ms.insert(acc.create_ms.end(), create_ms.begin(), create_ms.end());
  std::sort(lat_ms.begin(), lat_ms.end());
  progress("  %s @ %lld/s%s: %llu/%llu matched, p50 %.1f p95 %.1f p99 %.1f "
           "max %.1f ms",
           t.name.c_str(), static_cast<long long>(rate), label.c_str(),
           static_cast<unsigned long long>(matched.load()),
           static_cast<unsigned long long>(expect), pct(lat_ms, 50),
           pct(lat_ms, 95), pct(lat_ms, 99),
           lat_ms.empty() ? 0 : lat_ms.back());
}

/// The percentiles and sums of a latency phase's segments.
latency_result summarize(latency_samples& acc, int64_t rate) {
  latency_result r;
  r.rate = rate;
  r.seconds = acc.seconds;
  r.published = acc.published;
  r.matched = acc.matched;
  r.peak_rss_kb = acc.peak_rss_kb;
  if (acc.seconds > 0)
    r.offered_achieved = static_cast<double>(acc.published) / acc.seconds;
  if (acc.published > 0)
    r.cpu_us_per_record = acc.cpu_seconds * 1e6
                          / static_cast<double>(acc.published);
  std::sort(acc.lat_ms.begin(), acc.lat_ms.end());
  std::sort(acc.create_ms.begin(), acc.create_ms.end());
  r.p50 = pct(acc.lat_ms, 50);
  r.p95 = pct(acc.lat_ms, 95);
  r.p99 = pct(acc.lat_ms, 99);
  r.max = acc.lat_ms.empty() ? 0 : acc.lat_ms.back();
  r.c50 = pct(acc.create_ms, 50);
  r.c99 = pct(acc.create_ms, 99);
  r.kafka = acc.kafka;
  r.tak = acc.tak;
  if (acc.tcp) {
    std::sort(acc.tcp_ms.begin(), acc.tcp_ms.end());
    r.tcp_matched = acc.tcp_matched;
    r.tcp50 = pct(acc.tcp_ms, 50);
    r.tcp99 = pct(acc.tcp_ms, 99);
  }
  return r;
}

throughput_result
throughput_phase(const std::string& bootstrap, kafka_observer& obs,
                 kafka_observer& group_obs, const target& t,
                 const std::vector<cotflow::generated_record>& pool, uint64_t n,
                 int64_t window, double max_seconds) {
  throughput_result r;
  auto before = outputs_now(obs, t);
  auto kafka_before = kafka_outputs_now(obs, t);
  auto tcp_before = t.tcp ? static_cast<int64_t>(t.tcp->events()) : 0;
  auto bytes_before = t.tcp ? static_cast<int64_t>(t.tcp->bytes()) : 0;
  auto in_before = obs.high_sum(t.in_topic, partitions);
  std::atomic<int64_t> done{0};
  std::atomic<bool> stop_monitor{false};
  std::mutex samples_mtx;
  std::vector<std::pair<double, int64_t>> samples; // (s, done)
  auto t0 = clock_type::now();
  std::thread monitor{[&] {
    // Its own observer: the main thread's is not thread-safe to share.
    kafka_observer mon{bootstrap, "bench-monitor"};
    while (!stop_monitor) {
      auto o = outputs_now(mon, t);
      if (o >= 0) {
        done = o - before;
        std::lock_guard<std::mutex> g{samples_mtx};
        samples.emplace_back(secs_since(t0), o - before);
      }
      sleep_ms(5);
    }
  }};
  reset_peak_rss(t.proc->pid());
  auto cpu0 = cpu_seconds(t.proc->pid());
  auto pub = publisher(bootstrap, "5");
  uint64_t sent = 0;
  auto last_report = clock_type::now();
  bool timed_out = false;
  while (sent < n) {
    if (secs_since(t0) > max_seconds) {
      timed_out = true;
      break;
    }
    if (!t.proc->alive())
      die(t.name + " exited during the throughput phase");
    if (static_cast<int64_t>(sent) - done.load() >= window) {
      pub->poll();
      std::this_thread::sleep_for(200us);
      continue;
    }
    auto chunk = std::min<uint64_t>(n - sent, 1000);
    for (uint64_t i = 0; i < chunk; ++i, ++sent) {
      auto& rec = pool[sent % pool.size()];
      send(*pub, t.in_topic, rec.key, rec.payload);
    }
    pub->poll();
    if (clock_type::now() - last_report > 2s) {
      last_report = clock_type::now();
      progress("  %s: published %llu, delivered %lld (%.0f/s so far)",
               t.name.c_str(), static_cast<unsigned long long>(sent),
               static_cast<long long>(done.load()),
               static_cast<double>(done.load()) / secs_since(t0));
    }
  }
  pub->flush(30000);
  r.records = sent;
  // Outputs complete.
  auto deadline = clock_type::now() + 60s;
  while (done.load() < static_cast<int64_t>(sent)
         && clock_type::now() < deadline && t.proc->alive())
    sleep_ms(2);
  r.out_seconds = secs_since(t0);
  r.outputs = done.load();
  r.kafka_outputs = kafka_outputs_now(obs, t) - kafka_before;
  if (t.tcp) {
    r.tcp_events = static_cast<int64_t>(t.tcp->events()) - tcp_before;
    r.tcp_bytes = static_cast<int64_t>(t.tcp->bytes()) - bytes_before;
  }
  stop_monitor = true;
  monitor.join();
  // Commits complete: the group's committed offsets reach the input's end.
  auto ends = obs.highs(t.in_topic, partitions);
  deadline = clock_type::now() + 30s;
  while (clock_type::now() < deadline) {
    if (group_obs.committed_reached(t.in_topic, ends)) {
      r.commit_seconds = secs_since(t0);
      break;
    }
    sleep_ms(20);
  }
  auto cpu1 = cpu_seconds(t.proc->pid());
  r.peak_rss_kb = vm_kb(t.proc->pid(), "VmHWM");
  r.cpu_us_per_record = (cpu1 - cpu0) * 1e6 / static_cast<double>(sent);
  (void)in_before;
  // Steady rate between 10% and 90% of the outputs; the longest time
  // without progress while outputs were owed.
  double t10 = -1, t90 = -1, last_move = 0, stall = 0;
  int64_t last = 0;
  for (auto& [s, d] : samples) {
    if (t10 < 0 && d >= static_cast<int64_t>(sent / 10))
      t10 = s;
    if (t90 < 0 && d >= static_cast<int64_t>(sent * 9 / 10))
      t90 = s;
    if (d != last) {
      stall = std::max(stall, s - last_move);
      last_move = s;
      last = d;
    }
  }
  r.longest_stall_s = stall;
  if (t10 >= 0 && t90 > t10)
    r.steady_rps = static_cast<double>(sent * 8 / 10) / (t90 - t10);
  progress("  %s: %llu records, outputs %lld after %.2f s (%.0f/s), "
           "commits after %.2f s, longest stall %.2f s%s",
           t.name.c_str(), static_cast<unsigned long long>(sent),
           static_cast<long long>(r.outputs), r.out_seconds,
           static_cast<double>(sent) / r.out_seconds, r.commit_seconds,
           r.longest_stall_s, timed_out ? " (stopped at --max-seconds)" : "");
  return r;
}

struct target_result {
  std::vector<latency_result> latency;
  /// The median of the throughput runs (by records/s to the last output),
  /// with the highest peak RSS of all of them.
  throughput_result tput;
  /// Records/s to the last output of each run, in order.
  std::vector<double> tput_runs;
  std::optional<int> exit_code;
  /// Instances stopped (each latency segment and the throughput runs).
  int stopped = 0;
  double stop_seconds = 0;
  long rss_at_stop_kb = -1;
  std::vector<std::string> log_problems;
  size_t log_lines = 0;
  /// CPU of other processes on the machine during the measurements, cores.
  double other_cores() const {
    return other_sum / std::max(other_phases, 1);
  }
  double other_sum = 0; // over the phases so far
  int other_phases = 0;
  /// Times cotflow started parking during the throughput runs (its TAK
  /// destination's queue passed tak.queue_events).
  int tput_parkings = 0;
  /// TAK destinations of the instances (0: the baseline).
  int tak_destinations = 0;
  /// What its TAK receivers counted over the throughput runs, summed over
  /// the receivers: seqs of the runs' records that are events (per
  /// receiver), distinct seqs seen, copies seen again, events outside the
  /// range (warm-ups), framing errors.
  uint64_t tak_expected = 0;
  uint64_t tak_distinct = 0;
  uint64_t tak_duplicates = 0;
  uint64_t tak_other = 0;
  uint64_t tak_violations = 0;
  /// Events of the throughput runs' records that a receiver did not get,
  /// summed over the receivers.
  int64_t tak_missing() const {
    return static_cast<int64_t>(tak_expected)
             * std::max<int64_t>(1, tak_destinations)
           - static_cast<int64_t>(tak_distinct);
  }
  /// The throughput runs' records against the records on the output topics
  /// (high watermarks at the end of each run; the mock broker keeps too
  /// little of a topic to read a run back): records short of one output
  /// each, and outputs beyond one each (copies), summed over the runs.
  int64_t kafka_short = 0;
  int64_t kafka_extra = 0;
  /// Records published in the throughput runs, summed.
  uint64_t tput_records = 0;
  /// The counts of the latency phases, all rates.
  counts lat_kafka, lat_tak;
  /// Keepalive pings it answered.
  uint64_t tak_pings = 0;
  /// Events and bytes the receiver read in the throughput runs, summed.
  uint64_t tak_events = 0;
  uint64_t tak_bytes = 0;
};

/// Lines of the log at `path` that contain `what`.
int count_lines(const std::string& path, const std::string& what) {
  std::ifstream in(path);
  std::string line;
  int n = 0;
  while (std::getline(in, line))
    n += line.find(what) != std::string::npos ? 1 : 0;
  return n;
}

std::vector<std::string> scan_log(const std::string& path, size_t& lines) {
  std::ifstream in(path);
  std::string line;
  std::map<std::string, int> seen;
  std::vector<std::string> order;
  lines = 0;
  while (std::getline(in, line)) {
    ++lines;
    bool bad = line.find("\"level\":\"warn\"") != std::string::npos
               || line.find("\"level\":\"error\"") != std::string::npos
               || line.find("%3|") != std::string::npos  // librdkafka err
               || line.find("%4|") != std::string::npos; // librdkafka warn
    if (!bad)
      continue;
    // Group by message text without the timestamp.
    auto key = line;
    auto m = line.find("\"level\"");
    if (m != std::string::npos)
      key = line.substr(m);
    if (seen[key]++ == 0)
      order.push_back(key);
  }
  std::vector<std::string> out;
  for (auto& k : order)
    out.push_back(std::to_string(seen[k]) + " x " + k.substr(0, 300));
  return out;
}

/// One running pipeline under test: its process, how to see it, its log.
struct instance {
  /// cotflow's TAK destinations (none for the baseline); outlive `proc`.
  std::vector<std::unique_ptr<tak_receiver>> rx;
  std::unique_ptr<child> proc;
  target t;
  std::string log;
};

/// The throughput runs' session timeout (both pipelines): each pipeline
/// waits stopped (SIGSTOP) while the others run, longer than cotflow's
/// default 10 s, and a session that timed out meanwhile made its consumer
/// rejoin the group on SIGCONT, inside the next measured run (SESSTMOUT in
/// every log of the run of 2026-12-07).
const std::string tput_session_timeout_ms = "120000";

/// Starts a pipeline on fresh topics whose names end in `suffix`.
using launcher = std::function<instance(const std::string& suffix)>;

/// Starts an instance and waits until it delivers.
instance start_warm(const std::string& bootstrap, kafka_observer& obs,
                    const launcher& launch, const std::string& suffix) {
  auto inst = launch(suffix);
  progress("%s: started on %s (pid %d), warming up", inst.t.name.c_str(),
           inst.t.in_topic.c_str(), inst.proc->pid());
  if (!warm_up(bootstrap, obs, inst.t, 200, 60s))
    die(inst.t.name + " produced no output within 60 s (log: " + inst.log
        + ")");
  return inst;
}

/// Stops an instance with SIGTERM and adds how it ended to `res`: the first
/// exit code that is not 0 (or the last one), the longest stop, the
/// problems of its log.
void stop(instance& inst, target_result& res) {
  auto t0 = clock_type::now();
  inst.proc->signal(SIGTERM);
  auto code = inst.proc->wait(30s);
  auto took = secs_since(t0);
  progress("%s: SIGTERM -> exit %s after %.2f s", inst.t.name.c_str(),
           code ? std::to_string(*code).c_str() : "none (killed)", took);
  // The first instance that did not exit 0 (or was killed) stands for all.
  if (res.stopped++ == 0 || (res.exit_code && *res.exit_code == 0))
    res.exit_code = code;
  res.stop_seconds = std::max(res.stop_seconds, took);
  size_t lines = 0;
  for (auto& p : scan_log(inst.log, lines))
    res.log_problems.push_back(p);
  res.log_lines += lines;
}

/// Each latency phase and the throughput runs get their own instance on
/// their own fresh topics: the mock broker's fetch walks every message set
/// a partition holds, and the thousands of tiny ones the low rates leave
/// behind made a 10,000/s phase after them stall both pipelines for up to
/// 2 s (see the top of this file). For the same reason a phase of more
/// than `segment_records` records runs as segments of at most that many,
/// one after the other, each with its own instance on its own topics:
/// within one 10,000/s phase the topics grew until, in its last second, the
/// mock's fetches stalled cotflow for 30-55 ms in half the runs, and both
/// pipelines for hundreds of ms in 9 s phases (bench/ANALYSIS.md). The
/// percentiles are those of all the segments' records together.
void measure_latency(const std::string& bootstrap, const launcher& launch,
                     const std::vector<int64_t>& rates, double lat_seconds,
                     uint64_t segment_records, uint64_t& seq_base,
                     target_result& res) {
  kafka_observer obs{bootstrap, "bench-observer"};
  for (auto rate : rates) {
    auto records = static_cast<uint64_t>(static_cast<double>(rate)
                                         * lat_seconds);
    auto segments = std::max<uint64_t>(1, (records + segment_records - 1)
                                            / segment_records);
    latency_samples acc;
    std::string name;
    for (uint64_t i = 0; i < segments; ++i) {
      // The phase's records shared out evenly, none lost to rounding.
      auto share = records * (i + 1) / segments - records * i / segments;
      auto suffix = "r" + std::to_string(rate);
      if (segments > 1)
        suffix += "s" + std::to_string(i);
      auto inst = start_warm(bootstrap, obs, launch, suffix);
      if (i == 0 && !dump_dir.empty()) {
        auto path = dump_dir + "/latency-" + dump_scenario + "-" + inst.t.name
                    + "-" + std::to_string(rate) + ".csv";
        acc.dump = std::fopen(path.c_str(), "w");
        if (acc.dump)
          std::fprintf(acc.dump, "index,published_s,latency_ms\n");
      }
      load_meter load{inst.proc->pid()};
      latency_phase(bootstrap, obs, inst.t, rate, share, seq_base,
                    segments > 1 ? ", segment " + std::to_string(i + 1) + "/"
                                     + std::to_string(segments)
                                 : std::string{},
                    acc);
      seq_base += 100000000ULL;
      if (!inst.proc->alive())
        die(inst.t.name + " exited during a latency phase (log: " + inst.log
            + ")");
      res.other_sum += load.other_cores();
      ++res.other_phases;
      name = inst.t.name;
      stop(inst, res);
    }
    if (acc.dump)
      std::fclose(acc.dump);
    auto r = summarize(acc, rate);
    if (segments > 1)
      progress("  %s @ %lld/s, %llu segments: %llu/%llu matched, p50 %.1f "
               "p95 %.1f p99 %.1f max %.1f ms",
               name.c_str(), static_cast<long long>(rate),
               static_cast<unsigned long long>(segments),
               static_cast<unsigned long long>(r.matched),
               static_cast<unsigned long long>(acc.expected), r.p50, r.p95,
               r.p99, r.max);
    res.lat_kafka += r.kafka;
    res.lat_tak += r.tak;
    res.latency.push_back(r);
  }
}

/// Continues a pipeline stopped with SIGSTOP and waits until it delivers
/// again: after seconds stopped, the first run after SIGCONT once stalled
/// for a second (the passthrough's, after cotflow's warm-up), which is not
/// what a throughput run is to measure.
void resume(const std::string& bootstrap, kafka_observer& obs, instance& inst) {
  inst.proc->signal(SIGCONT);
  if (!warm_up(bootstrap, obs, inst.t, 200, 60s))
    die(inst.t.name + " produced no output within 60 s after SIGCONT (log: "
        + inst.log + ")");
}

/// The records of the throughput runs: run `rep` gets `n` generated
/// detections of seqs of its own (`first_seq + rep * n` on), made when it is
/// first asked for (one run's at a time), so that the receivers can count
/// every record of every run.
class run_records {
public:
  run_records(uint64_t first_seq, uint64_t n, double malformed)
    : first_seq_(first_seq), n_(n), malformed_(malformed) {}

  const std::vector<cotflow::generated_record>& operator()(int rep) {
    if (rep != made_) {
      cotflow::detection_generator::options o;
      o.malformed = malformed_;
      o.first_seq = first_seq_ + static_cast<uint64_t>(rep) * n_;
      cotflow::detection_generator gen{o};
      records_.assign(n_, {});
      auto now = cotflow::now_ms();
      uint64_t valid = 0, bytes = 0;
      for (auto& r : records_) {
        gen.next(r, now);
        valid += r.valid;
        bytes += r.payload.size();
      }
      valid_.resize(std::max(valid_.size(), static_cast<size_t>(rep) + 1));
      valid_[static_cast<size_t>(rep)] = valid;
      mean_bytes_ = static_cast<double>(bytes)
                    / static_cast<double>(std::max<uint64_t>(n_, 1));
      made_ = rep;
    }
    return records_;
  }

  /// Valid records (CoT events) of runs 0 .. runs-1, all made by now.
  uint64_t valid(int runs) const {
    uint64_t sum = 0;
    for (int i = 0; i < runs && static_cast<size_t>(i) < valid_.size(); ++i)
      sum += valid_[static_cast<size_t>(i)];
    return sum;
  }

  /// Mean payload bytes of the latest run's records.
  double mean_bytes() const {
    return mean_bytes_;
  }

private:
  uint64_t first_seq_, n_;
  double malformed_;
  int made_ = -1;
  std::vector<cotflow::generated_record> records_;
  std::vector<uint64_t> valid_;
  double mean_bytes_ = 0;
};

/// The throughput runs of both pipelines, taken in turns (baseline,
/// cotflow, baseline, ...) so that a machine that gets slower or faster
/// over the minutes of a run weighs on both alike. Each has one instance
/// for all its runs; the one whose turn it is not is stopped with SIGSTOP,
/// so that neither competes with the other's idle polling.
/// The records of throughput run `rep` (0, 1, ...) of both pipelines.
using record_pool
  = std::function<const std::vector<cotflow::generated_record>&(int rep)>;

/// The pipelines of the throughput runs, in the order of their turns, and
/// where their results go.
using contenders = std::vector<std::pair<launcher, target_result*>>;

void measure_throughput(const std::string& bootstrap, const contenders& all,
                        const record_pool& pool_of, uint64_t n, int64_t window,
                        double max_seconds) {
  kafka_observer obs{bootstrap, "bench-observer"};
  struct side {
    instance inst;
    target_result* res = nullptr;
    std::unique_ptr<kafka_observer> group_obs;
    std::vector<throughput_result> runs;
    double other = 0;
  };
  std::vector<side> sides(all.size());
  for (size_t i = 0; i < all.size(); ++i) {
    auto& s = sides[i];
    s.res = all[i].second;
    s.inst = start_warm(bootstrap, obs, all[i].first, "tput");
    s.group_obs = std::make_unique<kafka_observer>(bootstrap, s.inst.t.group);
    s.inst.proc->signal(SIGSTOP);
  }
  progress("throughput, %llu records, window %lld, %d runs each in turns",
           static_cast<unsigned long long>(n), static_cast<long long>(window),
           std::max(tput_reps, 1));
  for (int rep = 0; rep < std::max(tput_reps, 1); ++rep) {
    // Before either side's turn: making the records costs no run time.
    auto& pool = pool_of(rep);
    for (auto& s : sides) {
      auto& t = s.inst.t;
      resume(bootstrap, obs, s.inst);
      load_meter load{t.proc->pid()};
      s.runs.push_back(throughput_phase(bootstrap, obs, *s.group_obs, t, pool,
                                        n, window, max_seconds));
      s.res->tput_runs.push_back(s.runs.back().rps());
      s.res->tak_events += static_cast<uint64_t>(
        std::max<int64_t>(0, s.runs.back().tcp_events));
      s.res->tak_bytes += static_cast<uint64_t>(
        std::max<int64_t>(0, s.runs.back().tcp_bytes));
      auto kafka = s.runs.back().kafka_outputs;
      auto sent = static_cast<int64_t>(s.runs.back().records);
      s.res->tput_records += s.runs.back().records;
      s.res->kafka_short += std::max<int64_t>(0, sent - kafka);
      s.res->kafka_extra += std::max<int64_t>(0, kafka - sent);
      s.other += load.other_cores();
      s.inst.proc->signal(SIGSTOP);
    }
  }
  for (auto& s : sides) {
    auto& t = s.inst.t;
    auto& res = *s.res;
    resume(bootstrap, obs, s.inst);
    // The profile of the throughput phase (cotflow only): where its CPU
    // goes at full speed. One more run, not counted: perf's sampling and
    // its own process take CPU from the 2 cores, which the passthrough's
    // runs do not pay.
    // Not with --tak-protocols (its instances are not called "cotflow").
    std::optional<child> perf;
    if (!perf_bin.empty() && t.name == "cotflow") {
      // Records of seqs of its own, past the counted runs' (a receiver
      // counts them apart, as other events).
      auto& pool = pool_of(std::max(tput_reps, 1));
      auto data = perf_dir + "/perf-" + dump_scenario + ".data";
      perf.emplace(std::vector<std::string>{perf_bin, "record", "-g", "-F",
                                            "2999", "-o", data, "-p",
                                            std::to_string(t.proc->pid())},
                   std::vector<std::pair<std::string, std::string>>{},
                   log_file{perf_dir + "/perf-" + dump_scenario + ".log"});
      auto profiled = throughput_phase(bootstrap, obs, *s.group_obs, t, pool, n,
                                       window, max_seconds);
      progress("%s: profiled run (not counted): %.0f records/s", t.name.c_str(),
               profiled.rps());
    }
    long peak_kb = 0;
    for (auto& r : s.runs)
      peak_kb = std::max(peak_kb, r.peak_rss_kb);
    auto runs = s.runs;
    std::sort(runs.begin(), runs.end(),
              [](auto& a, auto& b) { return a.rps() < b.rps(); });
    res.tput = runs[runs.size() / 2];
    res.tput.peak_rss_kb = peak_kb;
    if (perf) {
      perf->signal(SIGINT);
      if (!perf->wait(30s))
        progress("perf record did not stop within 30 s");
    }
    res.rss_at_stop_kb = vm_kb(t.proc->pid(), "VmRSS");
    res.tput_parkings = count_lines(s.inst.log, "parking new events");
    res.other_sum += s.other / static_cast<double>(s.runs.size());
    ++res.other_phases;
    stop(s.inst, res);
    // The receiver outlives cotflow: what it wrote up to its exit counts
    // (a duplicate too), once the receiver has read it.
    if (!s.inst.rx.empty())
      sleep_ms(200);
    for (auto& rx : s.inst.rx) {
      res.tak_distinct += rx->distinct();
      res.tak_duplicates += rx->duplicates();
      res.tak_other += rx->other();
      res.tak_violations += rx->violations();
      res.tak_pings += rx->pings();
    }
  }
}

std::vector<int64_t> parse_rates(const std::string& s) {
  std::vector<int64_t> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ','))
    if (!item.empty())
      out.push_back(std::stoll(item));
  return out;
}

std::string mb(long kb) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f", static_cast<double>(kb) / 1024.0);
  return buf;
}

struct scenario {
  /// Label in the report and prefix of the summary keys.
  std::string name;
  /// fetch.wait.max.ms for both pipelines' clients; empty = as shipped
  /// (10 on the embedded broker, which both recognize).
  std::string fetch_wait_ms;
  target_result base;
  target_result cot;
  /// cotflow with each further count of --tak-destinations (throughput
  /// runs only), in its order.
  std::vector<target_result> more;
  /// --tak-protocols: cotflow with protocol=xml and with protocol=1.
  target_result xml;
  target_result v1;
};

/// What the report calls cotflow with `r.tak_destinations` destinations.
std::string cotflow_label(const target_result& r) {
  if (r.tak_destinations == 0)
    return "cotflow";
  return "cotflow, " + std::to_string(r.tak_destinations) + " TAK destination"
         + (r.tak_destinations == 1 ? "" : "s");
}

/// The ratio of each pair of throughput runs taken in turn, `a` over `b`.
std::vector<double> pair_ratios(const target_result& a,
                                const target_result& b) {
  std::vector<double> out;
  for (size_t i = 0; i < a.tput_runs.size() && i < b.tput_runs.size(); ++i)
    out.push_back(a.tput_runs[i] / b.tput_runs[i]);
  return out;
}

double median_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return pct(v, 50);
}

/// Every cotflow instance of the throughput runs of `sc`.
std::vector<const target_result*> cotflows(const scenario& sc) {
  std::vector<const target_result*> out{&sc.cot};
  for (auto& m : sc.more)
    out.push_back(&m);
  return out;
}

/// "missing / duplicates" of `c`, or "—" when not counted.
std::string missing_dups(const counts& c) {
  if (!c.measured)
    return "—";
  return std::to_string(c.missing()) + " / " + std::to_string(c.duplicates);
}

/// The table of every record counted at every output of `sc`.
void report_counts(const scenario& sc) {
  auto pipelines = cotflows(sc);
  pipelines.insert(pipelines.begin(), &sc.base);
  std::printf("#### Every record counted\n\n");
  std::printf("| pipeline | throughput runs: records | Kafka output: records "
              "short / beyond one output each | TAK: events per destination "
              "| TAK: missing / duplicates | latency phases: Kafka missing / "
              "duplicates | latency phases: TAK missing / duplicates |\n");
  std::printf("|---|---:|---:|---:|---:|---:|---:|\n");
  for (auto* p : pipelines) {
    auto records = p->tput_records;
    auto tak = p->tak_destinations > 0;
    std::printf("| %s | %llu | %lld / %lld | %s | %s | %s | %s |\n",
                p == &sc.base ? baseline_short() : cotflow_label(*p).c_str(),
                static_cast<unsigned long long>(records),
                static_cast<long long>(p->kafka_short),
                static_cast<long long>(p->kafka_extra),
                tak ? std::to_string(p->tak_expected).c_str() : "—",
                tak ? (std::to_string(p->tak_missing()) + " / "
                       + std::to_string(p->tak_duplicates))
                        .c_str()
                    : "—",
                missing_dups(p->lat_kafka).c_str(),
                missing_dups(p->lat_tak).c_str());
  }
  std::printf(
    "\nThroughput runs: every run publishes records of seqs of its own (the "
    "same to every pipeline); each TAK receiver counts the distinct seqs of "
    "all the runs' valid records (the malformed ones are dead letters) and "
    "the copies it got again, summed over the destinations, counted up to "
    "the instance's exit. The Kafka output is counted by its high watermarks "
    "(CoT and dead-letter topics) at the end of each run against the run's "
    "records: the mock broker keeps ~5 MB per partition, too little to read "
    "a run back, and a reader during the runs would take CPU from the "
    "pipelines. Latency phases: the benchmark's reader of the output topic "
    "and the first TAK destination count each seq of the phase; a record "
    "not seen within 5 s of the phase's end counts as missing there.\n\n");
}

void report(const scenario& sc, uint64_t n) {
  auto& base = sc.base;
  auto& cot = sc.cot;
  auto crps = [](const throughput_result& r) {
    return r.commit_seconds > 0
             ? static_cast<double>(r.records) / r.commit_seconds
             : 0.0;
  };
  std::printf(
    "## Scenario `%s`: %s\n\n", sc.name.c_str(),
    sc.fetch_wait_ms.empty()
      ? "every client setting at its default (cotflow: "
        "--config /dev/null, only the brokers, topics and group "
        "set; like cotflow, the passthrough recognizes the embedded "
        "broker and takes its settings: fetch.wait.max.ms=10)"
      : ("both pipelines' clients with fetch.wait.max.ms=" + sc.fetch_wait_ms
         + " (cotflow: COTFLOW_KAFKA_PROPERTIES), everything "
           "else at its default")
          .c_str());
  std::printf("### Throughput (%llu records, publisher as fast as the "
              "window allows)\n\n",
              static_cast<unsigned long long>(n));
  std::printf("| pipeline | records | records/s to last output | records/s "
              "steady (10%%-90%%) | records/s to last commit | longest stall "
              "s | outputs seen | CPU µs/record | peak RSS MB |\n");
  std::printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  auto pipelines = cotflows(sc);
  pipelines.insert(pipelines.begin(), &base);
  for (auto* p : pipelines) {
    auto& r = p->tput;
    std::printf("| %s | %llu | %.0f | %.0f | %.0f | %.2f | %lld | %.1f | %s "
                "|\n",
                p == &base ? baseline_label() : cotflow_label(*p).c_str(),
                static_cast<unsigned long long>(r.records), r.rps(),
                r.steady_rps, crps(r), r.longest_stall_s,
                static_cast<long long>(r.outputs), r.cpu_us_per_record,
                mb(r.peak_rss_kb).c_str());
  }
  if (base.tput_runs.size() > 1) {
    auto list = [](const std::vector<double>& v) {
      std::string out;
      for (auto x : v)
        out += (out.empty() ? "" : ", ") + std::to_string(std::lround(x));
      return out;
    };
    std::printf("\nThe median of %zu throughput runs per pipeline is shown "
                "(peak RSS: the highest of them); the runs were taken in "
                "turns, baseline then cotflow%s, the idle pipelines stopped "
                "(SIGSTOP). Records/s to the last output of each run, in "
                "order: baseline %s",
                base.tput_runs.size(),
                sc.more.empty() ? "" : " with each count of TAK destinations",
                list(base.tput_runs).c_str());
    for (auto* p : cotflows(sc))
      std::printf("; %s %s", cotflow_label(*p).c_str(),
                  list(p->tput_runs).c_str());
    std::printf(".");
    for (auto* p : cotflows(sc)) {
      auto paired = pair_ratios(*p, base);
      std::string ratios;
      for (auto x : paired) {
        char buf[32];
        std::snprintf(buf, sizeof(buf), "%s%.2f", ratios.empty() ? "" : ", ",
                      x);
        ratios += buf;
      }
      std::printf(" Ratio of each pair, %s: %s (median %.2f).",
                  cotflow_label(*p).c_str(), ratios.c_str(), median_of(paired));
    }
    std::printf("\n");
  }
  if (cot.tput.tcp_events >= 0)
    std::printf("\ncotflow delivers every CoT event to its Kafka output topic "
                "and to each TAK destination, a TCP receiver in the "
                "benchmark process that reads everything (%lld events at "
                "the first in the median run); a record is done when every "
                "output has it. The %s has only its Kafka output.\n",
                static_cast<long long>(cot.tput.tcp_events),
                baseline_cmd.empty() ? "passthrough" : baseline_short());
  if (cot.tput_parkings > 0)
    std::printf("\ncotflow started parking %d time(s) during the "
                "throughput runs (a profiled run included): its TAK "
                "destination's queue passed tak.queue_events (2,000 events, "
                "~5 ms at these rates) while the receiver did not read, and "
                "new events went to the parking topic until it caught up. A "
                "run with parking is slower.\n",
                cot.tput_parkings);
  std::printf("\n");
  for (auto* p : cotflows(sc))
    std::printf(
      "**Ratio cotflow/baseline%s: %.2f** (medians, to last output; median "
      "of the pairs' ratios: %.2f; steady 10%%-90%%: %.2f; to last commit: "
      "%.2f)\n\n",
      sc.more.empty()
        ? ""
        : (" with " + std::to_string(p->tak_destinations) + " TAK destination"
           + (p->tak_destinations == 1 ? "" : "s"))
            .c_str(),
      p->tput.rps() / base.tput.rps(), median_of(pair_ratios(*p, base)),
      base.tput.steady_rps > 0 ? p->tput.steady_rps / base.tput.steady_rps : 0,
      crps(base.tput) > 0 ? crps(p->tput) / crps(base.tput) : 0.0);
  report_counts(sc);

  std::printf("### Latency at fixed offered rates\n\n");
  std::printf("| pipeline | offered/s | achieved/s | s | matched | p50 ms | "
              "p95 ms | p99 ms | max ms | produced p50 ms | produced p99 ms "
              "| TAK p50 ms | TAK p99 ms | CPU µs/record | peak RSS MB | "
              "missing / duplicates: Kafka; TAK |\n");
  std::printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
              "---:|---:|---:|---:|\n");
  auto ms = [](double v) {
    char buf[32];
    if (v < 0)
      return std::string{"—"};
    std::snprintf(buf, sizeof(buf), "%.1f", v);
    return std::string{buf};
  };
  for (auto* p : {&base, &cot})
    for (auto& l : p->latency)
      std::printf("| %s | %lld | %.0f | %.1f | %llu/%llu | %.1f | %.1f | "
                  "%.1f | %.1f | %.1f | %.1f | %s | %s | %.1f | %s | %s; %s "
                  "|\n",
                  p == &base ? baseline_short() : "cotflow",
                  static_cast<long long>(l.rate), l.offered_achieved, l.seconds,
                  static_cast<unsigned long long>(l.matched),
                  static_cast<unsigned long long>(l.published), l.p50, l.p95,
                  l.p99, l.max, l.c50, l.c99, ms(l.tcp50).c_str(),
                  ms(l.tcp99).c_str(), l.cpu_us_per_record,
                  mb(l.peak_rss_kb).c_str(), missing_dups(l.kafka).c_str(),
                  missing_dups(l.tak).c_str());
  std::printf("\n### Shutdown and logs\n\n");
  for (auto* p : pipelines) {
    std::printf("- %s: other load on the machine during its phases %.2f "
                "cores; SIGTERM -> exit code %s after %.2f s (RSS before "
                "stop %s MB); %zu log lines, %zu distinct warnings/errors%s\n",
                p == &base ? baseline_short() : cotflow_label(*p).c_str(),
                p->other_cores(),
                p->exit_code ? std::to_string(*p->exit_code).c_str()
                             : "none (killed after 30 s)",
                p->stop_seconds, mb(p->rss_at_stop_kb).c_str(), p->log_lines,
                p->log_problems.size(), p->log_problems.empty() ? "" : ":");
    for (size_t i = 0; i < p->log_problems.size() && i < 10; ++i)
      std::printf("  - `%s`\n", p->log_problems[i].c_str());
  }
  std::printf("\n");
}

void write_summary(std::ofstream& out, const scenario& sc) {
  auto k = [&](const std::string& key) -> std::ofstream& {
    out << sc.name << "." << key << "=";
    return out;
  };
  k("baseline_rps") << sc.base.tput.rps() << "\n";
  k("baseline_steady_rps") << sc.base.tput.steady_rps << "\n";
  k("cotflow_rps") << sc.cot.tput.rps() << "\n";
  k("cotflow_steady_rps") << sc.cot.tput.steady_rps << "\n";
  k("ratio") << sc.cot.tput.rps() / sc.base.tput.rps() << "\n";
  k("cotflow_outputs") << sc.cot.tput.outputs << "\n";
  k("cotflow_tak_events") << sc.cot.tput.tcp_events << "\n";
  k("cotflow_records") << sc.cot.tput.records << "\n";
  k("cotflow_rss_max_mb") << sc.cot.tput.peak_rss_kb / 1024.0 << "\n";
  k("baseline_rss_max_mb") << sc.base.tput.peak_rss_kb / 1024.0 << "\n";
  k("baseline_cpu_us") << sc.base.tput.cpu_us_per_record << "\n";
  k("cotflow_cpu_us_max") << sc.cot.tput.cpu_us_per_record << "\n";
  k("cotflow_exit") << (sc.cot.exit_code ? *sc.cot.exit_code : -1) << "\n";
  k("cotflow_log_problems") << sc.cot.log_problems.size() << "\n";
  k("cotflow_other_cores") << sc.cot.other_cores() << "\n";
  k("baseline_other_cores") << sc.base.other_cores() << "\n";
  k("ratio_pairs") << median_of(pair_ratios(sc.cot, sc.base)) << "\n";
  k("baseline_kafka_short") << sc.base.kafka_short << "\n";
  k("baseline_kafka_extra") << sc.base.kafka_extra << "\n";
  k("baseline_tput_records") << sc.base.tput_records << "\n";
  k("baseline_lat_kafka_missing") << sc.base.lat_kafka.missing() << "\n";
  k("baseline_lat_kafka_duplicates") << sc.base.lat_kafka.duplicates << "\n";
  k("cotflow_lat_kafka_missing") << sc.cot.lat_kafka.missing() << "\n";
  k("cotflow_lat_kafka_duplicates") << sc.cot.lat_kafka.duplicates << "\n";
  if (sc.cot.lat_tak.measured) {
    k("cotflow_lat_tak_missing") << sc.cot.lat_tak.missing() << "\n";
    k("cotflow_lat_tak_duplicates") << sc.cot.lat_tak.duplicates << "\n";
  }
  k("cotflow_tak_destinations") << sc.cot.tak_destinations << "\n";
  // Every cotflow instance of the throughput runs by its count of TAK
  // destinations ("tak1_", "tak2_", ...).
  for (auto* p : cotflows(sc)) {
    auto w = "tak" + std::to_string(p->tak_destinations) + "_";
    k(w + "rps") << p->tput.rps() << "\n";
    k(w + "ratio") << p->tput.rps() / sc.base.tput.rps() << "\n";
    k(w + "ratio_pairs") << median_of(pair_ratios(*p, sc.base)) << "\n";
    k(w + "cpu_us") << p->tput.cpu_us_per_record << "\n";
    k(w + "tput_records") << p->tput_records << "\n";
    k(w + "kafka_short") << p->kafka_short << "\n";
    k(w + "kafka_extra") << p->kafka_extra << "\n";
    if (p->tak_destinations > 0) {
      k(w + "tak_expected") << p->tak_expected << "\n";
      k(w + "tak_missing") << p->tak_missing() << "\n";
      k(w + "tak_duplicates") << p->tak_duplicates << "\n";
    }
    k(w + "exit") << (p->exit_code ? *p->exit_code : -1) << "\n";
  }
  for (auto& l : sc.cot.latency) {
    auto r = "lat" + std::to_string(l.rate) + "_";
    k(r + "p50") << l.p50 << "\n";
    k(r + "p95") << l.p95 << "\n";
    k(r + "p99") << l.p99 << "\n";
    k(r + "max") << l.max << "\n";
    if (l.tcp50 >= 0) {
      k(r + "tak_p50") << l.tcp50 << "\n";
      k(r + "tak_p99") << l.tcp99 << "\n";
    }
    k(r + "rss_mb") << l.peak_rss_kb / 1024.0 << "\n";
    k(r + "cpu_us") << l.cpu_us_per_record << "\n";
    k(r + "matched") << l.matched << "\n";
    k(r + "published") << l.published << "\n";
  }
  for (auto& l : sc.base.latency) {
    auto r = "base_lat" + std::to_string(l.rate) + "_";
    k(r + "p50") << l.p50 << "\n";
    k(r + "p99") << l.p99 << "\n";
    k(r + "rss_mb") << l.peak_rss_kb / 1024.0 << "\n";
    k(r + "cpu_us") << l.cpu_us_per_record << "\n";
    k(r + "matched") << l.matched << "\n";
    k(r + "published") << l.published << "\n";
  }
}

/// The report of --tak-protocols: cotflow's TAK destination with
/// protocol=xml against protocol=1, throughput runs in turns.
void report_protocols(const scenario& sc) {
  auto& x = sc.xml;
  auto& v = sc.v1;
  std::printf("### Scenario `%s`: TAK destination protocol=xml against "
              "protocol=1\n\n",
              sc.name.c_str());
  std::printf(
    "%s.\n\n",
    sc.fetch_wait_ms.empty()
      ? "cotflow as shipped (on the embedded broker, which it "
        "recognizes: fetch.wait.max.ms=10)"
      : ("cotflow's clients with fetch.wait.max.ms=" + sc.fetch_wait_ms)
          .c_str());
  auto per_event = [](const target_result& r) {
    return r.tak_events ? static_cast<double>(r.tak_bytes)
                            / static_cast<double>(r.tak_events)
                        : 0.0;
  };
  auto list = [](const std::vector<double>& v) {
    std::string o;
    for (auto r : v)
      o += (o.empty() ? "" : ", ") + std::to_string(std::lround(r));
    return o;
  };
  std::printf("| TAK destination | records per run | records/s to last output "
              "(median) | runs, in order | bytes/event at the receiver | "
              "CPU µs/record | peak RSS MB | parkings | missing | duplicates "
              "| framing errors |\n");
  std::printf("|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|\n");
  for (auto* p : {&x, &v})
    std::printf("| %s | %llu | %.0f | %s | %.1f | %.1f | %s | %d | %lld | "
                "%llu | %llu |\n",
                p == &x ? "protocol=xml" : "protocol=1",
                static_cast<unsigned long long>(p->tput.records), p->tput.rps(),
                list(p->tput_runs).c_str(), per_event(*p),
                p->tput.cpu_us_per_record, mb(p->tput.peak_rss_kb).c_str(),
                p->tput_parkings, static_cast<long long>(p->tak_missing()),
                static_cast<unsigned long long>(p->tak_duplicates),
                static_cast<unsigned long long>(p->tak_violations));
  std::vector<double> paired;
  std::string ratios;
  for (size_t i = 0; i < x.tput_runs.size() && i < v.tput_runs.size(); ++i) {
    paired.push_back(v.tput_runs[i] / x.tput_runs[i]);
    char buf[16];
    std::snprintf(buf, sizeof(buf), "%s%.2f", ratios.empty() ? "" : ", ",
                  paired.back());
    ratios += buf;
  }
  std::sort(paired.begin(), paired.end());
  std::printf(
    "\nThe median of %zu throughput runs per destination is shown; the runs "
    "were taken in turns (protocol=xml, then protocol=1, ...), the idle "
    "instance stopped (SIGSTOP). A record is done when it is on the output "
    "topic and, as an event, at the receiver. Each run publishes records "
    "with seqs of their own (the same records to both), no malformed ones; "
    "every receiver counts each seq of all its runs (%llu): 'missing' were "
    "never received, 'duplicates' are copies received again. Bytes/event: "
    "everything the receiver read in the runs over the events in them. CPU "
    "per record and peak RSS of the run shown (peak RSS: the highest of "
    "the runs). Ratio protocol=1/protocol=xml of each pair: %s (median "
    "%.2f).\n\n",
    x.tput_runs.size(), static_cast<unsigned long long>(x.tak_expected),
    ratios.c_str(), pct(paired, 50));
  std::printf("**protocol=1 / protocol=xml: %.2f of the records/s** (medians), "
              "**%.3f of the bytes/event** at the receiver.\n\n",
              v.tput.rps() / x.tput.rps(),
              per_event(x) > 0 ? per_event(v) / per_event(x) : 0.0);
  for (auto* p : {&x, &v}) {
    std::printf("- %s: other load on the machine during its runs %.2f "
                "cores; %llu keepalive pings answered by the receiver; "
                "SIGTERM -> exit code %s after %.2f s; %zu log lines, "
                "%zu distinct warnings/errors%s\n",
                p == &x ? "protocol=xml" : "protocol=1", p->other_cores(),
                static_cast<unsigned long long>(p->tak_pings),
                p->exit_code ? std::to_string(*p->exit_code).c_str()
                             : "none (killed after 30 s)",
                p->stop_seconds, p->log_lines, p->log_problems.size(),
                p->log_problems.empty() ? "" : ":");
    for (size_t i = 0; i < p->log_problems.size() && i < 10; ++i)
      std::printf("  - `%s`\n", p->log_problems[i].c_str());
  }
  std::printf("\n");
}

void write_protocols_summary(std::ofstream& out, const scenario& sc) {
  auto k = [&](const std::string& key) -> std::ofstream& {
    out << sc.name << ".takp_" << key << "=";
    return out;
  };
  std::vector<double> paired;
  for (size_t i = 0; i < sc.xml.tput_runs.size() && i < sc.v1.tput_runs.size();
       ++i)
    paired.push_back(sc.v1.tput_runs[i] / sc.xml.tput_runs[i]);
  std::sort(paired.begin(), paired.end());
  k("ratio") << sc.v1.tput.rps() / sc.xml.tput.rps() << "\n";
  k("ratio_pairs") << pct(paired, 50) << "\n";
  for (auto* p : {&sc.xml, &sc.v1}) {
    std::string w = p == &sc.xml ? "xml_" : "v1_";
    k(w + "rps") << p->tput.rps() << "\n";
    k(w + "bytes") << (p->tak_events ? static_cast<double>(p->tak_bytes)
                                         / static_cast<double>(p->tak_events)
                                     : 0.0)
                   << "\n";
    k(w + "cpu_us") << p->tput.cpu_us_per_record << "\n";
    k(w + "expected") << p->tak_expected << "\n";
    k(w + "missing") << p->tak_missing() << "\n";
    k(w + "duplicates") << p->tak_duplicates << "\n";
    k(w + "violations") << p->tak_violations << "\n";
    k(w + "parkings") << p->tput_parkings << "\n";
    k(w + "exit") << (p->exit_code ? *p->exit_code : -1) << "\n";
  }
}

/// The report, summary and exit code of --tak-protocols: 0, 3 when an
/// instance did not exit 0 on SIGTERM, 4 when a record was missing at a
/// receiver or a receiver saw broken framing.
int finish_protocols(const std::vector<scenario>& scenarios, uint64_t n,
                     int64_t window, const std::string& summary,
                     const struct rusage& self_usage) {
  std::printf(
    "Embedded broker (librdkafka mock cluster, 1 broker) in the benchmark "
    "process; topics with %d partitions; %llu records per throughput run "
    "(generated detections, 25%% GeoJSON, none malformed), publisher at "
    "most %lld records ahead of the outputs. Two instances of `cotflow run "
    "--config /dev/null`, their Kafka output as shipped and one TAK "
    "destination each, `tcp://127.0.0.1:PORT?protocol=xml` or "
    "`?protocol=1` (version 1 from the first byte, no negotiation), to a "
    "TCP receiver of its own in this process (at real-time priority) that "
    "splits what it reads at `</event>` or into version 1 stream frames "
    "(0xbf, a varint length, the TakMessage) and counts the `seq=N` of "
    "each event (the CoT remarks; in a TakMessage they travel in "
    "xmlDetail).\n\n",
    partitions, static_cast<unsigned long long>(n),
    static_cast<long long>(window));
  for (auto& sc : scenarios)
    report_protocols(sc);
  std::printf("Benchmark process (broker, publisher, observers): %.1f s CPU, "
              "peak RSS %s MB.\n\n",
              static_cast<double>(self_usage.ru_utime.tv_sec)
                + static_cast<double>(self_usage.ru_stime.tv_sec)
                + static_cast<double>(self_usage.ru_utime.tv_usec
                                      + self_usage.ru_stime.tv_usec)
                    / 1e6,
              mb(self_usage.ru_maxrss).c_str());
  if (!summary.empty()) {
    std::ofstream out(summary, std::ios::app);
    for (auto& sc : scenarios)
      write_protocols_summary(out, sc);
  }
  bool exits = true, complete = true;
  for (auto& sc : scenarios)
    for (auto* p : {&sc.xml, &sc.v1}) {
      exits = exits && p->exit_code && *p->exit_code == 0;
      complete = complete && p->tak_missing() == 0 && p->tak_violations == 0;
    }
  return !exits ? 3 : !complete ? 4 : 0;
}

/// An SVG chart of the latency percentiles against the offered rate: one
/// panel per scenario, log-log, cotflow solid and the baseline dashed, the
/// targets of issue 6 as crosses. Plain SVG, no plotting library.
void write_plot(const std::string& path,
                const std::vector<scenario>& scenarios) {
  constexpr double panel_w = 460, panel_h = 340, ml = 60, mr = 30, mt = 40,
                   mb = 50;
  double width = std::max(800.0,
                          panel_w * static_cast<double>(scenarios.size()));
  double height = panel_h + 76; // two legend lines
  double rmin = 1e18, rmax = 0, lmin = 1e18, lmax = 0;
  for (auto& sc : scenarios)
    for (auto* res : {&sc.base, &sc.cot})
      for (auto& l : res->latency) {
        rmin = std::min(rmin, static_cast<double>(l.rate));
        rmax = std::max(rmax, static_cast<double>(l.rate));
        for (double v : {l.p50, l.p95, l.p99})
          if (v > 0) {
            lmin = std::min(lmin, v);
            lmax = std::max(lmax, v);
          }
      }
  if (rmax <= 0 || lmax <= 0)
    return;
  // Whole decades around the data and the targets (5 ms .. 110 ms).
  double x0 = std::floor(std::log10(rmin)), x1 = std::ceil(std::log10(rmax));
  if (x1 <= x0)
    x1 = x0 + 1;
  double y0 = std::floor(std::log10(std::min(lmin, 5.0)));
  double y1 = std::ceil(std::log10(std::max(lmax, 110.0)));
  std::ofstream out(path);
  char buf[512];
  auto emit = [&](const char* fmt, auto... args) {
    std::snprintf(buf, sizeof(buf), fmt, args...);
    out << buf;
  };
  emit("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" "
       "height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\" "
       "font-size=\"11\">\n",
       width, height, width, height);
  emit("<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
  struct series {
    const char* label;
    const char* color;
    bool dashed;
    bool cot;
    double latency_result::*field;
  };
  const series all[] = {
    {"cotflow p50", "#1f77b4", false, true, &latency_result::p50},
    {"cotflow p95", "#ff7f0e", false, true, &latency_result::p95},
    {"cotflow p99", "#d62728", false, true, &latency_result::p99},
    {"baseline p50", "#1f77b4", true, false, &latency_result::p50},
    {"baseline p99", "#d62728", true, false, &latency_result::p99},
  };
  for (size_t i = 0; i < scenarios.size(); ++i) {
    auto& sc = scenarios[i];
    double ox = panel_w * static_cast<double>(i);
    double pw = panel_w - ml - mr, ph = panel_h - mt - mb;
    auto px = [&](double rate) {
      return ox + ml + (std::log10(rate) - x0) / (x1 - x0) * pw;
    };
    auto py = [&](double ms) {
      return mt + ph - (std::log10(ms) - y0) / (y1 - y0) * ph;
    };
    emit("<text x=\"%.1f\" y=\"22\" font-size=\"13\" font-weight=\"bold\">"
         "scenario %s</text>\n",
         ox + ml, sc.name.c_str());
    for (double d = x0; d <= x1; d += 1) {
      for (int m = 1; m < 10; ++m) {
        double r = std::pow(10.0, d) * m;
        if (std::log10(r) > x1 + 1e-9)
          break;
        emit("<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
             "stroke=\"%s\"/>\n",
             px(r), mt, px(r), mt + ph, m == 1 ? "#bbb" : "#eee");
      }
      emit("<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.0f</text>\n",
           px(std::pow(10.0, d)), mt + ph + 16, std::pow(10.0, d));
    }
    for (double d = y0; d <= y1; d += 1) {
      for (int m = 1; m < 10; ++m) {
        double v = std::pow(10.0, d) * m;
        if (std::log10(v) > y1 + 1e-9)
          break;
        emit("<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
             "stroke=\"%s\"/>\n",
             ox + ml, py(v), ox + ml + pw, py(v), m == 1 ? "#bbb" : "#eee");
      }
      emit("<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n",
           ox + ml - 6, py(std::pow(10.0, d)) + 4, std::pow(10.0, d));
    }
    emit("<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">offered "
         "records/s</text>\n",
         ox + ml + pw / 2, mt + ph + 34);
    emit("<text transform=\"translate(%.1f %.1f) rotate(-90)\" "
         "text-anchor=\"middle\">end-to-end latency, ms</text>\n",
         ox + 16, mt + ph / 2);
    for (auto& s : all) {
      auto& pts = s.cot ? sc.cot.latency : sc.base.latency;
      std::string d;
      for (auto& l : pts) {
        double v = l.*(s.field);
        if (v <= 0)
          continue;
        std::snprintf(buf, sizeof(buf), "%s%.1f,%.1f ", d.empty() ? "M" : "L",
                      px(static_cast<double>(l.rate)), py(v));
        d += buf;
        emit("<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"%s\"/>\n",
             px(static_cast<double>(l.rate)), py(v), s.color);
      }
      if (!d.empty())
        emit("<path d=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"%s\"%s"
             "/>\n",
             d.c_str(), s.color, s.dashed ? "1.2" : "2",
             s.dashed ? " stroke-dasharray=\"5,4\"" : "");
    }
    // The targets: p50 and p99 at 10,000/s, p99 at 100/s (batch age + 10).
    const std::pair<double, double> targets[] = {
      {10000, 10}, {10000, 25}, {100, 110}};
    for (auto& [r, v] : targets) {
      if (std::log10(r) < x0 || std::log10(r) > x1)
        continue;
      emit("<path d=\"M%.1f,%.1f l8,8 m0,-8 l-8,8\" stroke=\"black\" "
           "stroke-width=\"1.5\"/>\n",
           px(r) - 4, py(v) - 4);
    }
    // Issue 25's: p50 and p99 at 10,000/s, as open squares.
    const std::pair<double, double> targets25[] = {{10000, 5}, {10000, 10}};
    for (auto& [r, v] : targets25) {
      if (std::log10(r) < x0 || std::log10(r) > x1)
        continue;
      emit("<rect x=\"%.1f\" y=\"%.1f\" width=\"10\" height=\"10\" "
           "fill=\"none\" stroke=\"black\" stroke-width=\"1.5\"/>\n",
           px(r) - 5, py(v) - 5);
    }
  }
  // Legend under the panels.
  double lx = ml, ly = panel_h + 30;
  for (auto& s : all) {
    emit("<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
         "stroke-width=\"2\"%s/>\n",
         lx, ly, lx + 24, ly, s.color,
         s.dashed ? " stroke-dasharray=\"5,4\"" : "");
    emit("<text x=\"%.1f\" y=\"%.1f\">%s</text>\n", lx + 28, ly + 4, s.label);
    lx += 115;
  }
  emit("<path d=\"M%.1f,%.1f l8,8 m0,-8 l-8,8\" stroke=\"black\" "
       "stroke-width=\"1.5\"/>\n",
       lx + 8, ly - 4);
  emit("<text x=\"%.1f\" y=\"%.1f\">target of issue 6</text>\n", lx + 28,
       ly + 4);
  // On a line of its own: the first is full with two panels or fewer.
  emit("<rect x=\"%.1f\" y=\"%.1f\" width=\"10\" height=\"10\" "
       "fill=\"none\" stroke=\"black\" stroke-width=\"1.5\"/>\n",
       lx + 7, ly + 13);
  emit("<text x=\"%.1f\" y=\"%.1f\">target of issue 25</text>\n", lx + 28,
       ly + 22);
  out << "</svg>\n";
}

} // namespace

int main(int argc, char** argv) {
  bench::program_name = "bench_pipeline";
  if (argc >= 2
      && (std::string{argv[1]} == "passthrough"
          || std::string{argv[1]} == "fused")) {
    if (argc < 6) {
      std::fprintf(stderr, "usage: bench_pipeline passthrough|fused BROKERS "
                           "IN OUT GROUP [PROPERTY=VALUE...]\n");
      return 2;
    }
    std::map<std::string, std::string> props;
    for (int i = 6; i < argc; ++i) {
      std::string kv = argv[i];
      auto eq = kv.find('=');
      if (eq != std::string::npos)
        props[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    return run_passthrough(argv[2], argv[3], argv[4], argv[5], props,
                           std::string{argv[1]} == "fused");
  }
  if (argc < 2 || argv[1][0] == '-') {
    std::fprintf(
      stderr,
      "usage: bench_pipeline COTFLOW_BIN [--records N] [--window W]"
      " [--rates 100,1000,10000] [--latency-seconds S]"
      " [--latency-segment-records N] [--max-seconds S]"
      " [--fetch-wait default,5] [--cotflow-env KEY=VALUE]... [--log-dir DIR]"
      " [--summary FILE] [--dump-latency DIR] [--plot FILE.svg]"
      " [--perf PERF_BIN] [--tput-reps N] [--malformed SHARE]"
      " [--baseline-cmd CMD [--baseline-name NAME]] [--no-tak]"
      " [--tak-destinations 1,2] [--tak-protocols]\n"
      "--no-tak leaves cotflow's TAK destination (a TCP receiver in this"
      " process) out: Kafka output only.\n"
      "--tak-destinations N,M,...: cotflow with N TAK destinations (each a"
      " TCP receiver in this process) in the latency phases and the"
      " throughput runs, and with M, ... as further instances in the"
      " throughput runs' turns, each against the same baseline runs"
      " (default 1).\n"
      "--baseline-cmd runs CMD with /bin/sh in the passthrough's place, once"
      " per latency segment and once for the throughput runs, with"
      " BENCH_BOOTSTRAP, BENCH_INPUT_TOPIC, BENCH_OUTPUT_TOPIC, BENCH_GROUP"
      " and BENCH_FETCH_WAIT_MS (empty: the"
      " client's default) in its environment: it must write one record to"
      " BENCH_OUTPUT_TOPIC per input record, keeping the input's 'seq=N'"
      " (in 'remarks') in it; with --malformed 0 no input is malformed."
      " Start it with exec: CPU and RSS are read from the process /bin/sh"
      " started. --baseline-name names it in the report. `bench_pipeline"
      " fused BROKERS IN OUT GROUP [PROPERTY=VALUE...]` is such a pipeline:"
      " the passthrough, writing each record as its CoT event on the thread"
      " that consumed it.\n"
      "--latency-segment-records N (default 25000, at least 1000): a latency"
      " phase of more records runs as segments of at most N, one after the"
      " other, each with a fresh instance on fresh topics (the mock broker"
      " slows as a phase's topics grow).\n"
      "--tak-protocols: instead, throughput runs in turns of cotflow with its"
      " TAK destination at protocol=xml and at protocol=1, every record"
      " counted at the receivers (no passthrough, no latency phases).\n");
    return 2;
  }
  std::string cotflow_bin = argv[1];
  uint64_t n = 600000; // as bench/run.sh: see there
  int64_t window = 30000;
  std::string rates_arg = "100,1000,10000";
  std::string fetch_waits = "default";
  double lat_seconds = 6;
  uint64_t segment_records = 25000;
  double max_seconds = 90;
  std::string log_dir = ".";
  std::string summary;
  std::string plot;
  std::vector<std::pair<std::string, std::string>> cot_env;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc)
        die("missing value of " + a);
      return argv[++i];
    };
    if (a == "--records")
      n = std::stoull(next());
    else if (a == "--no-tak")
      with_tak = false;
    else if (a == "--tak-protocols")
      tak_protocols = true;
    else if (a == "--tak-destinations") {
      tak_counts.clear();
      for (auto c : parse_rates(next()))
        if (c < 1 || c > 8)
          die("--tak-destinations wants counts from 1 to 8");
        else
          tak_counts.push_back(static_cast<int>(c));
      if (tak_counts.empty())
        die("--tak-destinations wants a count");
      auto sorted = tak_counts;
      std::sort(sorted.begin(), sorted.end());
      if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end())
        die("--tak-destinations: each count once");
    } else if (a == "--window")
      window = std::stoll(next());
    else if (a == "--rates")
      rates_arg = next();
    else if (a == "--latency-seconds")
      lat_seconds = std::stod(next());
    else if (a == "--latency-segment-records") {
      segment_records = std::stoull(next());
      if (segment_records < 1000)
        die("--latency-segment-records wants at least 1000 (each segment "
            "starts a pipeline)");
    } else if (a == "--max-seconds")
      max_seconds = std::stod(next());
    else if (a == "--fetch-wait")
      fetch_waits = next();
    else if (a == "--cotflow-env") {
      auto kv = next();
      auto eq = kv.find('=');
      if (eq == std::string::npos)
        die("--cotflow-env wants KEY=VALUE");
      cot_env.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
    } else if (a == "--log-dir")
      log_dir = next();
    else if (a == "--summary")
      summary = next();
    else if (a == "--dump-latency")
      dump_dir = next();
    else if (a == "--plot")
      plot = next();
    else if (a == "--tput-reps")
      tput_reps = std::stoi(next());
    else if (a == "--perf")
      perf_bin = next();
    else if (a == "--baseline-cmd")
      baseline_cmd = next();
    else if (a == "--baseline-name")
      baseline_name = next();
    else if (a == "--malformed")
      malformed_share = std::stod(next());
    else
      die("unknown argument " + a);
  }
  if (!with_tak && tak_counts.size() > 1)
    die("--no-tak leaves the TAK destinations out: not with "
        "--tak-destinations");
  if (tak_protocols && (!with_tak || !baseline_cmd.empty()))
    die("--tak-protocols compares two TAK destinations of cotflow: not with "
        "--no-tak or --baseline-cmd");
  auto rates = parse_rates(rates_arg);
  perf_dir = log_dir;
  if (::access(cotflow_bin.c_str(), X_OK) != 0)
    die("not executable: " + cotflow_bin);
  std::signal(SIGPIPE, SIG_IGN);

  std::vector<scenario> scenarios;
  {
    std::stringstream in(fetch_waits);
    std::string item;
    while (std::getline(in, item, ','))
      if (item == "default")
        scenarios.push_back({"default", "", {}, {}, {}, {}, {}});
      else if (!item.empty())
        scenarios.push_back({"fetch-wait-" + item, item, {}, {}, {}, {}, {}});
  }

  // The broker and its topics.
  std::string err;
  auto broker = cotflow::embedded_broker::start(1, err);
  if (!broker)
    die(err);
  auto bootstrap = broker->bootstraps();
  progress("embedded broker at %s", bootstrap.c_str());

  char self[4096];
  auto len = ::readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (len <= 0)
    die("cannot find /proc/self/exe");
  self[len] = 0;

  uint64_t seq_base = 1000000000ULL;
  // The throughput runs' seqs, apart from the latency phases' and the
  // warm-ups' (900000000000 on).
  uint64_t run_seq_base = 2000000000000ULL;
  double mean_record_bytes = 0;
  for (auto& sc : scenarios) {
    progress("scenario %s", sc.name.c_str());
    dump_scenario = sc.name;
    auto topics = [&](const std::vector<std::pair<std::string, int>>& list) {
      for (auto& [topic, parts] : list)
        if (!broker->create_topic(topic, parts, err))
          die(err);
    };
    // (a) baseline. Every instance has a group of its own: one that took
    // over the group of the instance before it would wait for that one's
    // session to time out on the mock broker.
    launcher baseline = [&](const std::string& suffix) {
      auto tag = sc.name + "-" + suffix;
      auto group = "bench-baseline-" + tag;
      auto in = "bench-in-" + tag, out = "bench-out-" + tag;
      topics({{in, partitions}, {out, partitions}});
      std::vector<std::string> argv{self, "passthrough", bootstrap,
                                    in,   out,           group};
      if (!sc.fetch_wait_ms.empty())
        argv.push_back("fetch.wait.max.ms=" + sc.fetch_wait_ms);
      if (suffix == "tput")
        argv.push_back("session.timeout.ms=" + tput_session_timeout_ms);
      std::vector<std::pair<std::string, std::string>> env;
      if (!baseline_cmd.empty()) {
        // Another pipeline, e.g. a Python or Node.js bridge, on the same
        // records and broker.
        argv = {"/bin/sh", "-c", baseline_cmd};
        env = {{"BENCH_BOOTSTRAP", bootstrap},
               {"BENCH_INPUT_TOPIC", in},
               {"BENCH_OUTPUT_TOPIC", out},
               {"BENCH_GROUP", group},
               {"BENCH_FETCH_WAIT_MS", sc.fetch_wait_ms}};
      }
      instance inst;
      inst.log = log_dir + "/baseline-" + tag + ".log";
      inst.proc = std::make_unique<child>(argv, env, log_file{inst.log});
      inst.t = {"baseline", group,           in,      {{out, partitions}},
                out,        inst.proc.get(), nullptr, {}};
      return inst;
    };
    // (b) cotflow, in a group of its own per instance, as the baseline;
    // its TAK destination's `protocol` option (empty: none, XML) and the
    // receiver's options as given.
    // With `dests` TAK destinations, each a receiver with `rx_opts`.
    auto cot_with = [&](const std::string& protocol,
                        cotflow::test::receiver_options rx_opts,
                        int dests = 1) -> launcher {
      return [&, protocol, rx_opts, dests](const std::string& suffix) {
        auto kind = !protocol.empty() ? (protocol == "1" ? "v1" : protocol)
                    : dests != tak_counts.front()
                      ? "tak" + std::to_string(dests)
                      : std::string{};
        auto tag = sc.name + "-" + suffix + (kind.empty() ? "" : "-" + kind);
        auto group = "cotflow-" + tag;
        auto in = "detections-" + tag, out = "cot-" + tag,
             dead = "cot-dead-letter-" + tag,
             parking = "cotflow.parking-" + tag;
        // A parking topic of its own, wider than the 4 partitions of an
        // auto-created one: the mock broker keeps only ~5 MB per partition,
        // and a throughput run that parks for a few seconds puts more there
        // (the oldest parked events were trimmed before their replay, and
        // one run waited 60 s for 3,180 events that never came). A longer
        // parking can still pass it. A real cluster's retention is by time.
        topics({{in, partitions}, {out, partitions}, {dead, 1}});
        auto env = cot_env;
        instance inst;
        std::string destinations;
        for (int d = 0; with_tak && d < dests; ++d) {
          // A TAK destination: a local TCP receiver in this process that
          // reads every event (counting them, and timing them in the
          // latency phases: the first).
          auto name = d == 0 ? std::string{"bench"}
                             : "bench" + std::to_string(d + 1);
          topics({{parking + "." + name, parking_partitions}});
          inst.rx.push_back(std::make_unique<tak_receiver>(rx_opts));
          inst.rx.back()->listen_now();
          destinations += (destinations.empty() ? "" : ",") + name
                          + "=tcp://127.0.0.1:"
                          + std::to_string(inst.rx.back()->port())
                          + (protocol.empty() ? "" : "?protocol=" + protocol);
        }
        if (!destinations.empty())
          env.emplace_back("COTFLOW_TAK_DESTINATIONS", destinations);
        env.emplace_back("COTFLOW_KAFKA_BROKERS", bootstrap);
        if (suffix == "tput")
          env.emplace_back("COTFLOW_KAFKA_SESSION_TIMEOUT_MS",
                           tput_session_timeout_ms);
        env.emplace_back("COTFLOW_HTTP_ADDRESS", "127.0.0.1:0");
        env.emplace_back("COTFLOW_KAFKA_INPUT_TOPICS", in);
        env.emplace_back("COTFLOW_KAFKA_OUTPUT_TOPIC", out);
        env.emplace_back("COTFLOW_KAFKA_DEAD_LETTER_TOPIC", dead);
        env.emplace_back("COTFLOW_KAFKA_GROUP_ID", group);
        env.emplace_back("COTFLOW_KAFKA_PARKING_TOPIC", parking);
        if (!sc.fetch_wait_ms.empty()) {
          bool merged = false;
          for (auto& [k, v] : env)
            if (k == "COTFLOW_KAFKA_PROPERTIES") {
              v += ",fetch.wait.max.ms=" + sc.fetch_wait_ms;
              merged = true;
            }
          if (!merged)
            env.emplace_back("COTFLOW_KAFKA_PROPERTIES",
                             "fetch.wait.max.ms=" + sc.fetch_wait_ms);
        }
        inst.log = log_dir + "/cotflow-" + tag + ".log";
        inst.proc = std::make_unique<child>(
          std::vector<std::string>{cotflow_bin, "run", "--config", "/dev/null"},
          env, log_file{inst.log});
        inst.t = {kind.empty() ? "cotflow" : "cotflow-" + kind,
                  group,
                  in,
                  {{out, partitions}, {dead, 1}},
                  out,
                  inst.proc.get(),
                  inst.rx.empty() ? nullptr : inst.rx.front().get(),
                  {}};
        for (auto& rx : inst.rx)
          inst.t.tcps.push_back(rx.get());
        return inst;
      };
    };
    // The throughput runs: seqs of their own per run, the same records to
    // every pipeline; each receiver counts every seq of all the runs.
    auto runs = std::max(tput_reps, 1);
    auto run_seqs = static_cast<uint64_t>(runs) * n;
    auto rx_opts = receiver(run_seq_base, run_seqs);
    run_records records{run_seq_base, n, tak_protocols ? 0.0 : malformed_share};
    record_pool pool_of =
      [&](int rep) -> const std::vector<cotflow::generated_record>& {
      return records(rep);
    };
    if (tak_protocols) {
      auto v1_opts = rx_opts;
      v1_opts.frames = cotflow::test::receiver_options::framing::takp_stream;
      measure_throughput(
        bootstrap,
        {{cot_with("xml", rx_opts), &sc.xml}, {cot_with("1", v1_opts), &sc.v1}},
        pool_of, n, window, max_seconds);
      sc.xml.tak_expected = sc.v1.tak_expected = records.valid(runs);
      sc.xml.tak_destinations = sc.v1.tak_destinations = 1;
    } else {
      measure_latency(bootstrap, baseline, rates, lat_seconds, segment_records,
                      seq_base, sc.base);
      measure_latency(bootstrap,
                      cot_with("", receiver(0, 0), tak_counts.front()), rates,
                      lat_seconds, segment_records, seq_base, sc.cot);
      sc.more.resize(tak_counts.size() - 1);
      contenders all{{baseline, &sc.base},
                     {cot_with("", rx_opts, tak_counts.front()), &sc.cot}};
      for (size_t i = 1; i < tak_counts.size(); ++i)
        all.emplace_back(cot_with("", rx_opts, tak_counts[i]), &sc.more[i - 1]);
      measure_throughput(bootstrap, all, pool_of, n, window, max_seconds);
      sc.cot.tak_destinations = with_tak ? tak_counts.front() : 0;
      for (size_t i = 1; i < tak_counts.size(); ++i)
        sc.more[i - 1].tak_destinations = tak_counts[i];
      sc.cot.tak_expected = records.valid(runs);
      for (auto& m : sc.more)
        m.tak_expected = records.valid(runs);
      mean_record_bytes = records.mean_bytes();
    }
    run_seq_base += run_seqs + n; // and the profiled run's
  }

  struct rusage self_usage {};
  getrusage(RUSAGE_SELF, &self_usage);
  if (tak_protocols)
    return finish_protocols(scenarios, n, window, summary, self_usage);

  std::printf(
    "Embedded broker (librdkafka mock cluster, 1 broker) in the "
    "benchmark process; topics with %d partitions; %llu records "
    "per throughput run (generated detections with seqs of their own per "
    "run, the same to every pipeline, %.0f bytes average, %.0f%% "
    "malformed, 25%% GeoJSON), publisher at most "
    "%lld records ahead of the outputs (the mock broker keeps only "
    "~5 MB per partition). Latency phases: %.0f s per offered rate, "
    "run as segments of at most %llu records one after the other. "
    "Each latency segment and the throughput runs with a fresh "
    "instance of the pipeline on fresh topics (the mock broker's "
    "fetch walks every message set a partition holds, so it slows "
    "as a phase's topics grow; percentiles are over all the "
    "segments' records)."
    "\n\n",
    partitions, static_cast<unsigned long long>(n), mean_record_bytes,
    100 * malformed_share, static_cast<long long>(window), lat_seconds,
    static_cast<unsigned long long>(segment_records));
  if (!baseline_cmd.empty())
    std::printf("**The baseline is not the passthrough** but `%s` "
                "(--baseline-cmd), run by /bin/sh.\n\n",
                baseline_cmd.c_str());
  std::printf("Latency = time the benchmark's reader of the output topic got "
              "the record (reader fetch.wait.max.ms=2) minus the wall time "
              "the input was published (also its Kafka timestamp). "
              "'TAK' = time cotflow's TAK destination (a TCP receiver in "
              "this process) read the event minus the same publish time. "
              "'produced' = the output record's CreateTime (set when "
              "cotflow/passthrough handed it to its producer) minus the "
              "input's. 'matched' counts only CoT outputs for cotflow: the "
              "malformed inputs go to the dead-letter topic. Peak RSS per "
              "phase is VmHWM after resetting it through /proc/PID/clear_refs "
              "at the phase start; CPU is utime+stime of the child over the "
              "phase divided by the records published in it. 'Other load' "
              "is the CPU of every process on the machine that is neither "
              "this benchmark nor the pipeline under test (from /proc/stat), "
              "averaged over the pipeline's phases: other work that competed "
              "for the 2 cores.\n\n");
  for (auto& sc : scenarios)
    report(sc, n);
  std::printf("Benchmark process (broker, publisher, observers): %.1f s CPU, "
              "peak RSS %s MB.\n\n",
              static_cast<double>(self_usage.ru_utime.tv_sec)
                + static_cast<double>(self_usage.ru_stime.tv_sec)
                + static_cast<double>(self_usage.ru_utime.tv_usec
                                      + self_usage.ru_stime.tv_usec)
                    / 1e6,
              mb(self_usage.ru_maxrss).c_str());

  bool ok = true;
  if (!summary.empty()) {
    std::ofstream out(summary, std::ios::app);
    for (auto& sc : scenarios)
      write_summary(out, sc);
  }
  if (!plot.empty())
    write_plot(plot, scenarios);
  bool complete = true;
  for (auto& sc : scenarios) {
    ok = ok && sc.base.exit_code && *sc.base.exit_code == 0;
    complete = complete && sc.base.kafka_short == 0;
    for (auto* p : cotflows(sc)) {
      ok = ok && p->exit_code && *p->exit_code == 0;
      complete = complete && p->kafka_short == 0
                 && (p->tak_destinations == 0 || p->tak_missing() == 0);
    }
  }
  return !ok ? 3 : !complete ? 4 : 0;
}
