#pragma once

#include "pipeline/core/detection.hpp"

#include <optional>
#include <string_view>

namespace cotflow {

/// Strict decoder of both input shapes: a flat detection or a GeoJSON Point
/// Feature. Holds its parse buffers so that decoding does not allocate once
/// warm.
class decoder {
public:
  /// `max_bytes`: larger records are refused as too_large. `fast`: the
  /// common case (ASCII text without escapes, short numbers) is parsed by
  /// cotflow's own parser, the rest by RapidJSON; false (for tests): all by
  /// RapidJSON. Both decode every record alike.
  explicit decoder(size_t max_bytes, bool fast = true);
  ~decoder();
  decoder(const decoder&) = delete;
  decoder& operator=(const decoder&) = delete;

  /// Decodes `bytes` into `out`; returns the refusal when it is not valid.
  std::optional<refusal> decode(std::string_view bytes, detection& out);

private:
  struct impl;
  impl* impl_;
  size_t max_bytes_;
  bool fast_;
};

} // namespace cotflow
