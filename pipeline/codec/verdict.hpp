#pragma once

#include "config/config.hpp"
#include "pipeline/codec/cot_encoder.hpp"
#include "pipeline/codec/decoder.hpp"
#include "pipeline/core/detection.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace cotflow {

/// What the pipeline does with one input record.
struct verdict {
  enum class kind : uint8_t {
    /// It becomes a CoT event (`text`).
    encoded,
    /// It goes to the dead-letter topic: `text` is the reason as its
    /// headers carry it, `detail` the field or detail.
    refused,
    /// It is dropped and counted: `text` is the encoder's outcome
    /// ("dropped_stale", ...).
    dropped,
  } what
    = kind::encoded;
  std::string text;
  std::string detail;
  /// Where the event's time came from (encoded only).
  detection::time_origin time_from = detection::time_origin::record;
};

/// The encoders' decoding and encoding one record at a time, for `cotflow
/// validate`: the decoder and encoder of the pipeline set up from `cfg` as
/// the encoder actors set them up.
class record_checker {
public:
  explicit record_checker(const config& cfg);

  /// The verdict on `bytes` at `now_ms`. The record has no Kafka
  /// timestamp, so one without time gets the receive time, `now_ms`.
  verdict check(std::string_view bytes, int64_t now_ms);

private:
  decoder dec_;
  cot_encoder enc_;
  bool time_from_kafka_;
  detection det_;
};

} // namespace cotflow
