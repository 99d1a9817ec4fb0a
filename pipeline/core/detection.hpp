#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>

namespace cotflow {

/// A decoded, validated detection of either input shape (SPEC §3).
/// Unknown numbers are NaN; unknown times are 0. Reused across records so
/// that strings keep their capacity.
struct detection {
  std::string id;
  std::string source;
  std::string classification;
  std::string affiliation;
  std::string callsign;
  std::string remarks;
  /// An explicit CoT type (GeoJSON `type` property), else empty.
  std::string type;
  std::string how;
  std::string geopointsrc;
  std::string altsrc;
  int64_t time_ms = 0;
  int64_t start_ms = 0;
  int64_t stale_ms = 0;
  double lat = NAN;
  double lon = NAN;
  double hae = NAN;
  double ce = NAN;
  double le = NAN;
  double confidence = NAN;
  double course = NAN;
  double speed = NAN;
  double stale_s = NAN;
  /// The record says the track ended: a delete event is sent for its uid.
  bool ended = false;
  /// Where time_ms came from: the record, or (a GeoJSON Feature without
  /// one, see fill_missing_time) its Kafka timestamp or the receive time.
  enum class time_origin : uint8_t {
    record,
    kafka_timestamp,
    receive_time
  } time_from
    = time_origin::record;
  /// Characters of its text the decoder replaced by U+FFFD (not UTF-8, or
  /// not allowed in XML), and text fields it cut to the length limit.
  uint32_t replaced_chars = 0;
  uint32_t truncated_fields = 0;
  /// Number fields the decoder set to the nearest bound of their range
  /// (cot.out_of_range: clamp): clamped_field bits.
  uint8_t clamped = 0;

  /// Resets every field, keeping string capacity.
  void clear();
};

/// The number fields cot.out_of_range: clamp may set to a bound, one bit
/// each in detection::clamped.
enum clamped_field : uint8_t {
  clamped_hae = 1,
  clamped_ce = 2,
  clamped_le = 4,
  clamped_course = 8,
  clamped_speed = 16,
};

/// Each clamped_field bit with its field's name, in the order events list
/// them.
struct clamped_name {
  clamped_field bit;
  const char* name;
};
inline constexpr clamped_name clamped_names[] = {
  {clamped_hae, "hae"},       {clamped_ce, "ce"},       {clamped_le, "le"},
  {clamped_course, "course"}, {clamped_speed, "speed"},
};

/// How many fields of `bits` were clamped.
inline unsigned clamped_count(uint8_t bits) {
  unsigned n = 0;
  for (const auto& c : clamped_names)
    n += (bits & c.bit) != 0 ? 1 : 0;
  return n;
}

/// Why a record was refused; the wire name goes into dead-letter headers.
enum class refusal_reason : uint8_t {
  too_large,
  invalid_json,
  not_an_object,
  missing_field,
  wrong_type,
  out_of_range,
  non_finite,
  bad_time,
  unsupported_geometry,
  /// An id or source (the parts of the uid and Kafka key) holds a control
  /// character or what is not UTF-8 of XML characters.
  invalid_id,
};

/// The stable wire name of a refusal reason ("missing_field", ...).
std::string_view to_string(refusal_reason r);

/// A refusal with the field or detail it concerns.
struct refusal {
  refusal_reason reason;
  std::string detail;
};

} // namespace cotflow
