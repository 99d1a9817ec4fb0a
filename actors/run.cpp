#include "actors/run.hpp"

#include "actors/batcher.hpp"
#include "actors/breaker.hpp"
#include "actors/encoder.hpp"
#include "actors/sinks.hpp"
#include "actors/source.hpp"
#include "actors/tak_sink.hpp"
#include "pipeline/log.hpp"

#include <caf/all.hpp>

#include <cstdio>
#include <thread>

namespace cotflow {

namespace {

struct system_config : caf::actor_system_config {
  explicit system_config(size_t threads) {
    add_message_type<record_ref>("record_ref");
    add_message_type<record>("record");
    add_message_type<record_chunk>("record_chunk");
    add_message_type<batch>("batch");
    add_message_type<cot_event>("cot_event");
    add_message_type<cot_batch>("cot_batch");
    add_message_type<dead_letter>("dead_letter");
    add_message_type<dead_letter_batch>("dead_letter_batch");
    add_message_type<ack>("ack");
    add_message_type<batcher_actor>("batcher_actor");
    set("scheduler.max-threads", threads);
  }
};

} // namespace

int run_pipeline(const config& cfg, std::shared_ptr<stats> st,
                 const run_hooks& hooks) {
  auto shared_cfg = std::make_shared<const config>(cfg);
  // Destinations, each with its acknowledgement bit.
  auto n_dest = static_cast<unsigned>((cfg.sinks.kafka ? 1 : 0)
                                      + (cfg.sinks.file.empty() ? 0 : 1)
                                      + cfg.tak.destinations.size());
  auto all = all_destinations(n_dest);
  std::string err;
  std::shared_ptr<tracked_producer> cot_producer;
  if (cfg.sinks.kafka) {
    cot_producer = tracked_producer::make(cfg, err);
    if (!cot_producer) {
      log::error("pipeline", err);
      return 1;
    }
  }
  std::shared_ptr<tracked_producer> dl_producer = tracked_producer::make(cfg,
                                                                         err);
  if (!dl_producer) {
    log::error("pipeline", err);
    return 1;
  }
  if (!cfg.sinks.file.empty()) {
    if (auto f = std::fopen(cfg.sinks.file.c_str(), "a")) {
      std::fclose(f);
    } else {
      log::error("pipeline", "sinks.file: cannot open " + cfg.sinks.file
                               + " for appending");
      return 1;
    }
  }
  std::shared_ptr<tracked_consumer> consumer = tracked_consumer::make(cfg, all,
                                                                      st, err);
  if (!consumer) {
    log::error("pipeline", err);
    return 1;
  }
  auto threads = static_cast<size_t>(
    std::max(2u, std::thread::hardware_concurrency()));
  system_config sys_cfg{threads};
  caf::actor_system sys{sys_cfg};
  int exit_code = 0;
  {
    caf::scoped_actor self{sys};
    auto src = sys.spawn<caf::detached>(source, consumer, cfg.pipeline, st);
    consumer.reset();
    std::vector<cot_sink_actor> sinks;
    dest_mask bit = 1;
    if (cfg.sinks.kafka) {
      sinks.push_back(sys.spawn<caf::detached>(kafka_cot_sink, cot_producer,
                                               cfg.kafka.output_topic, bit,
                                               src, st));
      bit <<= 1;
    }
    if (!cfg.sinks.file.empty()) {
      sinks.push_back(sys.spawn<caf::detached>(file_sink, cfg.sinks.file, bit,
                                               src, st));
      bit <<= 1;
    }
    // One actor per TAK destination, each with its own queue: a dead server
    // does not hold up the others' writes.
    for (auto& [name, url] : cfg.tak.destinations) {
      sinks.push_back(sys.spawn<caf::detached>(tak_sink, name, url, cfg.tak,
                                               bit, src, st));
      bit <<= 1;
    }
    cot_producer.reset();
    auto dls = sys.spawn<caf::detached>(dead_letter_sink, dl_producer,
                                        cfg.kafka.dead_letter_topic, all, src,
                                        st,
                                        static_cast<size_t>(
                                          cfg.pipeline.max_record_bytes));
    dl_producer.reset();
    std::vector<encoder_actor> workers;
    for (int64_t i = 0; i < encoder_count(cfg.pipeline); ++i)
      workers.push_back(sys.spawn(encoder, shared_cfg, sinks, dls, src, st));
    auto brk = sys.spawn(breaker, workers);
    auto bat = sys.spawn(batcher, cfg.pipeline, brk, st);
    std::vector<caf::actor> everyone;
    everyone.push_back(caf::actor_cast<caf::actor>(src));
    everyone.push_back(caf::actor_cast<caf::actor>(bat));
    everyone.push_back(caf::actor_cast<caf::actor>(brk));
    for (auto& w : workers)
      everyone.push_back(caf::actor_cast<caf::actor>(w));
    for (auto& s : sinks)
      everyone.push_back(caf::actor_cast<caf::actor>(s));
    everyone.push_back(caf::actor_cast<caf::actor>(dls));
    for (auto& a : everyone)
      self->monitor(a);
    self->send(src, atom::start::value, bat);
    log::info("pipeline", "running: " + std::to_string(workers.size())
                            + " encoders, " + std::to_string(sinks.size())
                            + " destinations");
    bool failed = false;
    while (!hooks.stop->load() && !failed) {
      self->receive(
        [&](caf::down_msg& dm) {
          // Supervised restarts come with the supervision tree; until then a
          // failed actor stops the process so that nothing is lost silently.
          log::error("pipeline", "actor " + caf::to_string(dm.source)
                                   + " failed: " + caf::to_string(dm.reason)
                                   + "; stopping");
          failed = true;
        },
        caf::after(std::chrono::milliseconds{100}) >>
          [&] {
            if (hooks.tick)
              hooks.tick();
          });
    }
    if (!failed) {
      auto grace = std::chrono::milliseconds{cfg.pipeline.drain_timeout_ms
                                             + 5000};
      self->request(src, grace, atom::stop::value)
        .receive(
          [&](uint64_t left) {
            if (left != 0)
              exit_code = 1;
          },
          [&](caf::error& e) {
            log::error("pipeline", "drain failed: " + caf::to_string(e));
            exit_code = 1;
          });
    } else {
      exit_code = 1;
    }
    for (auto& a : everyone) {
      self->demonitor(a);
      self->send_exit(a, caf::exit_reason::user_shutdown);
    }
    if (hooks.tick)
      hooks.tick();
  }
  return exit_code;
}

} // namespace cotflow
