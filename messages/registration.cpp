#include "messages/registration.hpp"

#include "messages/actors.hpp"

#include <caf/actor_system_config.hpp>

namespace cotflow {

void add_message_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<record_ref>("record_ref");
  cfg.add_message_type<record>("record");
  cfg.add_message_type<record_chunk>("record_chunk");
  cfg.add_message_type<batch>("batch");
  cfg.add_message_type<cot_event>("cot_event");
  cfg.add_message_type<dead_letter>("dead_letter");
  cfg.add_message_type<dead_letter_batch>("dead_letter_batch");
  cfg.add_message_type<ack>("ack");
  cfg.add_message_type<batcher_actor>("batcher_actor");
}

} // namespace cotflow
