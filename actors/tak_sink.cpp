#include "actors/tak_sink.hpp"

#include "pipeline/codec/cot_encoder.hpp"
#include "pipeline/core/log.hpp"
#include "pipeline/tak/tak_filter.hpp"
#include "pipeline/core/time.hpp"

#include <prometheus/histogram.h>

#include <caf/all.hpp>

#include <stdexcept>
#include <unordered_map>

namespace cotflow {

namespace {

using clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

using self_ptr = cot_sink_actor::stateful_pointer<tak_sink_state>;

bool from_parking(const record_ref& ref) {
  return (ref.tp & parking_lot::replay_flag) != 0;
}

// One timer tick at a time; an earlier need replaces a later tick (the
// later one then arrives stale and is ignored).
void schedule(self_ptr self, milliseconds delay) {
  auto& s = self->state;
  auto due = clock::now() + delay;
  if (s.tick_pending && s.tick_due <= due)
    return;
  s.tick_pending = true;
  s.tick_due = due;
  self->delayed_send(self, delay, atom::poll::value, ++s.tick);
}

void publish_breaker(self_ptr self) {
  auto& s = self->state;
  s.dstats->breaker = static_cast<int>(s.breaker->state());
  s.dstats->breaker_trips = s.breaker->trips();
}

// Acknowledges events that are done for this destination: input records to
// the source, replayed ones to the parking replayer.
void finish(self_ptr self, const std::vector<record_ref>& refs,
            bool delivered) {
  auto& s = self->state;
  // Parked rather than delivered: the source counts the record as parked.
  ack a{delivered ? s.bit : s.bit | parked_bit, {}};
  a.refs.reserve(refs.size());
  uint64_t unparked = 0;
  for (auto& r : refs) {
    if (from_parking(r)) {
      s.lot->done(r);
      ++unparked;
    } else {
      a.refs.push_back(r);
    }
  }
  if (delivered)
    s.dstats->unparked += unparked;
  if (!a.refs.empty())
    self->send(s.source, std::move(a));
}

void failed(self_ptr self, const std::string& why) {
  auto& s = self->state;
  auto was = s.breaker->state();
  s.breaker->failure(clock::now(), why);
  s.probe_out = false;
  if (s.breaker->state() == circuit_state::open
      && (was != circuit_state::open)) {
    auto wait = std::chrono::duration_cast<milliseconds>(
      s.breaker->open_until() - clock::now());
    s.dstats->trip_reason(s.breaker->last_trip_reason());
    log::warn("tak-sink", s.dest + ": circuit breaker open for "
                            + std::to_string(wait.count()) + " ms ("
                            + s.breaker->last_trip_reason() + ")");
  }
  publish_breaker(self);
}

void succeeded(self_ptr self) {
  auto& s = self->state;
  auto was = s.breaker->state();
  s.breaker->success(clock::now());
  s.probe_out = false;
  if (was != circuit_state::closed
      && s.breaker->state() == circuit_state::closed)
    log::info("tak-sink", s.dest + ": circuit breaker closed"
                            + (s.parking ? "; replaying parked events"
                                         : std::string{}));
  publish_breaker(self);
}

void lost(self_ptr self, const std::string& why) {
  auto& s = self->state;
  s.conn->close();
  // What the kernel accepted lately may never have reached the server:
  // send it again first, in its order.
  s.dstats->resent += s.recent.size();
  s.dstats->connected = false;
  s.dstats->error(why);
  while (!s.recent.empty()) {
    s.queue.push_front(std::move(s.recent.back()));
    s.recent.pop_back();
  }
  s.recent_bytes = 0;
  // A write cut short: its events are still queued and go again whole.
  s.in_write = 0;
  s.written = 0;
  s.requeued = true;
  auto delay = s.retry->next();
  s.next_attempt = clock::now() + delay;
  log::warn("tak-sink", s.dest + " (" + s.url + "): " + why + "; "
                          + std::to_string(s.queue.size())
                          + " events queued, reconnecting in "
                          + std::to_string(delay.count()) + " ms");
  s.last_error = why;
  failed(self, why);
}

bool faulty(self_ptr self, clock::time_point now) {
  auto& s = self->state;
  return now >= s.down_from && now < s.down_until;
}

bool ensure_connected(self_ptr self) {
  auto& s = self->state;
  if (s.conn->connected())
    return true;
  auto now = clock::now();
  switch (s.breaker->state()) {
    case circuit_state::closed:
      if (now < s.next_attempt)
        return false;
      break;
    case circuit_state::open:
    case circuit_state::half_open:
      // The connect is the probe (the reconnect backoff does not apply: the
      // breaker's wait already did).
      if (!s.probe_out) {
        if (!s.breaker->allow(now)) {
          publish_breaker(self);
          return false;
        }
        s.probe_out = true;
        publish_breaker(self);
        log::info("tak-sink", s.dest + ": circuit breaker half-open, "
                                "probing");
      }
      break;
  }
  std::string err;
  bool config_error = false;
  bool ok = false;
  if (faulty(self, now))
    err = "injected fault: destination down";
  else
    ok = s.conn->connect(err, config_error);
  if (!ok) {
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
    failed(self, what);
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
  // With nothing to write, an accepted connection is the probe's answer.
  if (s.probe_out && s.queue.empty())
    succeeded(self);
  return true;
}

// Moves the queued input records into the parking topic, so that their
// offsets can be committed. Replayed events stay queued: they are older
// than anything parked after them. The events of a write in progress stay
// too (part of them is on the wire) but are parked as well: a server that
// never reads must not hold their offsets; should the write complete after
// all, they arrive twice, never not at all. Returns the events parked.
size_t park_queued(self_ptr self) {
  auto& s = self->state;
  std::deque<event_ref> keep;
  size_t moved = 0;
  size_t i = 0;
  for (auto& ev : s.queue) {
    bool writing = i++ < s.in_write;
    if (!from_parking(ev->ref))
      s.lot->park(*ev), ++moved;
    if (writing || from_parking(ev->ref))
      keep.push_back(std::move(ev));
  }
  s.queue = std::move(keep);
  s.dstats->queue = static_cast<int64_t>(s.queue.size());
  return moved;
}

// From now on new events go to the parking topic, and so do the queued
// ones (see park_queued).
void start_parking(self_ptr self, const std::string& why) {
  auto& s = self->state;
  s.parking = true;
  s.dstats->parking = true;
  auto moved = park_queued(self);
  log::warn("tak-sink", s.dest + ": " + why + "; parking new events to "
                          + s.lot->topic() + " (" + std::to_string(moved)
                          + " queued events moved there)");
}

// Parking bookkeeping: confirmations, mode changes, replay, commits.
// Returns how soon to come back: 0 while replaying, a moment while Kafka
// has parked events to confirm, otherwise no preference (-1).
int tend_parking(self_ptr self, clock::time_point now) {
  auto& s = self->state;
  s.scratch.clear();
  s.lot->serve(s.scratch);
  if (!s.scratch.empty()) {
    s.dstats->parked += s.scratch.size();
    finish(self, s.scratch, false);
  }
  if (!s.lot->failure().empty()) {
    log::error("tak-sink", s.dest + ": cannot park to " + s.lot->topic()
                             + ": " + s.lot->failure());
    self->quit(caf::sec::runtime_error);
    return -1;
  }
  auto state = s.breaker->state();
  // While parking, what a lost connection put back in the queue is parked
  // too rather than waiting for the next connection.
  if (s.parking && s.requeued)
    park_queued(self);
  s.requeued = false;
  if (!s.parking) {
    if (state == circuit_state::open)
      start_parking(self, "circuit breaker open");
    else if (s.queue.size() >= s.queue_max)
      start_parking(self, std::to_string(s.queue.size())
                            + " events queued (tak.queue_events)");
    else if (s.st->draining && !s.conn->connected() && !s.queue.empty())
      start_parking(self, "draining while disconnected");
  } else if (state == circuit_state::closed && s.conn->connected()
             && s.queue.size() < s.queue_max / 2 && s.lot->caught_up()) {
    s.parking = false;
    s.dstats->parking = false;
    log::info("tak-sink", s.dest + ": parked backlog replayed; delivering "
                            "directly again");
  }
  // Replay while the breaker lets events through: fill the queue up to
  // half its bound in direct mode (live events need the rest), all of it
  // while parking.
  bool replaying = false;
  auto may_send = state == circuit_state::closed
                  || (state == circuit_state::half_open
                      && s.conn->connected());
  auto bound = s.parking ? s.queue_max : s.queue_max / 2;
  if (may_send && s.queue.size() < bound) {
    uint64_t stale = 0;
    auto taken = s.lot->replay(bound - s.queue.size(), now_ms(), s.queue,
                               stale);
    if (stale > 0)
      s.dstats->parked_stale += stale;
    replaying = taken > 0 || stale > 0;
  } else {
    s.lot->hold();
  }
  // Replayed positions go to the replayer's committer as they move.
  s.lot->store_positions();
  // Every round: a loss found while replaying shows at once.
  s.dstats->parked_lost += s.lot->take_lost();
  if (now >= s.next_report) {
    s.dstats->parking_backlog = s.lot->backlog();
    s.next_report = now + milliseconds{1000};
  }
  return replaying ? 0 : s.lot->outstanding() > 0 ? 2 : -1;
}

// Moves queued events into the socket, many per write, acknowledging each
// write the kernel accepted.
void pump(self_ptr self) {
  auto& s = self->state;
  s.deferred_bytes = 0;
  auto now = clock::now();
  if (s.conn->connected() && faulty(self, now))
    lost(self, "injected fault: destination down");
  int soon = s.lot ? tend_parking(self, now) : -1;
  if (self->getf(caf::abstract_actor::is_terminated_flag))
    return;
  if (!ensure_connected(self)) {
    auto delay = milliseconds{soon >= 0 ? 2 : 100};
    if (s.breaker->state() == circuit_state::open && soon < 0)
      delay = std::min(delay, std::max(milliseconds{1},
                                       std::chrono::duration_cast<
                                         milliseconds>(
                                         s.breaker->open_until() - now)));
    schedule(self, delay);
    return;
  }
  std::string err;
  if (!s.conn->drain(err)) {
    lost(self, err);
    schedule(self, milliseconds{1});
    return;
  }
  now = clock::now();
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
      schedule(self, milliseconds{1});
      return;
    }
    if (!s.ping_sent && now >= s.next_ping && s.in_write == 0) {
      if (!s.conn->write(ping_event("cotflow-" + s.dest, now_ms()), err)) {
        lost(self, err);
        schedule(self, milliseconds{1});
        return;
      }
      s.ping_sent = now;
      s.next_ping = now + s.ping_interval;
    }
  }
  while (s.in_write > 0 || !s.queue.empty()) {
    if (s.in_write == 0) {
      if (s.breaker->state() != circuit_state::closed && !s.probe_out) {
        if (!s.breaker->allow(clock::now()))
          break; // the half-open breaker's probes are out
        s.probe_out = true;
      }
      // Up to write_bytes of events (at least one; one datagram on UDP).
      // TLS gets them in one buffer, for full-size TLS records; plain TCP
      // and UDP write the events where they are.
      size_t k = 0;
      s.write_total = 0;
      s.pieces.clear();
      s.buffer.clear();
      bool tls = s.conn->is_tls();
      while (k < s.queue.size()
             && (k == 0
                 || (!s.conn->is_udp()
                     && s.write_total + s.queue[k]->xml.size()
                          <= s.write_bytes))) {
        const auto& xml = s.queue[k++]->xml;
        s.write_total += xml.size();
        if (tls)
          s.buffer += xml;
        else
          s.pieces.emplace_back(xml);
      }
      if (tls)
        s.pieces.emplace_back(s.buffer);
      s.in_write = k;
      s.written = 0;
      s.write_since = clock::now();
    }
    // Never blocks: a server that does not read leaves the write partial,
    // and this actor goes on taking batches (and spilling them to parking)
    // until the write timeout declares the connection dead. The pieces
    // stay valid meanwhile: the events they show are the first `in_write`
    // of the queue, which keeps them alive.
    auto r = s.conn->write_some(s.pieces.data(), s.pieces.size(),
                                s.write_total, s.written, s.write_since, err);
    if (r == tak_connection::progress::failed) {
      lost(self, err);
      schedule(self, milliseconds{1});
      return;
    }
    if (r == tak_connection::progress::partial) {
      s.dstats->queue = static_cast<int64_t>(s.queue.size());
      schedule(self, milliseconds{5});
      return;
    }
    auto k = s.in_write;
    s.in_write = 0;
    s.dstats->write_latency->Observe(
      std::chrono::duration<double>(clock::now() - s.write_since).count());
    s.scratch.clear();
    auto wall = now_ms();
    for (size_t i = 0; i < k; ++i) {
      s.scratch.push_back(s.queue.front()->ref);
      if (auto ts = s.queue.front()->timestamp_ms; ts > 0)
        s.latencies.add(static_cast<double>(wall - ts) / 1000.0);
      s.recent_bytes += s.queue.front()->xml.size();
      s.recent.push_back(std::move(s.queue.front()));
      s.queue.pop_front();
    }
    s.latencies.flush_into(s.dstats->latency);
    while (!s.recent.empty() && s.recent_bytes > s.replay_bytes) {
      s.recent_bytes -= s.recent.front()->xml.size();
      s.recent.pop_front();
    }
    s.dstats->events += k;
    s.dstats->bytes += s.write_total;
    finish(self, s.scratch, true);
    succeeded(self);
  }
  s.dstats->queue = static_cast<int64_t>(s.queue.size());
  // Replay waiting: come back at once. Idle: come back to read what the
  // server sends and notice a close.
  schedule(self, soon >= 0 ? milliseconds{soon}
                           : milliseconds{s.conn->is_udp() ? 1000 : 250});
}

} // namespace

