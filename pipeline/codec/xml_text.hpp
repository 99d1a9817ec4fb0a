#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

/// What text may hold on its way to XML, a Kafka key or a Kafka header:
/// well-formed UTF-8 (no overlong forms, no encoded surrogates, nothing
/// past U+10FFFF) of characters XML 1.0 can carry (tab, line feed,
/// carriage return, U+0020..U+D7FF, U+E000..U+FFFD, U+10000..U+10FFFF).
/// JSON lets a record spell what UTF-8 cannot (`\udc00`, a lone low
/// surrogate, which a JSON parser writes out as the bytes ED B0 80) and
/// what XML cannot (`\u0000`): the decoder checks every string it keeps.
namespace cotflow::xml_text {

/// The first character of some text that is not allowed.
struct flaw {
  /// Its byte offset.
  size_t at = 0;
  /// Its code point; -1 for bytes that are not UTF-8 at all.
  int32_t code_point = -1;

  /// "U+0007 (a control character) at byte 3", for a refusal's detail.
  std::string describe() const;
};

/// The first character of `text` that text fields may not hold (not UTF-8,
/// or not an XML character), if any.
std::optional<flaw> first_flaw(std::string_view text);

/// As first_flaw, for an identifier (an id, a source: the parts of a TAK
/// uid and a Kafka key): control characters (U+0000..U+001F, U+007F..
/// U+009F), tab and line breaks included, are flaws too. Such an id is
/// refused rather than altered, so that two ids never become one.
std::optional<flaw> first_identifier_flaw(std::string_view text);

/// Replaces each flaw of `text` (first_flaw's) by U+FFFD, the replacement
/// character: one per character that is not allowed, one per byte that is
/// not UTF-8 (an encoded surrogate counts as one character). Returns the
/// number replaced.
size_t replace_flaws(std::string& text);

/// Cuts `text` to at most `max_bytes` (at least 3) on a character
/// boundary, ending it with U+2026 (…) to show it was cut. Returns whether
/// it was cut.
bool truncate(std::string& text, size_t max_bytes);

} // namespace cotflow::xml_text
