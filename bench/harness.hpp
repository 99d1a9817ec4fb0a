// What the benchmark programs (bench_pipeline, bench_parking) share beyond
// the testing library (cotflow::testing: child processes, the Kafka
// observer, the TAK receiver) and pipeline/load (the publisher): exiting on
// a failure, progress lines, /proc readings, the load of other processes.
// Header only; everything in namespace `bench`.
#pragma once

#include "pipeline/load/publisher.hpp"
#include "tests/support/kafka_client.hpp"
#include "tests/support/process.hpp"
#include "tests/support/seq.hpp"
#include "tests/support/tak_receiver.hpp"

#include <librdkafka/rdkafkacpp.h>

#include <algorithm>
#include <chrono>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <sys/resource.h>
#include <unistd.h>

namespace bench {

/// Prefix of die() and progress() lines; main() sets it.
inline const char* program_name = "bench";

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

inline int64_t wall_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

inline double secs_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

inline void sleep_ms(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds{ms});
}

using cotflow::test::child;
using cotflow::test::kafka_observer;
using cotflow::test::log_file;
using cotflow::test::seq_of;
using cotflow::test::tak_receiver;

/// Says what failed and exits 1; kills the children first (std::exit runs
/// no destructors), so that a failed run leaves no pipeline polling a
/// broker that is gone.
[[noreturn]] inline void die(const std::string& what) {
  std::fprintf(stderr, "%s: %s\n", program_name, what.c_str());
  cotflow::test::kill_children();
  std::exit(1);
}

inline void progress(const char* fmt, ...)
  __attribute__((format(printf, 1, 2)));
inline void progress(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::fprintf(stderr, "%s: ", program_name);
  std::vfprintf(stderr, fmt, ap);
  std::fprintf(stderr, "\n");
  va_end(ap);
}

// ---- /proc readings ---------------------------------------------------------

/// Peak resident set since start or the last reset, in kB (VmHWM).
inline long vm_kb(pid_t pid, const char* field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  auto len = std::strlen(field);
  while (std::getline(in, line))
    if (line.compare(0, len, field) == 0 && line.size() > len
        && line[len] == ':')
      return std::strtol(line.c_str() + len + 1, nullptr, 10);
  return -1;
}

/// Resets VmHWM to the current RSS (Linux ≥ 4.0); false if not permitted.
inline bool reset_peak_rss(pid_t pid) {
  std::ofstream out("/proc/" + std::to_string(pid) + "/clear_refs");
  if (!out)
    return false;
  out << "5";
  out.flush();
  return static_cast<bool>(out);
}

/// utime + stime of a process in seconds.
inline double cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string s((std::istreambuf_iterator<char>(in)),
                std::istreambuf_iterator<char>());
  auto close = s.rfind(')');
  if (close == std::string::npos)
    return -1;
  std::istringstream rest(s.substr(close + 2));
  std::string f;
  // Fields after the command: state(3) ... utime(14) stime(15).
  std::vector<std::string> fields;
  while (rest >> f && fields.size() < 13)
    fields.push_back(f);
  if (fields.size() < 13)
    return -1;
  double tck = static_cast<double>(sysconf(_SC_CLK_TCK));
  return (std::stod(fields[11]) + std::stod(fields[12])) / tck;
}

// ---- Kafka and TAK --------------------------------------------------------

/// A librdkafka configuration of `props`; exits on a bad one.
inline std::unique_ptr<RdKafka::Conf>
conf_of(const std::vector<std::pair<std::string, std::string>>& props) {
  std::unique_ptr<RdKafka::Conf> conf{
    RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL)};
  std::string err;
  for (auto& [k, v] : props)
    if (conf->set(k, v, err) != RdKafka::Conf::CONF_OK)
      die("property " + k + ": " + err);
  return conf;
}

/// The publisher of input records (plain producer, like a sensor gateway),
/// lingering `linger_ms`; exits when it cannot start.
inline std::unique_ptr<cotflow::record_publisher>
publisher(const std::string& bootstrap, const std::string& linger_ms) {
  std::string err;
  auto p = cotflow::record_publisher::make(
    {{"bootstrap.servers", bootstrap},
     {"client.id", "bench-publisher"},
     {"linger.ms", linger_ms},
     {"queue.buffering.max.messages", "200000"}},
    err);
  if (!p)
    die("publisher: " + err);
  return p;
}

/// Publishes one record; exits on an error other than a full queue.
inline void send(cotflow::record_publisher& pub, const std::string& topic,
                 const std::string& key, const std::string& payload,
                 int64_t timestamp_ms = 0) {
  std::string err;
  if (!pub.send(topic, key, payload, timestamp_ms, err))
    die("publish: " + err);
}

/// A local TCP "TAK server" as the benchmarks use it: bound but down
/// (connects refused, the port reserved) until listen_now(); reading
/// (`hold` false) or accepting and never reading (a hung server);
/// counting the distinct "seq=N" in [first_seq, first_seq + n_seq) (n_seq
/// 0: only counting events), at real-time priority. Keepalive pings are
/// answered as a TAK server does and are not events: cotflow pings TCP
/// destinations too (tak.ping_interval_ms, 15 s) and reconnects, resending
/// its replay window, when no reply comes within 10 s, so a receiver that
/// did not answer made every instance that lived past ~25 s reconnect and
/// deliver thousands of duplicates in the middle of a run.
inline cotflow::test::receiver_options
receiver(uint64_t first_seq, uint64_t n_seq, bool hold = false) {
  cotflow::test::receiver_options o;
  o.listen = false;
  o.read = !hold;
  o.pings = true;
  o.answer_pings = true;
  o.keep_seqs = false;
  o.first_seq = first_seq;
  o.n_seq = n_seq;
  o.high_priority = true;
  return o;
}

// ---- other load on the machine ----------------------------------------------

/// CPU time of the whole machine (every process, from /proc/stat) that is
/// neither this benchmark nor the cotflow child, over a phase, in cores: other
/// work on the machine that competed with the measurement.
class load_meter {
public:
  explicit load_meter(pid_t child) : child_(child) {
    t0_ = clock_type::now();
    busy0_ = machine_busy();
    own0_ = self_cpu() + std::max(0.0, cpu_seconds(child_));
  }

  /// Average cores used by other processes since construction.
  double other_cores() const {
    auto wall = secs_since(t0_);
    auto own = self_cpu() + std::max(0.0, cpu_seconds(child_)) - own0_;
    auto busy = machine_busy() - busy0_;
    return wall > 0 ? std::max(0.0, (busy - own) / wall) : 0;
  }

private:
  static double machine_busy() {
    std::ifstream in("/proc/stat");
    std::string cpu;
    double v[8] = {};
    in >> cpu;
    for (auto& x : v)
      in >> x;
    // user nice system idle iowait irq softirq steal
    return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7])
           / static_cast<double>(sysconf(_SC_CLK_TCK));
  }

  static double self_cpu() {
    struct rusage u {};
    getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec)
           + static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
  }

  pid_t child_;
  clock_type::time_point t0_;
  double busy0_ = 0, own0_ = 0;
};

} // namespace bench
