#include "pipeline/decoder.hpp"

#include "pipeline/json.hpp"
#include "pipeline/time.hpp"

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

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
  lat = lon = hae = ce = le = confidence = course = speed = stale_s = NAN;
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
  }
  return "unknown";
}

namespace {

using allocator = rapidjson::MemoryPoolAllocator<>;
using document = rapidjson::GenericDocument<rapidjson::UTF8<>, allocator,
                                            allocator>;
using value = document::ValueType;

// Iterative: a hostile, deeply nested record must not exhaust the stack.
constexpr unsigned parse_flags = rapidjson::kParseIterativeFlag
                                 | rapidjson::kParseValidateEncodingFlag
                                 | rapidjson::kParseNanAndInfFlag;
// For input that is all ASCII, which is valid UTF-8 as it is: RapidJSON's
// byte-by-byte validation was a tenth of decode + encode (bench_codec
// profile). \u escapes are checked the same way with either flag set.
constexpr unsigned ascii_parse_flags = parse_flags
                                       & ~rapidjson::kParseValidateEncodingFlag;

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

// Epoch milliseconds accepted as times: 2000-01-01 .. 2100-01-01. A number
// below that is almost always epoch seconds sent by mistake.
constexpr int64_t min_epoch_ms = 946684800000;
constexpr int64_t max_epoch_ms = 4102444800000;
constexpr size_t max_text = 4096;
constexpr size_t max_id = 256;

using result = std::optional<refusal>;

result refuse(refusal_reason r, std::string detail) {
  return refusal{r, std::move(detail)};
}

// The fields cotflow reads, in one table: an object's members are matched
// against it in a single pass (`members`) instead of one linear FindMember
// scan per field (~20 per record).
enum field : uint8_t {
  f_id, f_uid, f_time, f_start, f_stale, f_type, f_geometry, f_properties,
  f_lat, f_lon, f_hae, f_ended, f_source, f_classification, f_affiliation,
  f_callsign, f_remarks, f_how, f_geopointsrc, f_altsrc, f_ce, f_le,
  f_confidence, f_course, f_speed, f_stale_s, field_count
};

constexpr const char* field_names[field_count] = {
  "id", "uid", "time", "start", "stale", "type", "geometry", "properties",
  "lat", "lon", "hae", "ended", "source", "classification", "affiliation",
  "callsign", "remarks", "how", "geopointsrc", "altsrc", "ce", "le",
  "confidence", "course", "speed", "stale_s",
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

/// The members of one object that cotflow reads. As with FindMember, the
/// first of duplicate names counts.
class members {
public:
  members() = default;

  explicit members(const value& obj) {
    for (auto it = obj.MemberBegin(); it != obj.MemberEnd(); ++it) {
      auto f = field_of(it->name.GetString(), it->name.GetStringLength());
      if (f >= 0 && !v_[f])
        v_[f] = &it->value;
    }
  }

  /// The member's value; null when absent.
  const value* operator[](field f) const {
    return v_[f];
  }

  /// The member's value when present and not JSON null.
  const value* given(field f) const {
    return v_[f] && !v_[f]->IsNull() ? v_[f] : nullptr;
  }

private:
  const value* v_[field_count] = {};
};

/// Reads an optional string field (a number is accepted and printed).
result read_string(const members& obj, field f, std::string& out,
                   bool required = false, size_t max = max_text) {
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
                    std::string{name} + " longer than "
                      + std::to_string(max));
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

result check_number(const char* name, double v, double lo, double hi) {
  if (!std::isfinite(v))
    return refuse(refusal_reason::non_finite, name);
  if (v < lo || v > hi)
    return refuse(refusal_reason::out_of_range,
                  std::string{name} + " outside [" + std::to_string(lo) + ", "
                    + std::to_string(hi) + "]");
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
    out = static_cast<int64_t>(d);
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

/// The properties both shapes share.
result read_common(const members& o, detection& d) {
  if (auto r = read_string(o, f_source, d.source))
    return r;
  if (auto r = read_string(o, f_classification, d.classification))
    return r;
  if (auto r = read_string(o, f_affiliation, d.affiliation))
    return r;
  if (auto r = read_string(o, f_callsign, d.callsign))
    return r;
  if (auto r = read_string(o, f_remarks, d.remarks))
    return r;
  if (auto r = read_string(o, f_how, d.how, false, 64))
    return r;
  if (!d.how.empty() && !is_cot_type(d.how))
    return refuse(refusal_reason::wrong_type, "how is not a CoT how code");
  if (auto r = read_string(o, f_geopointsrc, d.geopointsrc, false, 64))
    return r;
  if (auto r = read_string(o, f_altsrc, d.altsrc, false, 64))
    return r;
  if (auto ended = o[f_ended]) {
    if (!ended->IsBool())
      return refuse(refusal_reason::wrong_type, "ended must be true or false");
    d.ended = ended->GetBool();
  }
  if (auto r = read_number(o, f_ce, d.ce, 0, 9999999))
    return r;
  if (auto r = read_number(o, f_le, d.le, 0, 9999999))
    return r;
  if (auto r = read_number(o, f_confidence, d.confidence, 0, 1))
    return r;
  if (auto r = read_number(o, f_course, d.course, 0, 360))
    return r;
  if (auto r = read_number(o, f_speed, d.speed, 0, 9999999))
    return r;
  if (auto r = read_number(o, f_stale_s, d.stale_s, 1, 31 * 24 * 3600))
    return r;
  return std::nullopt;
}

result decode_flat(const members& o, detection& d) {
  if (auto r = read_string(o, f_id, d.id, true, max_id))
    return r;
  if (auto r = read_time(o, f_time, d.time_ms, true))
    return r;
  // A record that ends a track needs no position: it becomes a delete.
  auto ended = o[f_ended];
  bool ending = ended && ended->IsBool() && ended->GetBool();
  if (auto r = read_number(o, f_lat, d.lat, -90, 90, !ending))
    return r;
  if (auto r = read_number(o, f_lon, d.lon, -180, 180, !ending))
    return r;
  if (auto r = read_number(o, f_hae, d.hae, -20000, 9999999))
    return r;
  return read_common(o, d);
}

result decode_feature(const members& o, detection& d) {
  auto geo = o.given(f_geometry);
  if (!geo)
    return refuse(refusal_reason::missing_field, "geometry");
  if (!geo->IsObject())
    return refuse(refusal_reason::wrong_type, "geometry must be an object");
  auto gtype = geo->FindMember("type");
  if (gtype == geo->MemberEnd() || !gtype->value.IsString())
    return refuse(refusal_reason::missing_field, "geometry.type");
  std::string_view gt{gtype->value.GetString(),
                      gtype->value.GetStringLength()};
  if (gt != "Point")
    return refuse(refusal_reason::unsupported_geometry,
                  std::string{gt.substr(0, 64)} + " (only Point)");
  auto coords = geo->FindMember("coordinates");
  if (coords == geo->MemberEnd())
    return refuse(refusal_reason::missing_field, "geometry.coordinates");
  const auto& c = coords->value;
  if (!c.IsArray() || c.Size() < 2 || c.Size() > 3)
    return refuse(refusal_reason::wrong_type,
                  "geometry.coordinates must be [lon, lat, hae?]");
  if (auto r = number_value("lon", c[0], d.lon, -180, 180))
    return r;
  if (auto r = number_value("lat", c[1], d.lat, -90, 90))
    return r;
  if (c.Size() == 3)
    if (auto r = number_value("hae", c[2], d.hae, -20000, 9999999))
      return r;
  members props; // no properties: as an empty object
  if (auto given = o.given(f_properties)) {
    if (!given->IsObject())
      return refuse(refusal_reason::wrong_type,
                    "properties must be an object");
    props = members{*given};
  }
  // The id: the Feature's own id, else properties.uid or properties.id.
  if (auto r = read_string(o, f_id, d.id, false, max_id))
    return r;
  if (d.id.empty())
    if (auto r = read_string(props, f_uid, d.id, false, max_id))
      return r;
  if (d.id.empty())
    if (auto r = read_string(props, f_id, d.id, true, max_id))
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
  if (d.time_ms == 0)
    return refuse(refusal_reason::missing_field, "properties.time");
  if (auto r = read_string(props, f_type, d.type, false, 64))
    return r;
  if (!d.type.empty() && !is_cot_type(d.type))
    return refuse(refusal_reason::wrong_type,
                  "properties.type is not a CoT type");
  if (std::isnan(d.hae))
    if (auto r = read_number(props, f_hae, d.hae, -20000, 9999999))
      return r;
  return read_common(props, d);
}

} // namespace

struct decoder::impl {
  // Parse memory reused across records; larger documents spill to the heap
  // and give it back when the document goes.
  alignas(8) char values[32 * 1024];
  alignas(8) char stack[8 * 1024];
  // The record's bytes, parsed in place: strings are unescaped where they
  // are instead of copied into `values`, and RapidJSON's SIMD scans apply.
  // Zero padding past the end: the scans read whole 16-byte blocks.
  std::vector<char> text;
};

decoder::decoder(size_t max_bytes) : impl_(new impl), max_bytes_(max_bytes) {
}

decoder::~decoder() {
  delete impl_;
}

std::optional<refusal> decoder::decode(std::string_view bytes,
                                       detection& out) {
  out.clear();
  if (bytes.size() > max_bytes_)
    return refuse(refusal_reason::too_large,
                  std::to_string(bytes.size()) + " bytes > "
                    + std::to_string(max_bytes_));
  allocator values{impl_->values, sizeof(impl_->values)};
  allocator stack{impl_->stack, sizeof(impl_->stack)};
  document doc{&values, sizeof(impl_->stack) / 2, &stack};
  // A UTF-8 byte order mark is not part of the JSON text; error offsets
  // still count it.
  size_t bom = bytes.substr(0, 3) == "\xEF\xBB\xBF" ? 3 : 0;
  bytes.remove_prefix(bom);
  auto& text = impl_->text;
  constexpr size_t padding = 16;
  if (text.size() < bytes.size() + padding)
    text.resize(bytes.size() + padding);
  std::memcpy(text.data(), bytes.data(), bytes.size());
  std::memset(text.data() + bytes.size(), 0, padding);
  // A NUL byte ends the text here as the end of `bytes` did before: both
  // streams read it as the end (JSON has no raw NUL anywhere).
  if (plain_ascii(bytes))
    doc.ParseInsitu<ascii_parse_flags>(text.data());
  else
    doc.ParseInsitu<parse_flags>(text.data());
  if (doc.HasParseError()) {
    auto code = doc.GetParseError();
    if (code == rapidjson::kParseErrorNumberTooBig)
      return refuse(refusal_reason::non_finite, "number too big");
    return refuse(refusal_reason::invalid_json,
                  std::string{rapidjson::GetParseError_En(code)} + " at byte "
                    + std::to_string(doc.GetErrorOffset() + bom));
  }
  if (!doc.IsObject())
    return refuse(refusal_reason::not_an_object, "top level is not an object");
  members top{doc};
  auto type = top[f_type];
  if (type && type->IsString()) {
    std::string_view t{type->GetString(), type->GetStringLength()};
    if (t == "Feature")
      return decode_feature(top, out);
    if (t == "FeatureCollection")
      return refuse(refusal_reason::unsupported_geometry,
                    "FeatureCollection (send one Feature per record)");
  }
  return decode_flat(top, out);
}

} // namespace cotflow
