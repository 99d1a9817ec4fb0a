#include "pipeline/core/log.hpp"

#include "pipeline/core/json.hpp"
#include "pipeline/core/time.hpp"

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>

namespace cotflow::log {

namespace {

std::atomic<int> threshold_{static_cast<int>(level::info)};
std::atomic<bool> json_{true};
std::mutex mtx_;
/// Where the lines go; guarded by mtx_.
std::FILE* out_ = stderr;

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

} // namespace

void configure(std::string_view t, std::string_view format) {
  static const level all[] = {level::trace, level::debug, level::info,
                              level::warn, level::error};
  for (auto l : all)
    if (t == name_of(l))
      threshold_ = static_cast<int>(l);
  json_ = format != "text";
}

bool to_file(const std::string& path, std::string& err) {
  auto* f = std::fopen(path.c_str(), "ae");
  if (!f) {
    err = path + ": " + std::strerror(errno);
    return false;
  }
  std::lock_guard<std::mutex> guard{mtx_};
  if (out_ != stderr)
    std::fclose(out_);
  out_ = f;
  return true;
}

bool enabled(level lvl) {
  return static_cast<int>(lvl) >= threshold_.load(std::memory_order_relaxed);
}

namespace {

std::string json_line(const std::string& time, level lvl,
                      std::string_view actor, std::string_view message,
                      fields extra) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w{buf};
  auto str = [&](std::string_view s) {
    w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  };
  w.StartObject();
  w.Key("time");
  str(time);
  w.Key("level");
  w.String(name_of(lvl));
  w.Key("actor");
  str(actor);
  w.Key("message");
  str(message);
  for (auto& f : extra) {
    w.Key(f.key.data(), static_cast<rapidjson::SizeType>(f.key.size()));
    if (f.is_number)
      w.Int64(f.number);
    else
      str(f.text);
  }
  w.EndObject();
  return std::string{buf.GetString(), buf.GetSize()} + "\n";
}

std::string text_line(const std::string& time, level lvl,
                      std::string_view actor, std::string_view message,
                      fields extra) {
  auto out = time + " " + name_of(lvl) + " [" + std::string{actor} + "] "
             + std::string{message};
  for (auto& f : extra) {
    out += ' ';
    out += f.key;
    out += '=';
    out += f.is_number ? std::to_string(f.number) : std::string{f.text};
  }
  return out + "\n";
}

} // namespace

std::string line(level lvl, std::string_view actor, std::string_view message,
                 fields extra) {
  auto ts = rfc3339(now_ms());
  return json_ ? json_line(ts, lvl, actor, message, extra)
               : text_line(ts, lvl, actor, message, extra);
}

void write(level lvl, std::string_view actor, std::string_view message,
           fields extra) {
  if (!enabled(lvl))
    return;
  auto text = line(lvl, actor, message, extra);
  std::lock_guard<std::mutex> guard{mtx_};
  std::fwrite(text.data(), 1, text.size(), out_);
  std::fflush(out_);
}

} // namespace cotflow::log
