// libFuzzer target over the decoder and the CoT encoder (fuzz/README.md).
// For each input: the fast decoder and the RapidJSON-only decoder must
// agree; an accepted record must encode to well-formed XML and have a uid
// (the Kafka key) of XML characters; a refused record's reason and detail
// (Kafka headers of the dead letter) must be UTF-8. Any other outcome
// aborts with a line on stderr that names the check, and libFuzzer keeps
// the input as a crash file.

#include "config/config.hpp"
#include "pipeline/codec/cot_encoder.hpp"
#include "pipeline/codec/decoder.hpp"
#include "pipeline/core/detection.hpp"
#include "pipeline/tak/protocol/tak_protocol.hpp"

#include <libxml/parser.h>
#include <libxml/xmlerror.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace {

using cotflow::detection;
using cotflow::refusal;

/// The input under test, for the report of a failed check.
std::string_view current_input;

/// `s` with every byte outside printable ASCII (and the backslash) written
/// as \xHH, at most `max` bytes of it: invalid UTF-8 on stderr would garble
/// the very report about it.
std::string printable(std::string_view s, size_t max = 512) {
  static const char hex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < s.size() && i < max; ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7F && c != '\\') {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 0xF];
    }
  }
  if (s.size() > max)
    out += "...(" + std::to_string(s.size()) + " bytes)";
  return out;
}

/// Reports the check that failed and stops the process: libFuzzer writes
/// the input to a crash file on the abort.
[[noreturn]] void fail(const char* check, const std::string& what) {
  std::fprintf(stderr, "\nfuzz_codec: FAILED %s: %s\nfuzz_codec: input: %s\n",
               check, what.c_str(), printable(current_input).c_str());
  std::fflush(stderr);
  std::abort();
}

/// Whether XML 1.0 allows the code point (its production Char).
bool xml_char(uint32_t cp) {
  return cp == 0x9 || cp == 0xA || cp == 0xD || (cp >= 0x20 && cp <= 0xD7FF)
         || (cp >= 0xE000 && cp <= 0xFFFD) || (cp >= 0x10000 && cp <= 0x10FFFF);
}

/// The offset of the first byte of `s` that does not start a well-formed
/// UTF-8 sequence (Unicode table 3-7: no overlong forms, no surrogates,
/// nothing past U+10FFFF), or, with `xml_only`, one of a character XML
/// does not allow; npos when there is none. Written here rather than taken
/// from the code under test, so that a defect there cannot hide itself.
size_t first_invalid(std::string_view s, bool xml_only) {
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t n;
    uint32_t cp;
    if (c < 0x80) {
      n = 1;
      cp = c;
    } else if (c >= 0xC2 && c <= 0xDF) {
      n = 2;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 3;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 4;
      cp = c & 0x07;
    } else {
      return i; // a continuation byte, C0, C1 or F5..FF
    }
    if (s.size() - i < n)
      return i;
    for (size_t k = 1; k < n; ++k) {
      auto b = static_cast<unsigned char>(s[i + k]);
      if ((b & 0xC0) != 0x80)
        return i;
      cp = cp << 6 | (b & 0x3F);
    }
    bool overlong = (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000);
    bool surrogate = cp >= 0xD800 && cp <= 0xDFFF;
    if (overlong || surrogate || cp > 0x10FFFF)
      return i;
    if (xml_only && !xml_char(cp))
      return i;
    i += n;
  }
  return std::string_view::npos;
}

/// Fails `check` unless `text` is UTF-8 (of XML characters only, with
/// `xml_only`).
void require_text(const char* check, std::string_view text, bool xml_only) {
  auto at = first_invalid(text, xml_only);
  if (at == std::string_view::npos)
    return;
  fail(check,
       std::string{xml_only ? "not UTF-8 of XML characters" : "not valid UTF-8"}
         + " at byte " + std::to_string(at) + " of \"" + printable(text)
         + "\"");
}

// A field added to detection must be compared below as well: this stops
// the build until it is (10 strings, 3 times, 9 numbers, then the flag,
// the time's origin and the two counters of repaired text, padded to the
// alignment of a double; the CloudTAK attributes and elements, the
// drawing, the two flags of a record's own icon and colour and the clamped
// bits, padded).
static_assert(sizeof(detection)
                == 10 * sizeof(std::string) + 3 * sizeof(int64_t)
                     + 9 * sizeof(double) + 2 * alignof(double)
                     + 2 * sizeof(std::vector<int>) + sizeof(cotflow::drawing)
                     + alignof(double),
              "detection changed: compare its new fields in same_detection");

/// Equal numbers, NaN equal to NaN; 0 and -0 differ (the encoder writes
/// the sign).
bool same_number(double a, double b) {
  if (std::isnan(a) || std::isnan(b))
    return std::isnan(a) && std::isnan(b);
  return std::memcmp(&a, &b, sizeof a) == 0;
}

