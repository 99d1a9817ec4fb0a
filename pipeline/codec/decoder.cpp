#include "pipeline/codec/decoder.hpp"

#include "config/config.hpp"
#include "pipeline/codec/cloudtak.hpp"
#include "pipeline/codec/xml_text.hpp"

#include "pipeline/core/json.hpp"
#include "pipeline/core/time.hpp"

#include <climits>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#if defined(__SSE2__)
#  include <emmintrin.h>
#endif

namespace cotflow {

void detection::clear() {
  id.clear();
  source.clear();
  classification.clear();
  affiliation.clear();
  callsign.clear();
  remarks.clear();
  type.clear();
  how.clear();
  geopointsrc.clear();
  altsrc.clear();
  time_ms = start_ms = stale_ms = 0;
  ended = false;
  time_from = time_origin::record;
  replaced_chars = 0;
  truncated_fields = 0;
  clamped = 0;
  contact_attrs.clear();
  extra_detail.clear();
  shape.shape = drawing::shape_t::none;
  shape.vertices.clear();
  shape.stroke_style.clear();
  shape.labels = -1;
  has_icon = has_color = false;
  lat = lon = hae = ce = le = confidence = course = speed = stale_s = NAN;
}

namespace {

// Epoch milliseconds accepted as times: 2000-01-01 .. 2100-01-01. A number
// below that is almost always epoch seconds sent by mistake.
constexpr int64_t min_epoch_ms = 946684800000;
constexpr int64_t max_epoch_ms = 4102444800000;

} // namespace

void fill_missing_time(detection& d, int64_t kafka_timestamp_ms, int64_t now_ms,
                       bool prefer_kafka_timestamp) {
  if (d.time_ms != 0)
    return;
  if (prefer_kafka_timestamp && kafka_timestamp_ms >= min_epoch_ms
      && kafka_timestamp_ms <= max_epoch_ms) {
    d.time_ms = kafka_timestamp_ms;
    d.time_from = detection::time_origin::kafka_timestamp;
  } else {
    d.time_ms = now_ms;
    d.time_from = detection::time_origin::receive_time;
  }
}

std::string_view to_string(refusal_reason r) {
  switch (r) {
    case refusal_reason::too_large:
      return "too_large";
    case refusal_reason::invalid_json:
      return "invalid_json";
    case refusal_reason::not_an_object:
      return "not_an_object";
    case refusal_reason::missing_field:
      return "missing_field";
    case refusal_reason::wrong_type:
      return "wrong_type";
    case refusal_reason::out_of_range:
      return "out_of_range";
    case refusal_reason::non_finite:
      return "non_finite";
    case refusal_reason::bad_time:
      return "bad_time";
    case refusal_reason::unsupported_geometry:
      return "unsupported_geometry";
    case refusal_reason::invalid_id:
      return "invalid_id";
  }
  return "unknown";
}

namespace {

// Recursive descent first: faster than RapidJSON's iterative parser. The
// handler stops it past `max_depth` levels, and such a record (rare, often
// hostile) is parsed again iteratively, which cannot exhaust the stack.
constexpr unsigned parse_flags = rapidjson::kParseValidateEncodingFlag
                                 | rapidjson::kParseNanAndInfFlag;
constexpr unsigned deep_parse_flags = parse_flags
                                      | rapidjson::kParseIterativeFlag;
// For input that is all ASCII, which is valid UTF-8 as it is: RapidJSON's
// byte-by-byte validation was a tenth of decode + encode (bench_codec
// profile). \u escapes are checked the same way with either flag set.
constexpr unsigned ascii_parse_flags = parse_flags
                                       & ~rapidjson::kParseValidateEncodingFlag;
constexpr unsigned ascii_deep_parse_flags = ascii_parse_flags
                                            | rapidjson::kParseIterativeFlag;
constexpr unsigned max_depth = 64;

/// True when `s` is all ASCII without the bytes 0x1A..0x1F. Without
/// validation RapidJSON 1.1.0 scans string bodies with SIMD, and that scan
/// lets raw 0x1A..0x1F through (it compares with 0x19 where JSON forbids
/// everything below 0x20); text with them takes the validating path, which
/// refuses them byte by byte.
bool plain_ascii(std::string_view s) {
  constexpr uint64_t ones = 0x0101010101010101ULL;
  constexpr uint64_t highs = ones * 0x80;
  uint64_t any = 0;
  uint64_t between = 0;
  auto word = [&](uint64_t w) {
    any |= w;
    // "Determine if a word has a byte between m and n" (Bit Twiddling
    // Hacks) with m = 0x19, n = 0x20: the high bit of each byte in
    // 0x1A..0x1F, for bytes below 0x80 (the others are in `any`).
    uint64_t low7 = w & (ones * 0x7F);
    between |= (ones * (0x7F + 0x20) - low7) & ~w
               & (low7 + ones * (0x7F - 0x19)) & highs;
  };
  const char* p = s.data();
  size_t n = s.size();
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    word(w);
  }
  if (n > 0) {
    uint64_t w = 0; // zero bytes are neither
    std::memcpy(&w, p, n);
    word(w);
  }
  return ((any & highs) | between) == 0;
}

/// Longest id; a source, part of the uid too, may be as long as text.
constexpr size_t max_id = 256;
constexpr size_t max_source = 4096;
/// Longest code (how, type, geopointsrc, altsrc).
constexpr size_t max_code = 64;

using result = std::optional<refusal>;

result refuse(refusal_reason r, std::string detail) {
  return refusal{r, std::move(detail)};
}

// The fields cotflow reads, in one table: an object's members are matched
// against it in a single pass (`members`) instead of one linear FindMember
// scan per field (~20 per record).
enum field : uint8_t {
  f_id,
  f_uid,
  f_time,
  f_start,
  f_stale,
  f_type,
  f_geometry,
  f_properties,
  f_lat,
  f_lon,
  f_hae,
  f_ended,
  f_source,
  f_classification,
  f_affiliation,
  f_callsign,
  f_remarks,
  f_how,
  f_geopointsrc,
  f_altsrc,
  f_ce,
  f_le,
  f_confidence,
  f_course,
  f_speed,
  f_stale_s,
  field_count
};

constexpr const char* field_names[field_count] = {
  "id",          "uid",
  "time",        "start",
  "stale",       "type",
  "geometry",    "properties",
  "lat",         "lon",
  "hae",         "ended",
  "source",      "classification",
  "affiliation", "callsign",
  "remarks",     "how",
  "geopointsrc", "altsrc",
  "ce",          "le",
  "confidence",  "course",
  "speed",       "stale_s",
};

int field_of(const char* s, size_t n) {
  auto is = [&](field f) { return std::memcmp(s, field_names[f], n) == 0; };
  // By length first: one or two comparisons of the bytes at most.
  switch (n) {
    case 2:
      return is(f_id) ? f_id : is(f_ce) ? f_ce : is(f_le) ? f_le : -1;
    case 3:
      return is(f_uid)   ? f_uid
             : is(f_lat) ? f_lat
             : is(f_lon) ? f_lon
             : is(f_hae) ? f_hae
             : is(f_how) ? f_how
                         : -1;
    case 4:
      return is(f_time) ? f_time : is(f_type) ? f_type : -1;
    case 5:
      return is(f_start)   ? f_start
             : is(f_stale) ? f_stale
             : is(f_ended) ? f_ended
             : is(f_speed) ? f_speed
                           : -1;
    case 6:
      return is(f_source)   ? f_source
             : is(f_course) ? f_course
             : is(f_altsrc) ? f_altsrc
                            : -1;
    case 7:
      return is(f_remarks) ? f_remarks : is(f_stale_s) ? f_stale_s : -1;
    case 8:
      return is(f_geometry) ? f_geometry : is(f_callsign) ? f_callsign : -1;
    case 10:
      return is(f_properties)   ? f_properties
             : is(f_confidence) ? f_confidence
                                : -1;
    case 11:
      return is(f_affiliation)   ? f_affiliation
             : is(f_geopointsrc) ? f_geopointsrc
                                 : -1;
    case 14:
      return is(f_classification) ? f_classification : -1;
    default:
      return -1;
  }
}

/// One JSON value as the decoder keeps it: scalars whole, strings as views
/// into the parse buffer, objects and arrays by kind only.
struct value {
  enum kind_t : uint8_t {
    absent,
    null,
    boolean,
    number,
    string,
    object,
    array
  };
  kind_t kind = absent;
  bool flag = false;     // a boolean's value
  bool is_int64 = false; // a number that is an integer within int64
  uint32_t len = 0;      // a string's length
  const char* str = nullptr;
  int64_t i = 0;
  double d = 0;

