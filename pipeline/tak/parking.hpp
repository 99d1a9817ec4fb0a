#pragma once

#include "config/config.hpp"
#include "pipeline/core/cot_event.hpp"
#include "pipeline/core/stats.hpp"
#include "pipeline/kafka/consumer.hpp"
#include "pipeline/kafka/kafka.hpp"

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace cotflow {

/// Parked events the replayer dropped because their stale time passed, by
/// whose they were (see parking_port::inherited_flag). Sensor events are
/// in neither: they carry no record.
struct stale_drops {
  uint64_t counted = 0;
  uint64_t inherited = 0;
};

/// What a TAK destination needs from its parking topic: parking_lot in
/// production, a fake in the tests of tak_destination. See parking_lot for
/// what each call means.
class parking_port {
public:
  /// Set in the `tp` of refs that belong to the replayer, not the source.
  static constexpr uint32_t replay_flag = 1u << 31;
  /// Also set in a replayed ref whose event this process did not count as
  /// parked: an earlier run's, or another instance's (counted apart, as
  /// inherited, so that this run's `waiting` stays right).
  static constexpr uint32_t inherited_flag = 1u << 30;
  /// Also set in a replayed ref of a sensor event, which carries no input
  /// record: counted in no record or parking figure.
  static constexpr uint32_t sensor_flag = 1u << 29;
  /// All of the above: what a replayed ref's `tp` has besides the
  /// replayer's partition handle.
  static constexpr uint32_t replay_flags = replay_flag | inherited_flag
                                           | sensor_flag;

  virtual ~parking_port() = default;
  virtual const std::string& topic() const = 0;
  virtual void park(const cot_event& ev) = 0;
  virtual void serve(std::vector<record_ref>& durable) = 0;
  virtual size_t outstanding() const = 0;
  virtual const std::string& failure() const = 0;
  virtual size_t replay(size_t max, int64_t now_ms, std::deque<event_ref>& out,
                        stale_drops& stale)
    = 0;
  virtual void hold() = 0;
  virtual void done(const record_ref& ref) = 0;
  virtual bool caught_up() = 0;
  virtual void store_positions() = 0;
  virtual int64_t backlog() = 0;
  virtual uint64_t take_lost() = 0;
  virtual uint64_t take_foreign() = 0;
};

/// The flags of a replayed ref (parking_port::replay_flags) for a parked
/// event whose header `cotflow.run` is `run` (none before the header
/// existed) and that has the header `cotflow.sensor` or not, replayed by
/// the run `this_run`.
uint32_t replayed_flags(std::optional<std::string_view> run, bool sensor,
                        std::string_view this_run);

/// The end of each parking partition as one instance knows it: the high
/// watermark its replayer last saw, or, past it, the offset after the
/// newest event this instance parked there (the replayer fetches nothing
/// while paused, so its watermark freezes during an outage). The latest
/// delivery report of a partition is its newest event: a lower offset
/// than before means the partition started over (the topic was deleted
/// and created again), and so does the high water. Once the watermark
/// reaches it, the partition is forgotten here: the watermark says it all.
class parked_high_water {
public:
  /// Kafka confirmed an event parked at `offset` of `partition`.
  void parked(int32_t partition, int64_t offset) {
    high_[partition] = offset + 1;
  }

  /// The end of `partition` for a replayer whose high watermark is
  /// `watermark`.
  int64_t end(int32_t partition, int64_t watermark);

private:
  std::map<int32_t, int64_t> high_;
};

/// One destination's parking topic ("<kafka.parking_topic>.<destination>"):
/// a producer that parks CoT events keyed by uid while the destination is
/// down or slow, and a replayer, a consumer in its own group
/// ("<group_id>.parking.<destination>"), that hands them back, oldest first
/// per partition (so in order per uid), once it is up again. Each parked
/// event names its deployment (header `cotflow.group`, the group_id): a
/// replayer passes over other deployments' events, so that two deployments
/// on one cluster, or a new group id, never replay what another parked. Parking
/// offsets are committed only after the destination took the replayed event.
/// Owned by the destination's actor; not thread-safe.
class parking_lot final : public parking_port {
public:
  /// Creates both clients; null with `err` set on failure.
  static std::unique_ptr<parking_lot>
  make(const config& cfg, const std::string& destination, std::string& err);

  ~parking_lot();

  const std::string& topic() const override {
    return topic_;
  }

  /// Parks `ev`; once Kafka confirms it, its ref comes out of `serve`.
  void park(const cot_event& ev) override;

  /// Serves delivery reports: appends the refs of parked events that are
  /// now durable (refs with replay_flag were parked again after a replay;
  /// pass them to `done`).
  void serve(std::vector<record_ref>& durable) override;

  /// Parked events not yet confirmed by Kafka.
  size_t outstanding() const override {
    return producer_->outstanding();
  }

  /// Why the producer cannot go on (a permanent Kafka error), or empty.
  const std::string& failure() const override {
    return producer_->failure();
  }

  /// Takes up to `max` parked events into `out` (refs with replay_flag,
  /// and inherited_flag or sensor_flag when the event is not one this
  /// instance parked, see replayed_flags); events whose stale time passed
  /// are dropped, acknowledged and counted in `stale`. Returns the events
  /// taken.
  size_t replay(size_t max, int64_t now_ms, std::deque<event_ref>& out,
                stale_drops& stale) override;

  /// Not replaying now: keeps the replayer in its group (serves rebalances)
  /// and pauses it after a while so it does not fetch for nothing.
  void hold() override;

  /// A replayed event (ref with replay_flag) is done: delivered, or parked
  /// again.
  void done(const record_ref& ref) override;

  /// True when everything this instance parked since it last caught up has
  /// been handed out by the replayer (or sits on a parking partition
  /// another instance replays) and nothing is left unconfirmed.
  bool caught_up() override;

  /// After a restart in place: the replayer starts over from its committed
  /// offsets (see tracked_consumer::rewind).
  bool rewind(int timeout_ms) {
    holding_ = false;
    paused_ = false;
    return replayer_->rewind(timeout_ms);
  }

  /// Hands the replayer's finished offsets to its committer (see
  /// tracked_consumer::store_positions).
  void store_positions() override;

  /// Parked records the replayer has not taken yet on its partitions: from
  /// the watermarks librdkafka last saw, or the offsets of what this
  /// instance parked since (the replayer fetches nothing while paused; see
  /// parked_high_water).
  int64_t backlog() override;

  /// Events of other deployments (another consumer group's
  /// `cotflow.group`) the replayer passed over since the last call.
  uint64_t take_foreign() override {
    auto fresh = foreign_;
    foreign_ = 0;
    return fresh;
  }

  /// Parked events deleted from the parking topic (retention) before the
  /// replayer read them (lost for this destination) since the last call.
  uint64_t take_lost() override {
    auto lost = replayer_->lost();
    auto fresh = lost - lost_taken_;
    lost_taken_ = lost;
    return fresh;
  }

private:
  parking_lot() = default;

  std::string topic_;
  /// kafka.group_id: the deployment whose events these are.
  std::string group_;
  /// This process's events (header `cotflow.run`), told apart from those
  /// an earlier run or another instance parked: random per process.
  std::string run_;
  uint64_t foreign_ = 0;
  /// Groups whose events were passed over and said so (once each).
  std::set<std::string> warned_owners_;
  std::unique_ptr<tracked_producer> producer_;
  std::unique_ptr<tracked_consumer> replayer_;
  std::shared_ptr<stats> replayer_stats_;
  std::vector<delivered_ref> delivered_;
  /// Newest offset parked by this instance per parking partition (the
  /// latest delivery report: lower after the topic was created again),
  /// until the replayer passed it.
  std::map<int32_t, int64_t> last_parked_;
  /// For backlog().
  parked_high_water high_parked_;
  uint64_t lost_taken_ = 0;
  bool holding_ = false;
  bool paused_ = false;
  std::chrono::steady_clock::time_point holding_since_{};
};

} // namespace cotflow
