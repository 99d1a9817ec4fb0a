#pragma once

#include "pipeline/core/detection.hpp"

#include <cstddef>
#include <optional>
#include <string_view>

/// The CloudTAK / node-CoT convention for GeoJSON Features, beyond the
/// fields every input shape shares: the properties that name a CoT detail
/// (`links`, `group`, `icon`, `marker-color`, `contact`, `status`, `dest`,
/// `mission`, `milsym`, `archived`, ...) and the LineString and Polygon
/// geometries, which TAK draws as u-d-f shapes. docs/input-format.md lists
/// each property and the element it becomes.
///
/// The decoder reads the fields it knows in one pass over the record; a
/// Feature that carries any of these properties, or a geometry other than
/// a Point, is read a second time, whole, here. Such records are rare in a
/// detection feed, so the common case pays nothing for the convention.
namespace cotflow::cloudtak {

/// Whether `name` is a property of the convention that only this reader
/// reads (the decoder then hands the Feature to read()).
bool is_property(std::string_view name);

/// Whether `type` is a geometry read() draws: LineString or Polygon.
bool is_drawing(std::string_view type);

/// The limits read() keeps.
struct limits {
  /// Attribute text is cut to this many bytes (pipeline.max_text_bytes).
  size_t max_text = 4096;
  /// Most vertices of a drawing (cot.max_vertices).
  size_t max_vertices = 1000;
  /// A center's hae out of range is set to the nearest end and marked
  /// (cot.out_of_range: clamp), as a Point's is; else refused.
  bool clamp = false;
};

/// Reads the convention's properties of the Feature `feature` (its whole
/// JSON text, already known to be valid JSON and a Feature) into `d`, and,
/// when its geometry is a LineString or Polygon, the drawing: the vertices,
/// its colours and the point that stands for it (properties.center, else
/// the middle vertex of a line or the mean of a polygon's vertices). The
/// refusal when something there is not what the convention allows.
std::optional<refusal> read(std::string_view feature, detection& d,
                            const limits& lim);

/// `argb` as ATAK writes a colour: a signed 32-bit integer in decimal.
std::string argb_text(int32_t argb);

} // namespace cotflow::cloudtak