  bool IsNull() const {
    return kind == null;
  }
  bool IsBool() const {
    return kind == boolean;
  }
  bool IsNumber() const {
    return kind == number;
  }
  bool IsInt64() const {
    return kind == number && is_int64;
  }
  bool IsString() const {
    return kind == string;
  }
  bool IsObject() const {
    return kind == object;
  }
  bool GetBool() const {
    return flag;
  }
  int64_t GetInt64() const {
    return i;
  }
  double GetDouble() const {
    return d;
  }
  const char* GetString() const {
    return str;
  }
  uint32_t GetStringLength() const {
    return len;
  }
};

/// The members of one object that cotflow reads. As with RapidJSON's
/// FindMember, the first of duplicate names counts.
class members {
public:
  void clear() {
    for (auto& v : v_)
      v.kind = value::absent;
  }

  /// The member's value; null when absent.
  const value* operator[](field f) const {
    return v_[f].kind != value::absent ? &v_[f] : nullptr;
  }

  /// The member's value when present and not JSON null.
  const value* given(field f) const {
    auto k = v_[f].kind;
    return k != value::absent && k != value::null ? &v_[f] : nullptr;
  }

  /// Where the value of a member named `f` goes: null for a duplicate.
  value* slot(field f) {
    return v_[f].kind == value::absent ? &v_[f] : nullptr;
  }

private:
  value v_[field_count];
};

/// What the decoder keeps of a record: the members it reads at the top
/// level and in `properties`, and the `geometry`'s type and coordinates.
/// Filled by RapidJSON's SAX events, without building a DOM.
struct record_view {
  value top_kind; // the kind of the top-level value
  members top;
  members props;
  value geo_type;
  value coords;          // the coordinates member's kind, .i = its size
  value coord[3];        // its first three elements
  bool too_deep = false; // the handler stopped the parse at max_depth
  /// properties holds a member of the CloudTAK convention (cloudtak).
  bool extended = false;

