#include "pipeline/cot_encoder.hpp"

#include "pipeline/time.hpp"

#include <charconv>
#include <cmath>

namespace cotflow {

namespace {

constexpr double unknown = 9999999.0;

constexpr double pow10[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};
constexpr uint64_t ipow10[] = {1,          10,          100,
                               1000,       10000,       100000,
                               1000000,    10000000,    100000000,
                               1000000000};

/// `v` with `precision` decimals, exactly as printf's %.*f writes it, without
/// printf (libstdc++'s to_chars with a precision goes through it; it was the
/// largest part of encoding coordinates). False when `v` is out of the fast
/// path's reach: too large, not finite, or too close to a rounding tie to be
/// sure which way the exact binary value rounds.
bool fixed_fast(double v, int precision, char* buf, char*& end) {
  if (precision < 1 || precision > 9)
    return false;
  double a = std::fabs(v);
  double scaled = a * pow10[precision];
  if (!(scaled < 1e14)) // also NaN
    return false;
  // `scaled` is a*10^p rounded once, so within half an ulp (< 2^-52 of
  // it) of the exact product. Away from a tie both round the same way.
  double whole = std::floor(scaled);
  double frac = scaled - whole; // exact
  if (std::fabs(frac - 0.5) <= scaled * 0x1p-50 + 0x1p-60)
    return false;
  auto r = static_cast<uint64_t>(whole) + (frac > 0.5 ? 1 : 0);
  auto int_part = r / ipow10[precision];
  auto frac_part = r % ipow10[precision];
  char* p = buf;
  if (std::signbit(v))
    *p++ = '-';
  p = std::to_chars(p, p + 24, int_part).ptr;
  *p++ = '.';
  for (int i = precision - 1; i >= 0; --i) {
    p[i] = static_cast<char>('0' + frac_part % 10);
    frac_part /= 10;
  }
  end = p + precision;
  return true;
}

} // namespace

void append_fixed(std::string& out, double v, int precision) {
  char buf[330]; // DBL_MAX has 309 digits before the point
  char* end;
  if (!fixed_fast(v, precision, buf, end))
    end = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::fixed,
                        precision)
            .ptr;
  out.append(buf, end);
}

namespace {

void append_number(std::string& out, double v, int precision) {
  append_fixed(out, v, precision);
}

void append_time(std::string& out, int64_t ms) {
  char buf[24];
  format_rfc3339(ms, buf);
  out.append(buf, 24);
}

void attr(std::string& out, const char* name, std::string_view value) {
  out += ' ';
  out += name;
  out += "=\"";
  xml_escape(value, out);
  out += '"';
}

void num_attr(std::string& out, const char* name, double v, int precision) {
  out += ' ';
  out += name;
  out += "=\"";
  append_number(out, v, precision);
  out += '"';
}

void time_attr(std::string& out, const char* name, int64_t ms) {
  out += ' ';
  out += name;
  out += "=\"";
  append_time(out, ms);
  out += '"';
}

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

} // namespace

bool iless::operator()(std::string_view a, std::string_view b) const {
  auto n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    auto x = lower(a[i]), y = lower(b[i]);
    if (x != y)
      return x < y;
  }
  return a.size() < b.size();
}

std::string_view to_string(encode_outcome o) {
  switch (o) {
    case encode_outcome::encoded:
      return "encoded";
    case encode_outcome::dropped_stale:
      return "dropped_stale";
    case encode_outcome::dropped_too_old:
      return "dropped_too_old";
    case encode_outcome::dropped_low_confidence:
      return "dropped_low_confidence";
  }
  return "unknown";
}

namespace {

/// Bytes that xml_escape does not copy as they are: the five specials, the
/// controls and 0xEF (which starts U+FFFE and U+FFFF).
struct escape_table {
  bool special[256] = {};
  constexpr escape_table() {
    for (int c = 0; c < 0x20; ++c)
      special[c] = true;
    for (unsigned char c : {'<', '>', '&', '"', '\''})
      special[c] = true;
    special[0xEF] = true;
  }
};
constexpr escape_table escapes;

} // namespace

