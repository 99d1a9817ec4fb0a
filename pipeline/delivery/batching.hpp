#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <utility>
#include <vector>

namespace cotflow {

/// Groups items into batches by count or by age of the first item, whichever
/// comes first. Pure logic: the batcher actor owns the clock and the timer.
template <class T>
class batch_builder {
public:
  using clock = std::chrono::steady_clock;

  batch_builder(size_t max_count, std::chrono::milliseconds max_age)
    : max_count_(max_count), max_age_(max_age) {
    open_.reserve(max_count_);
  }

  /// Changes the limits; an open batch keeps its items and opening time.
  void limits(size_t max_count, std::chrono::milliseconds max_age) {
    max_count_ = max_count;
    max_age_ = max_age;
  }

  /// Adds one item; the first item of a batch starts its age.
  void push(T&& item, clock::time_point now) {
    if (open_.empty())
      opened_ = now;
    open_.push_back(std::move(item));
  }

  /// True when the open batch reached the count limit.
  bool full() const {
    return open_.size() >= max_count_;
  }

  /// True when the open batch is non-empty and reached its age at `now`.
  bool due(clock::time_point now) const {
    return !open_.empty() && now - opened_ >= max_age_;
  }

  /// When the open batch must leave, if there is one.
  std::optional<clock::time_point> deadline() const {
    if (open_.empty())
      return std::nullopt;
    return opened_ + max_age_;
  }

  /// Number of items in the open batch.
  size_t size() const {
    return open_.size();
  }

  bool empty() const {
    return open_.empty();
  }

  /// Takes the open batch (possibly empty) and starts a new one.
  std::vector<T> take() {
    std::vector<T> out;
    out.reserve(max_count_);
    std::swap(out, open_);
    return out;
  }

  /// A counter that changes each time a batch is taken; timers compare it to
  /// know whether the batch they were set for is still open.
  size_t generation() const {
    return generation_;
  }

  /// Takes the open batch and advances the generation.
  std::vector<T> take_and_advance() {
    ++generation_;
    return take();
  }

private:
  size_t max_count_;
  std::chrono::milliseconds max_age_;
  std::vector<T> open_;
  clock::time_point opened_{};
  size_t generation_ = 0;
};

} // namespace cotflow
