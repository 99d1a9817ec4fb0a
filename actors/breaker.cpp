#include "actors/breaker.hpp"

#include <caf/all.hpp>

namespace cotflow {

breaker_actor::behavior_type
breaker(breaker_actor::stateful_pointer<breaker_state> self,
        std::vector<encoder_actor> workers) {
  self->state.workers = std::move(workers);
  return {
    [=](batch& b) {
      auto& s = self->state;
      auto& w = s.workers[s.next++ % s.workers.size()];
      self->send(w, std::move(b));
    },
  };
}

} // namespace cotflow
