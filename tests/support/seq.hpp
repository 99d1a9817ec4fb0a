#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace cotflow::test {

/// The number in the first "seq=N" inside `text` (the generator writes it
/// into every record, and cotflow carries it into the CoT remarks), if any.
/// Inline: the benchmarks' receivers call it for every event.
inline std::optional<uint64_t> seq_of(std::string_view text) {
  auto at = text.find("seq=");
  if (at == std::string_view::npos)
    return std::nullopt;
  size_t i = at + 4;
  if (i >= text.size() || text[i] < '0' || text[i] > '9')
    return std::nullopt;
  uint64_t v = 0;
  for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i)
    v = v * 10 + static_cast<uint64_t>(text[i] - '0');
  return v;
}

} // namespace cotflow::test
