#include "actors/sinks.hpp"

#include "actors/detail/failure.hpp"
#include "actors/detail/poll_call.hpp"
#include "pipeline/core/log.hpp"
#include "pipeline/core/time.hpp"
#include "pipeline/delivery/topic_names.hpp"

#include <prometheus/histogram.h>

#include <caf/all.hpp>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace cotflow {

namespace {

// Serves the delivery reports there are, acknowledges what Kafka
// confirmed, and keeps a tick while anything is outstanding.
template <class Self>
void serve(Self* self, bool count_dead_letters) {
  auto& s = self->state;
  s.done.clear();
  s.producer->poll(0, s.done);
  if (!s.done.empty()) {
    ack a{s.bits, {}};
    a.refs.reserve(s.done.size());
    for (auto& d : s.done)
      a.refs.push_back({d.tp, d.offset});
    if (count_dead_letters) {
      s.st->dead_lettered += a.refs.size();
      s.st->dead_letters_cut = s.producer->cut();
    } else {
      auto now = now_ms();
      size_t bytes = 0;
      for (auto& d : s.done) {
        bytes += d.bytes;
        if (d.timestamp_ms > 0)
          s.latencies.add(static_cast<double>(now - d.timestamp_ms) / 1000.0);
      }
      s.latencies.flush_into(s.dest->latency);
      s.dest->events += a.refs.size();
      s.dest->bytes += bytes;
    }
    self->send(s.source, std::move(a));
  }
  s.st->delivery_retries = s.producer->retries();
  if (s.dest)
    s.dest->queue = static_cast<int64_t>(s.producer->outstanding());
  if (!s.producer->failure().empty()) {
    // Its records stay unacknowledged and uncommitted: stop, so that the
    // process (or, later, its supervisor) starts over from the commits.
    log::error(s.topic, "cannot deliver: " + s.producer->failure(),
               {{"topic", s.topic}, {"error", s.producer->failure()}});
    self->quit(detail::runtime_error("cannot deliver to " + s.topic + ": "
                                     + s.producer->failure()));
    return;
  }
  // Delivery reports wake the sink (init); the tick is for retries after
  // their pause and in case a wake-up went missing.
  if (s.producer->outstanding() > 0) {
    auto now = std::chrono::steady_clock::now();
    if (now >= s.tick_due) {
      s.tick_due = now + kafka_sink_state::tick;
      self->delayed_send(self, kafka_sink_state::tick, atom::poll::value);
    }
  }
}

template <class Self>
void init(Self* self, std::shared_ptr<tracked_producer> producer,
          std::string topic, dest_mask bits, source_actor source,
          std::shared_ptr<stats> st) {
  auto& s = self->state;
  s.producer = std::move(producer);
  s.topic = std::move(topic);
  s.bits = bits;
  s.source = std::move(source);
  s.st = std::move(st);
  s.producer->on_report(detail::poll_call(self->address()));
}

} // namespace

cot_sink_actor::behavior_type
kafka_cot_sink(cot_sink_actor::stateful_pointer<kafka_sink_state> self,
               std::shared_ptr<tracked_producer> producer, std::string topic,
               dest_mask bit, source_actor source, std::shared_ptr<stats> st,
               std::shared_ptr<destination_stats> dest, double throw_rate) {
  self->set_exception_handler(detail::exception_text);
  init(self, std::move(producer), std::move(topic), bit, std::move(source),
       std::move(st));
  self->state.dest = std::move(dest);
  self->state.throw_rate = throw_rate;
  self->state.dest->connected = true;
  return {
    [=](cot_batch& b) {
      auto& s = self->state;
      if (s.throw_rate > 0
          && std::uniform_real_distribution<double>{0, 1}(s.rng) < s.throw_rate)
        throw std::runtime_error("injected fault");
      // librdkafka reads each event's XML where it is, in the batch the
      // destinations share, which the producer keeps until the last of
      // them is delivered.
      auto hold = s.producer->hold(b.events);
      for (auto& ev : *b.events)
        s.producer->produce_held(s.topic, ev.uid, ev.xml, ev.ref.tp,
                                 ev.ref.offset, ev.timestamp_ms, hold);
      s.producer->release(hold);
      serve(self, false);
    },
    [=](atom::poll) { serve(self, false); },
    [=](atom::poll, uint64_t) {},
    [=](tunables&) {},
  };
}

