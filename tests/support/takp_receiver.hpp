#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace cotflow::test {

/// A TAK Server's stream input as far as TAK Protocol version 1 goes: on
/// each connection it offers version 1 (t-x-takp-v) or not, answers the
/// client's request (t-x-takp-q) as told, then reads version 1 frames.
/// Keeps every event it received, XML and protobuf payloads apart, for
/// the tests to decode. One connection at a time, on loopback.
class takp_receiver {
public:
  enum class behaviour {
    /// Offers nothing: a server of XML only.
    no_offer,
    /// Offers version 1 and accepts the request.
    accept,
    /// Offers version 1 and declines the request.
    decline,
    /// Offers version 1 and never answers the request.
    ignore,
  };

  explicit takp_receiver(behaviour b);
  ~takp_receiver();
  takp_receiver(const takp_receiver&) = delete;
  takp_receiver& operator=(const takp_receiver&) = delete;

  uint16_t port() const {
    return port_;
  }

  /// The XML events received (the negotiation's and pings apart).
  std::vector<std::string> xml_events() const;

  /// The TakMessage payloads of the version 1 frames received (pings
  /// apart).
  std::vector<std::string> payloads() const;

  /// Requests (t-x-takp-q) received; connections accepted.
  size_t requests() const {
    return requests_;
  }
  size_t connections() const {
    return connections_;
  }

  /// Bytes that broke the protocol (no magic byte where a frame must
  /// start): 0 for a correct client.
  size_t violations() const {
    return violations_;
  }

private:
  void loop();
  /// Takes what the buffer holds; false to drop the connection.
  void take(int fd, std::string& buf, bool& v1);

  behaviour how_;
  uint16_t port_ = 0;
  int listener_ = -1;
  std::thread thread_;
  std::atomic<bool> running_{true};
  std::atomic<size_t> requests_{0};
  std::atomic<size_t> connections_{0};
  std::atomic<size_t> violations_{0};
  mutable std::mutex mtx_;
  std::vector<std::string> xml_;
  std::vector<std::string> payloads_;
};

} // namespace cotflow::test
