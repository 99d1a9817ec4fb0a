// cotflow: Kafka detections to Cursor-on-Target. This file only parses the
// command line and wires signals; everything else lives in the libraries.
#include "actors/run.hpp"
#include "config/config.hpp"
#include "pipeline/codec/generator.hpp"
#include "pipeline/ops/http_client.hpp"
#include "pipeline/kafka/kafka.hpp"
#include "pipeline/core/log.hpp"
#include "pipeline/core/time.hpp"
#include "pipeline/ops/top.hpp"

#include <librdkafka/rdkafkacpp.h>

#include <atomic>
#include <optional>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <pthread.h>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace cotflow;

namespace {

constexpr int exit_config = 2;

const char* usage = R"(usage: cotflow COMMAND [OPTIONS]

commands:
  run            run the pipeline (kafka.brokers: embedded starts a broker)
  demo           embedded broker + generated detections + pipeline + live
                 summary, until Ctrl-C
  broker         run the embedded Kafka-protocol broker alone; prints its
                 bootstrap address
  loadgen        publish generated detections at --rate (0 = as fast as
                 possible) for --count N or --seconds N; options --malformed
                 F, --geojson F, --tracks N, --sensors N, --seed N
  top            live view of a running instance: rates, latency,
                 destinations, supervision tree (--url http://host:port,
                 default http.address; --token T; --frames N to stop)
  config check   validate the configuration; lists every problem (exit 2)
  config show    print the effective configuration and where each key came
                 from
  version        print the version

options:
  --config PATH        config file (default search: ./cotflow.yaml,
                       /etc/cotflow/cotflow.yaml,
                       ~/.config/cotflow/cotflow.yaml)
  --rate N             demo: detections per second (default 200)
  --count N            demo: stop publishing after N detections
  --output PATH        demo: CoT file (default ./cotflow-demo.cot)
  --partitions N       demo/broker/embedded: partitions per input topic
                       (default 6)
)";

std::map<std::string, std::string> parse_options(int argc, char** argv,
                                                 int first,
                                                 std::vector<std::string>& pos,
                                                 bool& ok) {
  std::map<std::string, std::string> opts;
  ok = true;
  for (int i = first; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--", 0) == 0) {
      auto eq = a.find('=');
      if (eq != std::string::npos) {
        opts[a.substr(2, eq - 2)] = a.substr(eq + 1);
      } else if (i + 1 < argc) {
        opts[a.substr(2)] = argv[++i];
      } else {
        std::cerr << "cotflow: option " << a << " needs a value\n";
        ok = false;
      }
    } else {
      pos.push_back(a);
    }
  }
  return opts;
}

int64_t int_option(const std::map<std::string, std::string>& opts,
                   const std::string& name, int64_t fallback, bool& ok) {
  auto it = opts.find(name);
  if (it == opts.end())
    return fallback;
  char* end = nullptr;
  auto v = std::strtoll(it->second.c_str(), &end, 10);
  if (*end != '\0' || v < 0) {
    std::cerr << "cotflow: --" << name << " expects a non-negative integer\n";
    ok = false;
  }
  return v;
}

/// Blocks the stop signals in every thread; a dedicated thread waits for
/// them: the first asks for a drain, the second exits at once.
class signal_waiter {
public:
  signal_waiter() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    sigaddset(&set_, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set_, nullptr);
  }

  void start() {
    thread_ = std::thread{[this] {
      int sig = 0;
      int count = 0;
      while (sigwait(&set_, &sig) == 0) {
        if (sig == SIGHUP) {
          log::info("main", "received SIGHUP; reloading the configuration");
          reload = true;
          continue;
        }
        if (++count == 1) {
          log::info("main", std::string{"received "} + strsignal(sig)
                              + "; draining (send again to exit at once)");
          stop = true;
          // The end of the grace period forces the exit even when a client
          // blocks (an unreachable coordinator, say): offsets not committed
          // by then are consumed again, nothing is lost.
          auto grace = grace_;
          std::thread{[grace] {
            std::this_thread::sleep_for(grace);
            log::error("main", "grace period over; exiting without a "
                               "complete drain");
            std::_Exit(1);
          }}.detach();
        } else {
          log::warn("main", "second signal: exiting without draining");
          std::_Exit(130);
        }
      }
    }};
    thread_.detach();
  }

  std::atomic<bool> stop{false};
  /// Set on SIGHUP; the pipeline reloads its configuration and clears it.
  std::atomic<bool> reload{false};

  /// How long after the first signal the process exits regardless.
  void grace(std::chrono::milliseconds g) {
    grace_ = g;
  }

