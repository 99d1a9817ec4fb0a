#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

/// The plain-text syntax the configuration and the TAK destination URLs
/// share.
namespace cotflow {

/// A whole decimal integer, or nothing.
std::optional<int64_t> parse_int(const std::string& s);

/// true/1/yes/on or false/0/no/off, or nothing.
std::optional<bool> parse_bool(const std::string& s);

/// The non-empty parts of `s` between `sep`s.
std::vector<std::string> split(const std::string& s, char sep);

/// A CoT type or type prefix as written in configuration: a-h, a-f-G-U-C,
/// b-m-p-s-p-i (a lower-case letter, then dash-separated atoms).
bool is_cot_type_prefix(const std::string& s);

} // namespace cotflow
