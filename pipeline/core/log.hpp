#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <type_traits>

/// Structured logs: one JSON object per line on stderr (or plain text).
namespace cotflow::log {

enum class level : int { trace, debug, info, warn, error };

/// A field of a line beyond time, level, actor and message, e.g.
/// {"destination", name}, {"partition", 3}: a JSON member of its own (a
/// number for integers), ` key=value` in the text format.
struct field {
  field(std::string_view k, std::string_view v) : key(k), text(v) {}

  template <class T, std::enable_if_t<std::is_integral_v<T>, int> = 0>
  field(std::string_view k, T v)
    : key(k), number(static_cast<int64_t>(v)), is_number(true) {}

  std::string_view key;
  std::string_view text;
  int64_t number = 0;
  bool is_number = false;
};

using fields = std::initializer_list<field>;

/// Sets the threshold and format ("json" or "text"); thread-safe.
void configure(std::string_view threshold, std::string_view format);

/// Writes the lines to the file at `path` (appended) instead of stderr,
/// e.g. while stdout shows a live line; false with `err` set when it
/// cannot be opened.
bool to_file(const std::string& path, std::string& err);

/// True when messages at `lvl` are written.
bool enabled(level lvl);

/// The line `write` would write now, newline included.
std::string line(level lvl, std::string_view actor, std::string_view message,
                 fields extra = {});

/// Writes one line with the `extra` fields after the message.
void write(level lvl, std::string_view actor, std::string_view message,
           fields extra = {});

inline void info(std::string_view actor, std::string_view msg,
                 fields extra = {}) {
  write(level::info, actor, msg, extra);
}
inline void warn(std::string_view actor, std::string_view msg,
                 fields extra = {}) {
  write(level::warn, actor, msg, extra);
}
inline void error(std::string_view actor, std::string_view msg,
                  fields extra = {}) {
  write(level::error, actor, msg, extra);
}
inline void debug(std::string_view actor, std::string_view msg,
                  fields extra = {}) {
  if (enabled(level::debug))
    write(level::debug, actor, msg, extra);
}

} // namespace cotflow::log
