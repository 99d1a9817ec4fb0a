// Helpers shared by the benchmark programs (bench_pipeline, bench_parking):
// child processes, /proc readings, Kafka observer and publisher. Header
// only; everything in namespace `bench`.
#pragma once

#include <librdkafka/rdkafkacpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdarg>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
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

/// Child processes not reaped yet: die() kills them (std::exit runs no
/// destructors), so that a failed run leaves no pipeline polling a broker
/// that is gone.
inline std::vector<pid_t>& live_children() {
  static std::vector<pid_t> pids;
  return pids;
}

[[noreturn]] inline void die(const std::string& what) {
  std::fprintf(stderr, "%s: %s\n", program_name, what.c_str());
  for (auto pid : live_children())
    ::kill(pid, SIGKILL);
  std::exit(1);
}

inline void progress(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
inline void progress(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::fprintf(stderr, "%s: ", program_name);
  std::vfprintf(stderr, fmt, ap);
  std::fprintf(stderr, "\n");
  va_end(ap);
}

// ---- child processes --------------------------------------------------------

class child {
public:
  child(const std::vector<std::string>& argv,
        const std::vector<std::pair<std::string, std::string>>& env,
        const std::string& log_path) {
    int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
      die("cannot open " + log_path);
    pid_ = ::fork();
    if (pid_ < 0)
      die("fork failed");
    if (pid_ == 0) {
      for (auto& [k, v] : env)
        ::setenv(k.c_str(), v.c_str(), 1);
      ::dup2(fd, STDOUT_FILENO);
      ::dup2(fd, STDERR_FILENO);
      ::close(fd);
      std::vector<char*> args;
      for (auto& a : argv)
        args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      ::execv(args[0], args.data());
      std::perror("execv");
      ::_exit(127);
    }
    ::close(fd);
    live_children().push_back(pid_);
  }

  ~child() {
    if (!reaped_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
      forget();
    }
  }

  /// No longer to be killed by die().
  void forget() {
    auto& pids = live_children();
    pids.erase(std::remove(pids.begin(), pids.end(), pid_), pids.end());
  }

  pid_t pid() const {
    return pid_;
  }

  /// True while the process has not exited.
  bool alive() {
    if (reaped_)
      return false;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      reaped_ = true;
      forget();
      code_ = WIFEXITED(status) ? WEXITSTATUS(status)
                                : 128 + WTERMSIG(status);
      return false;
    }
    return true;
  }

  /// Exit code (128+signal when killed), or nothing on timeout.
  std::optional<int> wait(std::chrono::milliseconds timeout) {
    auto deadline = clock_type::now() + timeout;
    while (alive()) {
      if (clock_type::now() > deadline)
        return std::nullopt;
      sleep_ms(10);
    }
    return code_;
  }

  void signal(int sig) {
    if (!reaped_)
      ::kill(pid_, sig);
  }

private:
  pid_t pid_ = -1;
  bool reaped_ = false;
  int code_ = -1;
};

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

// ---- Kafka helpers ----------------------------------------------------------

inline std::unique_ptr<RdKafka::Conf> conf_of(
  const std::vector<std::pair<std::string, std::string>>& props) {
  std::unique_ptr<RdKafka::Conf> conf{
    RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL)};
  std::string err;
  for (auto& [k, v] : props)
    if (conf->set(k, v, err) != RdKafka::Conf::CONF_OK)
      die("property " + k + ": " + err);
  return conf;
}

/// Queries watermarks and a group's committed offsets. Its consumer never
/// subscribes, so it never joins the group it asks about.
class observer {
public:
  observer(const std::string& bootstrap, const std::string& group) {
    auto conf = conf_of({{"bootstrap.servers", bootstrap},
                         {"group.id", group},
                         {"client.id", "bench-observer"},
                         {"enable.auto.commit", "false"}});
    std::string err;
    consumer_.reset(RdKafka::KafkaConsumer::create(conf.get(), err));
    if (!consumer_)
      die("observer: " + err);
  }

  ~observer() {
    consumer_->close();
  }

  /// Sum of the high watermarks of `topic` (`n` partitions), -1 on error.
  int64_t high_sum(const std::string& topic, int n) {
    int64_t sum = 0;
    for (int p = 0; p < n; ++p) {
      int64_t lo = 0, hi = 0;
      if (consumer_->query_watermark_offsets(topic, p, &lo, &hi, 5000)
          != RdKafka::ERR_NO_ERROR)
        return -1;
      sum += hi;
    }
    return sum;
  }

  std::vector<int64_t> highs(const std::string& topic, int n) {
    std::vector<int64_t> out;
    for (int p = 0; p < n; ++p) {
      int64_t lo = 0, hi = 0;
      consumer_->query_watermark_offsets(topic, p, &lo, &hi, 5000);
      out.push_back(hi);
    }
    return out;
  }

  /// True when the group's committed offsets reached `ends`.
  bool committed_reached(const std::string& topic,
                         const std::vector<int64_t>& ends) {
    std::vector<RdKafka::TopicPartition*> parts;
    for (size_t p = 0; p < ends.size(); ++p)
      parts.push_back(
        RdKafka::TopicPartition::create(topic, static_cast<int>(p)));
    bool ok = consumer_->committed(parts, 5000) == RdKafka::ERR_NO_ERROR;
    for (size_t p = 0; ok && p < ends.size(); ++p)
      ok = parts[p]->offset() >= ends[p];
    RdKafka::TopicPartition::destroy(parts);
    return ok;
  }

private:
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
};

/// The publisher of input records (plain producer, like a sensor gateway).
class publisher {
public:
  publisher(const std::string& bootstrap, const std::string& linger_ms) {
    auto conf = conf_of({{"bootstrap.servers", bootstrap},
                         {"client.id", "bench-publisher"},
                         {"linger.ms", linger_ms},
                         {"queue.buffering.max.messages", "200000"}});
    std::string err;
    producer_.reset(RdKafka::Producer::create(conf.get(), err));
    if (!producer_)
      die("publisher: " + err);
  }

  ~publisher() {
    producer_->flush(10000);
  }

  void send(const std::string& topic, const std::string& key,
            const std::string& payload, int64_t timestamp_ms = 0) {
    for (;;) {
      auto rc = producer_->produce(
        topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
        const_cast<char*>(payload.data()), payload.size(), key.data(),
        key.size(), timestamp_ms, nullptr);
      if (rc == RdKafka::ERR_NO_ERROR)
        return;
      if (rc != RdKafka::ERR__QUEUE_FULL)
        die("publish: " + RdKafka::err2str(rc));
      producer_->poll(5);
    }
  }

  void poll() {
    producer_->poll(0);
  }

  void flush() {
    producer_->flush(30000);
  }

private:
  std::unique_ptr<RdKafka::Producer> producer_;
};

inline std::optional<uint64_t> seq_of(const char* p, size_t n) {
  std::string_view s{p, n};
  auto at = s.find("seq=");
  if (at == std::string_view::npos)
    return std::nullopt;
  uint64_t v = 0;
  size_t i = at + 4;
  if (i >= s.size() || s[i] < '0' || s[i] > '9')
    return std::nullopt;
  for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i)
    v = v * 10 + static_cast<uint64_t>(s[i] - '0');
  return v;
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
           + static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec)
               / 1e6;
  }

  pid_t child_;
  clock_type::time_point t0_;
  double busy0_ = 0, own0_ = 0;
};

} // namespace bench