private:
  std::chrono::milliseconds grace_{15000};
  sigset_t set_;
  std::thread thread_;
};

load_result load(const std::map<std::string, std::string>& opts) {
  auto it = opts.find("config");
  return load_config(it == opts.end() ? "" : it->second, process_env());
}

int report_errors(const load_result& res) {
  std::cerr << "cotflow: invalid configuration"
            << (res.cfg.file.empty() ? "" : " in " + res.cfg.file) << " ("
            << res.errors.size() << " problem"
            << (res.errors.size() == 1 ? "" : "s") << "):\n";
  for (auto& e : res.errors)
    std::cerr << "  - " << e << "\n";
  return exit_config;
}

/// Starts the embedded broker with the topics of `cfg`.
std::unique_ptr<embedded_broker> start_broker(const config& cfg,
                                              int partitions) {
  std::string err;
  auto broker = embedded_broker::start(1, err);
  if (!broker) {
    log::error("broker", err);
    return nullptr;
  }
  bool ok = true;
  for (auto& t : cfg.kafka.input_topics)
    ok = ok && broker->create_topic(t, partitions, err);
  ok = ok && broker->create_topic(cfg.kafka.output_topic, partitions, err);
  ok = ok && broker->create_topic(cfg.kafka.dead_letter_topic, 1, err);
  // Parking topics with room to spare: the embedded broker keeps only about
  // 5 MB per partition (it drops the oldest), where auto-creation would
  // give four partitions.
  if (!cfg.kafka.parking_topic.empty())
    for (auto& [name, url] : cfg.tak.destinations)
      ok = ok && broker->create_topic(cfg.kafka.parking_topic + "." + name,
                                      std::max(partitions, 12), err);
  if (!ok) {
    log::error("broker", err);
    return nullptr;
  }
  log::info("broker", "embedded Kafka-protocol broker at "
                        + broker->bootstraps());
  return broker;
}

int cmd_broker(const config& cfg, int partitions, signal_waiter& sig) {
  auto broker = start_broker(cfg, partitions);
  if (!broker)
    return 1;
  std::cout << "bootstrap: " << broker->bootstraps() << std::endl;
  std::cout << "topics: ";
  for (auto& t : cfg.kafka.input_topics)
    std::cout << t << "(" << partitions << ") ";
  std::cout << cfg.kafka.output_topic << "(" << partitions << ") "
            << cfg.kafka.dead_letter_topic << "(1)" << std::endl;
  sig.start();
  while (!sig.stop)
    std::this_thread::sleep_for(std::chrono::milliseconds{100});
  return 0;
}

/// Publishes generated detections at `rate` per second until told to stop.
class demo_publisher {
public:
  demo_publisher(const config& cfg, int64_t rate, int64_t count,
                 detection_generator::options gen = {})
    : cfg_(cfg), rate_(rate), count_(count), gen_(gen) {
  }

  bool done() const {
    return finished_;
  }

  bool start() {
    std::string err;
    std::unique_ptr<RdKafka::Conf> conf{
      RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL)};
    conf->set("bootstrap.servers", cfg_.kafka.brokers, err);
    conf->set("client.id", "cotflow-demo-publisher", err);
    conf->set("linger.ms", "5", err);
    producer_.reset(RdKafka::Producer::create(conf.get(), err));
    if (!producer_) {
      log::error("demo", "cannot create the publisher: " + err);
      return false;
    }
    thread_ = std::thread{[this] { loop(); }};
    return true;
  }

  void stop() {
    stop_ = true;
    if (thread_.joinable())
      thread_.join();
    if (producer_)
      producer_->flush(5000);
  }

  std::atomic<uint64_t> published{0};

private:
  void loop() {
    detection_generator gen{gen_};
    generated_record rec;
    auto& topic = cfg_.kafka.input_topics.front();
    auto start = std::chrono::steady_clock::now();
    uint64_t sent = 0;
    while (!stop_ && (count_ == 0 || sent < static_cast<uint64_t>(count_))) {
      auto elapsed = std::chrono::duration<double>(
                       std::chrono::steady_clock::now() - start)
                       .count();
      auto due = rate_ == 0 ? sent + 1
                            : static_cast<uint64_t>(
                              elapsed * static_cast<double>(rate_));
      if (sent >= due) {
        std::this_thread::sleep_for(std::chrono::milliseconds{2});
        producer_->poll(0);
        continue;
      }
      gen.next(rec, now_ms());
      auto rc = producer_->produce(
        topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
        rec.payload.data(), rec.payload.size(), rec.key.data(),
        rec.key.size(), 0, nullptr);
      if (rc == RdKafka::ERR__QUEUE_FULL) {
        producer_->poll(10);
        continue;
      }
      ++sent;
      published = sent;
      producer_->poll(0);
    }
    finished_ = true;
  }

  config cfg_;
  int64_t rate_;
  int64_t count_;
  std::unique_ptr<RdKafka::Producer> producer_;
  detection_generator::options gen_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> finished_{false};
};

