#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace cotflow::test {

/// What next_stream_frame() found.
enum class frame_read {
  /// A whole frame: its payload is set and `at` is past it.
  frame,
  /// The frame at `at` is not all there yet (or nothing is).
  incomplete,
  /// No frame starts at `at` (no 0xbf, or a length longer than 64 bits):
  /// nothing after it can be trusted to be framed.
  broken,
};

/// Reads the TAK Protocol version 1 stream frame at `at` in `bytes`: 0xbf,
/// the payload's length as a varint, the payload. The test receivers' and
/// the tests' one reader of cotflow's frames.
inline frame_read next_stream_frame(std::string_view bytes, size_t& at,
                                    std::string_view& payload) {
  if (at >= bytes.size())
    return frame_read::incomplete;
  if (static_cast<unsigned char>(bytes[at]) != 0xbf)
    return frame_read::broken;
  uint64_t len = 0;
  size_t p = at + 1;
  for (int shift = 0;; shift += 7) {
    if (p >= bytes.size())
      return frame_read::incomplete;
    if (shift > 63)
      return frame_read::broken;
    auto b = static_cast<unsigned char>(bytes[p++]);
    len |= uint64_t{b & 0x7Fu} << shift;
    if (!(b & 0x80))
      break;
  }
  if (bytes.size() - p < len)
    return frame_read::incomplete;
  payload = bytes.substr(p, static_cast<size_t>(len));
  at = p + static_cast<size_t>(len);
  return frame_read::frame;
}

} // namespace cotflow::test