void xml_escape(std::string_view text, std::string& out) {
  const char* run = text.data(); // bytes not yet appended, copied as they are
  const char* end = text.data() + text.size();
  for (const char* p = run; p != end; ++p) {
    auto c = static_cast<unsigned char>(*p);
    if (!escapes.special[c])
      continue;
    std::string_view rep;
    const char* next = p + 1;
    switch (c) {
      case '<':
        rep = "&lt;";
        break;
      case '>':
        rep = "&gt;";
        break;
      case '&':
        rep = "&amp;";
        break;
      case '"':
        rep = "&quot;";
        break;
      case '\'':
        rep = "&apos;";
        break;
      case '\t':
        rep = "&#9;";
        break;
      case '\n':
        rep = "&#10;";
        break;
      case '\r':
        rep = "&#13;";
        break;
      case 0xEF:
        // U+FFFE and U+FFFF (EF BF BE/BF) are not XML characters.
        if (end - p < 3 || static_cast<unsigned char>(p[1]) != 0xBF
            || (static_cast<unsigned char>(p[2]) & 0xFE) != 0xBE)
          continue; // another character: part of the run
        rep = "\xEF\xBF\xBD";
        next = p + 3;
        break;
      default:
        rep = "\xEF\xBF\xBD"; // XML 1.0 cannot carry these controls at all
    }
    out.append(run, p);
    out.append(rep);
    run = next;
    p = next - 1;
  }
  out.append(run, end);
}

cot_encoder::cot_encoder(const cot_config& cfg) : cfg_(cfg) {
  // Names match without regard to case; where two configured names differ
  // only in case, the first in the configuration's order counts.
  for (auto& [name, code] : cfg_.affiliation_codes)
    affiliations_.emplace(name, code.empty() ? 'u' : code[0]);
  for (auto& [name, suffix] : cfg_.classification_types)
    classifications_.emplace(name, suffix);
}

std::string ping_event(std::string_view uid, int64_t now) {
  std::string xml = "<event version=\"2.0\"";
  attr(xml, "uid", uid);
  xml += " type=\"t-x-c-t\" how=\"h-g-i-g-o\"";
  time_attr(xml, "time", now);
  time_attr(xml, "start", now);
  time_attr(xml, "stale", now + 20000);
  xml += "><point lat=\"0.0\" lon=\"0.0\" hae=\"0.0\" ce=\"9999999.0\" "
         "le=\"9999999.0\"/><detail/></event>";
  return xml;
}

std::string cot_encoder::cot_type(const detection& d) const {
  if (!d.type.empty())
    return d.type;
  char aff = 'u';
  if (!d.affiliation.empty())
    if (auto code = affiliations_.find(d.affiliation);
        code != affiliations_.end())
      aff = code->second;
  if (!d.classification.empty())
    if (auto suffix = classifications_.find(d.classification);
        suffix != classifications_.end()) {
      std::string t;
      t.reserve(4 + suffix->second.size());
      t += "a-";
      t += aff;
      t += '-';
      t += suffix->second;
      return t;
    }
  // Unknown classification: the default type, with the affiliation we know.
  auto t = cfg_.default_type;
  if (!d.affiliation.empty() && t.size() >= 3 && t[0] == 'a' && t[1] == '-'
      && (t.size() == 3 || t[3] == '-'))
    t[2] = aff;
  return t;
}

void cot_encoder::uid(const detection& d, std::string& out) const {
  out = cfg_.uid_prefix;
  if (!d.source.empty()) {
    out += d.source;
    out += '-';
  }
  out += d.id;
}

void cot_encoder::append_uid(const detection& d, std::string& xml) const {
  xml_escape(cfg_.uid_prefix, xml);
  if (!d.source.empty()) {
    xml_escape(d.source, xml);
    xml += '-';
  }
  xml_escape(d.id, xml);
}

int64_t cot_encoder::ttl_s(const std::string& type) const {
  size_t best = 0;
  int64_t ttl = cfg_.stale_s;
  for (auto& [prefix, s] : cfg_.stale_by_type) {
    if (prefix.size() > best && type.compare(0, prefix.size(), prefix) == 0
        && (type.size() == prefix.size() || type[prefix.size()] == '-')) {
      best = prefix.size();
      ttl = s;
    }
  }
  return ttl;
}