cot_sink_actor::behavior_type
tak_sink(cot_sink_actor::stateful_pointer<tak_sink_state> self,
         std::string name, std::string url,
         std::shared_ptr<const config> cfg_ptr, dest_mask bit,
         source_actor source, std::shared_ptr<stats> st,
         std::shared_ptr<destination_stats> dstats,
         std::shared_ptr<parking_lot> lot) {
  auto& s = self->state;
  auto& cfg = cfg_ptr->tak;
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
  s.breaker.emplace(breaker_settings::from(cfg));
  s.lot = std::move(lot);
  if (s.lot)
    s.dstats->parking_topic = s.lot->topic();
  s.queue_max = static_cast<size_t>(cfg.queue_events);
  auto& faults = cfg_ptr->faults;
  s.throw_rate = faults.sink_throw_rate;
  if (faults.destination_down == s.dest) {
    s.down_from = clock::now()
                  + milliseconds{faults.destination_down_after_ms};
    s.down_until = s.down_from + milliseconds{faults.destination_down_for_ms};
  }
  s.write_bytes = static_cast<size_t>(cfg.write_bytes);
  s.replay_bytes = static_cast<size_t>(cfg.replay_bytes);
  s.healthy_after = milliseconds{cfg.healthy_after_ms};
  s.ping_interval = milliseconds{cfg.ping_interval_ms};
  s.ping_timeout = milliseconds{cfg.ping_timeout_ms};
  s.bit = bit;
  s.source = std::move(source);
  s.st = std::move(st);
  schedule(self, milliseconds{0});
  return {
    [=](cot_batch& b) {
      auto& s = self->state;
      if (s.throw_rate > 0
          && std::uniform_real_distribution<double>{0, 1}(s.rng)
               < s.throw_rate)
        throw std::runtime_error("injected fault");
      // Events this destination does not take (filter, or superseded by a
      // later position of the same uid in this batch) are done for it.
      ack skipped{s.bit, {}};
      auto& events = *b.events;
      std::vector<bool> keep(events.size(), true);
      if (s.target.coalesce) {
        std::unordered_map<std::string_view, size_t> latest;
        for (size_t i = 0; i < events.size(); ++i)
          latest[events[i].uid] = i;
        for (size_t i = 0; i < events.size(); ++i)
          keep[i] = latest[events[i].uid] == i
                    || events[i].type == "t-x-d-d";
      }
      size_t taken = 0;
      for (size_t i = 0; i < events.size(); ++i) {
        auto& ev = events[i];
        keep[i] = keep[i] && destination_accepts(s.target, ev.type, ev.source);
        if (!keep[i]) {
          skipped.refs.push_back(ev.ref);
        } else if (s.parking) {
          s.lot->park(ev);
        } else {
          ++taken;
          s.deferred_bytes += ev.xml.size();
        }
      }
      if (taken == events.size()) {
        // All of it: the queue refers to the batch the destinations share.
        for (size_t i = 0; i < events.size(); ++i)
          s.queue.emplace_back(b.events, i);
      } else if (taken > 0) {
        // A share of it (filters, coalescing): the queue and the replay
        // window count what they hold by these events, so they get a batch
        // of their own rather than keep the whole shared one alive.
        auto mine = std::make_shared<cot_events>();
        mine->reserve(taken);
        for (size_t i = 0; i < events.size(); ++i)
          if (keep[i])
            mine->push_back(events[i]);
        for (size_t i = 0; i < mine->size(); ++i)
          s.queue.emplace_back(mine, i);
      }
      s.dstats->queue = static_cast<int64_t>(s.queue.size());
      if (!skipped.refs.empty()) {
        s.dstats->skipped += skipped.refs.size();
        self->send(s.source, std::move(skipped));
      }
      // Under load the next batch is often in the mailbox already: one
      // write then takes both (up to tak.write_bytes), so the kernel and
      // the server see fewer, larger writes. Nothing waits for it: the
      // next message is handled at once, and every handler pumps (a stale
      // tick too, when events wait). Not while parking (its confirmations
      // and replay go on in pump) nor on UDP (a datagram per event).
      if (!self->mailbox().empty() && s.in_write == 0 && !s.parking
          && !s.conn->is_udp() && s.deferred_bytes < s.write_bytes
          && s.queue.size() < s.queue_max)
        return;
      pump(self);
    },
    [=](atom::poll) { pump(self); },
    [=](tunables& t) {
      auto& s = self->state;
      auto& cfg = t.running->tak;
      s.breaker->reconfigure(breaker_settings::from(cfg));
      s.queue_max = static_cast<size_t>(cfg.queue_events);
      pump(self); // events may wait for a write (see cot_batch)
    },
    [=](atom::poll, uint64_t tick) {
      auto& s = self->state;
      if (tick != s.tick) { // replaced by an earlier tick
        if (s.deferred_bytes > 0)
          pump(self); // events a batch left for the next handler
        return;
      }
      s.tick_pending = false;
      pump(self);
    },
  };
}

} // namespace cotflow
