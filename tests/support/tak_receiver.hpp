#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

struct ssl_ctx_st;

namespace cotflow::test {

/// TLS settings of a test receiver (PEM files).
struct tls_server_options {
  std::string cert;
  std::string key;
  /// When set, clients must present a certificate signed by this CA.
  std::string client_ca;
};

/// How a tak_receiver behaves. The defaults are the tests': listening at
/// once, answering keepalive pings, keeping every seq it saw.
struct receiver_options {
  /// 0 picks a free port.
  uint16_t port = 0;
  /// TLS when it has a cert.
  tls_server_options tls;
  /// False: bound (the port stays reserved) but connects are refused, as
  /// with a server that is down, until listen_now().
  bool listen = true;
  /// False: accepts connections and never reads from them (a hung server).
  bool read = true;
  /// Counts keepalive pings (t-x-c-t) apart from the events and, with
  /// `answer_pings`, answers them as a TAK server does.
  bool pings = true;
  bool answer_pings = true;
  /// Keeps seq -> copies of every event, and some events (seqs(),
  /// sample()): a map insertion per event, fine for tests.
  bool keep_seqs = true;
  /// Counts the distinct seqs in [first_seq, first_seq + n_seq) without an
  /// allocation per event (distinct(), duplicates(), other()), for
  /// hundreds of thousands of events a second; n_seq 0: not at all.
  uint64_t first_seq = 0;
  uint64_t n_seq = 0;
  /// Reads at real-time priority (else nice -10, else as is): a server of
  /// its own on the benchmark's shared cores.
  bool high_priority = false;
  /// How events are framed: CoT XML, or TAK Protocol version 1 stream
  /// frames (0xbf, a varint length, a TakMessage) from a connection's first
  /// byte, as a protocol=1 client writes them. The seq is read from the
  /// raw TakMessage (the remarks travel in its xmlDetail as written); a
  /// ping is answered with a version 1 frame.
  enum class framing : uint8_t { xml, takp_stream };
  framing frames = framing::xml;
};

/// A TAK-like TCP (or TLS) receiver on loopback: splits each connection's
/// byte stream into CoT events at `</event>` and counts them by the
/// "seq=N" in each. Partial events of a closed connection are discarded,
/// as a TAK server would.
class tak_receiver {
public:
  /// Listens on `port` (0 picks a free one); TLS when `tls` has a cert.
  explicit tak_receiver(uint16_t port = 0, tls_server_options tls = {},
                        bool answer_pings = true);
  explicit tak_receiver(receiver_options opts);
  ~tak_receiver();
  tak_receiver(const tak_receiver&) = delete;
  tak_receiver& operator=(const tak_receiver&) = delete;

  /// Starts listening on the bound port (and reading, unless `read` is
  /// off): a receiver constructed with `listen` off comes up.
  void listen_now();

  /// Stops listening and drops every connection (a server going down).
  void stop();

  /// Listens again on the same port.
  void start();

  uint16_t port() const {
    return port_;
  }

  /// Complete events received so far (pings apart).
  size_t events() const {
    return events_;
  }

  /// Bytes read so far, from every connection.
  uint64_t bytes() const {
    return bytes_;
  }

  /// Complete events received so far, by seq (count of copies).
  std::map<uint64_t, int> seqs() const;

  /// Some of the events, for parsing checks.
  std::vector<std::string> sample() const;

  /// Connections accepted so far.
  size_t connections() const {
    return accepted_;
  }

  /// TLS connections whose handshake the receiver refused (and closed),
  /// as a client certificate from another CA.
  size_t refused() const {
    return refused_;
  }

  /// Keepalive pings (t-x-c-t) received.
  size_t pings() const {
    return pings_;
  }

  /// cotflow's identity events received (one per connection).
  size_t hellos() const {
    return hellos_;
  }

  /// Version 1 connections that broke the framing (no 0xbf where a frame
  /// starts; what was buffered is dropped): 0 for a correct client.
  size_t violations() const {
    return violations_;
  }

  /// Distinct seqs of the range seen; seqs of it seen again; events with
  /// no seq in it (other runs, warm-up).
  uint64_t distinct() const {
    return distinct_;
  }
  uint64_t duplicates() const {
    return dups_;
  }
  uint64_t other() const {
    return other_;
  }

  /// Seconds from listening to the first and to the latest event; -1
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
  void on_event(std::function<void(uint64_t seq)> fn);

  /// (seconds since listening, events) after each read, at most one per
  /// millisecond.
  std::vector<std::pair<double, uint64_t>> samples() const;

private:
  struct client;

  void bind_socket();
  void loop();
  bool accept_one(std::vector<client>& clients);
  /// Reads what `c` has; false when it closed.
  bool read_from(client& c, std::vector<char>& tmp);
  /// The next complete event of `all` from `from` (moved past it), in
  /// the connection's framing; false when none is complete yet.
  bool next_event(std::string_view all, size_t& from, std::string_view& ev);
  /// Counts the complete events in `c`'s buffer and drops them from it.
  uint64_t take_events(client& c);
  void count_seq(uint64_t seq);
  void note_read(uint64_t events, int64_t& last_sample_ns);

  receiver_options opts_;
  uint16_t port_ = 0;
  ssl_ctx_st* ctx_ = nullptr;
  int listener_ = -1;
  std::thread thread_;
  std::atomic<bool> running_{false};
  std::atomic<size_t> accepted_{0};
  std::atomic<size_t> refused_{0};
  std::atomic<size_t> pings_{0};
  std::atomic<size_t> hellos_{0};
  std::atomic<size_t> violations_{0};
  std::atomic<uint64_t> events_{0};
  std::atomic<uint64_t> bytes_{0};
  std::vector<uint8_t> seen_;
  std::atomic<uint64_t> distinct_{0};
  std::atomic<uint64_t> dups_{0};
  std::atomic<uint64_t> other_{0};
  std::chrono::steady_clock::time_point up_at_{};
  std::atomic<int64_t> first_ns_{-1};
  std::atomic<int64_t> last_ns_{-1};
  /// Guards what follows.
  mutable std::mutex mtx_;
  std::map<uint64_t, int> seqs_;
  std::vector<std::string> sample_;
  std::vector<std::pair<double, uint64_t>> samples_;
  std::function<void(uint64_t)> hook_;
};

/// A UDP receiver (unicast, or multicast joined on loopback).
class udp_receiver {
public:
  /// Binds `port` (0 picks one); joins `group` when not empty.
  explicit udp_receiver(const std::string& group = "", uint16_t port = 0);
  ~udp_receiver();

  uint16_t port() const {
    return port_;
  }

  std::map<uint64_t, int> seqs() const;

  /// Every datagram received, as it came.
  std::vector<std::string> datagrams() const;

private:
  uint16_t port_ = 0;
  int fd_ = -1;
  std::thread thread_;
  std::atomic<bool> running_{true};
  mutable std::mutex mtx_;
  std::map<uint64_t, int> seqs_;
  std::vector<std::string> datagrams_;
};

} // namespace cotflow::test
