#include "commands/commands.hpp"
#include "commands/embedded.hpp"
#include "commands/pipeline_hooks.hpp"
#include "commands/signal_waiter.hpp"

#include "actors/run.hpp"
#include "pipeline/core/counts.hpp"
#include "pipeline/core/log.hpp"
#include "pipeline/load/cot_receiver.hpp"
#include "pipeline/load/publisher.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>
#include <sys/ioctl.h>
#include <unistd.h>

namespace cotflow::commands {

namespace {

using std::chrono::milliseconds;

/// The destination of the demo's own TAK server, and of --tak.
constexpr const char* demo_tak = "demo-tak";
constexpr const char* extra_tak = "tak";

/// What the demo's options ask for beyond the pipeline's configuration.
struct demo_options {
  int64_t rate = 200;
  int64_t count = 0;
  /// The demo's TAK server goes down every `outage_every` for
  /// `outage_for`; never when `outage_every` is zero.
  milliseconds outage_every{60000};
  milliseconds outage_for{20000};
  std::string tak;
  std::string output;
  /// Empty: logs on stderr.
  std::string log_file;
};

/// The options of `inv`; nothing (said on stderr) when one is wrong.
std::optional<demo_options> read_options(const invocation& inv) {
  demo_options o;
  bool ok = true;
  o.rate = int_option(inv.opts, "rate", o.rate, ok);
  o.count = int_option(inv.opts, "count", o.count, ok);
  o.outage_every = milliseconds{
    int_option(inv.opts, "outage-every", o.outage_every.count(), ok)};
  o.outage_for = milliseconds{
    int_option(inv.opts, "outage-for", o.outage_for.count(), ok)};
  if (!ok)
    return std::nullopt;
  if (inv.opts.count("no-outage"))
    o.outage_every = milliseconds{0};
  if (o.outage_every.count() > 0
      && (o.outage_for.count() == 0 || o.outage_for >= o.outage_every)) {
    std::cerr << "cotflow demo: --outage-for must be above 0 and less than "
                 "--outage-every\n";
    return std::nullopt;
  }
  o.tak = string_option(inv.opts, "tak", "");
  o.output = string_option(inv.opts, "output", "cotflow-demo.cot");
  if (!inv.opts.count("log-stderr"))
    o.log_file = std::filesystem::absolute(
                   string_option(inv.opts, "log-file", "cotflow-demo.log"))
                   .string();
  return o;
}

/// Whether every destination that parks has replayed what it parked and
/// holds nothing in memory.
bool parking_caught_up(const stats& st) {
  for (auto& d : st.destinations)
    if (!d->parking_topic.empty()
        && (d->parking || d->parking_backlog > 0 || d->queue > 0))
      return false;
  return true;
}

const char* breaker_name(int state) {
  switch (state) {
    case 1:
      return "open";
    case 2:
      return "half-open";
    default:
      return "closed";
  }
}

/// " | demo-tak: down 12 s, breaker open, parked 340, replayed 0, waiting
/// 340" for each TAK destination.
std::string tak_summary(const stats& st, const cot_receiver& rx) {
  std::string out;
  for (auto& d : st.destinations) {
    if (d->kind != "tcp" && d->kind != "tls" && d->kind != "udp")
      continue;
    out += " | " + d->name + ": ";
    if (d->name == demo_tak) {
      auto left = rx.down_for().count();
      out += left > 0 ? "down " + std::to_string((left + 999) / 1000) + " s, "
                      : "up, ";
    }
    auto p = parking_of(*d);
    out += std::string{"breaker "} + breaker_name(d->breaker) + ", parked "
           + std::to_string(p.parked) + ", replayed "
           + std::to_string(p.replayed) + ", waiting "
           + std::to_string(p.waiting());
  }
  return out;
}

/// Prints the one-line live summary: once a second, on one line that
/// rewrites itself on a terminal, one line per second otherwise.
class summary {
public:
  summary(std::shared_ptr<stats> st, const cot_receiver& rx)
    : st_(std::move(st)), rx_(rx) {
    tty_ = isatty(STDOUT_FILENO);
  }

  void tick(bool force = false) {
    auto now = std::chrono::steady_clock::now();
    if (!force && now - last_ < std::chrono::seconds{1})
      return;
    double secs = std::chrono::duration<double>(now - last_).count();
    auto done = st_->completed.load();
    double rate = secs > 0 ? static_cast<double>(done - last_done_) / secs : 0;
    last_ = now;
    last_done_ = done;
    auto r = count_records(*st_);
    char line[256];
    std::snprintf(
      line, sizeof(line),
      "in %llu | delivered %llu | waiting %llu | replayed %llu | dropped "
      "%llu | dead-lettered %llu | in flight %lld | %.0f rec/s",
      static_cast<unsigned long long>(r.in),
      static_cast<unsigned long long>(r.delivered),
      static_cast<unsigned long long>(r.waiting),
      static_cast<unsigned long long>(r.replayed),
      static_cast<unsigned long long>(r.dropped),
      static_cast<unsigned long long>(r.dead_lettered),
      static_cast<long long>(r.in_flight), rate);
    auto text = line + tak_summary(*st_, rx_);
    // A line wider than the terminal would wrap, and \r would rewrite only
    // its last row.
    winsize ws{};
    if (tty_ && ::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1
        && text.size() >= ws.ws_col)
      text.resize(ws.ws_col - 1u);
    if (tty_)
      std::printf("\r\033[K%s", text.c_str());
    else
      std::printf("%s\n", text.c_str());
    std::fflush(stdout);
  }

