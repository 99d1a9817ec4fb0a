#pragma once

#include "pipeline/core/cot_event.hpp"
#include "pipeline/core/record.hpp"

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/meta/type_name.hpp>

#include <string>
#include <type_traits>

/// How CAF sees the payloads that actors exchange (the plain structs of
/// pipeline/core): one `inspect()` each, for printing and type registration.
namespace cotflow {

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, record_ref& x) {
  return f(caf::meta::type_name("record_ref"), x.tp, x.offset);
}

/// Saved or printed, a record carries its bytes (and stays as it was);
/// loaded, it has them in `payload`.
template <class Inspector>
typename std::enable_if<Inspector::reads_state,
                        typename Inspector::result_type>::type
inspect(Inspector& f, record& x) {
  std::string bytes{x.bytes()};
  return f(caf::meta::type_name("record"), x.ref, x.topic, x.partition,
           x.timestamp_ms, x.key, bytes);
}

template <class Inspector>
typename std::enable_if<!Inspector::reads_state,
                        typename Inspector::result_type>::type
inspect(Inspector& f, record& x) {
  x.hold(nullptr);
  return f(caf::meta::type_name("record"), x.ref, x.topic, x.partition,
           x.timestamp_ms, x.key, x.payload);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, record_chunk& x) {
  return f(caf::meta::type_name("record_chunk"), x.records, x.drained);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, batch& x) {
  return f(caf::meta::type_name("batch"), x.records);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cot_event& x) {
  return f(caf::meta::type_name("cot_event"), x.ref, x.timestamp_ms, x.uid,
           x.type, x.source, x.stale_ms, x.xml);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, dead_letter& x) {
  return f(caf::meta::type_name("dead_letter"), x.rec, x.reason, x.detail);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, dead_letter_batch& x) {
  return f(caf::meta::type_name("dead_letter_batch"), x.letters);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ack& x) {
  return f(caf::meta::type_name("ack"), x.bits, x.refs);
}

} // namespace cotflow

// Local only: work and CoT batches never leave the process.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cotflow::work)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cotflow::cot_batch)
