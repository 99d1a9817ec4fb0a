#pragma once

#include "pipeline/codec/generator.hpp"

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace RdKafka {
class DeliveryReportCb;
class Producer;
} // namespace RdKafka

namespace cotflow {

/// librdkafka properties, in the order they are set.
using kafka_properties = std::vector<std::pair<std::string, std::string>>;

/// A plain producer of input records, as a sensor gateway would publish
/// them: no delivery tracking, the partitioner picks by key.
class record_publisher {
public:
  /// Creates the producer with `props` (bootstrap.servers, client.id, ...)
  /// and, when given, `reports` called from send()/poll()/flush() with each
  /// delivery report; null with `err` set on a bad property or a failed
  /// start.
  static std::unique_ptr<record_publisher>
  make(const kafka_properties& props, std::string& err,
       RdKafka::DeliveryReportCb* reports = nullptr);

  /// Does not wait for queued records: flush() first.
  ~record_publisher();

  /// Queues one record (timestamp 0: now), serving delivery reports while
  /// librdkafka's queue is full; false with `err` set on any other error.
  /// Its delivery report carries `opaque`.
  bool send(const std::string& topic, std::string_view key,
            std::string_view payload, int64_t timestamp_ms, std::string& err,
            void* opaque = nullptr);

  /// What try_send() did with a record.
  enum class outcome { queued, queue_full, failed };

  /// Queues one record once, without waiting when librdkafka's queue is
  /// full (the caller decides whether to wait, e.g. unless it is stopping);
  /// `err` is set when it failed.
  outcome try_send(const std::string& topic, std::string_view key,
                   std::string_view payload, int64_t timestamp_ms,
                   std::string& err, void* opaque = nullptr);

  /// Serves delivery reports for up to `timeout_ms`.
  void poll(int timeout_ms = 0);

  /// Waits up to `timeout_ms` for every queued record; false on timeout.
  bool flush(int timeout_ms);

private:
  explicit record_publisher(std::unique_ptr<RdKafka::Producer> p);

  std::unique_ptr<RdKafka::Producer> producer_;
};

/// Publishes generated detections to one topic at `rate` per second (0: as
/// fast as librdkafka takes them) in a thread of its own, until `count`
/// records (0: no limit) or stop().
class detection_publisher {
public:
  struct options {
    /// bootstrap.servers.
    std::string brokers;
    std::string topic;
    /// Records per second; 0: as fast as librdkafka takes them.
    int64_t rate = 0;
    /// Records in all; 0: until stop().
    int64_t count = 0;
    detection_generator::options generator;
    std::string client_id = "cotflow-demo-publisher";
  };

  explicit detection_publisher(options opts);
  ~detection_publisher();

  /// Creates the producer and starts publishing; false with `err` set when
  /// the producer cannot be created.
  bool start(std::string& err);

  /// Stops publishing and waits up to 5 s for what was queued.
  void stop();

  /// True once `count` records were published.
  bool done() const {
    return finished_;
  }

  /// Records queued so far.
  uint64_t published() const {
    return published_;
  }

private:
  void loop();

  options opts_;
  std::unique_ptr<record_publisher> producer_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> finished_{false};
  std::atomic<uint64_t> published_{0};
};

} // namespace cotflow
