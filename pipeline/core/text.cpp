#include "pipeline/core/text.hpp"

#include <cerrno>
#include <cstdlib>
#include <regex>
#include <sstream>

namespace cotflow {

std::optional<int64_t> parse_int(const std::string& s) {
  if (s.empty())
    return std::nullopt;
  char* end = nullptr;
  errno = 0;
  auto v = std::strtoll(s.c_str(), &end, 10);
  if (errno != 0 || *end != '\0')
    return std::nullopt;
  return v;
}

std::optional<bool> parse_bool(const std::string& s) {
  if (s == "true" || s == "1" || s == "yes" || s == "on")
    return true;
  if (s == "false" || s == "0" || s == "no" || s == "off")
    return false;
  return std::nullopt;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  std::istringstream in{s};
  while (std::getline(in, cur, sep))
    if (!cur.empty())
      out.push_back(cur);
  return out;
}

bool is_cot_type_prefix(const std::string& s) {
  static const std::regex re{"^[a-z](-[A-Za-z0-9]+)*$"};
  return std::regex_match(s, re);
}

} // namespace cotflow