dead_letter_sink_actor::behavior_type dead_letter_sink(
  dead_letter_sink_actor::stateful_pointer<kafka_sink_state> self,
  std::shared_ptr<tracked_producer> producer, std::string topic, dest_mask all,
  source_actor source, std::shared_ptr<stats> st) {
  self->set_exception_handler(detail::exception_text);
  init(self, std::move(producer), std::move(topic), all, std::move(source),
       std::move(st));
  self->state.producer->cut_oversized(true);
  return {
    [=](dead_letter_batch& b) {
      auto& s = self->state;
      for (auto& d : b.letters) {
        auto& r = d.rec;
        auto* h = RdKafka::Headers::create();
        h->add("cotflow.reason", d.reason);
        h->add("cotflow.detail", d.detail);
        auto topic = topic_names::name(r.topic);
        h->add("cotflow.source.topic", topic);
        h->add("cotflow.source.partition", std::to_string(r.partition));
        h->add("cotflow.source.offset", std::to_string(r.ref.offset));
        h->add("cotflow.source.timestamp", std::to_string(r.timestamp_ms));
        // The whole record, whatever its size: only Kafka's own limit cuts
        // it (the producer's cut_oversized, which says so in a header).
        std::string_view payload = r.bytes();
        if (log::enabled(log::level::debug))
          log::debug("dead-letter-sink",
                     "dead letter: " + d.reason + ": " + d.detail,
                     {{"topic", topic},
                      {"partition", r.partition},
                      {"offset", r.ref.offset},
                      {"reason", d.reason}});
        s.producer->produce(s.topic, r.key, payload, r.ref.tp, r.ref.offset,
                            r.timestamp_ms, h);
      }
      serve(self, true);
    },
    [=](atom::poll) { serve(self, true); },
  };
}

cot_sink_actor::behavior_type
file_sink(cot_sink_actor::stateful_pointer<file_sink_state> self,
          std::string path, dest_mask bit, source_actor source,
          std::shared_ptr<stats> st, std::shared_ptr<destination_stats> dest) {
  auto& s = self->state;
  s.dest = std::move(dest);
  s.path = path;
  s.bit = bit;
  s.source = std::move(source);
  s.st = std::move(st);
  self->set_exception_handler(detail::exception_text);
  s.file = std::fopen(path.c_str(), "a");
  if (!s.file) {
    auto why = "cannot open " + path + ": " + std::strerror(errno);
    log::error("file-sink", why);
    self->quit(detail::runtime_error(why));
    return {[](cot_batch&) {}, [](atom::poll) {}, [](atom::poll, uint64_t) {},
            [](tunables&) {}};
  }
  s.dest->connected = true;
  return {
    [=](cot_batch& b) {
      auto& s = self->state;
      auto& events = *b.events;
      for (auto& ev : events) {
        std::fwrite(ev.xml.data(), 1, ev.xml.size(), s.file);
        std::fputc('\n', s.file);
      }
      if (std::fflush(s.file) != 0 || std::ferror(s.file)) {
        // Not acknowledged: the offsets stay uncommitted.
        auto why = "write to " + s.path + " failed: " + std::strerror(errno);
        log::error("file-sink", why);
        self->quit(detail::runtime_error(why));
        return;
      }
      ack a{s.bit, {}};
      a.refs.reserve(events.size());
      auto now = now_ms();
      size_t bytes = 0;
      for (auto& ev : events) {
        a.refs.push_back(ev.ref);
        bytes += ev.xml.size() + 1;
        if (ev.timestamp_ms > 0)
          s.latencies.add(static_cast<double>(now - ev.timestamp_ms) / 1000.0);
      }
      s.latencies.flush_into(s.dest->latency);
      s.dest->events += events.size();
      s.dest->bytes += bytes;
      self->send(s.source, std::move(a));
    },
    [=](atom::poll) {},
    [=](atom::poll, uint64_t) {},
    [=](tunables&) {},
  };
}

} // namespace cotflow