/// Publishes generated detections to kafka.input_topics[0] at --rate (0 =
/// as fast as possible) until --count records or --seconds have passed.
int cmd_loadgen(const config& cfg,
                const std::map<std::string, std::string>& opts,
                signal_waiter& sig) {
  bool ok = true;
  auto rate = int_option(opts, "rate", 1000, ok);
  auto count = int_option(opts, "count", 0, ok);
  auto seconds = int_option(opts, "seconds", 0, ok);
  detection_generator::options gen;
  gen.seed = static_cast<uint64_t>(int_option(opts, "seed", 42, ok));
  gen.tracks = static_cast<int>(int_option(opts, "tracks", 40, ok));
  gen.sensors = static_cast<int>(int_option(opts, "sensors", 5, ok));
  if (opts.count("malformed"))
    gen.malformed = std::atof(opts.at("malformed").c_str());
  if (opts.count("geojson"))
    gen.geojson = std::atof(opts.at("geojson").c_str());
  if (!ok || gen.malformed < 0 || gen.malformed > 1 || gen.geojson < 0
      || gen.geojson > 1)
    return exit_config;
  if (count == 0 && seconds == 0) {
    std::cerr << "cotflow loadgen: give --count N or --seconds N\n";
    return exit_config;
  }
  demo_publisher pub{cfg, rate, count, gen};
  if (!pub.start())
    return 1;
  sig.start();
  auto start = std::chrono::steady_clock::now();
  auto last = start;
  uint64_t last_n = 0;
  bool tty = isatty(STDERR_FILENO);
  while (!sig.stop && !pub.done()) {
    std::this_thread::sleep_for(std::chrono::milliseconds{100});
    auto now = std::chrono::steady_clock::now();
    if (seconds > 0 && now - start >= std::chrono::seconds{seconds})
      break;
    if (now - last >= std::chrono::seconds{1}) {
      auto n = pub.published.load();
      std::fprintf(stderr, "%ssent %llu | %.0f rec/s%s", tty ? "\r\033[K" : "",
                   static_cast<unsigned long long>(n),
                   static_cast<double>(n - last_n)
                     / std::chrono::duration<double>(now - last).count(),
                   tty ? "" : "\n");
      last = now;
      last_n = n;
    }
  }
  pub.stop();
  auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now()
                                            - start)
                .count();
  auto n = pub.published.load();
  std::fprintf(stderr, "%s", tty ? "\n" : "");
  std::printf("loadgen: sent %llu records to '%s' in %.2f s (%.0f rec/s "
              "achieved, %lld requested)\n",
              static_cast<unsigned long long>(n),
              cfg.kafka.input_topics.front().c_str(), secs,
              static_cast<double>(n) / secs, static_cast<long long>(rate));
  return 0;
}

/// Prints the one-line live summary.
class summary {
public:
  explicit summary(std::shared_ptr<stats> st) : st_(std::move(st)) {
    tty_ = isatty(STDOUT_FILENO);
  }

  void tick(bool force = false) {
    auto now = std::chrono::steady_clock::now();
    if (!force && now - last_ < std::chrono::seconds{1})
      return;
    double secs = std::chrono::duration<double>(now - last_).count();
    auto done = st_->completed.load();
    double rate = secs > 0 ? static_cast<double>(done - last_done_) / secs
                           : 0;
    last_ = now;
    last_done_ = done;
    char line[256];
    std::snprintf(line, sizeof(line),
                  "in %llu | out %llu | dead-lettered %llu | dropped %llu | "
                  "in flight %lld | %.0f rec/s",
                  static_cast<unsigned long long>(st_->consumed.load()),
                  static_cast<unsigned long long>(st_->delivered()),
                  static_cast<unsigned long long>(st_->dead_lettered.load()),
                  static_cast<unsigned long long>(st_->dropped()),
                  static_cast<long long>(st_->in_flight.load()), rate);
    if (tty_)
      std::printf("\r\033[K%s", line);
    else
      std::printf("%s\n", line);
    std::fflush(stdout);
  }