  void done() {
    tick(true);
    if (tty_)
      std::printf("\n");
  }

private:
  std::shared_ptr<stats> st_;
  const cot_receiver& rx_;
  bool tty_ = false;
  std::chrono::steady_clock::time_point last_
    = std::chrono::steady_clock::now();
  uint64_t last_done_ = 0;
};

/// "http://127.0.0.1:9180/ (in a terminal: cotflow top ...)", or why
/// there is none.
std::string dashboard_line(const config& cfg) {
  auto& a = cfg.http.address;
  if (a.empty())
    return "off (http.address is empty)";
  if (a.size() > 2 && a.compare(a.size() - 2, 2, ":0") == 0)
    return "http://" + a + "/ with the port chosen at start (see the log)";
  std::string top = "cotflow top --url http://" + a;
  if (!cfg.http.token.empty())
    top += " --token T";
  return "http://" + a + "/\n    in a terminal: " + top;
}

void print_banner(const config& cfg, const demo_options& o,
                  const cot_receiver& rx) {
  std::printf("cotflow demo: %lld detections/s into '%s' at %s\n"
              "  CoT events -> %s (one per line)\n"
              "             -> Kafka topic '%s'\n"
              "             -> %s=tcp://127.0.0.1:%u, a TAK server in this "
              "process\n",
              static_cast<long long>(o.rate),
              cfg.kafka.input_topics.front().c_str(), cfg.kafka.brokers.c_str(),
              cfg.sinks.file.c_str(), cfg.kafka.output_topic.c_str(), demo_tak,
              static_cast<unsigned>(rx.port()));
  if (!o.tak.empty())
    std::printf("             -> %s=%s (--tak)\n", extra_tak, o.tak.c_str());
  if (o.outage_every.count() > 0)
    std::printf("  %s goes down for %.0f s every %.0f s (--no-outage: never): "
                "its breaker\n"
                "    opens, its events are parked in Kafka and replayed once "
                "it is back\n",
                demo_tak, static_cast<double>(o.outage_for.count()) / 1000,
                static_cast<double>(o.outage_every.count()) / 1000);
  std::printf("  dashboard: %s\n", dashboard_line(cfg).c_str());
  if (o.tak.empty())
    std::printf("  a real TAK server: cotflow demo --tak tcp://HOST:8087 (its "
                "CoT input)\n"
                "    ATAK on this network: cotflow demo --tak "
                "udp://239.2.3.1:6969\n");
  std::printf("  dead letters -> Kafka topic '%s' (with the reason in "
              "headers)\n"
              "  read them: kcat -b %s -t %s -C\n"
              "  logs -> %s\n"
              "  Ctrl-C drains, commits and exits\n",
              cfg.kafka.dead_letter_topic.c_str(), cfg.kafka.brokers.c_str(),
              cfg.kafka.output_topic.c_str(),
              o.log_file.empty()
                ? "stderr"
                : (o.log_file + " (--log-stderr: on stderr)").c_str());
  std::fflush(stdout);
}

/// The last lines: what became of the records published, and what the
/// demo's TAK server got of the `delivered` ones.
void print_totals(const record_counts& r, uint64_t published,
                  const std::string& file, const receiver_counts& rx,
                  uint64_t missing) {
  std::printf("published %llu: delivered %llu, waiting in parking %llu, "
              "dropped %llu (in parking %llu, at a destination %llu), "
              "dead-lettered %llu; CoT file: %s\n",
              static_cast<unsigned long long>(published),
              static_cast<unsigned long long>(r.delivered),
              static_cast<unsigned long long>(r.waiting),
              static_cast<unsigned long long>(r.dropped),
              static_cast<unsigned long long>(r.dropped_in_parking),
              static_cast<unsigned long long>(r.dropped_at_destination),
              static_cast<unsigned long long>(r.dead_lettered), file.c_str());
  std::printf("demo TAK server: %llu events, %llu of the delivered records "
              "(%llu missing, %llu twice), %llu outages; records parked "
              "%llu, events replayed %llu\n",
              static_cast<unsigned long long>(rx.events),
              static_cast<unsigned long long>(rx.distinct),
              static_cast<unsigned long long>(missing),
              static_cast<unsigned long long>(rx.duplicates),
              static_cast<unsigned long long>(rx.outages),
              static_cast<unsigned long long>(r.parked),
              static_cast<unsigned long long>(r.replayed));
}

/// Adds the demo's TAK destinations to `cfg`; false (said on stderr) when
/// the configuration is then invalid (a bad --tak URL).
bool add_destinations(config& cfg, const demo_options& o,
                      const cot_receiver& rx) {
  cfg.tak.destinations[demo_tak] = "tcp://127.0.0.1:"
                                   + std::to_string(rx.port());
  if (!o.tak.empty())
    cfg.tak.destinations[extra_tak] = o.tak;
  auto problems = validate(cfg);
  for (auto& p : problems)
    std::cerr << "cotflow demo: " << p << "\n";
  return problems.empty();
}

/// Takes the demo's TAK server down once per `every` (the first time after
/// `every` - `for` up), from tick().
class outage_schedule {
public:
  outage_schedule(cot_receiver& rx, milliseconds every, milliseconds down)
    : rx_(rx), every_(every), for_(down) {
    next_ = std::chrono::steady_clock::now() + (every - down);
  }

