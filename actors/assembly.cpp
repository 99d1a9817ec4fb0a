#include "actors/assembly.hpp"

#include "actors/batcher.hpp"
#include "actors/dispatcher.hpp"
#include "actors/sinks.hpp"
#include "actors/source.hpp"
#include "actors/tak_sink.hpp"
#include "pipeline/core/log.hpp"

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>

namespace cotflow {

/// `look_up`: learn the output topics before the first record (see below).
/// Only at start: an in-place restart recreates the producers, and a
/// blocking lookup per restart added up under a burst of restarts (the
/// crashing-sinks test, 100k records with a sink failing on 1 in 500, did
/// not finish in 100 s under `ctest -j2` twice when every restart looked up;
/// with the lookup at start only it does).
bool make_producers(const config& cfg, clients& c, bool look_up) {
  std::string err;
  c.cot.reset();
  if (cfg.sinks.kafka && !(c.cot = tracked_producer::make(cfg, err))) {
    log::error("pipeline", err);
    return false;
  }
  // Batched: a letter the broker refuses as too large with its batch is
  // sent again alone before it is cut (tracked_producer::cut_oversized).
  if (!(c.dead_letters = tracked_producer::make(cfg, err))) {
    log::error("pipeline", err);
    return false;
  }
  // Learn the output topics now: otherwise the first dead letter waited
  // ~1 s for librdkafka's scan of unknown topics, holding its partition's
  // commit point and, under load, the source's credit (a 0.8 s stall at
  // the start of every backlog in bench/). The parking topics are left
  // to their first use: looking them up would auto-create them on
  // clusters that allow it.
  if (!look_up)
    return true;
  constexpr int lookup_ms = 2000;
  if (c.cot)
    c.cot->prepare(cfg.kafka.output_topic, lookup_ms);
  c.dead_letters->prepare(cfg.kafka.dead_letter_topic, lookup_ms);
  return true;
}

bool make_consumers(const config& cfg, dest_mask all, std::shared_ptr<stats> st,
                    clients& c) {
  std::string err;
  // Each TAK destination's parking topic, with its replayer.
  c.lots.clear();
  for (auto& [name, url] : cfg.tak.destinations) {
    std::shared_ptr<parking_lot> lot;
    if (!cfg.kafka.parking_topic.empty()
        && !(lot = parking_lot::make(cfg, name, err))) {
      log::error("pipeline", err);
      return false;
    }
    c.lots.push_back(std::move(lot));
  }
  if (!(c.consumer = tracked_consumer::make(cfg, all, st, err))) {
    log::error("pipeline", err);
    return false;
  }
  return true;
}

layout describe(const config& cfg, stats& st) {
  layout l;
  // Destinations, each with its acknowledgement bit.
  auto n_dest = static_cast<unsigned>((cfg.sinks.kafka ? 1 : 0)
                                      + (cfg.sinks.file.empty() ? 0 : 1)
                                      + cfg.tak.destinations.size());
  l.all = all_destinations(n_dest);
  // Destinations as the operations endpoints show them.
  auto add_dest = [&](std::string name, std::string kind, std::string where) {
    auto d = std::make_shared<destination_stats>();
    d->name = std::move(name);
    d->kind = std::move(kind);
    d->endpoint = std::move(where);
    st.destinations.push_back(d);
    return d;
  };
  if (cfg.sinks.kafka)
    l.kafka_dest = add_dest("kafka", "kafka", cfg.kafka.output_topic);
  if (!cfg.sinks.file.empty())
    l.file_dest = add_dest("file", "file", cfg.sinks.file);
  for (auto& [name, url] : cfg.tak.destinations)
    l.tak_dests.push_back(add_dest(name, url.substr(0, url.find(':')),
                                   url.substr(0, url.find('?'))));
  auto add_actor = [&](std::string name, std::string parent) {
    auto a = std::make_shared<actor_info>();
    a->name = std::move(name);
    a->parent = std::move(parent);
    st.actors.push_back(a);
    return a;
  };
  l.root = add_actor("cotflow", "");
  l.source = add_actor("source", "cotflow");
  l.batcher = add_actor("batcher", "cotflow");
  l.dispatcher = add_actor("dispatcher", "cotflow");
  for (int64_t i = 0; i < encoder_count(cfg.pipeline); ++i)
    l.encoders.push_back(
      add_actor("encoder-" + std::to_string(i), "dispatcher"));
  for (auto& d : st.destinations)
    l.sinks.push_back(add_actor("sink-" + d->name, "cotflow"));
  l.dead_letters = add_actor("dead-letter-sink", "cotflow");
  return l;
}

stages spawn_stages(caf::actor_system& sys, const config& start,
                    const config& current, const layout& l, clients& c,
                    std::shared_ptr<stats> st,
                    std::shared_ptr<string_pool> xml_buffers) {
  auto& cfg = start;
  auto shared_cfg = std::make_shared<const config>(current);
  stages s;
  // The source and the Kafka producers' sinks never block (a message that
  // finds librdkafka's queue full waits, in order, in tracked_producer,
  // for the sink's next poll): on the scheduler's threads, a chunk
  // goes from the consumer to the producer without waking a thread of its
  // own on the way (bench/ANALYSIS.md).
  auto src = sys.spawn(source, std::shared_ptr<record_feed>{c.consumer},
                       current.pipeline, st,
                       current.faults.rebalance_interval_ms);
  s.source = src;
  dest_mask bit = 1;
  if (cfg.sinks.kafka) {
    s.sinks.push_back(sys.spawn(kafka_cot_sink, c.cot, cfg.kafka.output_topic,
                                bit, src, st, l.kafka_dest,
                                cfg.faults.sink_throw_rate));
    bit <<= 1;
  }
  if (!cfg.sinks.file.empty()) {
    s.sinks.push_back(sys.spawn<caf::detached>(file_sink, cfg.sinks.file, bit,
                                               src, st, l.file_dest));
    bit <<= 1;
  }
  // One actor per TAK destination, each with its own queue: a dead server
  // does not hold up the others' writes.
  size_t i = 0;
  for (auto& [name, url] : cfg.tak.destinations) {
    s.sinks.push_back(sys.spawn<caf::detached>(tak_sink, name, url, shared_cfg,
                                               bit, src, st, l.tak_dests[i],
                                               c.lots[i]));
    ++i;
    bit <<= 1;
  }
  s.dead_letters = sys.spawn(dead_letter_sink, c.dead_letters,
                             cfg.kafka.dead_letter_topic, l.all, src, st);
  // The actors own the producers now.
  c.cot.reset();
  c.dead_letters.reset();
  s.dispatcher = sys.spawn(dispatcher,
                           encoder_args{shared_cfg, s.sinks, s.dead_letters,
                                        src, st, std::move(xml_buffers)},
                           l.encoders);
  s.batcher = sys.spawn(batcher, current.pipeline, s.dispatcher, st);
  auto add = [&](const auto& handle, const std::shared_ptr<actor_info>& n) {
    s.everyone.emplace_back(caf::actor_cast<caf::actor>(handle), n);
  };
  add(s.source, l.source);
  add(s.batcher, l.batcher);
  add(s.dispatcher, l.dispatcher);
  for (size_t k = 0; k < s.sinks.size(); ++k)
    add(s.sinks[k], l.sinks[k]);
  add(s.dead_letters, l.dead_letters);
  return s;
}

} // namespace cotflow
