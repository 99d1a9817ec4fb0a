#include "pipeline/core/log.hpp"

#include "pipeline/core/time.hpp"

#include <atomic>
#include <cstdio>
#include <mutex>
#include <string>

namespace cotflow::log {

namespace {

std::atomic<int> threshold_{static_cast<int>(level::info)};
std::atomic<bool> json_{true};
std::mutex mtx_;

const char* name_of(level l) {
  switch (l) {
    case level::trace:
      return "trace";
    case level::debug:
      return "debug";
    case level::info:
      return "info";
    case level::warn:
      return "warn";
    case level::error:
      return "error";
  }
  return "info";
}

void json_escape(std::string_view s, std::string& out) {
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          out += buf;
        } else {
          out += ch;
        }
    }
  }
}

} // namespace

void configure(std::string_view t, std::string_view format) {
  static const level all[] = {level::trace, level::debug, level::info,
                              level::warn, level::error};
  for (auto l : all)
    if (t == name_of(l))
      threshold_ = static_cast<int>(l);
  json_ = format != "text";
}

bool enabled(level lvl) {
  return static_cast<int>(lvl) >= threshold_.load(std::memory_order_relaxed);
}

void write(level lvl, std::string_view actor, std::string_view message,
           std::string_view record_id) {
  if (!enabled(lvl))
    return;
  std::string line;
  line.reserve(128 + message.size());
  auto ts = rfc3339(now_ms());
  if (json_) {
    line += "{\"time\":\"" + ts + "\",\"level\":\"" + name_of(lvl)
            + "\",\"actor\":\"";
    json_escape(actor, line);
    line += "\",\"message\":\"";
    json_escape(message, line);
    line += '"';
    if (!record_id.empty()) {
      line += ",\"record\":\"";
      json_escape(record_id, line);
      line += '"';
    }
    line += "}\n";
  } else {
    line += ts + " " + name_of(lvl) + " [" + std::string{actor} + "] "
            + std::string{message};
    if (!record_id.empty())
      line += " record=" + std::string{record_id};
    line += '\n';
  }
  std::lock_guard<std::mutex> guard{mtx_};
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

} // namespace cotflow::log