  void clear() {
    top_kind.kind = value::absent;
    top.clear();
    props.clear();
    geo_type.kind = value::absent;
    coords.kind = value::absent;
    coords.i = 0;
    for (auto& c : coord)
      c.kind = value::absent;
    too_deep = false;
    extended = false;
  }
};

/// RapidJSON SAX handler that fills a record_view. The objects and arrays
/// it reads are at fixed places (top, top.properties, top.geometry,
/// top.geometry.coordinates); everything else is skipped by depth.
class view_handler {
public:
  view_handler(record_view& v, unsigned depth_limit)
    : v_(v), depth_limit_(depth_limit) {}

  bool Null() {
    if (auto s = target())
      s->kind = value::null;
    return true;
  }
  bool Bool(bool b) {
    if (auto s = target()) {
      s->kind = value::boolean;
      s->flag = b;
    }
    return true;
  }
  bool Int(int i) {
    return integer(i);
  }
  bool Uint(unsigned u) {
    return integer(u);
  }
  bool Int64(int64_t i) {
    return integer(i);
  }
  bool Uint64(uint64_t u) {
    if (u > static_cast<uint64_t>(INT64_MAX))
      return number(static_cast<double>(u), false, 0);
    return integer(static_cast<int64_t>(u));
  }
  bool Double(double d) {
    return number(d, false, 0);
  }
  bool RawNumber(const char*, rapidjson::SizeType, bool) {
    return true; // not requested (no kParseNumbersAsStringsFlag)
  }
  bool String(const char* s, rapidjson::SizeType n, bool) {
    if (auto t = target()) {
      t->kind = value::string;
      t->str = s;
      t->len = n;
    }
    return true;
  }
  bool Key(const char* s, rapidjson::SizeType n, bool) {
    key_ = nullptr;
    next_ = ignored;
    switch (ctx()) {
      case top: {
        auto f = field_of(s, n);
        if (f < 0)
          break;
        key_ = v_.top.slot(static_cast<field>(f));
        if (key_ && f == f_geometry)
          next_ = geometry;
        else if (key_ && f == f_properties)
          next_ = properties;
        break;
      }
      case properties: {
        auto f = field_of(s, n);
        if (f >= 0)
          key_ = v_.props.slot(static_cast<field>(f));
        else if (!v_.extended && cloudtak::is_property({s, n}))
          v_.extended = true;
        break;
      }
      case geometry:
        if (n == 4 && std::memcmp(s, "type", 4) == 0) {
          if (v_.geo_type.kind == value::absent)
            key_ = &v_.geo_type;
        } else if (n == 11 && std::memcmp(s, "coordinates", 11) == 0) {
          if (v_.coords.kind == value::absent) {
            key_ = &v_.coords;
            next_ = coordinates;
          }
        }
        break;
      default:
        break;
    }
    return true;
  }
  bool StartObject() {
    return open(value::object);
  }
  bool EndObject(rapidjson::SizeType) {
    --depth_;
    return true;
  }
  bool StartArray() {
    return open(value::array);
  }
  bool EndArray(rapidjson::SizeType) {
    --depth_;
    return true;
  }

private:
  enum context : uint8_t { ignored, top, properties, geometry, coordinates };
  static constexpr unsigned kept_depth = 4; // contexts exist down to here

  context ctx() const {
    return depth_ <= kept_depth ? ctx_[depth_] : ignored;
  }

  /// Where the value that comes next goes; null when it is not kept.
  value* target() {
    switch (ctx()) {
      case top:
      case properties:
      case geometry: {
        auto t = key_;
        key_ = nullptr;
        return t;
      }
      case coordinates: {
        auto n = v_.coords.i++;
        return n < 3 ? &v_.coord[n] : nullptr;
      }
      default:
        return depth_ == 0 ? &v_.top_kind : nullptr;
    }
  }

  bool integer(int64_t i) {
    return number(static_cast<double>(i), true, i);
  }

  bool number(double d, bool is_int64, int64_t i) {
    if (auto s = target()) {
      s->kind = value::number;
      s->d = d;
      s->is_int64 = is_int64;
      s->i = i;
    }
    return true;
  }

  bool open(value::kind_t kind) {
    bool at_top = depth_ == 0;
    bool in_coordinates = ctx() == coordinates;
    auto wanted = next_; // what the last key's container value would be
    next_ = ignored;
    auto next = ignored;
    if (auto s = target()) {
      s->kind = kind;
      if (at_top)
        next = kind == value::object ? top : ignored;
      else if (!in_coordinates
               && (wanted == coordinates) == (kind == value::array))
        next = wanted; // an object for geometry/properties, an array for
                       // coordinates
    }
    if (++depth_ > depth_limit_) {
      v_.too_deep = true;
      return false;
    }
    if (depth_ <= kept_depth)
      ctx_[depth_] = next;
    return true;
  }

