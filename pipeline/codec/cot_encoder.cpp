#include "pipeline/codec/cot_encoder.hpp"

#include "pipeline/codec/cloudtak.hpp"

#include "pipeline/core/time.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>

namespace cotflow {

namespace {

constexpr double unknown = 9999999.0;

constexpr double pow10[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};
constexpr uint64_t ipow10[] = {
  1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000};

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

/// The length of `text` escaped.
size_t escaped_size(std::string_view text) {
  size_t n = text.size();
  for (unsigned char c : text)
    if (escapes.special[c])
      n += 5; // at most: '"' becomes "&quot;"
  return n;
}

/// Writes `text` escaped at `out` (room for 6 bytes per byte); returns the
/// end of what was written.
char* escape_into(std::string_view text, char* out) {
  const char* run = text.data(); // bytes not yet written, copied as they are
  const char* end = text.data() + text.size();
  auto flush = [&](const char* upto) {
    std::memcpy(out, run, static_cast<size_t>(upto - run));
    out += upto - run;
  };
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
    flush(p);
    std::memcpy(out, rep.data(), rep.size());
    out += rep.size();
    run = next;
    p = next - 1;
  }
  flush(end);
  return out;
}

/// Appends to a string through a cursor: the many short pieces of an event
/// become fixed-size copies instead of calls into libstdc++'s append (which
/// were a quarter of encoding). Room is made before each piece; finish()
/// trims the string to what was written.
class xml_out {
public:
  explicit xml_out(std::string& s) : s_(s) {
    auto used = s_.size();
    s_.resize(std::max(s_.capacity(), used + 256));
    at(used);
  }

  xml_out(const xml_out&) = delete;
  xml_out& operator=(const xml_out&) = delete;

  void finish() {
    s_.resize(static_cast<size_t>(p_ - s_.data()));
  }

  template <size_t N>
  void lit(const char (&text)[N]) {
    room(N - 1);
    std::memcpy(p_, text, N - 1);
    p_ += N - 1;
  }

  void put(char c) {
    room(1);
    *p_++ = c;
  }

  void raw(std::string_view text) {
    room(text.size());
    std::memcpy(p_, text.data(), text.size());
    p_ += text.size();
  }

  void escaped(std::string_view text) {
    // "&quot;" is the longest replacement; a long text is measured rather
    // than given six times its size.
    room(text.size() <= 64 ? 6 * text.size() : escaped_size(text));
    p_ = escape_into(text, p_);
  }

  void time(int64_t ms) {
    room(24);
    format_rfc3339(ms, p_);
    p_ += 24;
  }

  void fixed(double v, int precision) {
    precision = std::clamp(precision, 0, 17); // what 330 bytes always hold
    room(32); // the fast path's most: sign, 14 digits, point, 9 decimals
    char* end;
    if (fixed_fast(v, precision, p_, end)) {
      p_ = end;
      return;
    }
    room(330); // DBL_MAX has 309 digits before the point
    p_
      = std::to_chars(p_, p_ + 330, v, std::chars_format::fixed, precision).ptr;
  }

  /// ` name="escaped value"`
  template <size_t N>
  void attr(const char (&name)[N], std::string_view value) {
    put(' ');
    lit(name);
    lit("=\"");
    escaped(value);
    put('"');
  }

  /// ` name="escaped value"` for a name known only at run time (one of
  /// cotflow's own, never a record's).
  void named_attr(std::string_view name, std::string_view value) {
    put(' ');
    raw(name);
    lit("=\"");
    escaped(value);
    put('"');
  }

  template <size_t N>
  void num_attr(const char (&name)[N], double v, int precision) {
    put(' ');
    lit(name);
    lit("=\"");
    fixed(v, precision);
    put('"');
  }

  template <size_t N>
  void time_attr(const char (&name)[N], int64_t ms) {
    put(' ');
    lit(name);
    lit("=\"");
    time(ms);
    put('"');
  }

  /// The times of an event about `now` itself (a ping, a delete): time and
  /// start now, stale 20 s later.
  void instant_times(int64_t now) {
    time_attr("time", now);
    time_attr("start", now);
    time_attr("stale", now + 20000);
  }

private:
  void at(size_t used) {
    p_ = s_.data() + used;
    end_ = s_.data() + s_.size();
  }

  void room(size_t n) {
    if (static_cast<size_t>(end_ - p_) >= n)
      return;
    auto used = static_cast<size_t>(p_ - s_.data());
    s_.resize(std::max(2 * s_.size(), used + n));
    at(used);
  }

