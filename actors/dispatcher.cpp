#include "actors/dispatcher.hpp"

#include "actors/detail/failure.hpp"
#include "actors/encoder.hpp"
#include "pipeline/core/log.hpp"

#include <caf/all.hpp>

namespace cotflow {

namespace {

using self_ptr = dispatcher_actor::stateful_pointer<dispatcher_state>;

void start_worker(self_ptr self, uint64_t i) {
  auto& s = self->state;
  auto& slot = s.slots[i];
  auto& a = s.args;
  slot.worker = a.spawn_worker
                  ? a.spawn_worker(dispatcher_actor{self}, i)
                  : self->spawn(encoder, a.cfg, a.sinks, a.dead_letters,
                                a.source, a.st, dispatcher_actor{self}, i,
                                a.xml_buffers);
  slot.addr = slot.worker.address();
  self->monitor(slot.worker);
  slot.up = true;
  slot.info->up = true;
  (*s.live)[i] = slot.worker;
  // Whatever the previous worker held goes to its successor, in order.
  for (auto& [id, b] : slot.outstanding)
    self->send(slot.worker, work{id, b});
}

/// A worker went down: restart it after the policy's backoff, its
/// unfinished batches kept for its successor, or escalate (the dispatcher
/// fails) when failures come too fast.
void worker_down(self_ptr self, caf::down_msg& dm) {
  auto& s = self->state;
  for (uint64_t i = 0; i < s.slots.size(); ++i) {
    auto& slot = s.slots[i];
    if (slot.addr != dm.source)
      continue;
    slot.up = false;
    slot.info->up = false;
    auto why = detail::failure_text(dm.reason);
    slot.info->failed(why);
    // The actor clock: steady_clock in production, the test clock in
    // deterministic tests (as for the delayed restart below).
    auto delay = s.policy->failed(self->clock().now());
    if (!delay) {
      log::error("dispatcher",
                 slot.info->name + " failed (" + why + ") after "
                   + std::to_string(s.policy->recent_restarts())
                   + " worker restarts within the last "
                   + std::to_string(s.policy->window().count())
                   + " ms, more than the restart intensity allows; "
                     "escalating",
                 {{"error", why}});
      self->quit(dm.reason);
      return;
    }
    slot.info->restarts += 1;
    // The batches wait out the restart delay: with bytes of their own,
    // so that their Kafka messages (each pinning the fetch response it
    // came in) go now.
    for (auto& [id, b] : slot.outstanding)
      b = std::make_shared<const batch>(*b);
    log::warn("dispatcher",
              slot.info->name + " failed (" + why + "); restarting in "
                + std::to_string(delay->count()) + " ms with "
                + std::to_string(slot.outstanding.size()) + " batches to redo",
              {{"error", why}});
    self->delayed_send(self, *delay, atom::restart::value, i);
    return;
  }
}

/// Splits `b` by partition over the workers (one partition always goes
/// through one worker, so a track keeps its order) and keeps each part
/// until its worker reports it done.
void dispatch(self_ptr self, batch& b) {
  auto& s = self->state;
  auto n = s.slots.size();
  // Split by partition: one partition always goes through one worker.
  std::vector<batch> parts(n);
  if (n == 1) {
    parts[0] = std::move(b);
  } else {
    std::vector<size_t> sizes(n);
    for (auto& r : b.records)
      ++sizes[static_cast<size_t>(r.partition) % n];
    for (size_t i = 0; i < n; ++i)
      parts[i].records.reserve(sizes[i]);
    for (auto& r : b.records)
      parts[static_cast<size_t>(r.partition) % n].records.push_back(
        std::move(r));
  }
  for (size_t i = 0; i < n; ++i) {
    if (parts[i].records.empty())
      continue;
    auto& slot = s.slots[i];
    auto id = slot.next_id++;
    // For a worker being restarted, the batch waits: as above, with
    // bytes of its own.
    if (!slot.up)
      for (auto& r : parts[i].records)
        r.own_bytes();
    // Whoever lets go of the batch last (this actor once its worker is
    // done, or the worker's message) lets go of its records' Kafka
    // messages.
    auto ptr = std::make_shared<const batch>(std::move(parts[i]));
    slot.outstanding.emplace(id, ptr);
    if (slot.up)
      self->send(slot.worker, work{id, std::move(ptr)});
  }
}

} // namespace

dispatcher_actor::behavior_type
dispatcher(dispatcher_actor::stateful_pointer<dispatcher_state> self,
           encoder_args args, std::vector<std::shared_ptr<actor_info>> infos) {
  self->set_exception_handler(detail::exception_text);
  auto& s = self->state;
  auto& sup = args.cfg->supervision;
  s.policy.emplace(static_cast<int>(sup.max_restarts),
                   std::chrono::milliseconds{sup.window_ms},
                   std::chrono::milliseconds{sup.backoff_min_ms},
                   std::chrono::milliseconds{sup.backoff_max_ms});
  s.args = std::move(args);
  s.slots.resize(infos.size());
  s.live->resize(infos.size());
  for (size_t i = 0; i < infos.size(); ++i) {
    s.slots[i].info = infos[i];
    start_worker(self, i);
  }
  // Workers are not linked (their failures are handled here); they go when
  // the dispatcher goes.
  self->attach_functor([live = s.live](const caf::error&) {
    for (auto& w : *live)
      if (w)
        caf::anon_send_exit(w, caf::exit_reason::user_shutdown);
  });
  self->set_down_handler([self](caf::down_msg& dm) { worker_down(self, dm); });
  return {
    [=](batch& b) { dispatch(self, b); },
    [=](atom::done, uint64_t slot, uint64_t id) {
      self->state.slots[slot].outstanding.erase(id);
    },
    [=](atom::restart, uint64_t slot) { start_worker(self, slot); },
  };
}

} // namespace cotflow
