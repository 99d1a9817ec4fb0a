#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

/// UTC time helpers without locale or libc time zone state.
namespace cotflow {

/// Milliseconds since the Unix epoch, from the system clock.
int64_t now_ms();

/// Parses RFC 3339 ("2026-11-26T12:00:00.123Z", "...+02:00") to epoch ms.
std::optional<int64_t> parse_rfc3339(std::string_view text);

/// Writes "YYYY-MM-DDTHH:MM:SS.mmmZ" (24 characters) for epoch ms.
void format_rfc3339(int64_t ms, char* out);

/// Returns the RFC 3339 text of epoch ms.
std::string rfc3339(int64_t ms);

} // namespace cotflow
