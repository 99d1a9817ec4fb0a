#include "commands/commands.hpp"
#include "commands/embedded.hpp"
#include "commands/pipeline_hooks.hpp"
#include "commands/signal_waiter.hpp"

#include "actors/run.hpp"
#include "pipeline/core/log.hpp"
#include "pipeline/load/publisher.hpp"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <unistd.h>

namespace cotflow::commands {

namespace {

/// Prints the one-line live summary: once a second, on one line that
/// rewrites itself on a terminal, one line per second otherwise.
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
    double rate = secs > 0 ? static_cast<double>(done - last_done_) / secs : 0;
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

void print_banner(const config& cfg, int64_t rate) {
  std::printf("cotflow demo: %lld detections/s into '%s' at %s\n"
              "  CoT events -> %s (one per line) and Kafka topic '%s'\n"
              "  dead letters -> Kafka topic '%s' (with the reason in "
              "headers)\n"
              "  read them: kcat -b %s -t %s -C\n"
              "  Ctrl-C drains, commits and exits\n",
              static_cast<long long>(rate),
              cfg.kafka.input_topics.front().c_str(), cfg.kafka.brokers.c_str(),
              cfg.sinks.file.c_str(), cfg.kafka.output_topic.c_str(),
              cfg.kafka.dead_letter_topic.c_str(), cfg.kafka.brokers.c_str(),
              cfg.kafka.output_topic.c_str());
  std::fflush(stdout);
}

/// The last line: what became of the records published.
void print_totals(const stats& st, uint64_t published,
                  const std::string& file) {
  std::printf("published %llu: delivered %llu, dead-lettered %llu, dropped "
              "%llu, parked %llu; CoT file: %s\n",
              static_cast<unsigned long long>(published),
              static_cast<unsigned long long>(st.delivered()),
              static_cast<unsigned long long>(st.dead_lettered.load()),
              static_cast<unsigned long long>(st.dropped()),
              static_cast<unsigned long long>(st.parked.load()), file.c_str());
}

} // namespace

int cmd_demo(const invocation& inv, signal_waiter& sig) {
  bool ok = true;
  auto rate = int_option(inv.opts, "rate", 200, ok);
  auto count = int_option(inv.opts, "count", 0, ok);
  if (!ok)
    return exit_config;
  auto cfg = inv.loaded.cfg;
  auto out = string_option(inv.opts, "output", "cotflow-demo.cot");
  cfg.sinks.file = std::filesystem::absolute(out).string();
  if (cfg.kafka.brokers == "localhost:9092"
      && cfg.sources["kafka.brokers"] == "default")
    cfg.kafka.brokers = "embedded";
  std::unique_ptr<embedded_broker> broker;
  if (!start_embedded_if_asked(cfg, inv.partitions, broker))
    return 1;
  print_banner(cfg, rate);
  detection_publisher pub{
    {cfg.kafka.brokers, cfg.kafka.input_topics.front(), rate, count, {}}};
  std::string err;
  if (!pub.start(err)) {
    log::error("demo", "cannot create the publisher: " + err);
    return 1;
  }
  auto st = std::make_shared<stats>();
  summary sum{st};
  sig.start();
  auto hooks = pipeline_hooks(sig, inv.opts, inv.loaded.cfg, cfg);
  // --count: the drain starts once every record published is accounted
  // for (delivered, dead-lettered, dropped or parked).
  bool counted = false;
  hooks.tick = [&] {
    sum.tick();
    if (count > 0 && pub.done()
        && st->completed >= static_cast<uint64_t>(count)) {
      counted = true;
      sig.stop = true;
    }
  };
  auto rc = run_pipeline(cfg, st, hooks);
  pub.stop();
  sum.done();
  print_totals(*st, pub.published(), cfg.sinks.file);
  // Every record reached its sinks: the CoT destinations, or the
  // dead-letter topic (the generator's malformed records).
  if (rc == 0 && counted
      && st->delivered() + st->dead_lettered != static_cast<uint64_t>(count))
    return 1;
  return rc;
}

} // namespace cotflow::commands
