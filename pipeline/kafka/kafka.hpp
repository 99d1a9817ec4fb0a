#pragma once

#include "config/config.hpp"
#include "pipeline/delivery/offset_tracker.hpp"

#include <librdkafka/rdkafkacpp.h>

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

extern "C" {
struct rd_kafka_queue_s;
}

/// RAII wrappers around librdkafka: client configuration, a producer that
/// turns delivery reports into acknowledgements, and the embedded broker.
namespace cotflow {

/// A message the broker confirmed, and the input record it carries.
struct delivered_ref {
  uint32_t tp;
  int64_t offset;
  /// Kafka timestamp of the input record (ms), -1 if unknown.
  int64_t timestamp_ms;
  /// Payload bytes.
  size_t bytes;
  /// Where the message itself landed.
  int32_t partition = -1;
  int64_t message_offset = -1;
};

/// Which client a configuration is for.
enum class client_role { consumer, producer };

/// Builds a librdkafka configuration for `role` from cotflow's config:
/// bootstrap servers, client id, cotflow's own settings, then the
/// pass-through properties. Returns null and sets `err` on a bad property
/// (the first); every bad one is appended to `problems` when given.
std::unique_ptr<RdKafka::Conf>
make_client_conf(const config& cfg, client_role role, std::string& err,
                 std::vector<std::string>* problems = nullptr);

/// Every problem of the client configurations `run` builds from `cfg`
/// (consumers and producers: each property set, then a client created that
/// knows no broker, for librdkafka's checks between properties and of the
/// SSL files), found without connecting; empty when there is none.
std::vector<std::string> check_client_confs(const config& cfg);

/// Has librdkafka call `*call` (on one of its threads) when an element
/// comes into `queue` while it is empty (rd_kafka_queue_cb_event_enable);
/// null turns that off. librdkafka calls it with the queue's lock held, so
/// turning it off waits for a call under way: then `*call` may change.
void call_on_queue_event(::rd_kafka_queue_s* queue,
                         const std::function<void()>* call);

/// An idempotent producer that remembers, per message, which input record it
/// carries, and reports the records whose delivery the broker confirmed.
/// Failed deliveries are produced again, so a record is reported only once
/// Kafka has it.
class tracked_producer : public RdKafka::DeliveryReportCb {
public:
  /// Creates the producer; null with `err` set on failure.
  static std::unique_ptr<tracked_producer> make(const config& cfg,
                                                std::string& err);

  ~tracked_producer() override;

  /// Looks up `topic` in the cluster's metadata now (waiting up to
  /// `timeout_ms`), so that the first record produced to it does not wait
  /// for librdkafka's once-a-second scan of unknown topics. A failure is
  /// not an error: producing tries again.
  void prepare(const std::string& topic, int timeout_ms);

  /// Queues one message carrying input record (`tp`, `offset`). Takes
  /// ownership of `headers` (may be null). Never waits: while librdkafka's
  /// local queue is full (queue.buffering.max.messages or .kbytes), the
  /// message and every one after it wait here, in order, for poll(). One
  /// larger than the whole queue cannot wait: it is cut (cut_oversized) or
  /// stops the producer (failure()).
  void produce(const std::string& topic, std::string_view key,
               std::string_view payload, uint32_t tp, int64_t offset,
               int64_t timestamp_ms, RdKafka::Headers* headers = nullptr);

  /// Keeps `owner` (what the payloads of produce_held() live in, e.g. a
  /// batch of events) alive until every message produced with the returned
  /// hold is delivered and release() was called for it.
  uint32_t hold(std::shared_ptr<const void> owner);

  /// As produce(), without a copy: librdkafka reads `payload` where it is
  /// until its delivery report; the owner kept by `hold` owns its bytes.
  void produce_held(const std::string& topic, std::string_view key,
                    std::string_view payload, uint32_t tp, int64_t offset,
                    int64_t timestamp_ms, uint32_t hold);

  /// The caller is done producing with `hold`: the owner goes when its
  /// last message is delivered (at once when it has none outstanding).
  /// Each delivered message releases its use the same way.
  void release(uint32_t hold);

  /// Serves delivery reports for up to `timeout_ms`; appends the records
  /// that are now durable in Kafka to `out`; then hands librdkafka what
  /// waited for room in its queue (see produce()).
  void poll(int timeout_ms, std::vector<delivered_ref>& out);

