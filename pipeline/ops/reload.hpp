#pragma once

#include "config/config.hpp"
#include "pipeline/core/stats.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace cotflow {

/// Says when to load the configuration again: on SIGHUP (a flag the signal
/// thread sets) or when the file's modification time changed (checked at
/// most once a second).
class reload_trigger {
public:
  /// `file` may be empty (no file to watch), `sighup` null (no signal).
  reload_trigger(std::string file, std::atomic<bool>* sighup);

  /// Why to reload now ("SIGHUP", "config file changed"), or null.
  const char* poll(std::chrono::steady_clock::time_point now);

private:
  std::string file_;
  std::atomic<bool>* sighup_;
  int64_t mtime_;
  std::chrono::steady_clock::time_point next_check_;
};

/// Loads the configuration again with `load` and works out what changed:
/// the hot keys are copied into `current` (and returned true, for the
/// actors to apply); keys that need a restart, or a configuration that does
/// not validate, are reported in the log and /status and change nothing.
bool reload_config(const std::function<load_result()>& load, config& current,
                   stats& st, const char* why);

} // namespace cotflow
