#pragma once

#include "pipeline/delivery/offset_tracker.hpp"
#include "pipeline/core/string_pool.hpp"

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/meta/type_name.hpp>

#include <librdkafka/rdkafka.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

/// The payloads that actors exchange. Records and events carry a
/// `record_ref` back to the source so that acknowledgements can drive the
/// offset commits.
namespace cotflow {

/// Identifies one input record for acknowledgement: the partition handle of
/// its assignment (see offset_tracker) and its offset.
struct record_ref {
  uint32_t tp = 0;
  int64_t offset = -1;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, record_ref& x) {
  return f(caf::meta::type_name("record_ref"), x.tp, x.offset);
}

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
      msg_.reset();
      record_fields::operator=(other);
      copy_bytes(other);
    }
    return *this;
  }

  /// The record's bytes: its message's payload, or `payload`.
  std::string_view bytes() const {
    if (!msg_)
      return payload;
    if (!msg_->payload) // a record without a value (a tombstone)
      return {};
    return {static_cast<const char*>(msg_->payload), msg_->len};
  }

  /// Takes `msg` (destroyed with the record) and reads its bytes from now.
  void hold(rd_kafka_message_t* msg) {
    if (msg == msg_.get())
      return;
    msg_.reset(msg);
    payload.clear();
  }

  /// Copies the bytes into `payload` and lets the message go.
  void own_bytes() {
    if (!msg_)
      return;
    payload.assign(bytes());
    msg_.reset();
  }

private:
  void copy_bytes(const record& other) {
    if (other.msg_)
      payload.assign(other.bytes());
  }

  struct destroy_message {
    void operator()(rd_kafka_message_t* msg) const {
      rd_kafka_message_destroy(msg);
    }
  };
  std::unique_ptr<rd_kafka_message_t, destroy_message> msg_;
};

/// Saved or printed, a record carries its bytes (and stays as it was);
/// loaded, it has them in `payload`.
template <class Inspector>
typename std::enable_if<Inspector::reads_state,
                        typename Inspector::result_type>::type
inspect(Inspector& f, record& x) {
  std::string bytes{x.bytes()};
  return f(caf::meta::type_name("record"), x.ref, x.topic, x.partition,
           x.timestamp_ms, x.key, bytes);
}

template <class Inspector>
typename std::enable_if<!Inspector::reads_state,
                        typename Inspector::result_type>::type
inspect(Inspector& f, record& x) {
  x.hold(nullptr);
  return f(caf::meta::type_name("record"), x.ref, x.topic, x.partition,
           x.timestamp_ms, x.key, x.payload);
}

/// Records handed from the source to the batcher in one message.
struct record_chunk {
  std::vector<record> records;
  /// The source had nothing more ready after these: a batch need not wait
  /// for more records to fill up.
  bool drained = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, record_chunk& x) {
  return f(caf::meta::type_name("record_chunk"), x.records, x.drained);
}

/// A batch of records, the unit of work of the breaker and the encoders.
struct batch {
  std::vector<record> records;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, batch& x) {
  return f(caf::meta::type_name("batch"), x.records);
}

/// A batch handed to one encoder worker. Shared and immutable: the
/// breaker keeps it until the worker reports it done, so that a worker that
/// dies has its batches redelivered to its successor (no copy is made).
struct work {
  /// Sequence number of this batch for its worker slot.
  uint64_t id = 0;
  std::shared_ptr<const batch> b;
};

/// One encoded CoT event.
struct cot_event {
  record_ref ref;
  /// Kafka timestamp of the input record, for end-to-end latency.
  int64_t timestamp_ms = -1;
  /// The CoT uid, also the Kafka key of the output record.
  std::string uid;
  /// The CoT type and the detection's source, for destination filters.
  std::string type;
  std::string source;
  /// When the event goes stale (ms since epoch); 0: never (deletes). A
  /// parked event past it is dropped and counted instead of replayed.
  int64_t stale_ms = 0;
  std::string xml;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cot_event& x) {
  return f(caf::meta::type_name("cot_event"), x.ref, x.timestamp_ms, x.uid,
           x.type, x.source, x.stale_ms, x.xml);
}

using cot_events = std::vector<cot_event>;

/// The CoT events of one batch, sent to every destination. Shared and
/// immutable: each destination reads the same events (no copy per
/// destination) and keeps the batch alive for as long as it holds any of
/// them (the Kafka producer until the delivery report, a TAK destination
/// while the event is queued or kept for a replay after a reconnect).
struct cot_batch {
  std::shared_ptr<const cot_events> events;
};

/// An empty batch of events to fill and then share. When the last holder
/// lets it go (in whichever thread), the XML buffers of its events go back
/// to `xml_pool` (may be null) for the encoders to fill again.
inline std::shared_ptr<cot_events>
make_cot_events(std::shared_ptr<string_pool> xml_pool) {
  struct give_back_xml {
    std::shared_ptr<string_pool> pool;
    void operator()(cot_events* events) const {
      if (pool)
        pool->give(*events,
                   [](cot_event& ev) -> std::string& { return ev.xml; });
      delete events;
    }
  };
  return {new cot_events, give_back_xml{std::move(xml_pool)}};
}

/// One event of a shared batch; keeps the batch alive.
class event_ref {
public:
  event_ref(std::shared_ptr<const cot_events> batch, size_t i)
    : batch_(std::move(batch)), ev_(&(*batch_)[i]) {
  }

  const cot_event& operator*() const {
    return *ev_;
  }

  const cot_event* operator->() const {
    return ev_;
  }

private:
  std::shared_ptr<const cot_events> batch_;
  const cot_event* ev_;
};

/// A record that cannot become CoT, with the reason (wire name) and detail.
struct dead_letter {
  record rec;
  std::string reason;
  std::string detail;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, dead_letter& x) {
  return f(caf::meta::type_name("dead_letter"), x.rec, x.reason, x.detail);
}

/// The dead letters of one batch.
struct dead_letter_batch {
  std::vector<dead_letter> letters;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, dead_letter_batch& x) {
  return f(caf::meta::type_name("dead_letter_batch"), x.letters);
}

/// Acknowledges records: `bits` are the destinations that now have them
/// (all bits: delivered everywhere, dead-lettered or dropped and counted).
struct ack {
  dest_mask bits = 0;
  std::vector<record_ref> refs;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ack& x) {
  return f(caf::meta::type_name("ack"), x.bits, x.refs);
}

/// The settings a running pipeline takes on a reload (SIGHUP or a changed
/// config file) without a restart; each actor applies its part.
struct tunables {
  int64_t batch_size = 0;
  int64_t batch_age_ms = 0;
  int64_t max_in_flight = 0;
  int64_t queue_events = 0;
  int64_t breaker_failures = 0;
  double breaker_failure_rate = 0;
  int64_t breaker_window = 0;
  int64_t breaker_open_min_ms = 0;
  int64_t breaker_open_max_ms = 0;
  int64_t breaker_probes = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, tunables& x) {
  return f(caf::meta::type_name("tunables"), x.batch_size, x.batch_age_ms,
           x.max_in_flight, x.queue_events,
           x.breaker_failures, x.breaker_failure_rate, x.breaker_window,
           x.breaker_open_min_ms, x.breaker_open_max_ms, x.breaker_probes);
}

} // namespace cotflow

// Local only: work and CoT batches never leave the process.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cotflow::work)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cotflow::cot_batch)
