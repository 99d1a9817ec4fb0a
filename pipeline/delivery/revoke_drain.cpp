#include "pipeline/delivery/revoke_drain.hpp"

#include <algorithm>

namespace cotflow {

bool revoke_drain::waits(const std::vector<uint32_t>& handles,
                         const in_flight_fn& in_flight) const {
  if (bound_ <= clock::duration::zero())
    return false;
  return std::any_of(handles.begin(), handles.end(),
                     [&](uint32_t tp) { return in_flight(tp) > 0; });
}

void revoke_drain::start(std::vector<uint32_t> handles,
                         const in_flight_fn& in_flight, clock::time_point now) {
  parts_.clear();
  for (auto tp : handles)
    parts_.emplace_back(tp, in_flight(tp));
  handles_ = std::move(handles);
  since_ = now;
  deadline_ = now + bound_;
  pending_ = true;
}

bool revoke_drain::holds(uint32_t tp) const {
  return pending_
         && std::find(handles_.begin(), handles_.end(), tp) != handles_.end();
}

bool revoke_drain::due(const in_flight_fn& in_flight,
                       clock::time_point now) const {
  if (!pending_)
    return false;
  return now >= deadline_ || total(parts_, in_flight) == 0;
}

size_t
revoke_drain::total(const std::vector<std::pair<uint32_t, size_t>>& parts,
                    const in_flight_fn& in_flight) {
  size_t n = 0;
  for (auto& [tp, at_revoke] : parts)
    n += in_flight(tp);
  return n;
}

revoke_drain::summary revoke_drain::finish(const in_flight_fn& in_flight,
                                           clock::time_point now) {
  summary s;
  if (!pending_)
    return s;
  for (auto& [tp, at_revoke] : parts_) {
    auto left = in_flight(tp);
    (left == 0 ? s.partitions_drained : s.partitions_abandoned) += 1;
    s.records_abandoned += left;
    // Nothing of a held partition is handed out after the revoke: what is
    // no longer in flight was acknowledged.
    s.records_drained += at_revoke > left ? at_revoke - left : 0;
  }
  s.waited = now - since_;
  s.timed_out = s.records_abandoned > 0 && now >= deadline_;
  parts_.clear();
  handles_.clear();
  pending_ = false;
  return s;
}

revoke_drain::summary
revoke_drain::at_once(const std::vector<uint32_t>& handles,
                      const in_flight_fn& in_flight) {
  summary s;
  for (auto tp : handles) {
    auto left = in_flight(tp);
    (left == 0 ? s.partitions_drained : s.partitions_abandoned) += 1;
    s.records_abandoned += left;
  }
  return s;
}

} // namespace cotflow