  record_view& v_;
  unsigned depth_limit_;
  unsigned depth_ = 0;
  value* key_ = nullptr;   // the slot of the last key read, if kept
  context next_ = ignored; // the context a container value there opens
  context ctx_[kept_depth + 1] = {};
};

/// Reads an optional string field (a number is accepted and printed), of
/// at most `max` bytes.
result read_string(const members& obj, field f, std::string& out, bool required,
                   size_t max) {
  const char* name = field_names[f];
  auto given = obj.given(f);
  if (!given) {
    if (required)
      return refuse(refusal_reason::missing_field, name);
    return std::nullopt;
  }
  const auto& v = *given;
  if (v.IsString()) {
    if (v.GetStringLength() > max)
      return refuse(refusal_reason::out_of_range,
                    std::string{name} + " longer than " + std::to_string(max));
    out.assign(v.GetString(), v.GetStringLength());
  } else if (v.IsInt64()) {
    out = std::to_string(v.GetInt64());
  } else {
    return refuse(refusal_reason::wrong_type,
                  std::string{name} + " must be a string");
  }
  if (required && out.empty())
    return refuse(refusal_reason::missing_field,
                  std::string{name} + " is empty");
  return std::nullopt;
}

// Each string field follows one of three rules (xml_text says what text
// may hold):

/// An identifier (the id, the source: the parts of the TAK uid and the
/// Kafka key) is never altered, so that two never become one: one that
/// holds a control character, or what XML cannot carry, is refused.
result read_identifier(const members& obj, field f, std::string& out,
                       bool required, size_t max) {
  if (auto r = read_string(obj, f, out, required, max))
    return r;
  if (auto flaw = xml_text::first_identifier_flaw(out))
    return refuse(refusal_reason::invalid_id,
                  std::string{field_names[f]} + " holds " + flaw->describe());
  return std::nullopt;
}

/// Free text (callsign, remarks, ...) is kept: what XML cannot carry
/// becomes U+FFFD, and text over `max` bytes is cut (ending in "…"). Both
/// are counted in `d`.
result read_text(const members& obj, field f, std::string& out, detection& d,
                 size_t max) {
  if (auto r = read_string(obj, f, out, false, SIZE_MAX))
    return r;
  d.replaced_chars += static_cast<uint32_t>(xml_text::replace_flaws(out));
  d.truncated_fields += xml_text::truncate(out, max) ? 1 : 0;
  return std::nullopt;
}

/// A short code (geopointsrc, altsrc) is refused past max_code bytes; what
/// XML cannot carry becomes U+FFFD, as in text.
result read_code(const members& obj, field f, std::string& out, detection& d) {
  if (auto r = read_string(obj, f, out, false, max_code))
    return r;
  d.replaced_chars += static_cast<uint32_t>(xml_text::replace_flaws(out));
  return std::nullopt;
}

/// `v` as the detail of a refusal writes it: 1000000, -90.0001, 0.5.
std::string number_text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.15g", v);
  return buf;
}

result check_number(const char* name, double v, double lo, double hi) {
  if (!std::isfinite(v))
    return refuse(refusal_reason::non_finite, name);
  if (v < lo || v > hi)
    return refuse(refusal_reason::out_of_range,
                  std::string{name} + " " + number_text(v) + " outside ["
                    + number_text(lo) + ", " + number_text(hi) + "]");
  return std::nullopt;
}

result number_value(const char* name, const value& v, double& out, double lo,
                    double hi) {
  if (!v.IsNumber())
    return refuse(refusal_reason::wrong_type,
                  std::string{name} + " must be a number");
  out = v.GetDouble();
  return check_number(name, out, lo, hi);
}

/// Reads an optional (or required) number field within [lo, hi].
result read_number(const members& obj, field f, double& out, double lo,
                   double hi, bool required = false) {
  const char* name = field_names[f];
  auto given = obj.given(f);
  if (!given) {
    if (required)
      return refuse(refusal_reason::missing_field, name);
    return std::nullopt;
  }
  return number_value(name, *given, out, lo, hi);
}

/// The range of a number field a TAK Server keeps, and the bit that says
/// cot.out_of_range: clamp set the field to one of its ends.
struct bounds {
  double lo;
  double hi;
  clamped_field bit;
};

// Each range is the one TAK Server's scrubber (CoreConfig <filter><scrubber
// enable="true"/>; com.bbn.cot.filter.ScrubInvalidValues) enforces, or
// cotflow's own where that is narrower:
//   scrubber: hae -99999..99999999, ce and le 0..99999999, course 0..360,
//   speed 0..999999 (m/s), lat -91..91, lon -181..181;
//   cotflow: lat -90..90 and lon -180..180 (the CoT 2.0 event schema);
//   hae -20000..9999999, ce and le 0..9999999 (cotflow's own since its
//   first version, inside the scrubber's; 9999999 is CoT's "unknown").
constexpr double min_lat = -90, max_lat = 90;
constexpr double min_lon = -180, max_lon = 180;
constexpr bounds hae_bounds{-20000, 9999999, clamped_hae};
constexpr bounds ce_bounds{0, 9999999, clamped_ce};
constexpr bounds le_bounds{0, 9999999, clamped_le};
constexpr bounds course_bounds{0, 360, clamped_course};
constexpr bounds speed_bounds{0, 999999, clamped_speed};

