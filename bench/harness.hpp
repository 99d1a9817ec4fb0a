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
#include <functional>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <sys/socket.h>
#include <poll.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sched.h>
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

// ---- a TAK receiver ---------------------------------------------------------

/// A local TCP "TAK server". Constructed bound but not listening, so that
/// connects to its port are refused (the server is down) while the port
/// stays reserved; `listen_now` brings it up. In `hold` mode it accepts
/// connections and never reads from them (a hung server). In `read` mode it
/// counts `</event>` in each connection's byte stream and the distinct
/// "seq=N" in [first_seq, first_seq + n_seq) (with n_seq 0 it only counts).
class cot_receiver {
public:
  enum class mode { read, hold };

  cot_receiver(mode m, uint64_t first_seq, uint64_t n_seq)
    : mode_(m), first_seq_(first_seq), seen_(n_seq, 0) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0)
      die(std::string{"receiver bind: "} + std::strerror(errno));
    socklen_t len = sizeof(a);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
  }

  ~cot_receiver() {
    running_ = false;
    if (thread_.joinable())
      thread_.join();
    for (auto& c : clients_)
      ::close(c.fd);
    ::close(fd_);
  }

  uint16_t port() const {
    return port_;
  }

  /// Starts listening (and reading, in `read` mode).
  void listen_now() {
    if (::listen(fd_, 64) != 0)
      die(std::string{"receiver listen: "} + std::strerror(errno));
    up_at_ = clock_type::now();
    running_ = true;
    thread_ = std::thread{[this] { loop(); }};
  }

  clock_type::time_point up_at() const {
    return up_at_;
  }

  uint64_t events() const {
    return events_;
  }

  uint64_t distinct() const {
    return distinct_;
  }

  uint64_t duplicates() const {
    return dups_;
  }

  /// Events without a seq in the range (other runs, warm-up).
  uint64_t other() const {
    return other_;
  }

  size_t connections() const {
    return accepted_;
  }

  /// Seconds from listen_now() to the first and to the latest event; -1
  /// before the first.
  double first_s() const {
    auto ns = first_ns_.load();
    return ns < 0 ? -1 : static_cast<double>(ns) / 1e9;
  }
  double last_s() const {
    auto ns = last_ns_.load();
    return ns < 0 ? -1 : static_cast<double>(ns) / 1e9;
  }

  /// Calls `fn` (in the receiver's thread) with the seq of every event read
  /// from now on; an empty `fn` stops that.
  void on_event(std::function<void(uint64_t seq)> fn) {
    std::lock_guard<std::mutex> g{hook_mtx_};
    hook_ = std::move(fn);
  }

  /// (seconds since listen_now(), events) after each read, at most one per
  /// millisecond.
  std::vector<std::pair<double, uint64_t>> samples() const {
    std::lock_guard<std::mutex> g{mtx_};
    return samples_;
  }

private:
  struct client {
    int fd;
    std::string buf;
  };

  void loop() {
    // A TAK server runs on a machine of its own. Here it shares the 2
    // cores with the pipeline under test, whose threads could leave it
    // unscheduled for long enough (~10 ms at 300k+ events/s) to fill a TAK
    // destination's queue (tak.queue_events) and make cotflow park: the
    // run would measure the parking path instead. A higher priority keeps
    // it reading as a server of its own would: real-time (SCHED_FIFO)
    // where allowed, so that it reads as soon as data arrives (with nice
    // -10 alone, one throughput run in two to eight still parked); else
    // nice -10; else as is. It sleeps in poll() between reads, so it
    // cannot starve the pipeline.
    sched_param rt{};
    rt.sched_priority = 1;
    if (::sched_setscheduler(0, SCHED_FIFO, &rt) != 0)
      ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), -10);
    std::vector<char> tmp(1 << 18);
    int64_t last_sample_ns = -1;
    while (running_) {
      std::vector<pollfd> fds{{fd_, POLLIN, 0}};
      if (mode_ == mode::read)
        for (auto& c : clients_)
          fds.push_back({c.fd, POLLIN, 0});
      if (::poll(fds.data(), fds.size(), 20) <= 0)
        continue;
      if (fds[0].revents & POLLIN) {
        int fd = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd >= 0) {
          ++accepted_;
          clients_.push_back({fd, {}});
        }
      }
      for (size_t i = 1; i < fds.size(); ++i) {
        if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
          continue;
        auto& c = clients_[i - 1];
        auto n = ::recv(c.fd, tmp.data(), tmp.size(), 0);
        if (n <= 0) {
          ::close(c.fd);
          c.fd = -1; // a partial event of a closed connection is dropped
          continue;
        }
        c.buf.append(tmp.data(), static_cast<size_t>(n));
        uint64_t k = 0;
        size_t from = 0;
        size_t pos;
        std::string_view all{c.buf};
        std::lock_guard<std::mutex> hook_guard{hook_mtx_};
        while ((pos = all.find("</event>", from)) != std::string_view::npos) {
          auto ev = all.substr(from, pos - from);
          from = pos + 8;
          ++k;
          if (seen_.empty() && !hook_)
            continue; // counting only
          auto seq = seq_of(ev.data(), ev.size());
          if (seq && hook_)
            hook_(*seq);
          if (seen_.empty())
            continue;
          if (!seq || *seq < first_seq_ || *seq - first_seq_ >= seen_.size()) {
            ++other_;
            continue;
          }
          auto& s = seen_[*seq - first_seq_];
          if (s++ == 0)
            ++distinct_;
          else
            ++dups_;
        }
        c.buf.erase(0, from);
        if (k == 0)
          continue;
        auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                    clock_type::now() - up_at_)
                    .count();
        if (first_ns_ < 0)
          first_ns_ = ns;
        last_ns_ = ns;
        events_ += k;
        if (ns - last_sample_ns >= 1000000) {
          last_sample_ns = ns;
          std::lock_guard<std::mutex> g{mtx_};
          samples_.emplace_back(static_cast<double>(ns) / 1e9, events_.load());
        }
      }
      clients_.erase(std::remove_if(clients_.begin(), clients_.end(),
                                    [](const client& c) { return c.fd < 0; }),
                     clients_.end());
    }
  }

  mode mode_;
  uint64_t first_seq_;
  std::vector<uint8_t> seen_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
  std::atomic<bool> running_{false};
  std::vector<client> clients_;
  clock_type::time_point up_at_{};
  std::atomic<uint64_t> events_{0};
  std::atomic<uint64_t> distinct_{0};
  std::atomic<uint64_t> dups_{0};
  std::atomic<uint64_t> other_{0};
  std::atomic<size_t> accepted_{0};
  std::atomic<int64_t> first_ns_{-1};
  std::atomic<int64_t> last_ns_{-1};
  mutable std::mutex mtx_;
  std::vector<std::pair<double, uint64_t>> samples_;
  std::mutex hook_mtx_;
  std::function<void(uint64_t)> hook_;
};


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
