#pragma once

#include "messages/actors.hpp"

#include <memory>
#include <utility>
#include <vector>

namespace cotflow::test {

/// Stands in for the source where a test needs only what is acknowledged
/// to it: keeps every acknowledgement in `got` and answers a stop with
/// nothing left in flight. The list is an argument, not only a detail:
/// CAF 0.17 dereferences a null argument tuple when it spawns a
/// function-based actor without arguments (UBSan reports it).
inline source_actor::behavior_type
ack_keeper(source_actor::pointer, std::shared_ptr<std::vector<ack>> got) {
  return {
    [](atom::start, batcher_actor) {},
    [=](ack& a) { got->push_back(std::move(a)); },
    [](atom::poll) {},
    [](tunables&) {},
    [](atom::stop) { return uint64_t{0}; },
  };
}

} // namespace cotflow::test
