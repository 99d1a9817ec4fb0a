#include "pipeline/core/counts.hpp"

#include <algorithm>

namespace cotflow {

parking_counts parking_of(const destination_stats& d) {
  parking_counts p;
  p.parked = d.parked;
  p.replayed = d.unparked;
  p.dropped = d.parked_stale + d.parked_dropped_at_write;
  p.lost = d.parked_lost;
  return p;
}

record_counts count_records(const stats& st) {
  record_counts r;
  // `completed` first: whatever made a record complete (its dead letter,
  // its drop, its parking for a destination) was counted before it, so
  // what is read after can only count more, never less, of those records.
  // A record is then never seen as out and not yet as waiting, dropped or
  // dead-lettered, and `delivered` never runs ahead of the truth.
  auto done = st.completed.load();
  r.in = st.consumed;
  r.parked = st.parked;
  r.dead_lettered = st.dead_lettered;
  r.dropped_filter = st.dropped();
  r.in_flight = st.in_flight;
  uint64_t waiting = 0, gone = 0;
  for (auto& d : st.destinations) {
    auto p = parking_of(*d);
    r.replayed += p.replayed;
    waiting += p.waiting();
    gone += p.gone();
  }
  auto other = r.dead_lettered + r.dropped_filter;
  r.out = done > other ? done - other : 0;
  r.waiting = std::min(waiting, r.out);
  r.dropped_in_parking = std::min(gone, r.out - r.waiting);
  r.dropped_at_destination = std::min<uint64_t>(
    st.dropped_at_destination, r.out - r.waiting - r.dropped_in_parking);
  r.dropped = r.dropped_filter + r.dropped_in_parking
              + r.dropped_at_destination;
  // The figure only lags the truth: the highest value seen is still true,
  // and a counter must not go down.
  auto delivered = r.out - r.waiting - r.dropped_in_parking
                   - r.dropped_at_destination;
  auto seen = st.delivered_floor.load();
  while (seen < delivered
         && !st.delivered_floor.compare_exchange_weak(seen, delivered)) {
  }
  r.delivered = std::max(seen, delivered);
  return r;
}

} // namespace cotflow
