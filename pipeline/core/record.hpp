#pragma once

#include "pipeline/core/dest_mask.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

// librdkafka's message type, named without including librdkafka.
struct rd_kafka_message_s;

/// The records that flow from the source through the batcher and the
/// encoders, and what flows back. Plain data: no CAF, no librdkafka (the
/// actors' messages give them `inspect()`s in messages/inspect.hpp).
namespace cotflow {

/// Identifies one input record for acknowledgement: the partition handle of
/// its assignment (see offset_tracker) and its offset.
struct record_ref {
  uint32_t tp = 0;
  int64_t offset = -1;
};

/// What one Kafka input record says and where it came from.
struct record_fields {
  record_ref ref;
  /// The topic's number in topic_names.
  uint32_t topic = 0;
  int32_t partition = 0;
  /// Kafka timestamp (ms since epoch), -1 when the broker gave none.
  int64_t timestamp_ms = -1;
  std::string key;
  /// The bytes, unless the record holds its Kafka message (see bytes()).
  std::string payload;
};

/// One Kafka input record. From the source it holds librdkafka's message
/// and reads its bytes where the consumer put them: no copy, and no buffer
/// of its own to allocate and free per record. The message is destroyed
/// with the record, in whichever thread (librdkafka allows that). A copy
/// (a dead letter, a message sent to several actors) has the bytes in its
/// own `payload`.
struct record : record_fields {
  record() = default;
  record(record&&) noexcept = default;
  record& operator=(record&&) noexcept = default;
  record(const record& other) : record_fields(other) {
    copy_bytes(other);
  }
  record& operator=(const record& other) {
    if (this != &other) {
      hold(nullptr);
      record_fields::operator=(other);
      copy_bytes(other);
    }
    return *this;
  }

  /// The record's bytes: its message's payload, or `payload`.
  std::string_view bytes() const {
    if (!msg_)
      return payload;
    return {msg_bytes_, msg_len_};
  }

  /// Takes `msg` (destroyed with the record; null lets the current one go)
  /// and reads its bytes from now.
  void hold(rd_kafka_message_s* msg);

  /// Copies the bytes into `payload` and lets the message go.
  void own_bytes() {
    if (!msg_)
      return;
    payload.assign(bytes());
    hold(nullptr);
  }

private:
  void copy_bytes(const record& other) {
    if (other.msg_)
      payload.assign(other.bytes());
  }

  struct destroy_message {
    void operator()(rd_kafka_message_s* msg) const;
  };
  std::unique_ptr<rd_kafka_message_s, destroy_message> msg_;
  /// The payload of `msg_`, read once when it is taken (a record without a
  /// value, a tombstone, has none).
  const char* msg_bytes_ = nullptr;
  size_t msg_len_ = 0;
};

/// Records handed from the source to the batcher in one message.
struct record_chunk {
  std::vector<record> records;
  /// The source had nothing more ready after these: a batch need not wait
  /// for more records to fill up.
  bool drained = false;
};

/// A batch of records, the unit of work of the dispatcher and the encoders.
struct batch {
  std::vector<record> records;
};

/// A batch handed to one encoder worker. Shared and immutable: the
/// dispatcher keeps it until the worker reports it done, so that a worker
/// that dies has its batches redelivered to its successor (no copy is made).
struct work {
  /// Sequence number of this batch for its worker slot.
  uint64_t id = 0;
  std::shared_ptr<const batch> b;
};

/// A record that cannot become CoT, with the reason (wire name) and detail.
struct dead_letter {
  record rec;
  std::string reason;
  std::string detail;
};

/// The dead letters of one batch.
struct dead_letter_batch {
  std::vector<dead_letter> letters;
};

/// Acknowledges records: `bits` are the destinations that now have them
/// (all bits: delivered everywhere, dead-lettered or dropped and counted).
struct ack {
  dest_mask bits = 0;
  std::vector<record_ref> refs;
};

} // namespace cotflow
