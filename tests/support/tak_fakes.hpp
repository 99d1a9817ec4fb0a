#pragma once

#include "pipeline/core/cot_event.hpp"
#include "pipeline/tak/parking.hpp"
#include "pipeline/tak/transport.hpp"

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

// Fakes of what a TAK destination talks to, for the tests of
// tak_destination and of the tak_sink actor: a scripted transport and a
// parking topic in memory.

namespace cotflow::test {

using time_point = std::chrono::steady_clock::time_point;
using progress = tak_transport::progress;

/// What the fake server side saw, and how it behaves; shared with the test
/// (the destination owns the transport).
struct wire {
  bool up = true;            // connects succeed
  bool config_error = false; // a failed connect is a configuration error
  bool udp = false;
  bool tls = false;
  bool open = false;
  int connects = 0;
  /// Outcomes of the next write_some calls; complete when none is left.
  std::deque<progress> script;
  /// What the server sends next (read by the next read).
  std::string inbound;
  /// The server closes the connection at the next drain.
  bool close_next = false;
  /// What unacknowledged() reports (nothing: it cannot tell).
  std::optional<size_t> unacked;
  time_point last_read{};
  /// Answers to pings (t-x-c-t-r) the server sent so far.
  uint64_t pongs = 0;
  /// Every write the kernel took whole, and pings (`write`) in between.
  std::vector<std::string> writes;
  std::vector<std::string> pings;
};

/// A connection that does what `wire` says and records what it took.
struct fake_transport final : tak_transport {
  explicit fake_transport(std::shared_ptr<wire> w) : w(std::move(w)) {}
  bool connect(std::string& err, bool& config_error) override {
    ++w->connects;
    if (!w->up) {
      err = "connect: Connection refused";
      config_error = w->config_error;
      return false;
    }
    w->open = true;
    return true;
  }
  bool connected() const override {
    return w->open;
  }
  bool is_udp() const override {
    return w->udp;
  }
  bool is_tls() const override {
    return w->tls;
  }
  time_point last_read() const override {
    return w->last_read;
  }
  uint64_t pongs() const override {
    return w->pongs;
  }
  bool write(std::string_view bytes, std::string&) override {
    w->pings.emplace_back(bytes);
    return true;
  }
  progress write_some(const std::string_view* pieces, size_t n, size_t total,
                      size_t& done, time_point, std::string& err) override {
    auto r = progress::complete;
    if (!w->script.empty()) {
      r = w->script.front();
      w->script.pop_front();
    }
    if (r == progress::failed) {
      w->open = false;
      err = "write: Broken pipe";
    } else if (r == progress::complete) {
      std::string all;
      for (size_t i = 0; i < n; ++i)
        all += pieces[i];
      BOOST_REQUIRE_EQUAL(all.size(), total);
      w->writes.push_back(all);
      done = total;
    }
    return r;
  }
  std::optional<size_t> unacknowledged() const override {
    return w->unacked;
  }
  bool drain(std::string& err) override {
    if (!w->close_next)
      return true;
    w->close_next = false;
    w->open = false;
    err = "the server closed the connection";
    return false;
  }
  bool read(std::string& into, std::string& err) override {
    if (!drain(err))
      return false;
    into += w->inbound;
    w->inbound.clear();
    return true;
  }
  void close() override {
    w->open = false;
  }
  std::shared_ptr<wire> w;
};

/// A parking topic in memory: parked events wait for `serve` (Kafka's
/// confirmation), then sit in `stored` until the replayer takes them.
struct fake_lot final : parking_port {
  std::string name = "cotflow.parking.tak1";
  std::vector<cot_event> unconfirmed;
  std::deque<cot_event> stored;
  /// Confirm parked events at the next serve.
  bool confirm = true;
  std::string broken;
  std::vector<record_ref> done_refs;
  int holds = 0;
  int64_t next_offset = 0;

  const std::string& topic() const override {
    return name;
  }
  void park(const cot_event& ev) override {
    unconfirmed.push_back(ev);
  }
  void serve(std::vector<record_ref>& durable) override {
    if (!confirm)
      return;
    for (auto& ev : unconfirmed) {
      durable.push_back(ev.ref);
      auto copy = ev;
      // As parking_lot marks them (replayed_flags): this run's, or a
      // sensor event's (no record).
      copy.ref = {ev.ref.tp == 0 ? replay_flag | sensor_flag : replay_flag,
                  next_offset++};
      stored.push_back(copy);
    }
    unconfirmed.clear();
  }
  size_t outstanding() const override {
    return unconfirmed.size();
  }
  const std::string& failure() const override {
    return broken;
  }
  size_t replay(size_t max, int64_t now_ms, std::deque<event_ref>& out,
                stale_drops& stale) override {
    auto batch = std::make_shared<cot_events>();
    while (!stored.empty() && batch->size() < max) {
      auto ev = stored.front();
      stored.pop_front();
      if (ev.stale_ms > 0 && ev.stale_ms < now_ms) {
        if (ev.ref.tp & inherited_flag)
          ++stale.inherited;
        else if (!(ev.ref.tp & sensor_flag))
          ++stale.counted;
        done_refs.push_back(ev.ref);
        continue;
      }
      batch->push_back(std::move(ev));
    }
    for (size_t i = 0; i < batch->size(); ++i)
      out.emplace_back(batch, i);
    return batch->size();
  }
  void hold() override {
    ++holds;
  }
  void done(const record_ref& ref) override {
    done_refs.push_back(ref);
  }
  bool caught_up() override {
    return unconfirmed.empty() && stored.empty();
  }
  void store_positions() override {}
  int64_t backlog() override {
    return static_cast<int64_t>(stored.size());
  }
  uint64_t take_lost() override {
    return 0;
  }
  uint64_t take_foreign() override {
    return 0;
  }
};

} // namespace cotflow::test
