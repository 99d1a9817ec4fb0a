#include "pipeline/delivery/offset_tracker.hpp"

#include <algorithm>

namespace cotflow {

void partition_offsets::dispatched(int64_t offset, dest_mask mask) {
  if (offset < next_)
    return; // a re-delivery of an offset we already track
  next_ = offset + 1;
  if (mask == 0)
    return;
  pending_.emplace_back(offset, mask);
  ++in_flight_;
}

bool partition_offsets::ack(int64_t offset, dest_mask bits, dest_mask* marks) {
  if (pending_.empty() || offset < pending_.front().first)
    return false;
  // Offsets are mostly consecutive: the offset's distance from the oldest
  // pending one is then its index. Gaps (compacted or transactional
  // topics, records owed to nobody) fall back to a binary search.
  auto guess = static_cast<uint64_t>(offset - pending_.front().first);
  auto it = guess < pending_.size() && pending_[guess].first == offset
              ? pending_.begin() + static_cast<std::ptrdiff_t>(guess)
              : std::lower_bound(
                pending_.begin(), pending_.end(), offset,
                [](const auto& p, int64_t o) { return p.first < o; });
  if (it == pending_.end() || it->first != offset || it->second == 0)
    return false;
  // Clear the destinations' bits; remember a parking or a drop.
  it->second = (it->second & ~bits) | (bits & outcome_bits);
  if ((it->second & ~outcome_bits) != 0)
    return false;
  if (marks)
    *marks = it->second & outcome_bits;
  it->second = 0;
  --in_flight_;
  while (!pending_.empty() && pending_.front().second == 0)
    pending_.pop_front();
  return true;
}

int64_t partition_offsets::commit_position() const {
  return pending_.empty() ? next_ : pending_.front().first;
}

uint32_t offset_tracker::assign(const std::string& topic, int32_t partition,
                                int64_t start) {
  auto tp = next_tp_++;
  auto& e = parts_.emplace(tp, entry{topic, partition, {}, -1}).first->second;
  if (start >= 0)
    e.offsets.start_at(start);
  return tp;
}

size_t offset_tracker::revoke(uint32_t tp) {
  auto it = parts_.find(tp);
  if (it == parts_.end())
    return 0;
  auto n = it->second.offsets.in_flight();
  parts_.erase(it);
  return n;
}

uint32_t offset_tracker::handle(const std::string& topic,
                                int32_t partition) const {
  for (auto& [tp, e] : parts_)
    if (e.partition == partition && e.topic == topic)
      return tp;
  return 0;
}

bool offset_tracker::dispatched(uint32_t tp, int64_t offset, dest_mask mask) {
  auto it = parts_.find(tp);
  if (it == parts_.end())
    return false;
  it->second.offsets.dispatched(offset, mask);
  return true;
}

bool offset_tracker::ack(uint32_t tp, int64_t offset, dest_mask bits,
                         dest_mask* marks) {
  auto it = parts_.find(tp);
  if (it == parts_.end())
    return false;
  return it->second.offsets.ack(offset, bits, marks);
}

std::vector<commit_point> offset_tracker::due() const {
  std::vector<commit_point> out;
  for (auto& [tp, e] : parts_) {
    auto pos = e.offsets.commit_position();
    if (pos > e.committed)
      out.push_back({tp, e.topic, e.partition, pos});
  }
  return out;
}

std::vector<commit_point> offset_tracker::due(uint32_t tp) const {
  std::vector<commit_point> out;
  auto it = parts_.find(tp);
  if (it != parts_.end()) {
    auto pos = it->second.offsets.commit_position();
    if (pos > it->second.committed)
      out.push_back({tp, it->second.topic, it->second.partition, pos});
  }
  return out;
}

void offset_tracker::committed(uint32_t tp, int64_t offset) {
  auto it = parts_.find(tp);
  if (it != parts_.end())
    it->second.committed = std::max(it->second.committed, offset);
}

size_t offset_tracker::in_flight() const {
  size_t n = 0;
  for (auto& [tp, e] : parts_)
    n += e.offsets.in_flight();
  return n;
}

size_t offset_tracker::in_flight(uint32_t tp) const {
  auto it = parts_.find(tp);
  return it == parts_.end() ? 0 : it->second.offsets.in_flight();
}

size_t offset_tracker::span() const {
  size_t n = 0;
  for (auto& [tp, e] : parts_)
    n += e.offsets.span();
  return n;
}

int64_t offset_tracker::next(uint32_t tp) const {
  auto it = parts_.find(tp);
  return it == parts_.end() ? -1 : it->second.offsets.next();
}

uint32_t offset_tracker::reset(uint32_t tp) {
  auto it = parts_.find(tp);
  if (it == parts_.end())
    return 0;
  auto topic = it->second.topic;
  auto partition = it->second.partition;
  parts_.erase(it);
  return assign(topic, partition);
}

std::vector<uint32_t> offset_tracker::handles() const {
  std::vector<uint32_t> out;
  for (auto& [tp, e] : parts_)
    out.push_back(tp);
  return out;
}

} // namespace cotflow
