#pragma once

#include "pipeline/core/detection.hpp"

#include <optional>
#include <string_view>

namespace cotflow {

struct config;

/// Strict decoder of both input shapes: a flat detection or a GeoJSON
/// Feature (a Point, or a LineString or Polygon drawn as a TAK shape, with
/// the CloudTAK convention's properties: pipeline/codec/cloudtak). Holds its
/// parse buffers so that decoding does not allocate once warm.
class decoder {
public:
  /// `max_bytes`: larger records are refused as too_large. `fast`: the
  /// common case (ASCII text without escapes, short numbers) is parsed by
  /// cotflow's own parser, the rest by RapidJSON; false (for tests): all by
  /// RapidJSON. Both decode every record alike.
  explicit decoder(size_t max_bytes, bool fast = true);
  /// The decoder of the pipeline's encoders: pipeline.max_record_bytes,
  /// pipeline.max_text_bytes, a Feature without time allowed unless
  /// cot.missing_time is refuse, numbers clamped when cot.out_of_range is
  /// clamp.
  explicit decoder(const config& cfg);
  ~decoder();
  decoder(const decoder&) = delete;
  decoder& operator=(const decoder&) = delete;

  /// Free text (callsign, remarks, classification, affiliation) longer
  /// than `bytes` is cut to it, on a character boundary, ending in "…"
  /// (default 4096).
  void max_text(size_t bytes) {
    max_text_ = bytes;
  }

  /// A GeoJSON Feature without properties.time or .start is decoded with
  /// time_ms 0, for fill_missing_time, instead of refused (missing_field).
  void allow_missing_time(bool on) {
    missing_time_ok_ = on;
  }

  /// A LineString or Polygon with more positions than this is refused
  /// (out_of_range; default 1000).
  void max_vertices(size_t n) {
    max_vertices_ = n;
  }

  /// hae, ce, le, course or speed outside its range (what TAK Server's
  /// scrubber keeps, docs/input-format.md) is set to the nearest end of it
  /// and marked in detection::clamped, instead of refused (out_of_range).
  /// lat, lon, confidence and stale_s stay refused.
  void clamp_out_of_range(bool on) {
    clamp_ = on;
  }

  /// Decodes `bytes` into `out`; returns the refusal when it is not valid.
  /// Every string it keeps is UTF-8 of characters XML can carry: an id or
  /// source that is not is refused (invalid_id), text has what is not
  /// replaced by U+FFFD (counted in `out`).
  std::optional<refusal> decode(std::string_view bytes, detection& out);

private:
  struct impl;
  impl* impl_;
  size_t max_bytes_;
  size_t max_text_ = 4096;
  size_t max_vertices_ = 1000;
  bool missing_time_ok_ = false;
  bool clamp_ = false;
  bool fast_;
};

/// Gives a detection decoded without a time (allow_missing_time) its Kafka
/// record's timestamp, when `prefer_kafka_timestamp` and it has a plausible
/// one (2000..2100), else the receive time `now_ms`; time_from says which.
/// A detection with a time is left as it is.
void fill_missing_time(detection& d, int64_t kafka_timestamp_ms, int64_t now_ms,
                       bool prefer_kafka_timestamp);

} // namespace cotflow