/// A number within `b`, or with `clamp` one outside it set to the nearest
/// end of `b` and marked in `d.clamped`. Not a number, NaN or infinity is
/// refused either way: no bound is nearer than another.
result bounded_value(const char* name, const value& v, double& out, bounds b,
                     detection& d, bool clamp) {
  auto r = number_value(name, v, out, b.lo, b.hi);
  if (!r || !clamp || r->reason != refusal_reason::out_of_range)
    return r;
  out = out < b.lo ? b.lo : b.hi;
  d.clamped |= b.bit;
  return std::nullopt;
}

/// Reads an optional number field within `b` (see bounded_value).
result read_bounded(const members& obj, field f, double& out, bounds b,
                    detection& d, bool clamp) {
  auto given = obj.given(f);
  if (!given)
    return std::nullopt;
  return bounded_value(field_names[f], *given, out, b, d, clamp);
}

/// Reads a time: RFC 3339 text or epoch milliseconds.
result read_time(const members& obj, field f, int64_t& out, bool required) {
  const char* name = field_names[f];
  auto given = obj.given(f);
  if (!given) {
    if (required)
      return refuse(refusal_reason::missing_field, name);
    return std::nullopt;
  }
  const auto& v = *given;
  if (v.IsString()) {
    auto t = parse_rfc3339({v.GetString(), v.GetStringLength()});
    if (!t)
      return refuse(refusal_reason::bad_time,
                    std::string{name} + " is not RFC 3339");
    out = *t;
  } else if (v.IsNumber()) {
    double d = v.GetDouble();
    if (!std::isfinite(d))
      return refuse(refusal_reason::non_finite, name);
    // Far outside the range either way; the cast of a double beyond
    // int64 would be undefined.
    out = std::fabs(d) < 1e18 ? static_cast<int64_t>(d) : 0;
  } else {
    return refuse(refusal_reason::wrong_type,
                  std::string{name} + " must be RFC 3339 text or epoch ms");
  }
  if (out < min_epoch_ms || out > max_epoch_ms)
    return refuse(refusal_reason::bad_time,
                  std::string{name}
                    + " outside 2000..2100 (epoch seconds instead of ms?)");
  return std::nullopt;
}

bool is_cot_type(const std::string& s) {
  if (s.empty() || s.size() > 64 || s[0] == '-' || s.back() == '-')
    return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '_'
              || (c == '-' && s[i - 1] != '-');
    if (!ok)
      return false;
  }
  return true;
}

/// The properties both shapes share; text over `max_text` bytes is cut,
/// numbers out of range clamped when `clamp`.
result read_common(const members& o, detection& d, size_t max_text,
                   bool clamp) {
  if (auto r = read_identifier(o, f_source, d.source, false, max_source))
    return r;
  if (auto r = read_text(o, f_classification, d.classification, d, max_text))
    return r;
  if (auto r = read_text(o, f_affiliation, d.affiliation, d, max_text))
    return r;
  if (auto r = read_text(o, f_callsign, d.callsign, d, max_text))
    return r;
  if (auto r = read_text(o, f_remarks, d.remarks, d, max_text))
    return r;
  if (auto r = read_string(o, f_how, d.how, false, max_code))
    return r;
  if (!d.how.empty() && !is_cot_type(d.how))
    return refuse(refusal_reason::wrong_type, "how is not a CoT how code");
  if (auto r = read_code(o, f_geopointsrc, d.geopointsrc, d))
    return r;
  if (auto r = read_code(o, f_altsrc, d.altsrc, d))
    return r;
  if (auto ended = o[f_ended]) {
    if (!ended->IsBool())
      return refuse(refusal_reason::wrong_type, "ended must be true or false");
    d.ended = ended->GetBool();
  }
  if (auto r = read_bounded(o, f_ce, d.ce, ce_bounds, d, clamp))
    return r;
  if (auto r = read_bounded(o, f_le, d.le, le_bounds, d, clamp))
    return r;
  if (auto r = read_number(o, f_confidence, d.confidence, 0, 1))
    return r;
  if (auto r = read_bounded(o, f_course, d.course, course_bounds, d, clamp))
    return r;
  if (auto r = read_bounded(o, f_speed, d.speed, speed_bounds, d, clamp))
    return r;
  if (auto r = read_number(o, f_stale_s, d.stale_s, 1, 31 * 24 * 3600))
    return r;
  return std::nullopt;
}

result decode_flat(const members& o, detection& d, size_t max_text,
                   bool clamp) {
  if (auto r = read_identifier(o, f_id, d.id, true, max_id))
    return r;
  if (auto r = read_time(o, f_time, d.time_ms, true))
    return r;
  // A record that ends a track needs no position: it becomes a delete.
  auto ended = o[f_ended];
  bool ending = ended && ended->IsBool() && ended->GetBool();
  // A position outside the globe is never clamped: the event would be
  // drawn where nothing was reported.
  if (auto r = read_number(o, f_lat, d.lat, min_lat, max_lat, !ending))
    return r;
  if (auto r = read_number(o, f_lon, d.lon, min_lon, max_lon, !ending))
    return r;
  if (auto r = read_bounded(o, f_hae, d.hae, hae_bounds, d, clamp))
    return r;
  return read_common(o, d, max_text, clamp);
}

