#include "actors/batcher.hpp"

#include "actors/detail/failure.hpp"

#include <caf/all.hpp>

#include <prometheus/histogram.h>

namespace cotflow {

namespace {

void emit(batcher_actor::stateful_pointer<batcher_state> self) {
  auto& s = self->state;
  if (s.builder->empty())
    return;
  batch b{s.builder->take_and_advance()};
  s.st->batches += 1;
  if (s.st->batch_size)
    s.st->batch_size->Observe(static_cast<double>(b.records.size()));
  self->send(s.next, std::move(b));
}

} // namespace

batcher_actor::behavior_type
batcher(batcher_actor::stateful_pointer<batcher_state> self,
        pipeline_config cfg, dispatcher_actor next, std::shared_ptr<stats> st) {
  self->set_exception_handler(detail::exception_text);
  auto& s = self->state;
  s.age = std::chrono::milliseconds{cfg.batch_age_ms};
  s.builder.emplace(static_cast<size_t>(cfg.batch_size), s.age);
  s.next = std::move(next);
  s.st = std::move(st);
  return {
    [=](record_chunk& chunk) {
      auto& s = self->state;
      auto now = std::chrono::steady_clock::now();
      for (auto& r : chunk.records) {
        s.builder->push(std::move(r), now);
        if (s.builder->full())
          emit(self);
      }
      // Nothing more is ready at the source: waiting would only add
      // latency. Batches fill up under load, when records queue up at the
      // source faster than they leave; the age bounds the wait otherwise
      // (a source held back by credit).
      if (chunk.drained)
        emit(self);
      auto gen = s.builder->generation();
      if (!s.builder->empty() && s.timer_for != gen) {
        s.timer_for = gen;
        self->delayed_send(self, s.age, atom::flush::value,
                           static_cast<uint64_t>(gen));
      }
    },
    [=](atom::flush, uint64_t gen) {
      if (gen == self->state.builder->generation())
        emit(self);
    },
    [=](atom::flush) { emit(self); },
    [=](tunables& t) {
      auto& s = self->state;
      auto& cfg = t.running->pipeline;
      s.age = std::chrono::milliseconds{cfg.batch_age_ms};
      s.builder->limits(static_cast<size_t>(cfg.batch_size), s.age);
      // A batch already at the new size goes now; a younger one keeps its
      // timer (which fires with the old age at most).
      if (s.builder->full())
        emit(self);
    },
  };
}

} // namespace cotflow