  void tick() {
    if (every_.count() == 0)
      return;
    auto now = std::chrono::steady_clock::now();
    if (now < next_)
      return;
    rx_.take_down_for(for_);
    next_ += every_;
  }

private:
  cot_receiver& rx_;
  milliseconds every_;
  milliseconds for_;
  std::chrono::steady_clock::time_point next_;
};

/// The demo compresses time (an outage of 20 s a minute): unless the
/// configuration says otherwise, an open breaker probes after 5 s rather
/// than the 30 s of tak.breaker_open_min_ms, so that the replay shows
/// soon after the server is back.
void quicken_breaker(config& cfg) {
  if (cfg.sources["tak.breaker_open_min_ms"] == "default")
    cfg.tak.breaker_open_min_ms = std::min<int64_t>(
      5000, cfg.tak.breaker_open_max_ms);
}

} // namespace

int cmd_demo(const invocation& inv, signal_waiter& sig) {
  auto opts = read_options(inv);
  if (!opts)
    return exit_config;
  auto cfg = inv.loaded.cfg;
  cfg.sinks.file = std::filesystem::absolute(opts->output).string();
  if (cfg.kafka.brokers == "localhost:9092"
      && cfg.sources["kafka.brokers"] == "default")
    cfg.kafka.brokers = "embedded";
  cot_receiver rx;
  std::string err;
  if (!rx.start(0, err)) {
    std::cerr << "cotflow demo: the demo's TAK server cannot listen: " << err
              << "\n";
    return 1;
  }
  quicken_breaker(cfg);
  if (!add_destinations(cfg, *opts, rx))
    return exit_config;
  if (!opts->log_file.empty() && !log::to_file(opts->log_file, err)) {
    std::cerr << "cotflow demo: cannot write the log: " << err << "\n";
    return exit_config;
  }
  std::unique_ptr<embedded_broker> broker;
  if (!start_embedded_if_asked(cfg, inv.partitions, broker))
    return 1;
  print_banner(cfg, *opts, rx);
  auto count = opts->count;
  detection_publisher pub{
    {cfg.kafka.brokers, cfg.kafka.input_topics.front(), opts->rate, count, {}}};
  if (!pub.start(err)) {
    log::error("demo", "cannot create the publisher: " + err);
    return 1;
  }
  auto st = std::make_shared<stats>();
  summary sum{st, rx};
  outage_schedule outages{rx, opts->outage_every, opts->outage_for};
  sig.start();
  auto hooks = pipeline_hooks(sig, inv.opts, inv.loaded.cfg, cfg);
  // --count: the drain starts once every record published is accounted
  // for (delivered, dead-lettered, dropped or parked) and what was parked
  // for a TAK destination is replayed to it, with the demo's server up.
  // Outages go on meanwhile: the server is up for --outage-every minus
  // --outage-for between them, time for the replay. None starts once the
  // drain is decided: a server that went down while the destination
  // drained would have it park again what it wrote and the server had not
  // confirmed, to be replayed by a next run.
  bool counted = false;
  hooks.tick = [&] {
    if (!counted && count > 0 && pub.done()
        && st->completed >= static_cast<uint64_t>(count)
        && rx.down_for().count() == 0 && parking_caught_up(*st)) {
      counted = true;
      sig.stop = true;
    }
    if (!counted)
      outages.tick();
    sum.tick();
  };
  auto rc = run_pipeline(cfg, st, hooks);
  pub.stop();
  sum.done();
  auto t = count_records(*st);
  // What was written to the demo's server may still be on its way through
  // loopback.
  rx.wait_for_distinct(t.delivered, std::chrono::seconds{5});
  rx.stop();
  auto got = rx.counts();
  auto missing = t.delivered > got.distinct ? t.delivered - got.distinct : 0;
  print_totals(t, pub.published(), cfg.sinks.file, got, missing);
  // Every record reached its sinks: the CoT destinations, or the
  // dead-letter topic (the generator's malformed records).
  if (rc == 0 && counted
      && (t.delivered + st->dead_lettered != static_cast<uint64_t>(count)
          || missing > 0))
    return 1;
  return rc;
}

} // namespace cotflow::commands
