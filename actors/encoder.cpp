#include "actors/encoder.hpp"

#include "actors/detail/failure.hpp"
#include "pipeline/core/time.hpp"
#include "pipeline/delivery/topic_names.hpp"

#include <caf/all.hpp>

#include <algorithm>
#include <stdexcept>

namespace cotflow {

namespace {

/// What `cotflow tail` viewers see of a batch: each event, and each dead
/// letter as its reason, detail, origin and bytes.
void show(event_tap& tap, const cot_events& events,
          const dead_letter_batch& dead) {
  for (auto& ev : events)
    tap.offer(false, ev.uid, ev.type, ev.source, ev.xml);
  for (auto& d : dead.letters) {
    auto& r = d.rec;
    tap.offer(true, "", "", "",
              d.reason + " (" + d.detail + ") " + topic_names::name(r.topic)
                + "/" + std::to_string(r.partition) + "/"
                + std::to_string(r.ref.offset) + ": " + std::string{r.bytes()});
  }
}

/// Asks the CPU to fetch the cache lines of `bytes` (up to 512 bytes).
void prefetch_bytes(std::string_view bytes) {
  const char* p = bytes.data();
  auto n = std::min<size_t>(bytes.size(), 512);
  for (size_t at = 0; at < n; at += 64)
    __builtin_prefetch(p + at);
}

/// The event of the sensor that made the detection just encoded, when it
/// is due (cot_encoder::sensor_event), after that detection's. It carries
/// no input record (its ref is none, tp 0, which the offset tracker never
/// hands out: its acknowledgements change nothing), so it never holds up a
/// commit; it comes from configuration, and a lost one is written again
/// with the source's next detection after half its time to live.
void add_sensor_event(encoder_state& s, int64_t timestamp_ms, int64_t now,
                      cot_events& events) {
  cot_event ev;
  if (!s.enc->sensor_event(s.det, now, ev.xml, ev.uid, ev.type, ev.stale_ms))
    return;
  ev.timestamp_ms = timestamp_ms;
  ev.source = s.det.source; // routed as its source's detections are
  events.push_back(std::move(ev));
}

/// Decodes, maps and encodes the records of `w`; sends the events to
/// every sink, dead letters to theirs and drops back to the source; then
/// reports the batch done to the dispatcher. One call per batch.
void encode_work(encoder_actor::stateful_pointer<encoder_state> self,
                 const work& w) {
  auto& s = self->state;
  const auto& b = *w.b;
  // Fault injection (off by default): fail before anything is sent, as
  // a crash would, so the supervisor's redelivery is what is tested.
  if (s.throw_rate > 0) {
    std::uniform_real_distribution<double> u{0, 1};
    for (size_t i = 0; i < b.records.size(); ++i)
      if (u(s.rng) < s.throw_rate)
        throw std::runtime_error("injected fault");
  }
  auto now = now_ms();
  auto events = make_cot_events(s.xml_buffers);
  events->reserve(b.records.size());
  dead_letter_batch dead;
  ack dropped{s.all, {}};
  const auto& records = b.records;
  for (size_t i = 0; i < records.size(); ++i) {
    const auto& r = records[i];
    // librdkafka's thread wrote each record's bytes on another core,
    // and records of other partitions sit between them: ask for the
    // record after the next one now.
    if (i + 2 < records.size())
      prefetch_bytes(records[i + 2].bytes());
    if (auto refused = s.dec->decode(r.bytes(), s.det)) {
      dead.letters.push_back({r, std::string{to_string(refused->reason)},
                              std::move(refused->detail)});
      continue;
    }
    fill_missing_time(s.det, r.timestamp_ms, now, s.time_from_kafka);
    if (s.det.replaced_chars != 0)
      s.st->text_replaced_chars += s.det.replaced_chars;
    if (s.det.truncated_fields != 0)
      s.st->text_truncated_fields += s.det.truncated_fields;
    if (s.det.clamped != 0)
      s.st->values_clamped += clamped_count(s.det.clamped);
    cot_event ev;
    if (s.xml.capacity() < s.xml_reserve)
      s.xml = buffer_for(s.xml_buffers.get(), s.xml_spares, 64, s.xml_reserve,
                         s.xml_reserve);
    auto outcome = s.enc->encode(s.det, now, s.xml, &ev.type, &ev.stale_ms);
    switch (outcome) {
      case encode_outcome::encoded:
        // Only up (to xml_room): every buffer going round is then
        // reserved alike and fits the next event.
        s.xml_reserve = std::max(
          s.xml_reserve, std::min(s.xml.size() + s.xml.size() / 4, xml_room));
        ev.xml = std::move(s.xml);
        s.xml = std::string{};
        ev.ref = r.ref;
        ev.timestamp_ms = r.timestamp_ms;
        s.enc->uid(s.det, ev.uid);
        ev.source = s.det.source;
        events->push_back(std::move(ev));
        if (s.enc->presenting())
          add_sensor_event(s, r.timestamp_ms, now, *events);
        continue;
      case encode_outcome::dropped_stale:
        s.st->dropped_stale += 1;
        break;
      case encode_outcome::dropped_too_old:
        s.st->dropped_too_old += 1;
        break;
      case encode_outcome::dropped_low_confidence:
        s.st->dropped_low_confidence += 1;
        break;
    }
    dropped.refs.push_back(r.ref);
  }
  if (s.st->tap.watching())
    show(s.st->tap, *events, dead);
  if (!events->empty()) {
    // Every destination reads the same events: no copy per destination.
    cot_batch out{std::move(events)};
    for (auto& sink : s.sinks)
      self->send(sink, out);
  }
  if (!dead.letters.empty())
    self->send(s.dead_letters, std::move(dead));
  if (!dropped.refs.empty())
    self->send(s.source, std::move(dropped));
  self->send(s.dispatcher, atom::done::value, s.slot, w.id);
}

} // namespace

encoder_actor::behavior_type
encoder(encoder_actor::stateful_pointer<encoder_state> self,
        std::shared_ptr<const config> cfg, std::vector<cot_sink_actor> sinks,
        dead_letter_sink_actor dead_letters, source_actor source,
        std::shared_ptr<stats> st, dispatcher_actor dispatcher, uint64_t slot,
        std::shared_ptr<string_pool> xml_buffers) {
  self->set_exception_handler(detail::exception_text);
  auto& s = self->state;
  s.dec.emplace(*cfg);
  s.time_from_kafka = cfg->cot.missing_time == "kafka_timestamp";
  s.enc.emplace(cfg->cot, cfg->presentation);
  s.sinks = std::move(sinks);
  s.all = all_destinations(static_cast<unsigned>(s.sinks.size()));
  s.dead_letters = std::move(dead_letters);
  s.source = std::move(source);
  s.st = std::move(st);
  s.dispatcher = std::move(dispatcher);
  s.slot = slot;
  s.xml_buffers = std::move(xml_buffers);
  s.throw_rate = cfg->faults.encoder_throw_rate;
  return {
    [=](work& w) { encode_work(self, w); },
  };
}

} // namespace cotflow