  std::string& s_;
  char* p_;
  char* end_;
};

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
  xml_out w{out};
  w.escaped(text);
  w.finish();
}

void append_fixed(std::string& out, double v, int precision) {
  xml_out w{out};
  w.fixed(v, precision);
  w.finish();
}

cot_encoder::cot_encoder(const cot_config& cfg, const presentation_config& pres)
  : cfg_(cfg), pres_(pres, cfg.uid_prefix) {
  // Names match without regard to case; where two configured names differ
  // only in case, the first in the configuration's order counts.
  for (auto& [name, code] : cfg_.affiliation_codes)
    affiliations_.add(name, code.empty() ? 'u' : code[0]);
  for (auto& [name, suffix] : cfg_.classification_types)
    classifications_.add(name, suffix);
}

std::string ping_event(std::string_view uid, int64_t now) {
  std::string xml;
  xml_out w{xml};
  w.lit("<event version=\"2.0\"");
  w.attr("uid", uid);
  w.lit(" type=\"t-x-c-t\" how=\"h-g-i-g-o\"");
  w.instant_times(now);
  w.lit("><point lat=\"0.0\" lon=\"0.0\" hae=\"0.0\" ce=\"9999999.0\" "
        "le=\"9999999.0\"/><detail/></event>");
  w.finish();
  return xml;
}

std::string hello_event(std::string_view uid, std::string_view callsign,
                        std::string_view version, int64_t now) {
  std::string xml;
  xml_out w{xml};
  w.lit("<event version=\"2.0\"");
  w.attr("uid", uid);
  w.lit(" type=\"t-x-d-d\" how=\"m-g\"");
  w.instant_times(now);
  w.lit("><point lat=\"0.0\" lon=\"0.0\" hae=\"9999999.0\" "
        "ce=\"9999999.0\" le=\"9999999.0\"/><detail><contact");
  w.attr("callsign", callsign);
  w.lit("/><takv device=\"cotflow\" platform=\"cotflow\" os=\"linux\"");
  w.attr("version", version);
  w.lit("/></detail></event>");
  w.finish();
  return xml;
}

