#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace cotflow {

/// What `cotflow tail` watches: CoT events (or dead letters) as they pass,
/// for viewers that each hold a bounded queue of lines. The pipeline never
/// waits for a viewer: what one cannot keep up with is dropped and counted
/// for it. With nobody watching, offering costs one atomic load.
class event_tap {
public:
  /// What one viewer wants to see; an empty filter lets all through.
  struct filter {
    /// Dead letters instead of events.
    bool dead_letters = false;
    std::string uid;
    /// A CoT type prefix ("a-h").
    std::string type;
    std::string source;
  };

  /// One viewer's queue.
  class viewer {
  public:
    viewer(filter f, size_t capacity) : f_(std::move(f)), capacity_(capacity) {}

    /// Waits up to `timeout` for lines; takes all there are.
    std::vector<std::string> take(std::chrono::milliseconds timeout) {
      std::unique_lock<std::mutex> lock{m_};
      cv_.wait_for(lock, timeout, [&] { return !lines_.empty(); });
      std::vector<std::string> out{std::make_move_iterator(lines_.begin()),
                                   std::make_move_iterator(lines_.end())};
      lines_.clear();
      return out;
    }

    /// Lines this viewer lost because it fell behind.
    uint64_t dropped() const {
      return dropped_;
    }

  private:
    friend class event_tap;

    bool wants(bool dead_letter, std::string_view uid, std::string_view type,
               std::string_view source) const {
      return dead_letter == f_.dead_letters && (f_.uid.empty() || uid == f_.uid)
             && (f_.type.empty() || type.substr(0, f_.type.size()) == f_.type)
             && (f_.source.empty() || source == f_.source);
    }

    void put(std::string_view line) {
      {
        std::lock_guard<std::mutex> guard{m_};
        if (lines_.size() >= capacity_) {
          ++dropped_;
          return;
        }
        lines_.emplace_back(line);
      }
      cv_.notify_one();
    }

    filter f_;
    size_t capacity_;
    std::mutex m_;
    std::condition_variable cv_;
    std::deque<std::string> lines_;
    std::atomic<uint64_t> dropped_{0};
  };

  /// True while anybody watches.
  bool watching() const {
    return watching_.load(std::memory_order_relaxed) > 0;
  }

  /// A new viewer with room for `capacity` lines.
  std::shared_ptr<viewer> attach(filter f, size_t capacity = 1000) {
    auto v = std::make_shared<viewer>(std::move(f), capacity);
    std::lock_guard<std::mutex> guard{m_};
    viewers_.push_back(v);
    watching_ = viewers_.size();
    return v;
  }

  void detach(const std::shared_ptr<viewer>& v) {
    std::lock_guard<std::mutex> guard{m_};
    for (size_t i = 0; i < viewers_.size(); ++i)
      if (viewers_[i] == v) {
        dropped_before_ += v->dropped();
        viewers_.erase(viewers_.begin() + static_cast<std::ptrdiff_t>(i));
        break;
      }
    watching_ = viewers_.size();
  }

  /// Offers one line (an event's XML, or a dead letter's description) to
  /// every viewer whose filter it passes.
  void offer(bool dead_letter, std::string_view uid, std::string_view type,
             std::string_view source, std::string_view line) {
    std::lock_guard<std::mutex> guard{m_};
    for (auto& v : viewers_)
      if (v->wants(dead_letter, uid, type, source))
        v->put(line);
  }

  /// Lines every viewer so far lost (for the metrics).
  uint64_t dropped() const {
    std::lock_guard<std::mutex> guard{m_};
    uint64_t n = dropped_before_;
    for (auto& v : viewers_)
      n += v->dropped();
    return n;
  }

  size_t viewers() const {
    return watching_.load();
  }

private:
  mutable std::mutex m_;
  std::vector<std::shared_ptr<viewer>> viewers_;
  std::atomic<size_t> watching_{0};
  uint64_t dropped_before_ = 0;
};

} // namespace cotflow
