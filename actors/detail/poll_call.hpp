#pragma once

#include "messages/atoms.hpp"

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/actor_cast.hpp>
#include <caf/send.hpp>

#include <functional>

namespace cotflow::detail {

/// A call for one of librdkafka's threads (record_feed::on_ready,
/// tracked_producer::on_report): it only sends `who` a poll, and nothing
/// once `who` is gone.
inline std::function<void()> poll_call(caf::actor_addr who) {
  return [who = std::move(who)] {
    if (auto a = caf::actor_cast<caf::actor>(who))
      caf::anon_send(a, atom::poll::value);
  };
}

} // namespace cotflow::detail