  void done() {
    tick(true);
    if (tty_)
      std::printf("\n");
  }

private:
  std::shared_ptr<stats> st_;
  bool tty_ = false;
  std::chrono::steady_clock::time_point last_
    = std::chrono::steady_clock::now();
  uint64_t last_done_ = 0;
};

/// A live terminal view of a running instance through its HTTP port.
int cmd_top(const config& cfg, const std::map<std::string, std::string>& opts,
            signal_waiter& sig) {
  bool ok = true;
  auto frames = int_option(opts, "frames", 0, ok);
  if (!ok)
    return exit_config;
  std::string addr = opts.count("url") ? opts.at("url") : cfg.http.address;
  if (addr.rfind("http://", 0) == 0)
    addr = addr.substr(7);
  while (!addr.empty() && addr.back() == '/')
    addr.pop_back();
  auto colon = addr.rfind(':');
  if (colon == std::string::npos) {
    std::cerr << "cotflow top: --url must be http://host:port\n";
    return exit_config;
  }
  auto host = addr.substr(0, colon);
  if (host == "0.0.0.0" || host.empty())
    host = "127.0.0.1";
  int port = std::atoi(addr.c_str() + colon + 1);
  auto token = opts.count("token") ? opts.at("token") : cfg.http.token;
  auto url = "http://" + host + ":" + std::to_string(port);
  bool tty = isatty(STDOUT_FILENO);
  sig.start();
  auto t0 = std::chrono::steady_clock::now();
  auto sample = [&]() -> std::optional<top_sample> {
    auto m = http_get(host, port, "/metrics", token);
    if (!m || m->status != 200)
      return std::nullopt;
    top_sample s;
    s.at = std::chrono::duration<double>(std::chrono::steady_clock::now()
                                         - t0)
             .count();
    s.metrics = parse_prometheus(m->body);
    if (auto st = http_get(host, port, "/status", token); st
                                                          && st->status == 200)
      s.status_json = st->body;
    if (auto sv = http_get(host, port, "/supervision", token);
        sv && sv->status == 200)
      s.supervision_json = sv->body;
    return s;
  };
  auto before = sample();
  if (!before) {
    std::cerr << "cotflow top: no cotflow answers at " << url
              << " (see http.address; --url http://host:port)\n";
    return 1;
  }
  for (int64_t n = 0; !sig.stop && (frames == 0 || n < frames); ++n) {
    for (int i = 0; i < 10 && !sig.stop; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds{100});
    auto now = sample();
    if (tty)
      std::printf("\033[H\033[2J");
    if (!now) {
      std::printf("cotflow top  %s  unreachable; retrying\n", url.c_str());
    } else {
      std::printf("%s", render_top(url, *before, *now).c_str());
      before = std::move(now);
    }
    if (!tty)
      std::printf("\n");
    std::fflush(stdout);
  }
  return 0;
}

/// Reloads as at start; what the process itself rewrote at start (the
/// embedded broker's address, the demo's output file) stays as running
/// unless the file now says something else.
std::function<load_result()>
reloader(const std::map<std::string, std::string>& opts, const config& orig,
         const config& running) {
  return [opts, orig, running] {
    auto r = load(opts);
    if (r.ok()) {
      if (r.cfg.kafka.brokers == orig.kafka.brokers) {
        r.cfg.kafka.brokers = running.kafka.brokers;
        r.cfg.kafka.embedded = running.kafka.embedded;
      }
      if (r.cfg.sinks.file == orig.sinks.file)
        r.cfg.sinks.file = running.sinks.file;
    }
    return r;
  };
}

int cmd_run(config cfg, const std::map<std::string, std::string>& opts,
            int partitions, signal_waiter& sig) {
  auto orig = cfg;
  std::unique_ptr<embedded_broker> broker;
  if (cfg.kafka.brokers == "embedded") {
    broker = start_broker(cfg, partitions);
    if (!broker)
      return 1;
    cfg.kafka.brokers = broker->bootstraps();
    cfg.kafka.embedded = true;
  }
  auto st = std::make_shared<stats>();
  sig.start();
  run_hooks hooks;
  hooks.stop = &sig.stop;
  hooks.reload = &sig.reload;
  hooks.load = reloader(opts, orig, cfg);
  return run_pipeline(cfg, st, hooks);
}

