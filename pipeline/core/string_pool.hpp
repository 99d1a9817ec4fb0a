#pragma once

#include <cstddef>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace cotflow {

/// The most an encoder reserves for an event's XML ahead of writing it:
/// buffers of that size or less fit the next event whatever they held last,
/// so the pool keeps them (see `room` below).
inline constexpr size_t xml_room = 2048;

/// String buffers handed back across threads for reuse: the XML of every
/// event goes round from the destination that lets go of it last to the
/// encoder that fills the next one, instead of a malloc and a free per
/// event (the free on another thread than the malloc). Bounded by the bytes
/// it holds; a string that does not fit, whose buffer is larger than
/// `max_capacity`, or more than twice what it holds and larger than `room`,
/// is simply freed. `room` is the size the users reserve for an ordinary
/// item: such a buffer is kept whatever it held last (it fits the next one).
class string_pool {
public:
  string_pool(size_t max_bytes, size_t max_capacity, size_t room = 0)
    : max_bytes_(max_bytes), max_capacity_(max_capacity), room_(room) {}

  string_pool(const string_pool&) = delete;
  string_pool& operator=(const string_pool&) = delete;

  /// Takes the buffers of the strings `get(item)` names for each item of
  /// `items` (they are left empty or freed). One lock for all of them.
  template <class Items, class Get>
  void give(Items& items, Get get) {
    std::lock_guard<std::mutex> guard{mu_};
    for (auto& item : items) {
      std::string& s = get(item);
      auto cap = s.capacity();
      // An inline (short) string has no buffer worth keeping; one that
      // grew for a large record and now holds a small one is let go, so
      // that buffers do not stay at the size of the largest record seen.
      if (cap < min_capacity || cap > max_capacity_
          || (cap > room_ && cap > 2 * s.size() + min_capacity)
          || bytes_ + cap > max_bytes_)
        continue;
      bytes_ += cap;
      s.clear();
      spares_.push_back(std::move(s));
    }
  }

  /// Takes the buffers of `strings` (one lock for all of them).
  void give(std::vector<std::string>& strings) {
    give(strings, [](std::string& s) -> std::string& { return s; });
  }

  /// The next string to fill: a spare from `cache`, which is refilled from
  /// the pool `batch` at a time (one lock per refill); an empty string when
  /// the pool has none.
  std::string next(std::vector<std::string>& cache, size_t batch) {
    if (cache.empty())
      take(cache, batch);
    if (cache.empty())
      return {};
    auto s = std::move(cache.back());
    cache.pop_back();
    return s;
  }

  /// Moves up to `n` spare strings to the end of `out`.
  void take(std::vector<std::string>& out, size_t n) {
    std::lock_guard<std::mutex> guard{mu_};
    while (n-- > 0 && !spares_.empty()) {
      bytes_ -= spares_.back().capacity();
      out.push_back(std::move(spares_.back()));
      spares_.pop_back();
    }
  }

  /// Bytes held in spare buffers.
  size_t bytes() const {
    std::lock_guard<std::mutex> guard{mu_};
    return bytes_;
  }

private:
  static constexpr size_t min_capacity = 32;

  mutable std::mutex mu_;
  std::vector<std::string> spares_;
  size_t bytes_ = 0;
  size_t max_bytes_;
  size_t max_capacity_;
  size_t room_;
};

/// A string with room for `need` bytes to fill: a spare from `pool` (through
/// `cache`, refilled `batch` at a time) when it has one, reserved at
/// max(need, room) when it holds less than `need`. `pool` may be null.
inline std::string buffer_for(string_pool* pool,
                              std::vector<std::string>& cache, size_t batch,
                              size_t need, size_t room) {
  std::string s;
  if (pool)
    s = pool->next(cache, batch);
  if (s.capacity() < need)
    s.reserve(need > room ? need : room);
  return s;
}

} // namespace cotflow
