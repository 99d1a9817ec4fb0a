#include "pipeline/codec/xml_text.hpp"

#include <cstdio>

namespace cotflow::xml_text {

namespace {

constexpr char replacement[] = "\xEF\xBF\xBD"; // U+FFFD

/// One decoded character: its code point (-1: not UTF-8, or an encoded
/// surrogate, whose code point is then in `surrogate`) and its length.
struct character {
  int32_t code_point;
  size_t size;
  int32_t surrogate = 0;
};

bool continuation(unsigned char c) {
  return (c & 0xC0) == 0x80;
}

/// Decodes the character at `p` (of `n` > 0 bytes left), strictly.
character decode(const unsigned char* p, size_t n) {
  unsigned char c = p[0];
  if (c < 0x80)
    return {c, 1};
  if (c >= 0xC2 && c <= 0xDF) {
    if (n >= 2 && continuation(p[1]))
      return {((c & 0x1F) << 6) | (p[1] & 0x3F), 2};
    return {-1, 1};
  }
  if (c >= 0xE0 && c <= 0xEF) {
    // The second byte's range excludes overlong forms (E0) and
    // surrogates (ED).
    unsigned char lo = c == 0xE0 ? 0xA0 : 0x80;
    unsigned char hi = c == 0xED ? 0x9F : 0xBF;
    if (n >= 3 && p[1] >= lo && p[1] <= hi && continuation(p[2]))
      return {((c & 0x0F) << 12) | ((p[1] & 0x3F) << 6) | (p[2] & 0x3F), 3};
    // ED A0..BF xx: a surrogate as a JSON parser writes out a lone \uD800..
    // \uDFFF escape. One character, not three stray bytes.
    if (c == 0xED && n >= 3 && p[1] >= 0xA0 && p[1] <= 0xBF
        && continuation(p[2]))
      return {-1, 3, 0xD000 | ((p[1] & 0x3F) << 6) | (p[2] & 0x3F)};
    return {-1, 1};
  }
  if (c >= 0xF0 && c <= 0xF4) {
    unsigned char lo = c == 0xF0 ? 0x90 : 0x80;
    unsigned char hi = c == 0xF4 ? 0x8F : 0xBF;
    if (n >= 4 && p[1] >= lo && p[1] <= hi && continuation(p[2])
        && continuation(p[3]))
      return {((c & 0x07) << 18) | ((p[1] & 0x3F) << 12) | ((p[2] & 0x3F) << 6)
                | (p[3] & 0x3F),
              4};
    return {-1, 1};
  }
  return {-1, 1};
}

bool xml_char(int32_t cp) {
  if (cp < 0x20)
    return cp == 0x09 || cp == 0x0A || cp == 0x0D;
  return cp != 0xFFFE && cp != 0xFFFF;
}

bool control(int32_t cp) {
  return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F);
}

/// True when every byte of `text` is printable ASCII, tab or a line
/// break: nothing to look at more closely (nearly every record).
bool plain(std::string_view text) {
  for (unsigned char c : text)
    if (c >= 0x7F || (c < 0x20 && c != 0x09 && c != 0x0A && c != 0x0D))
      return false;
  return true;
}

template <class Allowed>
std::optional<flaw> find(std::string_view text, Allowed allowed) {
  auto* p = reinterpret_cast<const unsigned char*>(text.data());
  size_t n = text.size();
  for (size_t i = 0; i < n;) {
    auto ch = decode(p + i, n - i);
    if (ch.code_point < 0)
      return flaw{i, ch.surrogate ? ch.surrogate : -1};
    if (!allowed(ch.code_point))
      return flaw{i, ch.code_point};
    i += ch.size;
  }
  return std::nullopt;
}

} // namespace

std::string flaw::describe() const {
  char buf[96];
  if (code_point < 0)
    std::snprintf(buf, sizeof buf, "bytes that are not UTF-8 at byte %zu", at);
  else if (code_point >= 0xD800 && code_point <= 0xDFFF)
    std::snprintf(buf, sizeof buf, "U+%04X (a lone surrogate) at byte %zu",
                  static_cast<unsigned>(code_point), at);
  else if (control(code_point))
    std::snprintf(buf, sizeof buf, "U+%04X (a control character) at byte %zu",
                  static_cast<unsigned>(code_point), at);
  else
    std::snprintf(buf, sizeof buf,
                  "U+%04X (not a character XML allows) at byte %zu",
                  static_cast<unsigned>(code_point), at);
  return buf;
}

std::optional<flaw> first_flaw(std::string_view text) {
  if (plain(text))
    return std::nullopt;
  return find(text, xml_char);
}

std::optional<flaw> first_identifier_flaw(std::string_view text) {
  // Nearly every id is printable ASCII: nothing to decode.
  bool printable = true;
  for (unsigned char c : text)
    printable = printable && c >= 0x20 && c < 0x7F;
  if (printable)
    return std::nullopt;
  return find(text, [](int32_t cp) { return xml_char(cp) && !control(cp); });
}

size_t replace_flaws(std::string& text) {
  auto first = first_flaw(text);
  if (!first)
    return 0;
  std::string out;
  out.reserve(text.size() + 8);
  out.append(text, 0, first->at);
  size_t replaced = 0;
  auto* p = reinterpret_cast<const unsigned char*>(text.data());
  size_t n = text.size();
  for (size_t i = first->at; i < n;) {
    auto ch = decode(p + i, n - i);
    if (ch.code_point < 0 || !xml_char(ch.code_point)) {
      out += replacement;
      ++replaced;
    } else {
      out.append(text, i, ch.size);
    }
    i += ch.size;
  }
  text = std::move(out);
  return replaced;
}

bool truncate(std::string& text, size_t max_bytes) {
  if (text.size() <= max_bytes)
    return false;
  static constexpr std::string_view ellipsis = "\xE2\x80\xA6"; // U+2026
  size_t keep = max_bytes < ellipsis.size() ? 0 : max_bytes - ellipsis.size();
  // Back to the start of a character: never half of one.
  while (keep > 0 && continuation(static_cast<unsigned char>(text[keep])))
    --keep;
  text.resize(keep);
  text += ellipsis;
  return true;
}

} // namespace cotflow::xml_text
