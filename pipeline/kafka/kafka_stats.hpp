#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace cotflow {

/// What librdkafka's statistics (statistics.interval.ms) say about each
/// client, kept for the /metrics scrape: the latest report per client.
struct kafka_client_stats {
  /// "consumer" or "producer".
  std::string type;
  /// Messages and bytes in the client's queues (produce queue, fetch
  /// queue).
  int64_t queue_messages = 0;
  int64_t queue_bytes = 0;
  /// Requests waiting for a reply and average round-trip time (seconds),
  /// per broker ("host:port/id").
  std::map<std::string, int64_t> waiting_requests;
  std::map<std::string, double> rtt_seconds;
  /// Consumer lag per topic and partition (consumers only; partitions
  /// this client fetches, with a known lag).
  std::map<std::pair<std::string, int32_t>, int64_t> lag;
};

/// The latest statistics of every Kafka client of the process.
class kafka_stats {
public:
  static kafka_stats& instance();

  /// Parses one statistics JSON document; false when it is not one.
  bool update(const std::string& json);

  /// A copy of the latest statistics per client name.
  std::map<std::string, kafka_client_stats> snapshot() const;

  /// Forgets a client (closed).
  void forget(const std::string& name);

private:
  mutable std::mutex mtx_;
  std::map<std::string, kafka_client_stats> clients_;
};

} // namespace cotflow
