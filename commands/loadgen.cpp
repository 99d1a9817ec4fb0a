#include "commands/commands.hpp"
#include "commands/signal_waiter.hpp"

#include "pipeline/core/log.hpp"
#include "pipeline/load/publisher.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <thread>
#include <unistd.h>

namespace cotflow::commands {

namespace {

/// The generator's options from the command line; false on a bad one.
bool generator_options(const option_map& opts,
                       detection_generator::options& gen) {
  bool ok = true;
  gen.seed = static_cast<uint64_t>(int_option(opts, "seed", 42, ok));
  gen.tracks = static_cast<int>(int_option(opts, "tracks", 40, ok));
  gen.sensors = static_cast<int>(int_option(opts, "sensors", 5, ok));
  if (opts.count("malformed"))
    gen.malformed = std::atof(opts.at("malformed").c_str());
  if (opts.count("geojson"))
    gen.geojson = std::atof(opts.at("geojson").c_str());
  return ok && gen.malformed >= 0 && gen.malformed <= 1 && gen.geojson >= 0
         && gen.geojson <= 1;
}

/// Publishes until the count is reached, `seconds` (0: no limit) passed or
/// a stop signal, with a progress line on stderr once a second.
void publish_until_done(detection_publisher& pub, int64_t seconds,
                        signal_waiter& sig,
                        std::chrono::steady_clock::time_point start) {
  auto last = start;
  uint64_t last_n = 0;
  bool tty = isatty(STDERR_FILENO);
  while (!sig.stop && !pub.done()) {
    std::this_thread::sleep_for(std::chrono::milliseconds{100});
    auto now = std::chrono::steady_clock::now();
    if (seconds > 0 && now - start >= std::chrono::seconds{seconds})
      break;
    if (now - last >= std::chrono::seconds{1}) {
      auto n = pub.published();
      std::fprintf(stderr, "%ssent %llu | %.0f rec/s%s", tty ? "\r\033[K" : "",
                   static_cast<unsigned long long>(n),
                   static_cast<double>(n - last_n)
                     / std::chrono::duration<double>(now - last).count(),
                   tty ? "" : "\n");
      last = now;
      last_n = n;
    }
  }
  std::fprintf(stderr, "%s", tty ? "\n" : "");
}

} // namespace

int cmd_loadgen(const invocation& inv, signal_waiter& sig) {
  auto& cfg = inv.loaded.cfg;
  bool ok = true;
  auto rate = int_option(inv.opts, "rate", 1000, ok);
  auto count = int_option(inv.opts, "count", 0, ok);
  auto seconds = int_option(inv.opts, "seconds", 0, ok);
  detection_generator::options gen;
  if (!generator_options(inv.opts, gen) || !ok)
    return exit_config;
  if (count == 0 && seconds == 0) {
    std::cerr << "cotflow loadgen: give --count N or --seconds N\n";
    return exit_config;
  }
  auto& topic = cfg.kafka.input_topics.front();
  detection_publisher pub{{cfg.kafka.brokers, topic, rate, count, gen}};
  std::string err;
  if (!pub.start(err)) {
    log::error("demo", "cannot create the publisher: " + err);
    return 1;
  }
  sig.start();
  auto start = std::chrono::steady_clock::now();
  publish_until_done(pub, seconds, sig, start);
  pub.stop();
  auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now()
                                            - start)
                .count();
  auto n = pub.published();
  std::printf("loadgen: sent %llu records to '%s' in %.2f s (%.0f rec/s "
              "achieved, %lld requested)\n",
              static_cast<unsigned long long>(n), topic.c_str(), secs,
              static_cast<double>(n) / secs, static_cast<long long>(rate));
  return 0;
}

} // namespace cotflow::commands
