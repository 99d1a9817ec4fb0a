#pragma once

#include "pipeline/core/record.hpp"
#include "pipeline/core/string_pool.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace cotflow {

/// One encoded CoT event.
struct cot_event {
  record_ref ref;
  /// Kafka timestamp of the input record, for end-to-end latency.
  int64_t timestamp_ms = -1;
  /// The CoT uid, also the Kafka key of the output record.
  std::string uid;
  /// The CoT type and the detection's source, for destination filters.
  std::string type;
  std::string source;
  /// When the event goes stale (ms since epoch); 0: never (deletes). A
  /// parked event past it is dropped and counted instead of replayed.
  int64_t stale_ms = 0;
  std::string xml;
};

using cot_events = std::vector<cot_event>;

/// The CoT events of one batch, sent to every destination. Shared and
/// immutable: each destination reads the same events (no copy per
/// destination) and keeps the batch alive for as long as it holds any of
/// them (the Kafka producer until the delivery report, a TAK destination
/// while the event is queued or kept for a replay after a reconnect).
struct cot_batch {
  std::shared_ptr<const cot_events> events;
};

/// An empty batch of events to fill and then share. When the last holder
/// lets it go (in whichever thread), the XML buffers of its events go back
/// to `xml_pool` (may be null) for the encoders to fill again.
inline std::shared_ptr<cot_events>
make_cot_events(std::shared_ptr<string_pool> xml_pool) {
  struct give_back_xml {
    std::shared_ptr<string_pool> pool;
    void operator()(cot_events* events) const {
      if (pool)
        pool->give(*events,
                   [](cot_event& ev) -> std::string& { return ev.xml; });
      delete events;
    }
  };
  return {new cot_events, give_back_xml{std::move(xml_pool)}};
}

/// One event of a shared batch; keeps the batch alive.
class event_ref {
public:
  event_ref(std::shared_ptr<const cot_events> batch, size_t i)
    : batch_(std::move(batch)), ev_(&(*batch_)[i]) {}

  const cot_event& operator*() const {
    return *ev_;
  }

  const cot_event* operator->() const {
    return ev_;
  }

private:
  std::shared_ptr<const cot_events> batch_;
  const cot_event* ev_;
};

} // namespace cotflow