bool same_attrs(const std::vector<cotflow::xml_attr>& a,
                const std::vector<cotflow::xml_attr>& b) {
  if (a.size() != b.size())
    return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::string_view{a[i].name} != b[i].name || a[i].value != b[i].value)
      return false;
  return true;
}

bool same_elements(const std::vector<cotflow::detail_element>& a,
                   const std::vector<cotflow::detail_element>& b) {
  if (a.size() != b.size())
    return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::string_view{a[i].name} != b[i].name
        || !same_attrs(a[i].attrs, b[i].attrs) || a[i].text != b[i].text
        || !same_elements(a[i].children, b[i].children))
      return false;
  return true;
}

/// Fails when the two decoders' detections differ in any field.
void require_same(const detection& fast, const detection& full) {
  const auto check = "the fast and RapidJSON decoders agree";
  using text_field = std::string detection::*;
  static const std::pair<const char*, text_field> texts[] = {
    {"id", &detection::id},
    {"source", &detection::source},
    {"classification", &detection::classification},
    {"affiliation", &detection::affiliation},
    {"callsign", &detection::callsign},
    {"remarks", &detection::remarks},
    {"type", &detection::type},
    {"how", &detection::how},
    {"geopointsrc", &detection::geopointsrc},
    {"altsrc", &detection::altsrc},
  };
  for (auto& [name, f] : texts)
    if (fast.*f != full.*f)
      fail(check, std::string{name} + ": fast \"" + printable(fast.*f)
                    + "\", RapidJSON \"" + printable(full.*f) + "\"");
  using time_field = int64_t detection::*;
  static const std::pair<const char*, time_field> times[] = {
    {"time_ms", &detection::time_ms},
    {"start_ms", &detection::start_ms},
    {"stale_ms", &detection::stale_ms},
  };
  for (auto& [name, f] : times)
    if (fast.*f != full.*f)
      fail(check, std::string{name} + ": fast " + std::to_string(fast.*f)
                    + ", RapidJSON " + std::to_string(full.*f));
  using number_field = double detection::*;
  static const std::pair<const char*, number_field> numbers[] = {
    {"lat", &detection::lat},         {"lon", &detection::lon},
    {"hae", &detection::hae},         {"ce", &detection::ce},
    {"le", &detection::le},           {"confidence", &detection::confidence},
    {"course", &detection::course},   {"speed", &detection::speed},
    {"stale_s", &detection::stale_s},
  };
  for (auto& [name, f] : numbers)
    if (!same_number(fast.*f, full.*f)) {
      char buf[96];
      std::snprintf(buf, sizeof buf, ": fast %.17g, RapidJSON %.17g", fast.*f,
                    full.*f);
      fail(check, name + std::string{buf});
    }
  if (fast.ended != full.ended)
    fail(check, std::string{"ended: fast "} + (fast.ended ? "true" : "false")
                  + ", RapidJSON " + (full.ended ? "true" : "false"));
  if (fast.time_from != full.time_from)
    fail(check, "time_from differs");
  if (fast.clamped != full.clamped)
    fail(check, "clamped " + std::to_string(fast.clamped) + "/"
                  + std::to_string(full.clamped));
  if (!same_attrs(fast.contact_attrs, full.contact_attrs))
    fail(check, "contact_attrs differ");
  if (!same_elements(fast.extra_detail, full.extra_detail))
    fail(check, "extra_detail differs");
  auto& a = fast.shape;
  auto& b = full.shape;
  if (a.shape != b.shape || a.vertices != b.vertices
      || a.stroke_argb != b.stroke_argb || a.fill_argb != b.fill_argb
      || !same_number(a.stroke_width, b.stroke_width)
      || a.stroke_style != b.stroke_style || a.labels != b.labels)
    fail(check, "shape differs");
  if (fast.has_icon != full.has_icon || fast.has_color != full.has_color)
    fail(check, "has_icon or has_color differs");
  if (fast.replaced_chars != full.replaced_chars
      || fast.truncated_fields != full.truncated_fields)
    fail(check, "replaced_chars " + std::to_string(fast.replaced_chars) + "/"
                  + std::to_string(full.replaced_chars) + ", truncated_fields "
                  + std::to_string(fast.truncated_fields) + "/"
                  + std::to_string(full.truncated_fields));
}

/// Fails unless both refusals are the same and their texts are UTF-8.
void require_same_refusal(const refusal& fast, const refusal& full) {
  std::string reason{to_string(fast.reason)};
  if (fast.reason != full.reason || fast.detail != full.detail)
    fail("the fast and RapidJSON decoders agree",
         "fast refused " + reason + " \"" + printable(fast.detail)
           + "\", RapidJSON " + std::string{to_string(full.reason)} + " \""
           + printable(full.detail) + "\"");
  require_text("refusal reason is UTF-8 (header cotflow.reason)", reason,
               false);
  require_text("refusal detail is UTF-8 (header cotflow.detail)", fast.detail,
               false);
}

/// The first diagnostic of libxml2's last parse (the last one is often a
/// consequence, such as "Extra content at the end of the document").
std::string xml_diagnostic;