/// What the reading of a record's fields depends on besides the record.
struct settings {
  size_t max_text;
  size_t max_vertices;
  bool missing_time_ok;
  bool clamp;
};

/// A Feature's CloudTAK properties and drawing, read again from `bytes`.
result read_cloudtak(std::string_view bytes, detection& d, const settings& s) {
  return cloudtak::read(bytes, d, {s.max_text, s.max_vertices, s.clamp});
}

result decode_feature(const record_view& view, std::string_view bytes,
                      detection& d, const settings& s) {
  auto max_text = s.max_text;
  auto clamp = s.clamp;
  const members& o = view.top;
  auto geo = o.given(f_geometry);
  if (!geo)
    return refuse(refusal_reason::missing_field, "geometry");
  if (!geo->IsObject())
    return refuse(refusal_reason::wrong_type, "geometry must be an object");
  if (!view.geo_type.IsString())
    return refuse(refusal_reason::missing_field, "geometry.type");
  std::string_view gt{view.geo_type.GetString(),
                      view.geo_type.GetStringLength()};
  bool drawn = cloudtak::is_drawing(gt);
  if (gt != "Point" && !drawn) {
    // The record's own text goes into a Kafka header: UTF-8 only.
    std::string named{gt.substr(0, 64)};
    xml_text::replace_flaws(named);
    return refuse(refusal_reason::unsupported_geometry,
                  named + " (only Point, LineString and Polygon)");
  }
  if (drawn) {
    // Its vertices, style and point; its other properties as a Point's.
    if (auto r = read_cloudtak(bytes, d, s))
      return r;
  } else {
    if (view.coords.kind == value::absent)
      return refuse(refusal_reason::missing_field, "geometry.coordinates");
    auto size = view.coords.i;
    if (view.coords.kind != value::array || size < 2 || size > 3)
      return refuse(refusal_reason::wrong_type,
                    "geometry.coordinates must be [lon, lat, hae?]");
    if (auto r = number_value("lon", view.coord[0], d.lon, min_lon, max_lon))
      return r;
    if (auto r = number_value("lat", view.coord[1], d.lat, min_lat, max_lat))
      return r;
    if (size == 3)
      if (auto r = bounded_value("hae", view.coord[2], d.hae, hae_bounds, d,
                                 clamp))
        return r;
  }
  // No properties (absent or null): none of their members were kept, as
  // for an empty object.
  const members& props = view.props;
  if (auto given = o.given(f_properties))
    if (!given->IsObject())
      return refuse(refusal_reason::wrong_type, "properties must be an object");
  // The id: the Feature's own id, else properties.uid or properties.id.
  if (auto r = read_identifier(o, f_id, d.id, false, max_id))
    return r;
  if (d.id.empty())
    if (auto r = read_identifier(props, f_uid, d.id, false, max_id))
      return r;
  if (d.id.empty())
    if (auto r = read_identifier(props, f_id, d.id, true, max_id))
      return refuse(r->reason, "id (Feature id, properties.uid or "
                               "properties.id)");
  if (auto r = read_time(props, f_time, d.time_ms, false))
    return r;
  if (auto r = read_time(props, f_start, d.start_ms, false))
    return r;
  if (auto r = read_time(props, f_stale, d.stale_ms, false))
    return r;
  if (d.time_ms == 0)
    d.time_ms = d.start_ms;
  // Without a time it is left at 0 for fill_missing_time, when allowed.
  if (d.time_ms == 0 && !s.missing_time_ok)
    return refuse(refusal_reason::missing_field, "properties.time");
  if (auto r = read_string(props, f_type, d.type, false, max_code))
    return r;
  if (!d.type.empty() && !is_cot_type(d.type))
    return refuse(refusal_reason::wrong_type,
                  "properties.type is not a CoT type");
  // A drawing is a u-d-f shape unless the Feature names its type.
  if (drawn && d.type.empty())
    d.type = "u-d-f";
  if (std::isnan(d.hae))
    if (auto r = read_bounded(props, f_hae, d.hae, hae_bounds, d, clamp))
      return r;
  if (auto r = read_common(props, d, max_text, clamp))
    return r;
  if (view.extended && !drawn)
    return read_cloudtak(bytes, d, s);
  return std::nullopt;
}

/// A parser for the JSON that producers send nearly always: ASCII text
/// without escapes, numbers of at most 15 digits without an exponent. It
/// gives the handler the same events RapidJSON would, in the same order,
/// without copying the record first. On anything else (an escape, a byte
/// outside printable ASCII in a string, an exponent, a longer number,
/// NaN, nesting past max_depth, or any error) it gives up, and RapidJSON
/// parses the record from the start: refusals and their texts stay
/// RapidJSON's.
class fast_parser {
public:
  fast_parser(std::string_view text, view_handler& h)
    : p_(text.data()), end_(text.data() + text.size()), h_(h) {}

