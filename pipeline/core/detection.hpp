#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace cotflow {

/// An attribute of a detail element a record gave: its name is one of
/// cotflow's own (a fixed list per element), its value checked text.
struct xml_attr {
  const char* name;
  std::string value;
};

/// A detail element a GeoJSON Feature gave by the CloudTAK / node-CoT
/// convention (`links`, `group`, `status`, `dest`, ... in its properties;
/// pipeline/codec/cloudtak), written into the event as it is.
struct detail_element {
  const char* name;
  std::vector<xml_attr> attrs;
  std::vector<detail_element> children;
  /// The element's text, for the few that hold text (missionLayer's).
  std::string text;
};

/// A TAK drawing: a GeoJSON LineString or Polygon, sent as a u-d-f shape
/// whose vertices are `<link point="lat,lon"/>` elements.
struct drawing {
  enum class shape_t : uint8_t { none, line, polygon };
  shape_t shape = shape_t::none;
  /// lat, lon of each vertex; a polygon's ring ends where it starts.
  std::vector<std::pair<double, double>> vertices;
  /// ARGB colours as ATAK writes them (a signed 32-bit integer).
  int32_t stroke_argb = 0;
  int32_t fill_argb = 0;
  double stroke_width = 0;
  std::string stroke_style;
  /// The shape's label shown on the map: -1 not given, 0 off, 1 on.
  int8_t labels = -1;
};

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
  /// What a GeoJSON Feature gave by the CloudTAK convention beyond the
  /// fields above: attributes of <contact> besides the callsign, detail
  /// elements, and its drawing when it is not a Point.
  std::vector<xml_attr> contact_attrs;
  std::vector<detail_element> extra_detail;
  drawing shape;
  /// An icon or colour the record gave (<usericon>, <color>), which
  /// configured presentation does not override.
  bool has_icon = false;
  bool has_color = false;
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
