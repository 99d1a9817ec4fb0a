#include "commands/commands.hpp"

#include "pipeline/codec/verdict.hpp"
#include "pipeline/core/time.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>

namespace cotflow::commands {

namespace {

/// How many lines got which verdict.
struct tally {
  uint64_t encoded = 0;
  uint64_t refused = 0;
  uint64_t dropped = 0;
};

/// Prints the verdict on line `n`: its event on stdout, or why it makes
/// none.
void print(const verdict& v, uint64_t n, tally& t) {
  switch (v.what) {
    case verdict::kind::encoded:
      std::cout << v.text << "\n";
      ++t.encoded;
      if (v.time_from == detection::time_origin::receive_time)
        std::cerr << "line " << n
                  << ": note: no time in the record; the event has the "
                     "receive time, as the pipeline gives a record without "
                     "a Kafka timestamp\n";
      break;
    case verdict::kind::refused:
      std::cout << "line " << n << ": refused: " << v.text
                << (v.detail.empty() ? "" : " (" + v.detail + ")") << "\n";
      ++t.refused;
      break;
    case verdict::kind::dropped:
      std::cout << "line " << n << ": dropped: " << v.text << "\n";
      ++t.dropped;
      break;
  }
}

} // namespace

int cmd_validate(const invocation& inv) {
  auto& res = inv.loaded;
  for (auto& w : res.warnings)
    std::cerr << "cotflow: warning: " << w << "\n";
  if (!res.ok())
    return report_errors(res);
  auto& path = inv.positional.front();
  std::ifstream file;
  if (path != "-") {
    file.open(path);
    if (!file) {
      std::cerr << "cotflow validate: cannot read " << path << ": "
                << std::strerror(errno) << "\n";
      return exit_config;
    }
  }
  std::istream& in = path == "-" ? std::cin : file;
  record_checker checker{res.cfg};
  tally t;
  std::string line;
  for (uint64_t n = 1; std::getline(in, line); ++n)
    if (line.find_first_not_of(" \t\r") != std::string::npos)
      print(checker.check(line, now_ms()), n, t);
  if (in.bad()) {
    std::cerr << "cotflow validate: cannot read " << path << "\n";
    return exit_config;
  }
  std::cerr << "validate: " << t.encoded << " encoded, " << t.refused
            << " refused, " << t.dropped << " dropped\n";
  return t.refused + t.dropped == 0 ? 0 : 1;
}

} // namespace cotflow::commands