/// Keeps libxml2's first diagnostic of a parse instead of printing it.
void keep_first(void*, xmlErrorPtr e) {
  if (!xml_diagnostic.empty() || !e)
    return;
  xml_diagnostic = e->message ? e->message : "(no message)";
  while (!xml_diagnostic.empty() && xml_diagnostic.back() == '\n')
    xml_diagnostic.pop_back();
  xml_diagnostic += " (line " + std::to_string(e->line) + ", column "
                    + std::to_string(e->int2) + ")";
}

/// Fails unless libxml2 parses `xml` without any error or warning. The
/// parse neither recovers nor reaches the network.
void require_well_formed(const std::string& xml) {
  static xmlParserCtxtPtr ctxt = xmlNewParserCtxt();
  if (!ctxt)
    fail("libxml2 starts", "xmlNewParserCtxt failed");
  xml_diagnostic.clear();
  xmlDocPtr doc = xmlCtxtReadMemory(ctxt, xml.data(),
                                    static_cast<int>(xml.size()), "event.xml",
                                    "UTF-8", XML_PARSE_NONET);
  bool ok = doc && ctxt->wellFormed && xml_diagnostic.empty();
  if (doc)
    xmlFreeDoc(doc);
  if (ok)
    return;
  fail("the encoded event is well-formed XML",
       "libxml2: " + (xml_diagnostic.empty() ? "no document" : xml_diagnostic)
         + " in " + printable(xml, 2048));
}

/// Encodes an accepted detection and checks what leaves cotflow with it.
void require_good_output(const detection& d) {
  static const cotflow::cot_encoder enc{cotflow::default_config().cot};
  static std::string xml, type, uid;
  int64_t stale = 0;
  // "Now" is the detection's own time: it is never too old for max_age_s,
  // so nearly every accepted record is encoded rather than dropped.
  auto outcome = enc.encode(d, d.time_ms, xml, &type, &stale);
  if (outcome == cotflow::encode_outcome::encoded) {
    require_well_formed(xml);
    require_text("the encoded event is UTF-8 of XML characters", xml, true);
    require_text("the CoT type is UTF-8 (header cotflow.type)", type, false);
    // Every event cotflow writes goes out in TAK Protocol version 1 too.
    static cotflow::takp::pb::TakMessage msg;
    std::string err;
    if (!cotflow::takp::to_tak_message(xml, msg, err))
      fail("the event converts to TAK Protocol v1",
           err + " in " + printable(xml, 2048));
  }
  enc.uid(d, uid);
  require_text("the uid (Kafka key) is UTF-8 of XML characters", uid, true);
}

} // namespace

// UBSan's options where UBSAN_OPTIONS does not set them: stop at the first
// report, also of the kind built recoverable (pointer-overflow), except for
// those fuzz/ubsan.supp lists, wherever the binary runs.
extern "C" const char* __ubsan_default_options() {
  return "halt_on_error=1:print_stacktrace=1:suppressions="
         "'" COTFLOW_UBSAN_SUPPRESSIONS "'";
}

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  xmlInitParser();
  xmlSetStructuredErrorFunc(nullptr, keep_first);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Reused across inputs as the encoder workers reuse theirs, so that state
  // left over from one record would show up in the next.
  static const auto max_bytes = static_cast<size_t>(
    cotflow::default_config().pipeline.max_record_bytes);
  static cotflow::decoder fast{max_bytes, true};
  static cotflow::decoder full{max_bytes, false};
  static detection a, b;
  // As the product's default (cot.missing_time: kafka_timestamp) and with
  // a short text limit, so that cutting text is fuzzed too.
  static bool configured = [] {
    for (auto* d : {&fast, &full}) {
      d->allow_missing_time(true);
      d->max_text(64);
    }
    return true;
  }();
  (void)configured;
  std::string_view bytes{reinterpret_cast<const char*>(data), size};
  current_input = bytes;
  // What a TAK server sends is read as XML while a connection negotiates:
  // any bytes, never a crash.
  static cotflow::takp::negotiation_reader server;
  server.feed(bytes);
  static cotflow::cot_xml any;
  std::string ignored;
  cotflow::read_cot_xml(bytes, any, ignored);
  auto fast_refusal = fast.decode(bytes, a);
  auto full_refusal = full.decode(bytes, b);
  if (fast_refusal.has_value() != full_refusal.has_value()) {
    const auto& r = fast_refusal ? *fast_refusal : *full_refusal;
    fail("the fast and RapidJSON decoders agree",
         std::string{fast_refusal ? "fast" : "RapidJSON"} + " refused "
           + std::string{to_string(r.reason)} + " \"" + printable(r.detail)
           + "\", the other accepted");
  }
  if (fast_refusal) {
    require_same_refusal(*fast_refusal, *full_refusal);
    return 0;
  }
  require_same(a, b);
  // A Feature without a time gets one as the encoder actor gives it.
  cotflow::fill_missing_time(a, 1795696496789, 1795696496789, true);
  require_good_output(a);
  return 0;
}
