#pragma once

#include "pipeline/tak/protocol/tak_protocol.hpp"

#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace cotflow::test {

/// The TakMessages of the TAK Protocol version 1 stream frames in `bytes`
/// (0xbf, the payload's length as a varint, the payload), which must hold
/// only whole frames.
inline std::vector<takp::pb::TakMessage>
stream_frames(const std::string& bytes) {
  std::vector<takp::pb::TakMessage> out;
  size_t at = 0;
  while (at < bytes.size()) {
    BOOST_REQUIRE_EQUAL(static_cast<unsigned char>(bytes[at++]), 0xbfu);
    uint64_t len = 0;
    for (int shift = 0;; shift += 7) {
      BOOST_REQUIRE(at < bytes.size() && shift < 64);
      auto b = static_cast<unsigned char>(bytes[at++]);
      len |= uint64_t{b & 0x7Fu} << shift;
      if (!(b & 0x80))
        break;
    }
    BOOST_REQUIRE_LE(len, bytes.size() - at);
    out.emplace_back();
    BOOST_REQUIRE(out.back().ParseFromString(bytes.substr(at, len)));
    at += len;
  }
  return out;
}

} // namespace cotflow::test
