#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
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

/// A TAK-like TCP receiver for tests: accepts connections on loopback,
/// splits the byte stream into CoT events at `</event>`, and records the
/// "seq=N" of each complete event. Partial events of a closed connection
/// are discarded, as a TAK server would.
class tak_receiver {
public:
  /// Listens on `port` (0 picks a free one); TLS when `tls` has a cert.
  explicit tak_receiver(uint16_t port = 0, tls_server_options tls = {},
                        bool answer_pings = true);
  ~tak_receiver();

  /// Stops listening and drops every connection (a server going down).
  void stop();

  /// Listens again on the same port.
  void start();

  uint16_t port() const {
    return port_;
  }

  /// Complete events received so far, by seq (count of copies).
  std::map<uint64_t, int> seqs() const;

  /// Complete events received so far.
  size_t events() const;

  /// Some of the events, for parsing checks.
  std::vector<std::string> sample() const;

  /// Connections accepted so far.
  size_t connections() const {
    return accepted_;
  }

  /// Keepalive pings (t-x-c-t) received.
  size_t pings() const {
    return pings_;
  }

private:
  void loop();

  uint16_t port_ = 0;
  tls_server_options tls_;
  bool answer_pings_ = true;
  ssl_ctx_st* ctx_ = nullptr;
  std::atomic<size_t> pings_{0};
  int listener_ = -1;
  std::thread thread_;
  std::atomic<bool> running_{false};
  std::atomic<size_t> accepted_{0};
  mutable std::mutex mtx_;
  std::map<uint64_t, int> seqs_;
  size_t events_ = 0;
  std::vector<std::string> sample_;
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

private:
  uint16_t port_ = 0;
  int fd_ = -1;
  std::thread thread_;
  std::atomic<bool> running_{true};
  mutable std::mutex mtx_;
  std::map<uint64_t, int> seqs_;
};

} // namespace cotflow::test
