#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace cotflow {

/// Names of the topics records come from, by a small number: a record
/// carries the number instead of a copy of the name (a malloc per record
/// for names longer than std::string's inline buffer). Numbers are never
/// reused within a process; thread-safe.
class topic_names {
public:
  /// The number of `name`, given on first use.
  static uint32_t id(std::string_view name);

  /// The name of number `id` ("" for a number never given).
  static std::string name(uint32_t id);
};

} // namespace cotflow
