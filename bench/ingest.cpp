// HTTP detection ingest (issue 23, item 5): POST /v1/detections against the
// embedded broker, next to a baseline that gives the same records the same
// guarantee without HTTP.
//
// Both sides run in this process on one mock cluster: the ingest
// (http_ingest, as `cotflow run` starts it with ingest.address set) and a
// plain producer made from the same configuration (make_client_conf: the
// ingest's librdkafka settings). A "request" of the baseline is what a
// Kafka-native client does for the guarantee the ingest's 202 gives: it
// produces the request's records and waits for their delivery reports.
// Clients are threads: `--concurrency` of them each send a request, wait
// for its answer, send the next (one TCP connection per request: civetweb
// closes it after the answer, keep-alive is off in the ingest).
//
// Phases, each on fresh topics (the mock broker walks a partition's
// message sets on every fetch and produce gets slower as a topic grows):
//   single:  requests of one record, as fast as the clients go;
//   batch:   requests of --batch records (NDJSON), likewise;
//   paced:   one-record requests offered at --rate per second for
//            --paced-seconds (open loop: a request's latency counts from
//            when it was due, so a slow answer delays none of the others'
//            clocks), p50/p99/max.
// Ingest and baseline take turns (--reps each, medians); after every run
// the records in its input topic are counted (the high watermarks): every
// record answered 202 must be there, exit 4 otherwise. Each run starts
// with 20 untimed one-record requests, one at a time (see warm_up).
#include "bench/harness.hpp"

#include "config/config.hpp"
#include "pipeline/codec/generator.hpp"
#include "pipeline/core/stats.hpp"
#include "pipeline/core/time.hpp"
#include "pipeline/ingest/http_ingest.hpp"
#include "pipeline/kafka/kafka.hpp"
#include "pipeline/ops/http_client.hpp"

#include <librdkafka/rdkafkacpp.h>

#include <atomic>
#include <cmath>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>

namespace {

using bench::die;
using bench::progress;
using clock_type = std::chrono::steady_clock;

struct options {
  int64_t single_requests = 5000;
  int64_t batch_requests = 600;
  int64_t batch = 500;
  int64_t concurrency = 16;
  int64_t rate = 1000;
  int64_t paced_seconds = 10;
  int64_t reps = 3;
  int64_t partitions = 6;
  std::string summary;
};

/// Request bodies: `n` requests of `per` generated (valid) records each,
/// NDJSON; and the same records as (key, payload) for the baseline.
struct workload {
  std::vector<std::string> bodies;
  std::vector<std::vector<std::pair<std::string, std::string>>> records;
  uint64_t total = 0;
};

workload make_workload(int64_t n, int64_t per, uint64_t seed) {
  cotflow::detection_generator::options g;
  g.seed = seed;
  g.malformed = 0; // every record is accepted: 202, counted in the topic
  cotflow::detection_generator gen{g};
  workload w;
  w.bodies.resize(static_cast<size_t>(n));
  w.records.resize(static_cast<size_t>(n));
  cotflow::generated_record r;
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t k = 0; k < per; ++k) {
      gen.next(r, cotflow::now_ms());
      w.bodies[i] += r.payload + "\n";
      w.records[i].emplace_back(r.key, r.payload);
    }
    w.total += static_cast<uint64_t>(per);
  }
  return w;
}

/// What one run measured.
struct run_result {
  double seconds = 0;
  uint64_t requests = 0;
  uint64_t records = 0;
  uint64_t failed = 0;
  /// Milliseconds per request (from when it was due, in the paced phase).
  std::vector<double> latencies_ms;
  uint64_t counted = 0;
  /// Cores other processes used meanwhile (bench::load_meter).
  double other_cores = 0;
  double requests_per_s() const {
    return seconds > 0 ? static_cast<double>(requests) / seconds : 0;
  }
  double records_per_s() const {
    return seconds > 0 ? static_cast<double>(records) / seconds : 0;
  }
};