encode_outcome cot_encoder::encode(const detection& d, int64_t now,
                                   std::string& xml,
                                   std::string* type_out,
                                   int64_t* stale_out) const {
  xml.clear();
  if (d.time_ms < now - cfg_.max_age_s * 1000)
    return encode_outcome::dropped_too_old;
  if (d.stale_ms != 0 && d.stale_ms <= now)
    return encode_outcome::dropped_stale;
  bool low_confidence = !std::isnan(d.confidence)
                        && d.confidence < cfg_.min_confidence;
  if (low_confidence && cfg_.low_confidence == "drop")
    return encode_outcome::dropped_low_confidence;
  auto type = cot_type(d);
  if (type_out)
    *type_out = d.ended ? std::string{"t-x-d-d"} : type;
  int64_t stale = d.stale_ms;
  if (stale == 0) {
    auto ttl = std::isnan(d.stale_s) ? ttl_s(type)
                                     : static_cast<int64_t>(d.stale_s);
    stale = std::max(now, d.time_ms) + ttl * 1000;
  }
  auto start = d.start_ms != 0 ? d.start_ms : d.time_ms;
  if (stale_out)
    *stale_out = d.ended ? 0 : stale;
  if (d.ended) {
    // TAK's delete convention: a t-x-d-d event linking the track's uid.
    xml += "<event version=\"2.0\" uid=\"";
    append_uid(d, xml);
    xml += "-delete\" type=\"t-x-d-d\" how=\"h-g-i-g-o\"";
    time_attr(xml, "time", now);
    time_attr(xml, "start", now);
    time_attr(xml, "stale", now + 20000);
    xml += "><point lat=\"0.0\" lon=\"0.0\" hae=\"9999999.0\" "
           "ce=\"9999999.0\" le=\"9999999.0\"/><detail><link uid=\"";
    append_uid(d, xml);
    xml += "\" relation=\"none\"";
    attr(xml, "type", type);
    xml += "/><__forcedelete/><_flow-tags_";
    time_attr(xml, "cotflow", now);
    xml += "/></detail></event>";
    return encode_outcome::encoded;
  }
  xml += "<event version=\"2.0\"";
  xml += " uid=\"";
  append_uid(d, xml);
  xml += '"';
  attr(xml, "type", type);
  attr(xml, "how", d.how.empty() ? std::string_view{cfg_.how} : d.how);
  time_attr(xml, "time", d.time_ms);
  time_attr(xml, "start", start);
  time_attr(xml, "stale", stale);
  xml += "><point";
  num_attr(xml, "lat", d.lat, 7);
  num_attr(xml, "lon", d.lon, 7);
  num_attr(xml, "hae", std::isnan(d.hae) ? unknown : d.hae, 1);
  num_attr(xml, "ce", std::isnan(d.ce) ? unknown : d.ce, 1);
  num_attr(xml, "le", std::isnan(d.le) ? unknown : d.le, 1);
  xml += "/><detail>";
  if (!d.callsign.empty() || !d.id.empty()) {
    xml += "<contact";
    attr(xml, "callsign", d.callsign.empty() ? d.id : d.callsign);
    xml += "/>";
  }
  if (!std::isnan(d.course) || !std::isnan(d.speed)) {
    xml += "<track";
    num_attr(xml, "course", std::isnan(d.course) ? 0.0 : d.course, 1);
    num_attr(xml, "speed", std::isnan(d.speed) ? 0.0 : d.speed, 2);
    xml += "/>";
  }
  if (!d.geopointsrc.empty() || !d.altsrc.empty()) {
    xml += "<precisionlocation";
    if (!d.geopointsrc.empty())
      attr(xml, "geopointsrc", d.geopointsrc);
    if (!d.altsrc.empty())
      attr(xml, "altsrc", d.altsrc);
    xml += "/>";
  }
  bool any_remark = !d.classification.empty() || !std::isnan(d.confidence)
                    || !d.source.empty() || !d.remarks.empty()
                    || low_confidence;
  if (any_remark) {
    xml += "<remarks";
    if (!d.source.empty())
      attr(xml, "source", d.source);
    xml += '>';
    const char* sep = "";
    if (!d.classification.empty()) {
      xml += "classification: ";
      xml_escape(d.classification, xml);
      sep = "; ";
    }
    if (!std::isnan(d.confidence)) {
      xml += sep;
      xml += "confidence: ";
      append_number(xml, d.confidence, 2);
      sep = "; ";
    }
    if (low_confidence) {
      xml += sep;
      xml += "LOW CONFIDENCE";
      sep = "; ";
    }
    if (!d.source.empty()) {
      xml += sep;
      xml += "source: ";
      xml_escape(d.source, xml);
      sep = "; ";
    }
    if (!d.remarks.empty()) {
      xml += sep;
      xml_escape(d.remarks, xml);
    }
    xml += "</remarks>";
  }
  xml += "<_flow-tags_";
  time_attr(xml, "cotflow", now);
  xml += "/></detail></event>";
  return encode_outcome::encoded;
}

} // namespace cotflow
