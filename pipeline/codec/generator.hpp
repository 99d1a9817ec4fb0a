#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace cotflow {

/// One generated input record.
struct generated_record {
  std::string key;
  std::string payload;
  /// False for the deliberately malformed ones.
  bool valid = true;
  /// Sequence number, also written into the record as "seq=N" so that
  /// outputs (CoT remarks, dead-letter bytes) can be traced to it.
  uint64_t seq = 0;
};

/// Generates a realistic stream of detections: several sensors, tracks that
/// move, both input shapes, and a share of malformed records of every kind.
class detection_generator {
public:
  struct options {
    uint64_t seed = 42;
    int tracks = 40;
    int sensors = 5;
    /// Share of records that are malformed (0..1).
    double malformed = 0.01;
    /// Share of valid records sent as GeoJSON Features (0..1).
    double geojson = 0.25;
    /// Sequence number of the first record.
    uint64_t first_seq = 0;
  };

  explicit detection_generator(options opts);

  /// Fills `out` with the next record, stamped at `now_ms`.
  void next(generated_record& out, int64_t now_ms);

private:
  struct track {
    double lat;
    double lon;
    double course;
    double speed;
    int sensor;
    int kind;
  };

  void malformed(generated_record& out, const track& t, int64_t now_ms);

  options opts_;
  std::mt19937_64 rng_;
  std::vector<track> tracks_;
  uint64_t seq_ = 0;
};

} // namespace cotflow