  /// True when the text was within the subset and is valid JSON.
  bool parse() {
    skip_ws();
    if (!value(0))
      return false;
    skip_ws();
    // The end of the text, or a NUL byte: RapidJSON's end of input too.
    return p_ == end_ || *p_ == '\0';
  }

private:
  char peek() const {
    return p_ < end_ ? *p_ : '\0';
  }

  void skip_ws() {
    while (p_ < end_
           && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t'))
      ++p_;
  }

  bool value(unsigned depth) {
    switch (peek()) {
      case '{':
        return object(depth + 1);
      case '[':
        return array(depth + 1);
      case '"': {
        const char* s;
        uint32_t n;
        return string(s, n) && h_.String(s, n, false);
      }
      case 't':
        return literal("true", 4) && h_.Bool(true);
      case 'f':
        return literal("false", 5) && h_.Bool(false);
      case 'n':
        return literal("null", 4) && h_.Null();
      default:
        return number();
    }
  }

  bool literal(const char* word, size_t n) {
    if (static_cast<size_t>(end_ - p_) < n || std::memcmp(p_, word, n) != 0)
      return false;
    p_ += n;
    return true;
  }

  /// A string of printable ASCII without escapes; p_ is at its quote.
  bool string(const char*& s, uint32_t& n) {
    s = ++p_;
#if defined(__SSE2__)
    // 16 bytes at a time while they are there: the first quote, backslash,
    // control byte or byte >= 0x80 (negative as a signed byte, so below
    // 0x20 too) ends the scan.
    const __m128i quote = _mm_set1_epi8('"');
    const __m128i backslash = _mm_set1_epi8('\\');
    const __m128i space = _mm_set1_epi8(0x20);
    while (end_ - p_ >= 16) {
      auto x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p_));
      auto stop = _mm_or_si128(
        _mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, backslash)),
        _mm_cmplt_epi8(x, space));
      auto mask = static_cast<unsigned>(_mm_movemask_epi8(stop));
      if (mask == 0) {
        p_ += 16;
        continue;
      }
      p_ += __builtin_ctz(mask);
      if (*p_ != '"')
        return false;
      n = static_cast<uint32_t>(p_ - s);
      ++p_;
      return true;
    }
#endif
    for (; p_ < end_; ++p_) {
      auto c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        n = static_cast<uint32_t>(p_ - s);
        ++p_;
        return true;
      }
      if (c < 0x20 || c >= 0x80 || c == '\\')
        return false;
    }
    return false;
  }

  /// -?(0|[1-9][0-9]*)(.[0-9]+)? with at most 15 digits in all: the
  /// integer is exact in an int64 and the decimal is one correctly rounded
  /// division by an exact power of ten, as RapidJSON computes it.
  bool number() {
    static constexpr double pow10[] = {1e0,  1e1,  1e2,  1e3, 1e4,  1e5,
                                       1e6,  1e7,  1e8,  1e9, 1e10, 1e11,
                                       1e12, 1e13, 1e14, 1e15};
    bool minus = peek() == '-';
    if (minus)
      ++p_;
    auto digit = [&] { return p_ < end_ && *p_ >= '0' && *p_ <= '9'; };
    if (!digit())
      return false;
    uint64_t sig = 0;
    int digits = 0;
    if (*p_ == '0') {
      ++p_;
      digits = 1;
      if (digit())
        return false; // a leading zero: RapidJSON refuses it
    } else {
      for (; digit(); ++p_, ++digits)
        sig = sig * 10 + static_cast<uint64_t>(*p_ - '0');
    }
    int frac = 0;
    if (p_ < end_ && *p_ == '.') {
      ++p_;
      if (!digit())
        return false;
      for (; digit(); ++p_, ++frac)
        sig = sig * 10 + static_cast<uint64_t>(*p_ - '0');
    }
    if (digits + frac > 15 || (p_ < end_ && (*p_ == 'e' || *p_ == 'E')))
      return false;
    if (frac == 0) {
      auto i = static_cast<int64_t>(sig);
      return h_.Int64(minus ? -i : i);
    }
    double d = static_cast<double>(sig) / pow10[frac];
    return h_.Double(minus ? -d : d);
  }

  bool object(unsigned depth) {
    if (depth > max_depth || !h_.StartObject())
      return false;
    ++p_;
    skip_ws();
    if (peek() == '}') {
      ++p_;
      return h_.EndObject(0);
    }
    for (;;) {
      if (peek() != '"')
        return false;
      const char* s;
      uint32_t n;
      if (!string(s, n) || !h_.Key(s, n, false))
        return false;
      skip_ws();
      if (peek() != ':')
        return false;
      ++p_;
      skip_ws();
      if (!value(depth))
        return false;
      skip_ws();
      auto c = peek();
      ++p_;
      if (c == '}')
        return h_.EndObject(0);
      if (c != ',')
        return false;
      skip_ws();
    }
  }

  bool array(unsigned depth) {
    if (depth > max_depth || !h_.StartArray())
      return false;
    ++p_;
    skip_ws();
    if (peek() == ']') {
      ++p_;
      return h_.EndArray(0);
    }
    for (;;) {
      if (!value(depth))
        return false;
      skip_ws();
      auto c = peek();
      ++p_;
      if (c == ']')
        return h_.EndArray(0);
      if (c != ',')
        return false;
      skip_ws();
    }
  }

  const char* p_;
  const char* end_;
  view_handler& h_;
};

