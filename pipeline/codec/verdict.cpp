#include "pipeline/codec/verdict.hpp"

namespace cotflow {

record_checker::record_checker(const config& cfg)
  : dec_(cfg), enc_(cfg.cot, cfg.presentation),
    time_from_kafka_(cfg.cot.missing_time == "kafka_timestamp") {}

verdict record_checker::check(std::string_view bytes, int64_t now_ms) {
  verdict v;
  if (auto refused = dec_.decode(bytes, det_)) {
    v.what = verdict::kind::refused;
    v.text = to_string(refused->reason);
    v.detail = std::move(refused->detail);
    return v;
  }
  fill_missing_time(det_, 0, now_ms, time_from_kafka_);
  auto outcome = enc_.encode(det_, now_ms, v.text);
  if (outcome != encode_outcome::encoded) {
    v.what = verdict::kind::dropped;
    v.text = to_string(outcome);
  }
  v.time_from = det_.time_from;
  return v;
}

} // namespace cotflow
