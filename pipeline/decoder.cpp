#include "pipeline/decoder.hpp"

#include "pipeline/json.hpp"
#include "pipeline/time.hpp"

#include <cmath>
#include <cstring>
#include <string>

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

bool is_ascii(std::string_view s) {
  const char* p = s.data();
  size_t n = s.size();
  uint64_t any = 0;
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    any |= w;
  }
  for (; n > 0; ++p, --n)
    any |= static_cast<unsigned char>(*p);
  return (any & 0x8080808080808080ULL) == 0;
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

/// Reads an optional string field (a number is accepted and printed).
result read_string(const value& obj, const char* name, std::string& out,
                   bool required = false, size_t max = max_text) {
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd() || it->value.IsNull()) {
    if (required)
      return refuse(refusal_reason::missing_field, name);
    return std::nullopt;
  }
  const auto& v = it->value;
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
result read_number(const value& obj, const char* name, double& out, double lo,
                   double hi, bool required = false) {
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd() || it->value.IsNull()) {
    if (required)
      return refuse(refusal_reason::missing_field, name);
    return std::nullopt;
  }
  return number_value(name, it->value, out, lo, hi);
}

/// Reads a time: RFC 3339 text or epoch milliseconds.
result read_time(const value& obj, const char* name, int64_t& out,
                 bool required) {
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd() || it->value.IsNull()) {
    if (required)
      return refuse(refusal_reason::missing_field, name);
    return std::nullopt;
  }
  const auto& v = it->value;
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
result read_common(const value& o, detection& d) {
  if (auto r = read_string(o, "source", d.source))
    return r;
  if (auto r = read_string(o, "classification", d.classification))
    return r;
  if (auto r = read_string(o, "affiliation", d.affiliation))
    return r;
  if (auto r = read_string(o, "callsign", d.callsign))
    return r;
  if (auto r = read_string(o, "remarks", d.remarks))
    return r;
  if (auto r = read_string(o, "how", d.how, false, 64))
    return r;
  if (!d.how.empty() && !is_cot_type(d.how))
    return refuse(refusal_reason::wrong_type, "how is not a CoT how code");
  if (auto r = read_string(o, "geopointsrc", d.geopointsrc, false, 64))
    return r;
  if (auto r = read_string(o, "altsrc", d.altsrc, false, 64))
    return r;
  if (auto ended = o.FindMember("ended"); ended != o.MemberEnd()) {
    if (!ended->value.IsBool())
      return refuse(refusal_reason::wrong_type, "ended must be true or false");
    d.ended = ended->value.GetBool();
  }
  if (auto r = read_number(o, "ce", d.ce, 0, 9999999))
    return r;
  if (auto r = read_number(o, "le", d.le, 0, 9999999))
    return r;
  if (auto r = read_number(o, "confidence", d.confidence, 0, 1))
    return r;
  if (auto r = read_number(o, "course", d.course, 0, 360))
    return r;
  if (auto r = read_number(o, "speed", d.speed, 0, 9999999))
    return r;
  if (auto r = read_number(o, "stale_s", d.stale_s, 1, 31 * 24 * 3600))
    return r;
  return std::nullopt;
}

result decode_flat(const value& o, detection& d) {
  if (auto r = read_string(o, "id", d.id, true, max_id))
    return r;
  if (auto r = read_time(o, "time", d.time_ms, true))
    return r;
  // A record that ends a track needs no position: it becomes a delete.
  auto ended = o.FindMember("ended");
  bool ending = ended != o.MemberEnd() && ended->value.IsBool()
                && ended->value.GetBool();
  if (auto r = read_number(o, "lat", d.lat, -90, 90, !ending))
    return r;
  if (auto r = read_number(o, "lon", d.lon, -180, 180, !ending))
    return r;
  if (auto r = read_number(o, "hae", d.hae, -20000, 9999999))
    return r;
  return read_common(o, d);
}