int cmd_demo(config cfg, const std::map<std::string, std::string>& opts,
             int partitions, signal_waiter& sig) {
  bool ok = true;
  auto rate = int_option(opts, "rate", 200, ok);
  auto count = int_option(opts, "count", 0, ok);
  if (!ok)
    return exit_config;
  auto orig = cfg;
  auto out = opts.count("output") ? opts.at("output")
                                  : std::string{"cotflow-demo.cot"};
  cfg.sinks.file = std::filesystem::absolute(out).string();
  if (cfg.kafka.brokers == "localhost:9092"
      && cfg.sources["kafka.brokers"] == "default")
    cfg.kafka.brokers = "embedded";
  std::unique_ptr<embedded_broker> broker;
  if (cfg.kafka.brokers == "embedded") {
    broker = start_broker(cfg, partitions);
    if (!broker)
      return 1;
    cfg.kafka.brokers = broker->bootstraps();
    cfg.kafka.embedded = true;
  }
  std::printf("cotflow demo: %lld detections/s into '%s' at %s\n"
              "  CoT events -> %s (one per line) and Kafka topic '%s'\n"
              "  dead letters -> Kafka topic '%s' (with the reason in "
              "headers)\n"
              "  read them: kcat -b %s -t %s -C\n"
              "  Ctrl-C drains, commits and exits\n",
              static_cast<long long>(rate),
              cfg.kafka.input_topics.front().c_str(),
              cfg.kafka.brokers.c_str(), cfg.sinks.file.c_str(),
              cfg.kafka.output_topic.c_str(),
              cfg.kafka.dead_letter_topic.c_str(), cfg.kafka.brokers.c_str(),
              cfg.kafka.output_topic.c_str());
  std::fflush(stdout);
  demo_publisher pub{cfg, rate, count};
  if (!pub.start())
    return 1;
  auto st = std::make_shared<stats>();
  summary sum{st};
  sig.start();
  run_hooks hooks;
  hooks.stop = &sig.stop;
  hooks.tick = [&] { sum.tick(); };
  hooks.reload = &sig.reload;
  hooks.load = reloader(opts, orig, cfg);
  auto rc = run_pipeline(cfg, st, hooks);
  pub.stop();
  sum.done();
  std::printf("published %llu; CoT file: %s\n",
              static_cast<unsigned long long>(pub.published.load()),
              cfg.sinks.file.c_str());
  return rc;
}

} // namespace

int main(int argc, char** argv) {
  // A TAK server that resets a TLS connection must not end the process:
  // SSL_write reaches write(2), which raises SIGPIPE; the error is handled.
  std::signal(SIGPIPE, SIG_IGN);
  signal_waiter sig; // before any thread, so all threads inherit the mask
  if (argc < 2) {
    std::cerr << usage;
    return exit_config;
  }
  std::string cmd = argv[1];
  if (cmd == "version" || cmd == "--version") {
    std::cout << "cotflow " << COTFLOW_VERSION << " (librdkafka "
              << RdKafka::version_str() << ", CAF 0.17)\n";
    return 0;
  }
  if (cmd == "help" || cmd == "--help" || cmd == "-h") {
    std::cout << usage;
    return 0;
  }
  std::vector<std::string> pos;
  bool ok = true;
  auto opts = parse_options(argc, argv, 2, pos, ok);
  if (!ok)
    return exit_config;
  auto res = load(opts);
  if (cmd == "config") {
    auto sub = pos.empty() ? std::string{"check"} : pos.front();
    if (!res.ok())
      return report_errors(res);
    if (sub == "show") {
      std::cout << show_config(res.cfg);
      return 0;
    }
    if (sub == "check") {
      std::cout << "configuration OK"
                << (res.cfg.file.empty() ? " (defaults and environment)"
                                         : " (" + res.cfg.file + ")")
                << "\n";
      return 0;
    }
    std::cerr << "cotflow: unknown config command '" << sub << "'\n"
              << usage;
    return exit_config;
  }
  if (!res.ok())
    return report_errors(res);
  log::configure(res.cfg.log.level, res.cfg.log.format);
  // The drain's own limit plus time to commit, flush and close.
  sig.grace(std::chrono::milliseconds{res.cfg.pipeline.drain_timeout_ms}
            + std::chrono::seconds{10});
  auto partitions = static_cast<int>(int_option(opts, "partitions", 6, ok));
  if (!ok || partitions < 1)
    return exit_config;
  if (cmd == "run")
    return cmd_run(res.cfg, opts, partitions, sig);
  if (cmd == "demo")
    return cmd_demo(res.cfg, opts, partitions, sig);
  if (cmd == "broker")
    return cmd_broker(res.cfg, partitions, sig);
  if (cmd == "loadgen")
    return cmd_loadgen(res.cfg, opts, sig);
  if (cmd == "top")
    return cmd_top(res.cfg, opts, sig);
  std::cerr << "cotflow: unknown command '" << cmd << "'\n" << usage;
  return exit_config;
}
