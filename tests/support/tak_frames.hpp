#pragma once

#include "pipeline/tak/protocol/tak_protocol.hpp"
#include "tests/support/stream_frame.hpp"

#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace cotflow::test {

/// The TakMessages of the TAK Protocol version 1 stream frames in `bytes`
/// (0xbf, the payload's length as a varint, the payload), which must hold
/// only whole frames.
inline std::vector<takp::pb::TakMessage>
stream_frames(const std::string& bytes) {
  std::vector<takp::pb::TakMessage> out;
  size_t at = 0;
  std::string_view payload;
  while (at < bytes.size()) {
    BOOST_REQUIRE(next_stream_frame(bytes, at, payload) == frame_read::frame);
    out.emplace_back();
    BOOST_REQUIRE(out.back().ParseFromString(std::string{payload}));
  }
  return out;
}

} // namespace cotflow::test
