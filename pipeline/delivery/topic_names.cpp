#include "pipeline/delivery/topic_names.hpp"

#include <mutex>
#include <vector>

namespace cotflow {

namespace {

std::mutex mu;
std::vector<std::string>& table() {
  static std::vector<std::string> names;
  return names;
}

} // namespace

uint32_t topic_names::id(std::string_view name) {
  std::lock_guard<std::mutex> guard{mu};
  auto& names = table();
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i] == name)
      return static_cast<uint32_t>(i + 1);
  names.emplace_back(name);
  return static_cast<uint32_t>(names.size());
}

std::string topic_names::name(uint32_t id) {
  std::lock_guard<std::mutex> guard{mu};
  auto& names = table();
  return id > 0 && id <= names.size() ? names[id - 1] : std::string{};
}

} // namespace cotflow
