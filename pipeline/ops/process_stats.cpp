#include "pipeline/ops/process_stats.hpp"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

namespace cotflow {

namespace {

std::string slurp(const char* path) {
  std::ifstream in{path};
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

/// Entries of /proc/self/fd (the directory's own descriptor included, as
/// the Go client counts it).
double count_open_fds() {
  auto* dir = opendir("/proc/self/fd");
  if (!dir)
    return 0;
  double n = 0;
  while (auto* e = readdir(dir))
    n += e->d_name[0] != '.';
  closedir(dir);
  return n;
}

} // namespace

bool parse_proc_stat(std::string_view stat, double ticks_per_second,
                     double page_size, double boot_time, process_sample& out) {
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so
  // the fields are counted from the last ')', whose next field is the 3rd.
  auto close = stat.rfind(')');
  if (close == std::string_view::npos)
    return false;
  std::istringstream in{std::string{stat.substr(close + 1)}};
  std::vector<std::string> f;
  for (std::string word; in >> word;)
    f.push_back(word);
  if (f.size() < 22)
    return false;
  auto field = [&](int n) { return std::strtod(f[n - 3].c_str(), nullptr); };
  out.cpu_seconds = (field(14) + field(15)) / ticks_per_second;
  out.start_time_seconds = boot_time + field(22) / ticks_per_second;
  out.virtual_bytes = field(23);
  out.resident_bytes = field(24) * page_size;
  return true;
}

std::optional<double> parse_boot_time(std::string_view proc_stat) {
  auto at = proc_stat.find("\nbtime ");
  if (at == std::string_view::npos)
    return std::nullopt;
  return std::strtod(std::string{proc_stat.substr(at + 7, 32)}.c_str(),
                     nullptr);
}

std::optional<process_sample> read_process_sample() {
  auto boot = parse_boot_time(slurp("/proc/stat"));
  process_sample s;
  if (!boot
      || !parse_proc_stat(slurp("/proc/self/stat"),
                          static_cast<double>(sysconf(_SC_CLK_TCK)),
                          static_cast<double>(sysconf(_SC_PAGESIZE)), *boot, s))
    return std::nullopt;
  s.open_fds = count_open_fds();
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0)
    s.max_fds = static_cast<double>(lim.rlim_cur);
  return s;
}

} // namespace cotflow
