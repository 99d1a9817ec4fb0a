#pragma once

#include <string_view>

/// Structured logs: one JSON object per line on stderr (or plain text).
namespace cotflow::log {

enum class level : int { trace, debug, info, warn, error };

/// Sets the threshold and format ("json" or "text"); thread-safe.
void configure(std::string_view threshold, std::string_view format);

/// True when messages at `lvl` are written.
bool enabled(level lvl);

/// Writes one line; `record_id` is added when not empty.
void write(level lvl, std::string_view actor, std::string_view message,
           std::string_view record_id = {});

inline void info(std::string_view actor, std::string_view msg) {
  write(level::info, actor, msg);
}
inline void warn(std::string_view actor, std::string_view msg) {
  write(level::warn, actor, msg);
}
inline void error(std::string_view actor, std::string_view msg) {
  write(level::error, actor, msg);
}
inline void debug(std::string_view actor, std::string_view msg) {
  if (enabled(level::debug))
    write(level::debug, actor, msg);
}

} // namespace cotflow::log
