#pragma once

#include "config/config.hpp"
#include "messages/actors.hpp"
#include "pipeline/core/stats.hpp"
#include "pipeline/core/string_pool.hpp"
#include "pipeline/supervision/restart_policy.hpp"

#include <caf/typed_event_based_actor.hpp>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <vector>

namespace cotflow {

/// What the dispatcher needs to (re)spawn an encoder worker.
struct encoder_args {
  std::shared_ptr<const config> cfg;
  std::vector<cot_sink_actor> sinks;
  dead_letter_sink_actor dead_letters;
  source_actor source;
  std::shared_ptr<stats> st;
  /// Where encoders find buffers for their events' XML (may be null).
  std::shared_ptr<string_pool> xml_buffers;
  /// Spawns the worker of a slot in place of the encoder (a test's fake
  /// worker); empty: the encoder, with the arguments above.
  std::function<encoder_actor(dispatcher_actor, uint64_t)> spawn_worker = {};
};

/// One worker of the encoder pool and the batches it has not finished.
struct encoder_slot {
  encoder_actor worker;
  caf::actor_addr addr;
  bool up = false;
  uint64_t next_id = 0;
  std::map<uint64_t, std::shared_ptr<const batch>> outstanding;
  std::shared_ptr<actor_info> info;
};

/// State of the dispatcher. It is the stage the design first called the
/// "breaker"; the circuit breakers ended up where their decisions are made,
/// one per TAK destination inside its sink (pipeline/tak/circuit_breaker),
/// so the stage is named for what it does: it spreads batches over the
/// encoder pool and supervises it.
struct dispatcher_state {
  static inline const char* name = "dispatcher";
  encoder_args args;
  std::vector<encoder_slot> slots;
  std::optional<restart_policy> policy;
  /// The current workers, shared with the exit hook (which runs after the
  /// state is gone).
  std::shared_ptr<std::vector<encoder_actor>> live
    = std::make_shared<std::vector<encoder_actor>>();
};

/// The dispatcher: splits each batch by partition over the encoder
/// workers (so a partition, and with it a track, keeps its order), keeps
/// every batch until its worker reports it done, and restarts a failed
/// worker with backoff, handing it the batches its predecessor held. Past
/// the restart intensity it fails itself, which ends the process.
dispatcher_actor::behavior_type
dispatcher(dispatcher_actor::stateful_pointer<dispatcher_state> self,
           encoder_args args, std::vector<std::shared_ptr<actor_info>> infos);

} // namespace cotflow
