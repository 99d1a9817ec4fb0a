#include "pipeline/core/record.hpp"

#include <librdkafka/rdkafka.h>

namespace cotflow {

void record::hold(rd_kafka_message_s* msg) {
  if (msg && msg == msg_.get())
    return;
  msg_.reset(msg);
  if (msg) {
    payload.clear();
    msg_bytes_ = static_cast<const char*>(msg->payload);
    msg_len_ = msg->payload ? msg->len : 0;
  } else {
    msg_bytes_ = nullptr;
    msg_len_ = 0;
  }
}

void record::destroy_message::operator()(rd_kafka_message_s* msg) const {
  rd_kafka_message_destroy(msg);
}

} // namespace cotflow
