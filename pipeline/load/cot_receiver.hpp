#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace cotflow {

/// What a cot_receiver has seen so far.
struct receiver_counts {
  /// Events received (keepalive pings and cotflow's identity event apart).
  uint64_t events = 0;
  /// Distinct generated records among them (by the "seq=N" the generator
  /// writes into each), and records received more than once.
  uint64_t distinct = 0;
  uint64_t duplicates = 0;
  /// Keepalive pings answered.
  uint64_t pings = 0;
  /// Connections accepted.
  uint64_t connections = 0;
  /// Take-downs so far.
  uint64_t outages = 0;
  /// Listening now.
  bool up = false;
};

/// A TAK-like server for `cotflow demo`: a TCP listener on loopback that
/// accepts connections, splits each byte stream into CoT events at
/// `</event>`, answers keepalive pings (t-x-c-t) as a TAK server does and
/// counts the events. take_down_for() plays an outage: the listener and
/// every connection are closed (connects are refused) and it listens again
/// on the same port afterwards. One thread of its own.
class cot_receiver {
public:
  cot_receiver() = default;
  ~cot_receiver();
  cot_receiver(const cot_receiver&) = delete;
  cot_receiver& operator=(const cot_receiver&) = delete;

  /// Listens on 127.0.0.1:`port` (0 picks a free one) and starts reading;
  /// false with `err` set when it cannot listen.
  bool start(uint16_t port, std::string& err);

  /// Closes every socket and ends the thread; idempotent.
  void stop();

  /// Goes down now for `d` (a take-down while down ends at now + `d`).
  void take_down_for(std::chrono::milliseconds d);

  /// The port it listens on (also while down: the one it comes back on).
  uint16_t port() const {
    return port_;
  }

  receiver_counts counts() const;

  /// How long until it listens again; zero while up.
  std::chrono::milliseconds down_for() const;

  /// Waits up to `timeout` until `n` distinct records have arrived; true
  /// when they have.
  bool wait_for_distinct(uint64_t n, std::chrono::milliseconds timeout) const;

private:
  using clock = std::chrono::steady_clock;
  struct client {
    int fd = -1;
    std::string buf;
  };

  bool listen_socket(std::string& err);
  void loop();
  void close_all();
  void wake();
  void accept_one();
  /// Reads what `c` has and takes the complete events out of its buffer;
  /// false when the connection is to be closed.
  bool read_from(client& c, std::vector<char>& tmp);
  void take_event(client& c, const std::string& ev);
  void count_seq(uint64_t seq);

  uint16_t port_ = 0;
  int listener_ = -1;
  int wake_fd_ = -1;
  std::vector<client> clients_;
  std::thread thread_;
  /// Guards what follows.
  mutable std::mutex mtx_;
  mutable std::condition_variable changed_;
  bool stopping_ = false;
  bool down_requested_ = false;
  clock::time_point down_until_{};
  receiver_counts counts_;
  std::vector<bool> seen_;
};

} // namespace cotflow