/// The detection (or the refusal) from a parsed record's view.
result interpret(const record_view& view, std::string_view bytes,
                 detection& out, const settings& s) {
  if (!view.top_kind.IsObject())
    return refuse(refusal_reason::not_an_object, "top level is not an object");
  auto type = view.top[f_type];
  if (type && type->IsString()) {
    std::string_view t{type->GetString(), type->GetStringLength()};
    if (t == "Feature")
      return decode_feature(view, bytes, out, s);
    if (t == "FeatureCollection")
      return refuse(refusal_reason::unsupported_geometry,
                    "FeatureCollection (send one Feature per record)");
  }
  return decode_flat(view.top, out, s.max_text, s.clamp);
}

} // namespace

struct decoder::impl {
  // Parse memory reused across records: the SAX parser's stack (strings
  // and object nesting when parsing iteratively).
  alignas(8) char stack[8 * 1024];
  // The record's bytes, parsed in place: strings are unescaped where they
  // are, and RapidJSON's SIMD scans apply. Zero padding past the end: the
  // scans read whole 16-byte blocks.
  std::vector<char> text;
  record_view view;
};

decoder::decoder(size_t max_bytes, bool fast)
  : impl_(new impl), max_bytes_(max_bytes), fast_(fast) {}

decoder::decoder(const config& cfg)
  : decoder(static_cast<size_t>(cfg.pipeline.max_record_bytes)) {
  max_text(static_cast<size_t>(cfg.pipeline.max_text_bytes));
  allow_missing_time(cfg.cot.missing_time != "refuse");
  clamp_out_of_range(cfg.cot.out_of_range == "clamp");
  max_vertices(static_cast<size_t>(cfg.cot.max_vertices));
}

decoder::~decoder() {
  delete impl_;
}

namespace {

/// Copies `bytes` into `text` (zero padded) and parses it in place into
/// `view`, stopping past `depth_limit` levels of nesting.
template <unsigned Flags>
rapidjson::ParseResult
parse_into(std::string_view bytes, std::vector<char>& text, char* stack,
           size_t stack_size, record_view& view, unsigned depth_limit) {
  constexpr size_t padding = 16;
  if (text.size() < bytes.size() + padding)
    text.resize(bytes.size() + padding);
  std::memcpy(text.data(), bytes.data(), bytes.size());
  std::memset(text.data() + bytes.size(), 0, padding);
  view.clear();
  rapidjson::MemoryPoolAllocator<> stack_alloc{stack, stack_size};
  rapidjson::GenericReader<rapidjson::UTF8<>, rapidjson::UTF8<>,
                           rapidjson::MemoryPoolAllocator<>>
    reader{&stack_alloc, stack_size / 2};
  rapidjson::InsituStringStream in{text.data()};
  view_handler handler{view, depth_limit};
  return reader.Parse<Flags | rapidjson::kParseInsituFlag>(in, handler);
}

} // namespace

std::optional<refusal> decoder::decode(std::string_view bytes, detection& out) {
  out.clear();
  if (bytes.size() > max_bytes_)
    return refuse(refusal_reason::too_large, std::to_string(bytes.size())
                                               + " bytes > "
                                               + std::to_string(max_bytes_));
  // A UTF-8 byte order mark is not part of the JSON text; error offsets
  // still count it.
  size_t bom = bytes.substr(0, 3) == "\xEF\xBB\xBF" ? 3 : 0;
  bytes.remove_prefix(bom);
  auto& view = impl_->view;
  settings s{max_text_, max_vertices_, missing_time_ok_, clamp_};
  if (fast_) {
    view.clear();
    view_handler handler{view, max_depth};
    if (fast_parser{bytes, handler}.parse())
      return interpret(view, bytes, out, s);
  }
  // A NUL byte ends the text here as the end of `bytes` did before: both
  // streams read it as the end (JSON has no raw NUL anywhere).
  auto& text = impl_->text;
  auto* stack = impl_->stack;
  constexpr auto stack_size = sizeof(impl_->stack);
  bool ascii = plain_ascii(bytes);
  auto res = ascii ? parse_into<ascii_parse_flags>(bytes, text, stack,
                                                   stack_size, view, max_depth)
                   : parse_into<parse_flags>(bytes, text, stack, stack_size,
                                             view, max_depth);
  if (view.too_deep) // again from the start, with no limit
    res = ascii ? parse_into<ascii_deep_parse_flags>(bytes, text, stack,
                                                     stack_size, view, UINT_MAX)
                : parse_into<deep_parse_flags>(bytes, text, stack, stack_size,
                                               view, UINT_MAX);
  if (res.IsError()) {
    auto code = res.Code();
    if (code == rapidjson::kParseErrorNumberTooBig)
      return refuse(refusal_reason::non_finite, "number too big");
    return refuse(refusal_reason::invalid_json,
                  std::string{rapidjson::GetParseError_En(code)} + " at byte "
                    + std::to_string(res.Offset() + bom));
  }
  return interpret(view, bytes, out, s);
}

} // namespace cotflow
