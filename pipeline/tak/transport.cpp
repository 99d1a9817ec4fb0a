#include "pipeline/tak/transport.hpp"

#include <algorithm>

namespace cotflow {

namespace {

// The type of TAK Server's answer to a ping. In XML it is an attribute
// value, in version 1 a string field's bytes: the same bytes either way.
constexpr std::string_view pong_type = "t-x-c-t-r";

} // namespace

uint64_t pong_scanner::feed(std::string_view bytes) {
  auto count_in = [](std::string_view text, size_t starts_before) {
    uint64_t n = 0;
    for (auto at = text.find(pong_type); at < starts_before;
         at = text.find(pong_type, at + pong_type.size()))
      ++n;
    return n;
  };
  // An answer that began in the previous chunk's last bytes.
  if (!tail_.empty()) {
    auto seam = tail_;
    seam.append(bytes.substr(0, pong_type.size() - 1));
    count_ += count_in(seam, tail_.size());
  }
  count_ += count_in(bytes, std::string_view::npos);
  // Keep what may begin the next answer: shorter than one, so that no
  // answer is counted twice.
  auto keep = std::min(bytes.size(), pong_type.size() - 1);
  if (keep < pong_type.size() - 1) {
    tail_.append(bytes);
    if (tail_.size() > pong_type.size() - 1)
      tail_.erase(0, tail_.size() - (pong_type.size() - 1));
  } else {
    tail_.assign(bytes.substr(bytes.size() - keep));
  }
  return count_;
}

} // namespace cotflow