  /// Calls `wake` (from one of librdkafka's threads) whenever a delivery
  /// report or another event arrives on an empty queue, so that the owner
  /// polls when there is something to serve instead of on a timer. `wake`
  /// must be quick and must not call this producer. Null turns it off.
  void on_report(std::function<void()> wake);

  /// Messages produced and not yet confirmed (with those waiting for room
  /// in librdkafka's queue).
  size_t outstanding() const {
    return outstanding_;
  }

  /// Messages waiting for room in librdkafka's queue.
  size_t waiting() const {
    return waiting_.size();
  }

  /// Deliveries that failed and were produced again.
  uint64_t retries() const {
    return retries_;
  }

  /// For dead letters: a message Kafka refuses as too large (the
  /// producer's message.max.bytes, or the topic's max.message.bytes on the
  /// broker) is sent again with the first half of its value, halving until
  /// it fits, with the header `cotflow.truncated` holding the original
  /// length, and logged, instead of stopping the producer. The whole value
  /// stays in the input topic, where the other headers point. Off by
  /// default: a CoT event is never cut.
  ///
  /// The broker refuses a whole batch, and librdkafka fails every message
  /// in it: a message the broker refused is first sent again whole and
  /// alone, by a second producer that sends one message per request
  /// (created at the first such refusal), and cut only when refused alone.
  void cut_oversized(bool on) {
    cut_oversized_ = on;
  }

  /// Messages cut (cut_oversized), once each.
  uint64_t cut() const {
    return cut_;
  }

  /// Why the producer cannot go on (a permanent error), or empty. Its
  /// unconfirmed records stay uncommitted; the owner must stop.
  const std::string& failure() const {
    return failure_;
  }

  /// Waits up to `timeout_ms` for every outstanding message.
  void flush(int timeout_ms, std::vector<delivered_ref>& out);

  /// The librdkafka delivery report callback (called from poll()).
  void dr_cb(RdKafka::Message& msg) override;

private:
  tracked_producer() = default;

  static constexpr uint32_t no_hold = UINT32_MAX;

  uint32_t take_slot(uint32_t tp, int64_t offset, int64_t timestamp_ms,
                     uint32_t hold = no_hold);

  /// A message kept to be produced later (a retry, or one waiting for
  /// room): a held payload (`own`) is read where its owner keeps it, any
  /// other is copied.
  struct retry {
    retry(std::string t, std::string_view k, std::string_view bytes, bool own,
          RdKafka::Headers* h, uint32_t s, bool solo_sent)
      : topic(std::move(t)), key(k), payload(own ? std::string_view{} : bytes),
        held(own ? bytes : std::string_view{}), headers(h), slot(s),
        solo(solo_sent), own(own) {}
    std::string_view bytes() const {
      return own ? held : std::string_view{payload};
    }
    std::string topic;
    std::string key;
    std::string payload; // empty when held: read from where it was
    std::string_view held;
    RdKafka::Headers* headers;
    uint32_t slot;
    /// Sent by solo_ (see cut_oversized).
    bool solo = false;
    bool own = false;
  };

  /// `payload` is copied by librdkafka unless the slot has a hold; `solo`:
  /// sent by solo_, one message per request. Behind waiting_ when it is
  /// not empty or librdkafka's queue is full.
  void produce_slot(const std::string& topic, std::string_view key,
                    std::string_view payload, RdKafka::Headers* headers,
                    uint32_t slot, bool solo = false);

  /// Hands one message to librdkafka; false when its queue is full, with
  /// nothing done but a cut (`payload` is then what is left of it). Every
  /// other outcome is dealt with here (a permanent failure, a retry after
  /// a pause, a cut).
  bool try_produce(const std::string& topic, std::string_view key,
                   std::string_view& payload, RdKafka::Headers*& headers,
                   uint32_t slot, bool solo);

  /// Hands librdkafka what waits in waiting_, in order, while it has room.
  void produce_waiting();

  /// A delivery report's opaque: the slot, with this bit when solo_ sent
  /// the message.
  static constexpr uintptr_t solo_bit = uintptr_t{1} << 31;

  /// solo_, created on first use from solo_conf_; null (and logged) when
  /// librdkafka cannot create it.
  RdKafka::Producer* solo_producer();

