#include "actors/tak_sink.hpp"

#include "pipeline/cot_encoder.hpp"
#include "pipeline/log.hpp"
#include "pipeline/tak_filter.hpp"

#include <prometheus/histogram.h>

#include <unordered_map>
#include "pipeline/time.hpp"

#include <caf/all.hpp>

namespace cotflow {

namespace {

using clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

using self_ptr = cot_sink_actor::stateful_pointer<tak_sink_state>;

void schedule(self_ptr self, milliseconds delay) {
  auto& s = self->state;
  if (s.tick_pending)
    return;
  s.tick_pending = true;
  self->delayed_send(self, delay, atom::poll::value);
}

void lost(self_ptr self, const std::string& why) {
  auto& s = self->state;
  s.conn->close();
  // What the kernel accepted lately may never have reached the server:
  // send it again first, in its order.
  s.dstats->replayed += s.recent.size();
  s.dstats->connected = false;
  s.dstats->error(why);
  while (!s.recent.empty()) {
    s.queue.push_front(std::move(s.recent.back()));
    s.recent.pop_back();
  }
  s.recent_bytes = 0;
  auto delay = s.retry->next();
  s.next_attempt = clock::now() + delay;
  log::warn("tak-sink", s.dest + " (" + s.url + "): " + why + "; "
                          + std::to_string(s.queue.size())
                          + " events queued, reconnecting in "
                          + std::to_string(delay.count()) + " ms");
  s.last_error = why;
}

bool ensure_connected(self_ptr self) {
  auto& s = self->state;
  if (s.conn->connected())
    return true;
  auto now = clock::now();
  if (now < s.next_attempt)
    return false;
  std::string err;
  bool config_error = false;
  if (!s.conn->connect(err, config_error)) {
    // A configuration error (unknown host) will not heal in a second: wait
    // as long as the backoff allows instead of hammering.
    auto delay = s.retry->next();
    if (config_error)
      for (int i = 0; i < 8; ++i)
        delay = std::max(delay, s.retry->next());
    s.next_attempt = now + delay;
    auto what = std::string{config_error ? "configuration error: " : ""}
                + err;
    s.dstats->error(what);
    if (what != s.last_error)
      log::warn("tak-sink", s.dest + " (" + s.url + "): " + what
                              + "; retrying in "
                              + std::to_string(delay.count()) + " ms");
    s.last_error = what;
    return false;
  }
  s.connected_since = now;
  s.ping_sent.reset();
  s.next_ping = now + s.ping_interval;
  if (s.ever_connected)
    s.dstats->reconnects += 1;
  s.ever_connected = true;
  s.dstats->connected = true;
  log::info("tak-sink", s.dest + " (" + s.url + "): connected; "
                          + std::to_string(s.queue.size())
                          + " events queued");
  s.last_error.clear();
  return true;
}

// Moves queued events into the socket, many per write, acknowledging each
// write the kernel accepted.
void pump(self_ptr self) {
  auto& s = self->state;
  if (!ensure_connected(self)) {
    schedule(self, milliseconds{100});
    return;
  }
  std::string err;
  if (!s.conn->drain(err)) {
    lost(self, err);
    schedule(self, milliseconds{100});
    return;
  }
  auto now = clock::now();
  if (now - s.connected_since >= s.healthy_after)
    s.retry->reset();
  // Keepalive on TLS links: any bytes from the server after a ping count as
  // its reply; silence past the timeout means the link is dead even though
  // writes still succeed.
  if (s.conn->is_tls() && s.ping_interval.count() > 0) {
    if (s.ping_sent && s.conn->last_read() >= *s.ping_sent)
      s.ping_sent.reset();
    if (s.ping_sent && now - *s.ping_sent > s.ping_timeout) {
      lost(self, "no reply to the keepalive ping within "
                   + std::to_string(s.ping_timeout.count()) + " ms");
      schedule(self, milliseconds{100});
      return;
    }
    if (!s.ping_sent && now >= s.next_ping) {
      if (!s.conn->write(ping_event("cotflow-" + s.dest, now_ms()), err)) {
        lost(self, err);
        schedule(self, milliseconds{100});
        return;
      }
      s.ping_sent = now;
      s.next_ping = now + s.ping_interval;
    }
  }
  while (!s.queue.empty()) {
    size_t k = 0;
    s.buffer.clear();
    if (s.conn->is_udp()) {
      s.buffer = s.queue.front().xml;
      k = 1;
    } else {
      while (k < s.queue.size()
             && (k == 0
                 || s.buffer.size() + s.queue[k].xml.size() <= s.write_bytes))
        s.buffer += s.queue[k++].xml;
    }
    auto started = clock::now();
    if (!s.conn->write(s.buffer, err)) {
      lost(self, err);
      schedule(self, milliseconds{100});
      return;
    }
    s.dstats->write_latency->Observe(
      std::chrono::duration<double>(clock::now() - started).count());
    ack a{s.bit, {}};
    a.refs.reserve(k);
    auto wall = now_ms();
    for (size_t i = 0; i < k; ++i) {
      a.refs.push_back(s.queue.front().ref);
      if (auto ts = s.queue.front().timestamp_ms; ts > 0)
        s.dstats->latency->Observe(static_cast<double>(wall - ts) / 1000.0);
      s.recent_bytes += s.queue.front().xml.size();
      s.recent.push_back(std::move(s.queue.front()));
      s.queue.pop_front();
    }
    while (!s.recent.empty() && s.recent_bytes > s.replay_bytes) {
      s.recent_bytes -= s.recent.front().xml.size();
      s.recent.pop_front();
    }
    s.dstats->events += k;
    s.dstats->bytes += s.buffer.size();
    self->send(s.source, std::move(a));
  }
  s.dstats->queue = 0;
  // Idle: come back to read what the server sends and notice a close.
  schedule(self, milliseconds{s.conn->is_udp() ? 1000 : 250});
}

} // namespace

cot_sink_actor::behavior_type
tak_sink(cot_sink_actor::stateful_pointer<tak_sink_state> self,
         std::string name, std::string url, tak_config cfg, dest_mask bit,
         source_actor source, std::shared_ptr<stats> st,
         std::shared_ptr<destination_stats> dstats) {
  auto& s = self->state;
  s.dstats = std::move(dstats);
  std::string err;
  auto parsed = parse_tak_url(url, err); // validated with the config
  s.dest = std::move(name);
  s.url = url;
  s.target = *parsed;
  s.conn.emplace(*parsed, milliseconds{cfg.connect_timeout_ms},
                 milliseconds{cfg.write_timeout_ms});
  s.retry.emplace(milliseconds{cfg.reconnect_min_ms},
                  milliseconds{cfg.reconnect_max_ms});
  s.write_bytes = static_cast<size_t>(cfg.write_bytes);
  s.replay_bytes = static_cast<size_t>(cfg.replay_bytes);
  s.healthy_after = milliseconds{cfg.healthy_after_ms};
  s.ping_interval = milliseconds{cfg.ping_interval_ms};
  s.ping_timeout = milliseconds{cfg.ping_timeout_ms};
  s.bit = bit;
  s.source = std::move(source);
  s.st = std::move(st);
  self->send(self, atom::poll::value);
  s.tick_pending = true;
  return {
    [=](cot_batch& b) {
      auto& s = self->state;
      // Events this destination does not take (filter, or superseded by a
      // later position of the same uid in this batch) are done for it.
      ack skipped{s.bit, {}};
      std::vector<bool> keep(b.events.size(), true);
      if (s.target.coalesce) {
        std::unordered_map<std::string_view, size_t> latest;
        for (size_t i = 0; i < b.events.size(); ++i)
          latest[b.events[i].uid] = i;
        for (size_t i = 0; i < b.events.size(); ++i)
          keep[i] = latest[b.events[i].uid] == i
                    || b.events[i].type == "t-x-d-d";
      }
      for (size_t i = 0; i < b.events.size(); ++i) {
        auto& ev = b.events[i];
        if (!keep[i] || !destination_accepts(s.target, ev.type, ev.source)) {
          skipped.refs.push_back(ev.ref);
          continue;
        }
        s.queue.push_back(std::move(ev));
      }
      s.dstats->queue = static_cast<int64_t>(s.queue.size());
      if (!skipped.refs.empty()) {
        s.dstats->skipped += skipped.refs.size();
        self->send(s.source, std::move(skipped));
      }
      pump(self);
    },
    [=](atom::poll) {
      self->state.tick_pending = false;
      pump(self);
    },
  };
}

} // namespace cotflow
