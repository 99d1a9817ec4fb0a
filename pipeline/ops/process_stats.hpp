#pragma once

#include <optional>
#include <string_view>

namespace cotflow {

/// The process's own resources, as the Prometheus clients export them
/// (`process_*`), read from /proc/self at scrape time.
struct process_sample {
  /// User and system CPU time.
  double cpu_seconds = 0;
  double resident_bytes = 0;
  double virtual_bytes = 0;
  /// Unix time the process started.
  double start_time_seconds = 0;
  double open_fds = 0;
  /// The soft limit of open files (RLIMIT_NOFILE).
  double max_fds = 0;
};

/// Fills the CPU, memory and start time of `out` from the text of
/// /proc/PID/stat; `boot_time` is btime of /proc/stat. False when the
/// text is not such a line.
bool parse_proc_stat(std::string_view stat, double ticks_per_second,
                     double page_size, double boot_time, process_sample& out);

/// btime (Unix seconds of the boot) from the text of /proc/stat.
std::optional<double> parse_boot_time(std::string_view proc_stat);

/// This process now; nothing without /proc.
std::optional<process_sample> read_process_sample();

} // namespace cotflow