  std::unique_ptr<RdKafka::Producer> producer_;
  std::unique_ptr<RdKafka::Conf> conf_;
  /// With cut_oversized: the producer of messages the broker refused as
  /// too large, one message per request (batch.num.messages=1), so that a
  /// refusal concerns that message alone.
  std::unique_ptr<RdKafka::Conf> solo_conf_;
  std::unique_ptr<RdKafka::Producer> solo_;
  /// Topic handles by name (C API; prepare() and the first produce to a
  /// topic): a produce names its topic by handle, with no lookup by name
  /// inside librdkafka and no copy of the name; kept so that librdkafka
  /// keeps their metadata; released before the producer.
  std::vector<std::pair<std::string, struct rd_kafka_topic_s*>> topics_;
  struct rd_kafka_topic_s* topic_handle(const std::string& topic);
  /// What a message in flight carries for its delivery report; small, as
  /// most slots are cold by the time their report comes.
  struct slot {
    int64_t offset;
    int64_t timestamp_ms;
    uint32_t tp;
    uint32_t hold;
  };
  std::vector<slot> slots_;
  std::vector<uint32_t> free_;
  // Owners of held payloads, with the uses not over yet (the messages not
  // delivered, plus one until release()).
  struct held {
    std::shared_ptr<const void> owner;
    uint32_t uses = 0;
  };
  std::vector<held> holds_;
  std::vector<uint32_t> free_holds_;
  /// Confirmed deliveries, as dr_cb saw them, not yet settled: settle()
  /// reads their slots in a batch, fetching each a few ahead.
  struct confirmed {
    uint32_t slot;
    int32_t partition;
    int64_t offset;
    size_t bytes;
  };
  std::vector<confirmed> confirmed_;
  /// Frees the slots of confirmed_ and appends their records to `out`.
  void settle(std::vector<delivered_ref>& out);
  std::vector<retry> retries_pending_;
  /// Messages that met librdkafka's full queue, and every one produced
  /// after them, in order: the owner (a scheduled actor, with credit
  /// bounding what it produces) must not wait for the queue, as a wait
  /// would hold the thread that the rest of the pipeline runs on.
  std::deque<retry> waiting_;
  bool warned_full_ = false;
  size_t outstanding_ = 0;
  uint64_t retries_ = 0;
  bool cut_oversized_ = false;
  uint64_t cut_ = 0;
  /// With cut_oversized: `payload` (of a message refused as too large)
  /// halved, and `headers` (created when null) marked with the original
  /// length; false when there is nothing left to cut.
  bool cut_in_half(const std::string& topic, std::string_view& payload,
                   RdKafka::Headers*& headers);
  std::string failure_;
  std::chrono::steady_clock::time_point next_retry_{};
  /// on_report(): librdkafka's main queue, where delivery reports arrive.
  std::function<void()> wake_;
  ::rd_kafka_queue_s* reports_ = nullptr;
  ::rd_kafka_queue_s* solo_reports_ = nullptr;
  /// Has `queue` (the main queue of `rk`, got when null) call wake_.
  void wake_on(::rd_kafka_s* rk, ::rd_kafka_queue_s*& queue);
};

/// librdkafka properties that every consumer of cotflow's (and of its tests
/// and benchmarks) gets on an embedded broker, from this one place: the
/// embedded broker holds an empty fetch for the whole fetch.wait.max.ms
/// (librdkafka's default 500 ms) even when data arrives meanwhile, where a
/// real broker answers as soon as data arrives.
const std::vector<std::pair<std::string, std::string>>&
embedded_consumer_properties();

/// True when the brokers of `cfg` answer as an embedded broker: this
/// process's, another process's (`cotflow broker`), a test's or a
/// benchmark's, recognized by the cluster id librdkafka's mock cluster
/// gives itself. False when they do not answer within `timeout` (a cluster
/// that is down gets a real cluster's settings).
bool answers_as_embedded_broker(const config& cfg,
                                std::chrono::milliseconds timeout);

/// librdkafka's mock cluster: a Kafka-protocol broker on loopback TCP that
/// lives inside this process (SPEC §9).
class embedded_broker {
public:
  /// Starts `brokers` mock brokers; null with `err` set on failure.
  static std::unique_ptr<embedded_broker> start(int brokers, std::string& err);

  ~embedded_broker();

  /// Creates a topic; false with `err` set on failure.
  bool create_topic(const std::string& name, int partitions, std::string& err);

  /// The bootstrap servers ("127.0.0.1:port,...").
  std::string bootstraps() const;

private:
  embedded_broker() = default;
  void* rk_ = nullptr;
  void* cluster_ = nullptr;
};

} // namespace cotflow
