#include "actors/tak_sink.hpp"

#include "actors/detail/failure.hpp"
#include "pipeline/core/listen.hpp"
#include "pipeline/core/time.hpp"
#include "pipeline/tak/tak_connection.hpp"

#include <prometheus/histogram.h>

#include <caf/all.hpp>

#include <stdexcept>

namespace cotflow {

namespace {

using std::chrono::milliseconds;

using self_ptr = cot_sink_actor::stateful_pointer<tak_sink_state>;

// One timer tick at a time; an earlier need replaces a later tick (the
// later one then arrives stale and is ignored).
void schedule(self_ptr self, milliseconds delay) {
  auto& t = self->state.timer;
  auto due = self->clock().now() + delay;
  if (t.pending && t.due <= due)
    return;
  t.pending = true;
  t.due = due;
  self->delayed_send(self, delay, atom::poll::value, ++t.tick);
}

// Does what is due and sets the timer for the next round; a parking topic
// that cannot be written stops the actor (its supervisor restarts it).
void pump(self_ptr self) {
  auto r = self->state.dest->pump();
  if (r.stop) {
    self->quit(detail::runtime_error(r.why));
    return;
  }
  schedule(self, r.again);
}

tak_destination_settings settings_of(const std::string& name,
                                     const std::string& url, const config& cfg,
                                     dest_mask bit) {
  auto& tak = cfg.tak;
  tak_destination_settings s;
  s.name = name;
  s.url = url;
  std::string err;
  s.target = *parse_tak_url(url, err); // validated with the config
  s.bit = bit;
  s.breaker = breaker_settings::from(tak);
  s.reconnect_min = milliseconds{tak.reconnect_min_ms};
  s.reconnect_max = milliseconds{tak.reconnect_max_ms};
  s.healthy_after = milliseconds{tak.healthy_after_ms};
  s.ping_interval = milliseconds{tak.ping_interval_ms};
  s.ping_timeout = milliseconds{tak.ping_timeout_ms};
  s.ping_silent_cycles = static_cast<int>(tak.ping_silent_cycles);
  s.ping_every_bytes = static_cast<size_t>(tak.ping_every_bytes);
  s.hello_uid = !tak.hello_uid.empty()
                  ? tak.hello_uid
                  : "cotflow-" + host_name().value_or("unknown");
  s.hello_callsign = tak.hello_callsign;
  s.version = COTFLOW_VERSION_STRING;
  s.negotiate_offer = milliseconds{tak.negotiate_offer_ms};
  s.negotiate_response = milliseconds{tak.negotiate_response_ms};
  s.queue_events = static_cast<size_t>(tak.queue_events);
  s.write_bytes = static_cast<size_t>(tak.write_bytes);
  s.replay_bytes = static_cast<size_t>(tak.replay_bytes);
  s.resend_margin = static_cast<size_t>(tak.resend_margin_bytes);
  if (cfg.faults.destination_down == name) {
    s.down_after = milliseconds{cfg.faults.destination_down_after_ms};
    s.down_for = milliseconds{cfg.faults.destination_down_for_ms};
  }
  return s;
}

tak_destination_env env_of(self_ptr self, std::shared_ptr<stats> st,
                           std::shared_ptr<destination_stats> dstats) {
  tak_destination_env env;
  // The actor clock: steady_clock in production, the test coordinator's
  // in the actor tests.
  env.now = [self] { return self->clock().now(); };
  env.wall_ms = [] { return now_ms(); };
  env.acknowledge = [self](ack a) {
    self->send(self->state.source, std::move(a));
  };
  env.write_took = [h = dstats->write_latency](double seconds) {
    if (h) // null only in tests without a metrics registry
      h->Observe(seconds);
  };
  env.delivered = [h = dstats->latency](latency_tally& t) { t.flush_into(h); };
  env.counters = std::move(dstats);
  env.pipeline = std::move(st);
  return env;
}

} // namespace

cot_sink_actor::behavior_type tak_sink(
  cot_sink_actor::stateful_pointer<tak_sink_state> self, std::string name,
  std::string url, std::shared_ptr<const config> cfg_ptr, dest_mask bit,
  source_actor source, std::shared_ptr<stats> st,
  std::shared_ptr<destination_stats> dstats, std::shared_ptr<parking_lot> lot) {
  auto timeouts = cfg_ptr->tak;
  auto connect = [timeouts](const tak_url& target) {
    return std::make_unique<tak_connection>(
      target, milliseconds{timeouts.connect_timeout_ms},
      milliseconds{timeouts.write_timeout_ms});
  };
  return tak_sink_with(self, std::move(name), std::move(url),
                       std::move(cfg_ptr), bit, std::move(source),
                       std::move(st), std::move(dstats), std::move(lot),
                       std::move(connect));
}

cot_sink_actor::behavior_type tak_sink_with(
  cot_sink_actor::stateful_pointer<tak_sink_state> self, std::string name,
  std::string url, std::shared_ptr<const config> cfg_ptr, dest_mask bit,
  source_actor source, std::shared_ptr<stats> st,
  std::shared_ptr<destination_stats> dstats, std::shared_ptr<parking_port> lot,
  tak_transport_factory connect) {
  self->set_exception_handler(detail::exception_text);
  auto& s = self->state;
  auto settings = settings_of(name, url, *cfg_ptr, bit);
  auto conn = connect(settings.target);
  s.source = std::move(source);
  s.throw_rate = cfg_ptr->faults.sink_throw_rate;
  s.dest.emplace(std::move(settings), std::move(conn), std::move(lot),
                 env_of(self, std::move(st), std::move(dstats)));
  schedule(self, milliseconds{0});
  return {
    [=](cot_batch& b) {
      auto& s = self->state;
      if (s.throw_rate > 0
          && std::uniform_real_distribution<double>{0, 1}(s.rng) < s.throw_rate)
        throw std::runtime_error("injected fault");
      s.dest->take(b.events);
      // Under load the next batch is often in the mailbox already: one
      // write then takes both (up to tak.write_bytes), so the kernel and
      // the server see fewer, larger writes. Nothing waits for it: the
      // next message is handled at once, and every handler pumps (a stale
      // tick too, when events wait). Not while parking (its confirmations
      // and replay go on in pump) nor on UDP (a datagram per event).
      if (!self->mailbox().empty() && s.dest->may_wait_for_next_batch())
        return;
      pump(self);
    },
    [=](atom::poll) { pump(self); },
    [=](tunables& t) {
      auto& s = self->state;
      auto& cfg = t.running->tak;
      s.dest->reconfigure(breaker_settings::from(cfg),
                          static_cast<size_t>(cfg.queue_events));
      pump(self); // events may wait for a write (see cot_batch)
    },
    [=](atom::poll, uint64_t tick) {
      auto& s = self->state;
      if (tick != s.timer.tick) { // replaced by an earlier tick
        if (s.dest->has_deferred())
          pump(self); // events a batch left for the next handler
        return;
      }
      s.timer.pending = false;
      pump(self);
    },
  };
}

} // namespace cotflow
