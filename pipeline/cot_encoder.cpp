#include "pipeline/cot_encoder.hpp"

#include "pipeline/time.hpp"

#include <charconv>
#include <cmath>

namespace cotflow {

namespace {

constexpr double unknown = 9999999.0;

void append_number(std::string& out, double v, int precision) {
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), v,
                           std::chars_format::fixed, precision);
  out.append(buf, res.ptr);
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

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size())
    return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i]))
      return false;
  return true;
}

template <class Map>
const typename Map::mapped_type* ifind(const Map& m, std::string_view key) {
  for (auto& [k, v] : m)
    if (iequals(k, key))
      return &v;
  return nullptr;
}

} // namespace

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

void xml_escape(std::string_view text, std::string& out) {
  for (size_t i = 0; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      case '\t':
        out += "&#9;";
        break;
      case '\n':
        out += "&#10;";
        break;
      case '\r':
        out += "&#13;";
        break;
      default:
        if (c < 0x20) {
          out += "\xEF\xBF\xBD"; // XML 1.0 cannot carry these at all
        } else if (c == 0xEF && i + 2 < text.size()
                   && static_cast<unsigned char>(text[i + 1]) == 0xBF
                   && (static_cast<unsigned char>(text[i + 2]) & 0xFE)
                        == 0xBE) {
          out += "\xEF\xBF\xBD"; // U+FFFE and U+FFFF: not XML characters
          i += 2;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
}

cot_encoder::cot_encoder(const cot_config& cfg) : cfg_(cfg) {
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
    if (auto code = ifind(cfg_.affiliation_codes, d.affiliation))
      aff = (*code)[0];
  if (!d.classification.empty())
    if (auto suffix = ifind(cfg_.classification_types, d.classification))
      return std::string{"a-"} + aff + "-" + *suffix;
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