result decode_feature(const value& o, detection& d) {
  auto geo = o.FindMember("geometry");
  if (geo == o.MemberEnd() || geo->value.IsNull())
    return refuse(refusal_reason::missing_field, "geometry");
  if (!geo->value.IsObject())
    return refuse(refusal_reason::wrong_type, "geometry must be an object");
  auto gtype = geo->value.FindMember("type");
  if (gtype == geo->value.MemberEnd() || !gtype->value.IsString())
    return refuse(refusal_reason::missing_field, "geometry.type");
  std::string_view gt{gtype->value.GetString(),
                      gtype->value.GetStringLength()};
  if (gt != "Point")
    return refuse(refusal_reason::unsupported_geometry,
                  std::string{gt.substr(0, 64)} + " (only Point)");
  auto coords = geo->value.FindMember("coordinates");
  if (coords == geo->value.MemberEnd())
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
  auto props_it = o.FindMember("properties");
  static const value empty_object{rapidjson::kObjectType};
  const value* props = &empty_object;
  if (props_it != o.MemberEnd() && !props_it->value.IsNull()) {
    if (!props_it->value.IsObject())
      return refuse(refusal_reason::wrong_type,
                    "properties must be an object");
    props = &props_it->value;
  }
  // The id: the Feature's own id, else properties.uid or properties.id.
  if (auto r = read_string(o, "id", d.id, false, max_id))
    return r;
  if (d.id.empty())
    if (auto r = read_string(*props, "uid", d.id, false, max_id))
      return r;
  if (d.id.empty())
    if (auto r = read_string(*props, "id", d.id, true, max_id))
      return refuse(r->reason, "id (Feature id, properties.uid or "
                               "properties.id)");
  if (auto r = read_time(*props, "time", d.time_ms, false))
    return r;
  if (auto r = read_time(*props, "start", d.start_ms, false))
    return r;
  if (auto r = read_time(*props, "stale", d.stale_ms, false))
    return r;
  if (d.time_ms == 0)
    d.time_ms = d.start_ms;
  if (d.time_ms == 0)
    return refuse(refusal_reason::missing_field, "properties.time");
  if (auto r = read_string(*props, "type", d.type, false, 64))
    return r;
  if (!d.type.empty() && !is_cot_type(d.type))
    return refuse(refusal_reason::wrong_type,
                  "properties.type is not a CoT type");
  if (std::isnan(d.hae))
    if (auto r = read_number(*props, "hae", d.hae, -20000, 9999999))
      return r;
  return read_common(*props, d);
}

} // namespace

struct decoder::impl {
  // Parse memory reused across records; larger documents spill to the heap
  // and give it back when the document goes.
  alignas(8) char values[32 * 1024];
  alignas(8) char stack[8 * 1024];
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
  if (is_ascii(bytes))
    doc.Parse<ascii_parse_flags>(bytes.data(), bytes.size());
  else
    doc.Parse<parse_flags>(bytes.data(), bytes.size());
  if (doc.HasParseError()) {
    auto code = doc.GetParseError();
    if (code == rapidjson::kParseErrorNumberTooBig)
      return refuse(refusal_reason::non_finite, "number too big");
    return refuse(refusal_reason::invalid_json,
                  std::string{rapidjson::GetParseError_En(code)} + " at byte "
                    + std::to_string(doc.GetErrorOffset()));
  }
  if (!doc.IsObject())
    return refuse(refusal_reason::not_an_object, "top level is not an object");
  auto type = doc.FindMember("type");
  if (type != doc.MemberEnd() && type->value.IsString()) {
    std::string_view t{type->value.GetString(), type->value.GetStringLength()};
    if (t == "Feature")
      return decode_feature(doc, out);
    if (t == "FeatureCollection")
      return refuse(refusal_reason::unsupported_geometry,
                    "FeatureCollection (send one Feature per record)");
  }
  return decode_flat(doc, out);
}

} // namespace cotflow