double quantile(std::vector<double> v, double q) {
  if (v.empty())
    return NAN;
  std::sort(v.begin(), v.end());
  auto i = static_cast<size_t>(q * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

double median(std::vector<double> v) {
  return quantile(std::move(v), 0.5);
}

/// Sends request i of `w` the way one side does; true when it was taken
/// (202, or delivered).
using sender = std::function<bool(size_t)>;

/// Runs `w`'s requests on `threads` clients, as fast as they go or (rate
/// > 0) each due at start + i / rate.
run_result drive(const workload& w, int64_t threads, int64_t rate,
                 const sender& send) {
  run_result r;
  std::atomic<size_t> next{0};
  std::atomic<uint64_t> failed{0};
  std::vector<std::vector<double>> lat(static_cast<size_t>(threads));
  bench::load_meter meter{-1};
  // Every client starts at t0 (threads take a moment to start).
  auto t0 = clock_type::now() + std::chrono::milliseconds{20};
  std::vector<std::thread> clients;
  for (int64_t c = 0; c < threads; ++c)
    clients.emplace_back([&, c] {
      std::this_thread::sleep_until(t0);
      for (;;) {
        auto i = next.fetch_add(1);
        if (i >= w.bodies.size())
          return;
        auto due = rate > 0 ? t0
                                + std::chrono::nanoseconds{static_cast<int64_t>(
                                  1e9 * static_cast<double>(i)
                                  / static_cast<double>(rate))}
                            : clock_type::now();
        std::this_thread::sleep_until(due);
        if (!send(i))
          failed += 1;
        lat[static_cast<size_t>(c)].push_back(
          std::chrono::duration<double, std::milli>(clock_type::now() - due)
            .count());
      }
    });
  for (auto& t : clients)
    t.join();
  r.seconds = std::chrono::duration<double>(clock_type::now() - t0).count();
  r.other_cores = meter.other_cores();
  r.requests = w.bodies.size();
  r.records = w.total;
  r.failed = failed;
  for (auto& l : lat)
    r.latencies_ms.insert(r.latencies_ms.end(), l.begin(), l.end());
  return r;
}

/// The baseline: a plain producer with the ingest's librdkafka settings;
/// a request produces its records and waits for their delivery reports.
class plain_producer : public RdKafka::DeliveryReportCb {
public:
  plain_producer(const cotflow::config& cfg) {
    std::string err;
    auto conf = cotflow::make_client_conf(cfg, cotflow::client_role::producer,
                                          err);
    if (!conf)
      die("baseline producer: " + err);
    if (conf->set("dr_cb", static_cast<RdKafka::DeliveryReportCb*>(this), err)
        != RdKafka::Conf::CONF_OK)
      die("baseline producer: " + err);
    producer_.reset(RdKafka::Producer::create(conf.get(), err));
    if (!producer_)
      die("baseline producer: " + err);
    poller_ = std::thread{[this] {
      while (polling_)
        producer_->poll(50);
    }};
  }

  ~plain_producer() override {
    producer_->flush(10000);
    polling_ = false;
    poller_.join();
  }

  /// Produces `records` to `topic` and waits for all of them; false when
  /// one failed.
  bool send(const std::string& topic,
            const std::vector<std::pair<std::string, std::string>>& records) {
    auto req = std::make_shared<request>();
    req->left = records.size();
    for (auto& [key, payload] : records) {
      auto* ticket = new std::shared_ptr<request>{req};
      for (;;) {
        auto rc = producer_->produce(
          topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
          const_cast<char*>(payload.data()), payload.size(), key.data(),
          key.size(), 0, ticket);
        if (rc == RdKafka::ERR_NO_ERROR)
          break;
        if (rc != RdKafka::ERR__QUEUE_FULL) {
          delete ticket;
          return false;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds{1});
      }
    }
    std::unique_lock<std::mutex> lock{req->m};
    req->done.wait(lock, [&] { return req->left == 0; });
    return req->ok;
  }

  void dr_cb(RdKafka::Message& msg) override {
    std::unique_ptr<std::shared_ptr<request>> ticket{
      static_cast<std::shared_ptr<request>*>(msg.msg_opaque())};
    auto& req = **ticket;
    std::lock_guard<std::mutex> guard{req.m};
    if (msg.err() != RdKafka::ERR_NO_ERROR)
      req.ok = false;
    if (--req.left == 0)
      req.done.notify_all();
  }

private:
  struct request {
    std::mutex m;
    std::condition_variable done;
    size_t left = 0;
    bool ok = true;
  };
  std::unique_ptr<RdKafka::Producer> producer_;
  std::atomic<bool> polling_{true};
  std::thread poller_;
};

/// The mock cluster, its topics and the counting of what they hold.
struct cluster {
  std::unique_ptr<cotflow::embedded_broker> broker;
  std::string bootstrap;
  int topics = 0;
  int64_t partitions = 6;

  std::string fresh_topic(const std::string& what) {
    auto name = "bench.ingest." + what + "." + std::to_string(++topics);
    std::string err;
    if (!broker->create_topic(name, static_cast<int>(partitions), err))
      die("create topic " + name + ": " + err);
    return name;
  }

  uint64_t count(const std::string& topic) {
    uint64_t n = 0;
    for (auto& [p, hi] : cotflow::test::high_watermarks(bootstrap, topic))
      n += static_cast<uint64_t>(std::max<int64_t>(hi, 0));
    return n;
  }
};

cotflow::config config_for(const cluster& c, const std::string& topic) {
  auto cfg = cotflow::default_config();
  cfg.kafka.brokers = c.bootstrap;
  cfg.kafka.input_topics = {topic};
  cfg.ingest.address = "127.0.0.1:0";
  cfg.ingest.topic = topic;
  return cfg;
}

/// Sent one at a time before a run and not timed: a producer's first
/// records to a topic wait for its metadata (about a second on the mock
/// broker), which a running instance paid long ago. Counted in the topic
/// with the run's.
const workload& warm_up() {
  static const workload w = make_workload(20, 1, 9);
  return w;
}

/// One run of the ingest on a fresh topic.
run_result run_ingest(cluster& c, const std::string& phase, const workload& w,
                      int64_t threads, int64_t rate) {
  auto topic = c.fresh_topic(phase + ".http");
  auto cfg = config_for(c, topic);
  auto st = std::make_shared<cotflow::stats>();
  std::string err;
  auto ingest = cotflow::http_ingest::start(cfg, st, err);
  if (!ingest)
    die("ingest: " + err);
  auto addr = ingest->address();
  auto port = std::stoi(addr.substr(addr.rfind(':') + 1));
  auto post = [&](const workload& of, size_t i) {
    auto reply = cotflow::http_post("127.0.0.1", port, "/v1/detections",
                                    of.bodies[i], "", 30000);
    return reply && reply->status == 202;
  };
  for (size_t i = 0; i < warm_up().bodies.size(); ++i)
    if (!post(warm_up(), i))
      die("ingest: a warm-up request was not taken");
  auto r = drive(w, threads, rate, [&](size_t i) { return post(w, i); });
  ingest.reset();
  r.counted = c.count(topic) - warm_up().total;
  return r;
}

/// One run of the baseline on a fresh topic.
run_result run_baseline(cluster& c, const std::string& phase, const workload& w,
                        int64_t threads, int64_t rate) {
  auto topic = c.fresh_topic(phase + ".plain");
  auto cfg = config_for(c, topic);
  run_result r;
  {
    plain_producer p{cfg};
    for (auto& records : warm_up().records)
      if (!p.send(topic, records))
        die("baseline: a warm-up record was not delivered");
    r = drive(w, threads, rate,
              [&](size_t i) { return p.send(topic, w.records[i]); });
  }
  r.counted = c.count(topic) - warm_up().total;
  return r;
}

/// Runs and medians of one phase, both sides.
struct phase_result {
  std::vector<run_result> http, plain;
};

int64_t number_arg(int argc, char** argv, int& i) {
  if (i + 1 >= argc)
    die(std::string{argv[i]} + " needs a value");
  return std::atoll(argv[++i]);
}

options parse(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--single-requests")
      o.single_requests = number_arg(argc, argv, i);
    else if (a == "--batch-requests")
      o.batch_requests = number_arg(argc, argv, i);
    else if (a == "--batch")
      o.batch = number_arg(argc, argv, i);
    else if (a == "--concurrency")
      o.concurrency = number_arg(argc, argv, i);
    else if (a == "--rate")
      o.rate = number_arg(argc, argv, i);
    else if (a == "--paced-seconds")
      o.paced_seconds = number_arg(argc, argv, i);
    else if (a == "--reps")
      o.reps = number_arg(argc, argv, i);
    else if (a == "--partitions")
      o.partitions = number_arg(argc, argv, i);
    else if (a == "--summary" && i + 1 < argc)
      o.summary = argv[++i];
    else
      die("usage: bench_ingest [--single-requests N] [--batch-requests N] "
          "[--batch RECORDS] [--concurrency THREADS] [--rate REQ_PER_S] "
          "[--paced-seconds S] [--reps N] [--partitions N] [--summary FILE]");
  }
  if (o.single_requests < 1 || o.batch_requests < 1 || o.batch < 1
      || o.concurrency < 1 || o.rate < 1 || o.paced_seconds < 1 || o.reps < 1
      || o.partitions < 1)
    die("every number must be at least 1");
  return o;
}

} // namespace

