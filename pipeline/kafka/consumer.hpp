#pragma once

#include "config/config.hpp"
#include "pipeline/core/stats.hpp"
#include "pipeline/delivery/offset_tracker.hpp"
#include "pipeline/delivery/record_feed.hpp"
#include "pipeline/delivery/revoke_drain.hpp"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace cotflow {

/// The Kafka consumer of the source: a consumer-group member whose offsets
/// are committed only up to the first record still owed an acknowledgement.
/// It handles rebalances and pausing: revoked partitions stay paused with
/// it until their records in flight are acknowledged, or at most
/// kafka.revoke_drain_ms (store_positions() completes the revoke: the
/// acknowledgements arrive between polls, never inside the rebalance
/// callback); then what is safe is committed and they are forgotten (late
/// acknowledgements for them are ignored).
/// Not thread-safe: one actor owns it.
class tracked_consumer : public record_feed,
                         public RdKafka::RebalanceCb,
                         public RdKafka::OffsetCommitCb {
public:
  /// Called for each consumed record with its partition handle (the C
  /// API's message: the C++ API allocates a wrapper per record).
  using message_fn
    = std::function<void(uint32_t tp, const rd_kafka_message_t& msg)>;

  /// Creates the consumer and subscribes to the input topics; every record
  /// waits for the destinations in `all`. Null with `err` set on failure.
  static std::unique_ptr<tracked_consumer> make(const config& cfg,
                                                dest_mask all,
                                                std::shared_ptr<stats> st,
                                                std::string& err);

  ~tracked_consumer() override;

  /// Consumes up to `max` records, waiting at most `timeout_ms` for the
  /// first; each one is tracked and handed to `fn`. Also serves rebalances.
  size_t poll(int timeout_ms, size_t max, const message_fn& fn);

  /// Called for each consumed record with its partition handle; it owns
  /// `msg` from then on (rd_kafka_message_destroy), even if it throws.
  using owning_message_fn
    = std::function<void(uint32_t tp, rd_kafka_message_t* msg)>;

  /// As poll(), but `fn` takes each message over instead of reading it
  /// during the call: the bytes need no copy.
  size_t poll_owned(int timeout_ms, size_t max, const owning_message_fn& fn);

  /// The source's take: poll_owned() making each message a record that
  /// holds it (its bytes are read where librdkafka put them, no copy).
  size_t take(int timeout_ms, size_t max, const record_fn& fn) override;

  /// The number (topic_names) of the topic of the record poll() is handing
  /// to its callback.
  uint32_t topic_id() const {
    return last_topic_;
  }

  /// True when the last poll() stopped because librdkafka had no record
  /// ready (rather than at `max`): nothing more is there to wait for.
  bool drained() const override {
    return drained_;
  }

  /// Has librdkafka call `ready` when an element comes into the
  /// consumer's queue while it is empty
  /// (rd_kafka_queue_cb_event_enable): a fetched batch, a rebalance, an
  /// error. Called on one of librdkafka's threads.
  void on_ready(std::function<void()> ready) override;

  /// Starts the assigned partitions over from their committed offsets,
  /// keeping the group membership (no rebalance): what was handed out and
  /// not committed is consumed again, and acknowledgements of what was
  /// handed out before are ignored. Resumes paused partitions. Used when
  /// the pipeline restarts in place after a failure. False when the
  /// committed offsets could not be read (the caller then starts afresh).
  bool rewind(int timeout_ms);

  /// Fault injection: runs this member's side of a rebalance on its whole
  /// assignment, as the group coordinator would (revoke: commit what is
  /// safe, forget in-flight work at once, without waiting for it; assign:
  /// fetch again from the committed offsets). The group itself is
  /// untouched.
  void simulate_rebalance() override;

  /// Names this consumer in its log lines (default "source").
  void set_name(std::string name) {
    name_ = std::move(name);
  }

  /// Reports records that are gone from a partition's log before this
  /// consumer had them: the next record of a partition lies past the one
  /// it expected (the commit it started from, or the record after the
  /// last). Each gap is logged as an error and counted in `lost()`. For
  /// topics where nothing may legitimately be skipped (the parking
  /// topics: cotflow's own non-transactional producer, deleted only by
  /// retention); off by default (transaction markers and compaction leave
  /// such gaps in input topics).
  void report_gaps(bool on) {
    report_gaps_ = on;
  }

  /// Records found missing (see report_gaps).
  uint64_t lost() const {
    return lost_;
  }

  /// The handle of an assigned partition, 0 when it is not assigned.
  uint32_t handle(const std::string& topic, int32_t partition) const {
    return tracker_.handle(topic, partition);
  }

  /// The offset after the newest record handed out on handle `tp`, -1
  /// before any.
  int64_t next(uint32_t tp) const {
    return tracker_.next(tp);
  }

  /// Records of one assigned partition not yet taken by the consumer: the
  /// high watermark librdkafka last saw minus the consume position.
  struct partition_lag {
    std::string topic;
    int32_t partition;
    int64_t lag;
    /// The consume position and the high watermark the lag is made of.
    int64_t position;
    int64_t high;
  };

  /// Lag of every assigned partition whose position and watermark are
  /// known (local data only: no broker round trip).
  std::vector<partition_lag> lag() const;

  /// Handles of the assigned partitions.
  std::vector<uint32_t> assigned() const {
    return tracker_.handles();
  }

  /// Serves rebalances and errors without taking records (used while
  /// paused or draining; anything returned is left uncommitted).
  void idle(int timeout_ms) override;

  /// Applies an acknowledgement; true when it completed a record.
  bool ack(uint32_t tp, int64_t offset, dest_mask bits,
           dest_mask* marks = nullptr) override;

  /// Pauses or resumes every assigned partition.
  void pause(bool on) override;

  bool paused() const override {
    return paused_;
  }

  /// Hands every partition's safe position that moved since the last call
  /// to librdkafka's committer (offsets_store), which commits what is
  /// stored every `pipeline.commit_interval_ms` while no rebalance is under
  /// way, and for the partitions it unassigns (a revoke). Completes a
  /// revoke that waits for its records once they are all acknowledged or
  /// kafka.revoke_drain_ms passed. Cheap when nothing moved: meant for
  /// every round of the consume loop. Positions
  /// count as committed once the broker confirmed them (offset_commit_cb).
  void store_positions() override;

  /// Stores and commits synchronously (shutdown); false when the broker
  /// refused.
  bool commit_sync();

  /// A revoke is waiting for its records in flight (kafka.revoke_drain_ms).
  bool revoke_waiting() const {
    return drain_.pending();
  }

  /// Records handed out and not yet acknowledged.
  size_t in_flight() const override {
    return tracker_.in_flight();
  }

  /// Records held between the commit positions and the newest dispatches:
  /// what credit bounds.
  size_t span() const override {
    return tracker_.span();
  }

  /// Commits and leaves the group; false when the final commit failed.
  bool close() override;

  /// librdkafka commit result callback (called from poll()).
  void
  offset_commit_cb(RdKafka::ErrorCode err,
                   std::vector<RdKafka::TopicPartition*>& offsets) override;

  /// librdkafka rebalance callback (called from poll()).
  void rebalance_cb(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                    std::vector<RdKafka::TopicPartition*>& parts) override;

private:
  tracked_consumer() = default;

  bool commit_points(const std::vector<commit_point>& points, bool sync);

  /// Tracks one consumed message and hands it over to `fn` (destroys it
  /// when it is not handed out). False when it was an error (poll() stops
  /// after the messages it holds).
  bool track(rd_kafka_message_t* msg, const owning_message_fn& fn, size_t& n);

  /// With report_gaps: logs and counts what lies between the offset
  /// expected on handle `tp` and `offset`.
  void check_gap(uint32_t tp, const rd_kafka_message_t& msg);
  bool report_gaps_ = false;
  uint64_t lost_ = 0;
  /// Per partition, the offset below which gaps were counted already.
  std::map<std::pair<std::string, int32_t>, int64_t> gaps_counted_;

  std::unique_ptr<RdKafka::Conf> conf_;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  /// The consumer's queue, made with the consumer, for batch consumption
  /// and on_ready(); goes before consumer_.
  std::unique_ptr<rd_kafka_queue_t, void (*)(rd_kafka_queue_t*)> queue_{
    nullptr, rd_kafka_queue_destroy};
  std::function<void()> ready_;
  /// Messages of one batch (reused).
  std::vector<rd_kafka_message_t*> batch_;
  offset_tracker tracker_;
  dest_mask all_ = 1;
  std::string name_ = "source";
  bool paused_ = false;
  // Partitions librdkafka holds paused: pause() marks what was assigned;
  // the flag outlives a revoke, so a partition paused then comes back
  // paused when it is assigned again. Only those are resumed on assignment
  // (resuming a partition that is not paused is not a no-op in librdkafka:
  // it bumps the fetch version, confluentinc/librdkafka#4686).
  std::set<std::pair<std::string, int32_t>> paused_parts_;
  // Commit points this instance reached but could not commit before its
  // partitions were taken (a lost assignment: the session timed out; or the
  // commit on revoke failed). When one comes back to this instance, it
  // resumes there rather than at the group's older commit: the records in
  // between were delivered by this instance, reading them again would only
  // make duplicates. Forgotten after `unconfirmed_ttl`.
  struct unconfirmed {
    int64_t offset;
    std::chrono::steady_clock::time_point at;
    /// When this instance resumed the partition there (not yet: epoch).
    std::chrono::steady_clock::time_point resumed{};
  };
  /// Resume points not committed yet some time after their assignment
  /// (no record came past them): committed now, so that the group's
  /// commit does not stay behind while the partition is quiet.
  std::vector<commit_point> resumed_due();
  std::map<std::pair<std::string, int32_t>, unconfirmed> unconfirmed_;
  void remember_unconfirmed(const std::vector<commit_point>& points);
  /// A commit of `offset` went through: a remembered point at or below it
  /// is no longer needed.
  void confirmed(const std::string& topic, int32_t partition, int64_t offset);
  /// Sets the offset of each partition in `parts` this instance has an
  /// unconfirmed point for above the group's commit to that point.
  void resume_unconfirmed(RdKafka::KafkaConsumer* consumer,
                          std::vector<RdKafka::TopicPartition*>& parts);

  // The phases of rebalance_cb, in its order. On an assignment:
  /// Starts tracking `parts`, at the points resume_unconfirmed sets.
  void track_assigned(RdKafka::KafkaConsumer* consumer,
                      std::vector<RdKafka::TopicPartition*>& parts);
  /// Hands `parts` to librdkafka; on failure, tracks them no longer.
  void assign_parts(RdKafka::KafkaConsumer* consumer,
                    std::vector<RdKafka::TopicPartition*>& parts,
                    bool cooperative);
  /// Pauses or resumes `parts` to match paused_.
  void restore_pause_flags(RdKafka::KafkaConsumer* consumer,
                           std::vector<RdKafka::TopicPartition*>& parts);
  // On a revocation:
  /// The handles of the revoked `parts` this instance tracks.
  std::vector<uint32_t>
  handles_of(const std::vector<RdKafka::TopicPartition*>& parts) const;
  /// Holds the revoked `parts` paused until their records in flight are
  /// acknowledged or the bound passes (finish_held_revoke).
  void hold_revoked(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                    std::vector<RdKafka::TopicPartition*>& parts,
                    std::vector<uint32_t> handles, bool cooperative);
  /// Completes the waiting revoke, if any (also cut short: a shutdown,
  /// another rebalance, a rewind).
  void finish_held_revoke();
  /// The phases below, in order: hands `parts` over.
  void complete_revoke(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                       std::vector<RdKafka::TopicPartition*>& parts,
                       const std::vector<uint32_t>& handles, bool cooperative,
                       const revoke_drain::summary& drained);
  /// The commit points of `handles` that moved.
  std::vector<commit_point> due_on_revoke(const std::vector<uint32_t>& handles);
  /// Stores `points` for the rebalance's commit, or nothing when the
  /// assignment was lost.
  void store_on_revoke(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                       const std::vector<RdKafka::TopicPartition*>& parts,
                       const std::vector<commit_point>& points);
  /// Stops tracking `handles`, leaving their records in flight behind;
  /// logs and counts what was drained and what is left.
  void release_revoked(const std::vector<RdKafka::TopicPartition*>& parts,
                       const std::vector<uint32_t>& handles,
                       const revoke_drain::summary& drained);
  /// Takes `parts` back from librdkafka (those it still holds: one it
  /// does not would fail the whole call). When librdkafka refuses, they
  /// stay paused and the call is made again (retry_unassign): until it
  /// goes through, the rebalance waits for this member.
  void unassign_parts(RdKafka::KafkaConsumer* consumer,
                      std::vector<RdKafka::TopicPartition*>& parts,
                      bool cooperative);
  /// Makes the refused call again, at most once a second.
  void retry_unassign();
  /// The revoked partitions librdkafka refused to take back.
  struct refused_unassign {
    std::vector<std::pair<std::string, int32_t>> parts;
    bool cooperative = false;
    bool pending = false;
    std::chrono::steady_clock::time_point next{};
  } refused_;
  // After either:
  /// The assignment's numbers in stats_.
  void update_assignment_stats();
  /// Records in flight per handle, for drain_.
  revoke_drain::in_flight_fn in_flight_of() const {
    return [this](uint32_t tp) { return tracker_.in_flight(tp); };
  }
  /// The revoke waiting for its records in flight (kafka.revoke_drain_ms).
  revoke_drain drain_{std::chrono::milliseconds{0}};
  /// What completing it needs: the partitions (librdkafka's list is gone
  /// when the callback returns), the callback's code and protocol.
  struct held_revoke {
    std::vector<std::pair<std::string, int32_t>> parts;
    RdKafka::ErrorCode err = RdKafka::ERR_NO_ERROR;
    bool cooperative = false;
  } held_;
  /// `topic`/`partition` belongs to the waiting revoke.
  bool held(const std::string& topic, int32_t partition) const;
  /// Set while simulate_rebalance runs: its revoke does not wait.
  bool simulating_ = false;
  bool closed_ = false;
  bool drained_ = false;
  // A record completed since the last store_positions(): a position may
  // have moved.
  bool moved_ = false;
  std::chrono::steady_clock::time_point next_resume_check_{};
  std::shared_ptr<stats> stats_;
  // Handle cache for the partition of the previous record.
  const void* last_rkt_ = nullptr;
  int32_t last_partition_ = -1;
  uint32_t last_tp_ = 0;
  uint32_t last_topic_ = 0;
};

} // namespace cotflow