std::string cot_encoder::cot_type(const detection& d) const {
  if (!d.type.empty())
    return d.type;
  char aff = 'u';
  if (!d.affiliation.empty())
    if (auto code = affiliations_.find(d.affiliation))
      aff = *code;
  if (!d.classification.empty())
    if (auto suffix = classifications_.find(d.classification)) {
      std::string t;
      t.reserve(4 + suffix->size());
      t += "a-";
      t += aff;
      t += '-';
      t += *suffix;
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

namespace {

/// The escaped uid, as cot_encoder::uid() builds it.
void uid_into(xml_out& w, const cot_config& cfg, const detection& d) {
  w.escaped(cfg.uid_prefix);
  if (!d.source.empty()) {
    w.escaped(d.source);
    w.put('-');
  }
  w.escaped(d.id);
}

// The writers below are encode()'s phases, kept out of it for reading.
// Each is called once, with internal linkage, so GCC may inline it (at -O2
// it does remarks and detail_and_end); where it does not, a call per event
// is a few ns against ~400 ns of encoding: bench_codec's map+encode
// measured the same before and after the split (401 and 388 ns/record at
// best, within the noise of a shared 2-core machine).

/// TAK's delete convention: a t-x-d-d event linking the track's uid.
void delete_event(xml_out& w, const cot_config& cfg, const detection& d,
                  std::string_view type, int64_t now) {
  w.lit("<event version=\"2.0\" uid=\"");
  uid_into(w, cfg, d);
  w.lit("-delete\" type=\"t-x-d-d\" how=\"h-g-i-g-o\"");
  w.instant_times(now);
  w.lit("><point lat=\"0.0\" lon=\"0.0\" hae=\"9999999.0\" "
        "ce=\"9999999.0\" le=\"9999999.0\"/><detail><link uid=\"");
  uid_into(w, cfg, d);
  w.lit("\" relation=\"none\"");
  w.attr("type", type);
  w.lit("/><__forcedelete/><_flow-tags_");
  w.time_attr("cotflow", now);
  w.lit("/></detail></event>");
}

/// `<event ...><point .../>`
void event_and_point(xml_out& w, const cot_config& cfg, const detection& d,
                     std::string_view type, std::string_view how, int64_t start,
                     int64_t stale) {
  w.lit("<event version=\"2.0\" uid=\"");
  uid_into(w, cfg, d);
  w.put('"');
  w.attr("type", type);
  w.attr("how", how);
  w.time_attr("time", d.time_ms);
  w.time_attr("start", start);
  w.time_attr("stale", stale);
  w.lit("><point");
  w.num_attr("lat", d.lat, 7);
  w.num_attr("lon", d.lon, 7);
  w.num_attr("hae", std::isnan(d.hae) ? unknown : d.hae, 1);
  w.num_attr("ce", std::isnan(d.ce) ? unknown : d.ce, 1);
  w.num_attr("le", std::isnan(d.le) ? unknown : d.le, 1);
  w.lit("/>");
}

/// `<remarks>`: what the detection says that CoT has no element for,
/// "; "-separated; nothing when there is none of it.
void remarks(xml_out& w, const detection& d, bool low_confidence) {
  bool any_remark = !d.classification.empty() || !std::isnan(d.confidence)
                    || !d.source.empty() || !d.remarks.empty()
                    || low_confidence;
  if (!any_remark)
    return;
  w.lit("<remarks");
  if (!d.source.empty())
    w.attr("source", d.source);
  w.put('>');
  bool first = true;
  auto next = [&] {
    if (!first)
      w.lit("; ");
    first = false;
  };
  if (!d.classification.empty()) {
    next();
    w.lit("classification: ");
    w.escaped(d.classification);
  }
  if (!std::isnan(d.confidence)) {
    next();
    w.lit("confidence: ");
    w.fixed(d.confidence, 2);
  }
  if (low_confidence) {
    next();
    w.lit("LOW CONFIDENCE");
  }
  if (!d.source.empty()) {
    next();
    w.lit("source: ");
    w.escaped(d.source);
  }
  if (!d.remarks.empty()) {
    next();
    w.escaped(d.remarks);
  }
  w.lit("</remarks>");
}

/// `<_cotflow_ .../>` when cotflow made up part of the event: where the time
/// came from when the record had none, and which numbers it set to the end
/// of their range (cot.out_of_range: clamp), space-separated.
void cotflow_marks(xml_out& w, const detection& d) {
  if (d.time_from == detection::time_origin::record && d.clamped == 0)
    return;
  w.lit("<_cotflow_");
  if (d.time_from == detection::time_origin::kafka_timestamp)
    w.lit(" time_source=\"kafka_timestamp\"");
  else if (d.time_from == detection::time_origin::receive_time)
    w.lit(" time_source=\"receive_time\"");
  if (d.clamped != 0) {
    w.lit(" clamped=\"");
    bool first = true;
    for (const auto& c : clamped_names) {
      if ((d.clamped & c.bit) == 0)
        continue;
      if (!first)
        w.put(' ');
      w.raw(c.name); // field names: nothing to escape
      first = false;
    }
    w.put('"');
  }
  w.lit("/>");
}

/// A detail element a record gave (cloudtak): names are cotflow's own,
/// values escaped.
void record_element(xml_out& w, const detail_element& e) {
  w.put('<');
  w.raw(e.name);
  for (auto& a : e.attrs) {
    w.named_attr(a.name, a.value);
  }
  if (e.children.empty() && e.text.empty()) {
    w.lit("/>");
    return;
  }
  w.put('>');
  w.escaped(e.text);
  for (auto& c : e.children)
    record_element(w, c);
  w.lit("</");
  w.raw(e.name);
  w.put('>');
}

/// A drawing's vertices and style, as ATAK writes a u-d-f shape.
void drawing_detail(xml_out& w, const drawing& s) {
  for (auto& [lat, lon] : s.vertices) {
    w.lit("<link point=\"");
    w.fixed(lat, 7);
    w.put(',');
    w.fixed(lon, 7);
    w.lit("\"/>");
  }
  w.lit("<strokeColor value=\"");
  w.raw(cloudtak::argb_text(s.stroke_argb));
  w.lit("\"/><strokeWeight");
  w.num_attr("value", s.stroke_width, 1);
  w.lit("/><strokeStyle");
  w.attr("value", s.stroke_style);
  w.lit("/><fillColor value=\"");
  w.raw(cloudtak::argb_text(s.fill_argb));
  w.lit("\"/>");
  if (s.labels >= 0) {
    w.lit("<labels_on value=\"");
    w.raw(s.labels ? "true" : "false");
    w.lit("\"/>");
  }
}

/// The how of an event: the record's own, else its presentation's, else
/// cot.how.
std::string_view how_of(const detection& d, const event_style* style,
                        const cot_config& cfg) {
  if (!d.how.empty())
    return d.how;
  if (style && !style->how.empty())
    return style->how;
  return cfg.how;
}

/// Whether a record gave a detail element `name` (CloudTAK), with
/// attribute `attr` = `value` when those are given.
bool record_has(const detection& d, std::string_view name,
                std::string_view attr = {}, std::string_view value = {}) {
  for (auto& e : d.extra_detail) {
    if (name != e.name)
      continue;
    if (attr.empty())
      return true;
    for (auto& a : e.attrs)
      if (attr == a.name && value == a.value)
        return true;
  }
  return false;
}

/// What the presentation section adds after `<contact>`, rendered once
/// per (source, type). What a record gave itself (CloudTAK's group, icon,
/// marker-color, a p-p link) is written instead of the configured one.
void presentation_detail(xml_out& w, const event_style* style,
                         const detection& d) {
  if (!style)
    return;
  if (!record_has(d, "__group"))
    w.raw(style->group);
  if (!d.has_icon)
    w.raw(style->icon);
  if (!d.has_color)
    w.raw(style->color);
  if (!record_has(d, "link", "relation", "p-p"))
    w.raw(style->link);
}

/// `<detail>...</detail></event>`: each element only when the detection
/// has something for it.
void detail_and_end(xml_out& w, const detection& d, bool low_confidence,
                    const event_style* style, int64_t now) {
  w.lit("<detail>");
  if (!d.callsign.empty() || !d.id.empty()) {
    w.lit("<contact");
    w.attr("callsign", d.callsign.empty() ? d.id : d.callsign);
    bool own_endpoint = false;
    for (auto& a : d.contact_attrs) {
      w.named_attr(a.name, a.value);
      own_endpoint = own_endpoint || std::string_view{a.name} == "endpoint";
    }
    if (style && !own_endpoint)
      w.raw(style->contact); // team mode's endpoint
    w.lit("/>");
  }
  presentation_detail(w, style, d);
  // Each only as given: an invented course 0 points a speed-only track
  // due north.
  if (!std::isnan(d.course) || !std::isnan(d.speed)) {
    w.lit("<track");
    if (!std::isnan(d.course))
      w.num_attr("course", d.course, 1);
    if (!std::isnan(d.speed))
      w.num_attr("speed", d.speed, 2);
    w.lit("/>");
  }
  if (!d.geopointsrc.empty() || !d.altsrc.empty()) {
    w.lit("<precisionlocation");
    if (!d.geopointsrc.empty())
      w.attr("geopointsrc", d.geopointsrc);
    if (!d.altsrc.empty())
      w.attr("altsrc", d.altsrc);
    w.lit("/>");
  }
  for (auto& e : d.extra_detail)
    record_element(w, e);
  if (d.shape.shape != drawing::shape_t::none)
    drawing_detail(w, d.shape);
  remarks(w, d, low_confidence);
  cotflow_marks(w, d);
  w.lit("<_flow-tags_");
  w.time_attr("cotflow", now);
  w.lit("/></detail></event>");
}

} // namespace

encode_outcome cot_encoder::encode(const detection& d, int64_t now,
                                   std::string& xml, std::string* type_out,
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
  const event_style* style = nullptr;
  if (pres_.on()) {
    style = &pres_.style(d.source, type, low_confidence);
    if (!style->type.empty())
      type = style->type; // presentation.low_confidence.type
  }
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
  xml_out w{xml};
  if (d.ended) {
    delete_event(w, cfg_, d, type, now);
  } else {
    event_and_point(w, cfg_, d, type, how_of(d, style, cfg_), start, stale);
    detail_and_end(w, d, low_confidence, style, now);
  }
  w.finish();
  return encode_outcome::encoded;
}

bool cot_encoder::sensor_event(const detection& d, int64_t now,
                               std::string& xml, std::string& uid,
                               std::string& type, int64_t& stale_out) {
  xml.clear();
  auto* s = pres_.on() ? pres_.sensor(d.source) : nullptr;
  if (!s)
    return false;
  auto ttl_ms = ttl_s(s->type) * 1000;
  // Again at half its time to live: it never goes stale on a map while its
  // source keeps reporting, and a lost one is replaced as soon.
  if (s->last_sent_ms != std::numeric_limits<int64_t>::min()
      && now - s->last_sent_ms < ttl_ms / 2)
    return false;
  s->last_sent_ms = now;
  uid = s->uid;
  type = s->type;
  stale_out = now + ttl_ms;
  xml_out w{xml};
  w.raw(s->head);
  w.time_attr("time", now);
  w.time_attr("start", now);
  w.time_attr("stale", stale_out);
  w.raw(s->body);
  w.lit("<_flow-tags_");
  w.time_attr("cotflow", now);
  w.lit("/></detail></event>");
  w.finish();
  return true;
}

} // namespace cotflow