int main(int argc, char** argv) {
  bench::program_name = "bench_ingest";
  auto o = parse(argc, argv);
  cluster c;
  c.partitions = o.partitions;
  std::string err;
  c.broker = cotflow::embedded_broker::start(1, err);
  if (!c.broker)
    die("embedded broker: " + err);
  c.bootstrap = c.broker->bootstraps();
  // The ingest logs a line per refused request at most; keep stderr for
  // progress.
  struct phase {
    std::string name;
    workload w;
    int64_t rate;
  };
  std::vector<phase> phases;
  phases.push_back({"single", make_workload(o.single_requests, 1, 1), 0});
  phases.push_back({"batch", make_workload(o.batch_requests, o.batch, 2), 0});
  phases.push_back(
    {"paced", make_workload(o.rate * o.paced_seconds, 1, 3), o.rate});
  std::map<std::string, phase_result> results;
  uint64_t missing = 0, failed = 0;
  auto check = [&](const std::string& what, const run_result& r) {
    auto taken = r.records
                 - r.failed * (r.requests ? r.records / r.requests : 0);
    progress("%s: %llu requests in %.2f s (%.0f req/s, %.0f rec/s), %llu "
             "failed, %llu of %llu records in the topic",
             what.c_str(), static_cast<unsigned long long>(r.requests),
             r.seconds, r.requests_per_s(), r.records_per_s(),
             static_cast<unsigned long long>(r.failed),
             static_cast<unsigned long long>(r.counted),
             static_cast<unsigned long long>(r.records));
    failed += r.failed;
    // Every record taken must be in the topic (a failed request's may be
    // there too: never fewer).
    if (r.counted < taken)
      missing += taken - r.counted;
  };
  for (auto& p : phases)
    for (int64_t rep = 0; rep < o.reps; ++rep) {
      // In turns, so that the machine's drift weighs on both sides.
      auto b = run_baseline(c, p.name, p.w, o.concurrency, p.rate);
      check(p.name + " plain #" + std::to_string(rep + 1), b);
      results[p.name].plain.push_back(std::move(b));
      auto h = run_ingest(c, p.name, p.w, o.concurrency, p.rate);
      check(p.name + " http #" + std::to_string(rep + 1), h);
      results[p.name].http.push_back(std::move(h));
    }

  auto med = [](const std::vector<run_result>& runs, auto f) {
    std::vector<double> v;
    for (auto& r : runs)
      v.push_back(f(r));
    return median(v);
  };
  auto rps = [](const run_result& r) { return r.requests_per_s(); };
  auto recs = [](const run_result& r) { return r.records_per_s(); };
  auto lat = [](double q) {
    return [q](const run_result& r) { return quantile(r.latencies_ms, q); };
  };
  std::FILE* sum = o.summary.empty() ? nullptr
                                     : std::fopen(o.summary.c_str(), "a");
  auto kv = [&](const std::string& k, double v) {
    if (sum)
      std::fprintf(sum, "ingest_%s=%.6g\n", k.c_str(), v);
  };
  std::printf("| phase | figure | plain producer | HTTP ingest | ingest / "
              "plain |\n|---|---|---:|---:|---:|\n");
  for (auto& p : phases) {
    auto& r = results[p.name];
    std::vector<
      std::pair<std::string, std::function<double(const run_result&)>>>
      figures;
    if (p.rate == 0) {
      figures = {{"requests/s", rps},
                 {"records/s", recs},
                 {"p50 ms per request", lat(0.5)},
                 {"p99 ms per request", lat(0.99)}};
    } else {
      figures = {{"requests/s achieved", rps},
                 {"p50 ms (from when due)", lat(0.5)},
                 {"p99 ms (from when due)", lat(0.99)},
                 {"max ms (from when due)", lat(1.0)}};
    }
    for (auto& [label, f] : figures) {
      auto a = med(r.plain, f), b = med(r.http, f);
      std::printf("| %s | %s | %.1f | %.1f | %.2f |\n", p.name.c_str(),
                  label.c_str(), a, b, a > 0 ? b / a : NAN);
      std::string key = p.name + "_" + label.substr(0, label.find(' '));
      for (auto& ch : key)
        if (ch == '/' || ch == ' ')
          ch = '_';
      kv(key + "_plain", a);
      kv(key + "_http", b);
    }
  }
  // The spread behind the medians, and what else ran on the machine.
  std::printf("\nEvery run, in the order run (requests/s, p99 ms, cores other "
              "processes used meanwhile):\n\n");
  for (auto& p : phases) {
    auto& r = results[p.name];
    std::printf("- %s:", p.name.c_str());
    for (size_t i = 0; i < r.plain.size(); ++i)
      for (auto* run : {&r.plain[i], &r.http[i]})
        std::printf(" %s %.0f/s p99 %.1f ms (%.1f);",
                    run == &r.plain[i] ? "plain" : "http",
                    run->requests_per_s(), quantile(run->latencies_ms, 0.99),
                    run->other_cores);
    std::printf("\n");
  }
  kv("missing", static_cast<double>(missing));
  kv("failed", static_cast<double>(failed));
  std::printf(
    "\nMedians of %lld runs per side, in turns, each on a fresh "
    "topic of %lld partitions; %lld client threads, one request "
    "at a time each (%lld records per batch request; paced: %lld "
    "one-record requests/s for %lld s, open loop). Records "
    "answered 202 (or delivered, for the plain producer) and not "
    "in the topic: %llu; requests not taken: %llu.\n",
    static_cast<long long>(o.reps), static_cast<long long>(o.partitions),
    static_cast<long long>(o.concurrency), static_cast<long long>(o.batch),
    static_cast<long long>(o.rate), static_cast<long long>(o.paced_seconds),
    static_cast<unsigned long long>(missing),
    static_cast<unsigned long long>(failed));
  if (sum)
    std::fclose(sum);
  return missing > 0 ? 4 : 0;
}
