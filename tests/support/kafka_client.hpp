#pragma once

#include "tests/support/seq.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace cotflow::test {

/// Where a produced record landed, and what it was.
struct produced {
  uint64_t seq;
  bool valid;
  int32_t partition;
  int64_t offset;
};

/// Publishes `count` generated detections (a share `malformed` of them
/// malformed) and waits until the broker confirmed every one.
std::vector<produced>
publish_generated(const std::string& bootstrap, const std::string& topic,
                  uint64_t count, double malformed, uint64_t seed = 7,
                  uint64_t first_seq = 0, int tracks = 40);

/// Publishes raw payloads (key "raw") and waits for the broker.
void publish_raw(const std::string& bootstrap, const std::string& topic,
                 const std::vector<std::string>& payloads);

/// A record read back from a topic.
struct consumed {
  int32_t partition;
  int64_t offset;
  std::string key;
  std::string payload;
  std::map<std::string, std::string> headers;
};

/// Reads a whole topic from the beginning to the high watermarks as of now,
/// without a consumer group.
std::vector<consumed> read_topic(const std::string& bootstrap,
                                 const std::string& topic);

/// Watermarks and a group's committed offsets, asked again and again with
/// one client. Its consumer never subscribes, so it never joins the group
/// it asks about. Not thread-safe: one per thread.
class kafka_observer {
public:
  /// Throws when the client cannot be created.
  kafka_observer(const std::string& bootstrap, const std::string& group);
  ~kafka_observer();

  /// High watermarks of every partition of `topic`; throws on an error.
  std::map<int32_t, int64_t> high_watermarks(const std::string& topic);

  /// High watermarks of partitions 0..n-1 of `topic` (0 where the query
  /// failed).
  std::vector<int64_t> highs(const std::string& topic, int n);

  /// Sum of the high watermarks of partitions 0..n-1, -1 on an error.
  int64_t high_sum(const std::string& topic, int n);

  /// The group's committed offsets for every partition of `topic` (-1
  /// where nothing was committed); throws on an error.
  std::map<int32_t, int64_t> committed(const std::string& topic);

  /// True when the group's committed offsets of partitions 0..size-1
  /// reached `ends`.
  bool committed_reached(const std::string& topic,
                         const std::vector<int64_t>& ends);

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// The committed offsets of `group` for every partition of `topic`
/// (-1 where nothing was committed).
std::map<int32_t, int64_t> committed(const std::string& bootstrap,
                                     const std::string& group,
                                     const std::string& topic);

/// High watermarks of every partition of `topic`.
std::map<int32_t, int64_t> high_watermarks(const std::string& bootstrap,
                                           const std::string& topic);

/// Reads topics from the beginning in a thread while they are written, so
/// that nothing is missed when the embedded broker drops old records
/// (it keeps about 5 MB per partition). Counts outputs by seq.
class topic_tail {
public:
  topic_tail(const std::string& bootstrap,
             const std::vector<std::string>& topics);
  ~topic_tail();

  /// Waits until every partition reached its current high watermark, then
  /// stops; returns seq -> copies per topic.
  std::map<std::string, std::map<uint64_t, int>> finish();

  /// Records the broker dropped before the tail read them (0 when it kept
  /// up); a test that needs every output must see 0 here.
  uint64_t gaps() const {
    return gaps_;
  }

private:
  struct impl;
  impl* impl_;
  uint64_t gaps_ = 0;
};

} // namespace cotflow::test
