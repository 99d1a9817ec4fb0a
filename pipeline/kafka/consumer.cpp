#include "pipeline/kafka/consumer.hpp"

#include "pipeline/core/log.hpp"
#include "pipeline/delivery/topic_names.hpp"
#include "pipeline/kafka/kafka.hpp"
#include "pipeline/kafka/kafka_stats.hpp"

#include <librdkafka/rdkafka.h>

#include <algorithm>

namespace cotflow {

namespace {

std::string describe(const std::vector<RdKafka::TopicPartition*>& parts) {
  std::string s;
  for (auto* p : parts) {
    if (!s.empty())
      s += ",";
    s += p->topic() + "[" + std::to_string(p->partition()) + "]";
  }
  return s.empty() ? "none" : s;
}

} // namespace

std::unique_ptr<tracked_consumer>
tracked_consumer::make(const config& cfg, dest_mask all,
                       std::shared_ptr<stats> st, std::string& err) {
  std::unique_ptr<tracked_consumer> self{new tracked_consumer};
  self->all_ = all;
  self->stats_ = std::move(st);
  self->drain_ = revoke_drain{
    std::chrono::milliseconds{cfg.kafka.revoke_drain_ms}};
  self->conf_ = make_client_conf(cfg, client_role::consumer, err);
  if (!self->conf_)
    return nullptr;
  std::string e;
  if (self->conf_->set("rebalance_cb",
                       static_cast<RdKafka::RebalanceCb*>(self.get()), e)
        != RdKafka::Conf::CONF_OK
      || self->conf_->set("offset_commit_cb",
                          static_cast<RdKafka::OffsetCommitCb*>(self.get()), e)
           != RdKafka::Conf::CONF_OK) {
    err = e;
    return nullptr;
  }
  self->consumer_.reset(RdKafka::KafkaConsumer::create(self->conf_.get(), e));
  if (!self->consumer_) {
    err = "cannot create Kafka consumer: " + e;
    return nullptr;
  }
  self->queue_.reset(rd_kafka_queue_get_consumer(self->consumer_->c_ptr()));
  auto rc = self->consumer_->subscribe(cfg.kafka.input_topics);
  if (rc != RdKafka::ERR_NO_ERROR) {
    err = "cannot subscribe: " + RdKafka::err2str(rc);
    return nullptr;
  }
  return self;
}

void tracked_consumer::on_ready(std::function<void()> ready) {
  if (!queue_)
    return;
  // Off first: ready_ does not change under a call under way.
  call_on_queue_event(queue_.get(), nullptr);
  ready_ = std::move(ready);
  if (ready_)
    call_on_queue_event(queue_.get(), &ready_);
}

tracked_consumer::~tracked_consumer() {
  on_ready(nullptr);
  close();
}

size_t tracked_consumer::poll(int timeout_ms, size_t max,
                              const message_fn& fn) {
  return poll_owned(timeout_ms, max, [&fn](uint32_t tp, rd_kafka_message_t* m) {
    std::unique_ptr<rd_kafka_message_t, void (*)(rd_kafka_message_t*)> msg{
      m, rd_kafka_message_destroy};
    fn(tp, *msg);
  });
}

size_t tracked_consumer::take(int timeout_ms, size_t max, const record_fn& fn) {
  return poll_owned(timeout_ms, max, [&](uint32_t tp, rd_kafka_message_t* m) {
    record r;
    r.hold(m);
    r.ref = {tp, m->offset};
    r.topic = last_topic_;
    r.partition = m->partition;
    rd_kafka_timestamp_type_t ts_type;
    auto ts = rd_kafka_message_timestamp(m, &ts_type);
    r.timestamp_ms = ts_type == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? -1 : ts;
    if (m->key)
      r.key.assign(static_cast<const char*>(m->key), m->key_len);
    fn(std::move(r));
  });
}

size_t tracked_consumer::poll_owned(int timeout_ms, size_t max,
                                    const owning_message_fn& fn) {
  size_t n = 0;
  drained_ = false;
  if (max == 0)
    return 0;
  // The first record is waited for alone: rd_kafka_consume_batch_queue
  // would wait for a whole batch. What is ready after it comes in batches,
  // without the per-call overhead of rd_kafka_consumer_poll (a clock read,
  // the poll-interval bookkeeping) for every record.
  auto* first = rd_kafka_consumer_poll(consumer_->c_ptr(), timeout_ms);
  if (!first) {
    drained_ = true;
  } else if (!track(first, fn, n)) {
    drained_ = true;
  } else {
    batch_.resize(256);
    bool failed = false;
    while (n < max && !failed) {
      auto want = std::min(max - n, batch_.size());
      auto got = rd_kafka_consume_batch_queue(queue_.get(), 0, batch_.data(),
                                              want);
      if (got < 0)
        log::warn(name_, std::string{"consume: "}
                           + rd_kafka_err2str(rd_kafka_last_error()));
      // Every message returned is taken, even after an error among them:
      // one left out would leave a hole that a later commit passes.
      ssize_t i = 0;
      try {
        for (; i < got; ++i)
          failed = !track(batch_[static_cast<size_t>(i)], fn, n) || failed;
      } catch (...) {
        // Message i went to track() (and on to `fn`, or was destroyed);
        // the rest are ours to destroy (the caller fails, and the records
        // are consumed again after a rewind).
        for (++i; i < got; ++i)
          rd_kafka_message_destroy(batch_[static_cast<size_t>(i)]);
        throw;
      }
      if (got < static_cast<ssize_t>(want)) {
        drained_ = true;
        break;
      }
    }
    drained_ = drained_ || failed;
  }
  stats_->consumed += n;
  stats_->in_flight = static_cast<int64_t>(tracker_.in_flight());
  return n;
}

bool tracked_consumer::track(rd_kafka_message_t* m, const owning_message_fn& fn,
                             size_t& n) {
  std::unique_ptr<rd_kafka_message_t, void (*)(rd_kafka_message_t*)> msg{
    m, rd_kafka_message_destroy};
  if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
    return true;
  if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    log::warn(name_,
              std::string{"consume: "} + rd_kafka_message_errstr(msg.get()));
    return false;
  }
  // Records of one poll mostly come from one partition: cache the handle.
  if (msg->rkt != last_rkt_ || msg->partition != last_partition_
      || last_tp_ == 0) {
    auto* name = rd_kafka_topic_name(msg->rkt);
    last_tp_ = tracker_.handle(name, msg->partition);
    last_topic_ = topic_names::id(name);
    last_rkt_ = msg->rkt;
    last_partition_ = msg->partition;
  }
  // Not ours (any more), or revoked and waiting for what is in flight:
  // left uncommitted for the next owner.
  if (last_tp_ == 0 || drain_.holds(last_tp_))
    return true;
  bool moved_back = msg->offset < tracker_.next(last_tp_);
  if (moved_back) {
    // The partition went backwards (truncated log, recreated topic): what
    // was tracked no longer describes it. Start over for it; late acks of
    // the old handle are ignored.
    log::warn(name_,
              std::string{rd_kafka_topic_name(msg->rkt)} + "["
                + std::to_string(msg->partition) + "] moved back to offset "
                + std::to_string(msg->offset) + "; tracking it afresh",
              {{"topic", rd_kafka_topic_name(msg->rkt)},
               {"partition", msg->partition},
               {"offset", msg->offset}});
    last_tp_ = tracker_.reset(last_tp_);
    // The gaps counted describe the old log (as does the group's commit:
    // no gap is looked for at this record).
    gaps_counted_.erase({rd_kafka_topic_name(msg->rkt), msg->partition});
    // librdkafka's committer sends only offsets above the commit it
    // knows, so the lower start is committed here, once: otherwise the
    // group's commit would stay above records not yet done.
    std::vector<RdKafka::TopicPartition*> start{RdKafka::TopicPartition::create(
      rd_kafka_topic_name(msg->rkt), msg->partition, msg->offset)};
    consumer_->offsets_store(start);
    if (auto rc = consumer_->commitAsync(start); rc != RdKafka::ERR_NO_ERROR)
      log::warn(name_,
                "commit of the new start failed: " + RdKafka::err2str(rc));
    RdKafka::TopicPartition::destroy(start);
  }
  if (report_gaps_ && !moved_back)
    check_gap(last_tp_, *msg);
  tracker_.dispatched(last_tp_, msg->offset, all_);
  ++n;
  // Let go first: the receiver owns it even if it throws.
  fn(last_tp_, msg.release());
  return true;
}

void tracked_consumer::check_gap(uint32_t tp, const rd_kafka_message_t& msg) {
  auto expected = tracker_.next(tp);
  if (expected < 0) {
    // The first record since the assignment (once per handle: after it the
    // tracker knows the next offset): expected at the group's commit.
    // librdkafka resets a commit that retention passed to the log start,
    // silently but for a log line.
    // Blocks this consumer's owner for a coordinator round trip (bounded:
    // without an answer no gap is reported for this assignment).
    std::vector<RdKafka::TopicPartition*> parts{RdKafka::TopicPartition::create(
      rd_kafka_topic_name(msg.rkt), msg.partition)};
    if (consumer_->committed(parts, 500) == RdKafka::ERR_NO_ERROR
        && parts[0]->err() == RdKafka::ERR_NO_ERROR)
      expected = parts[0]->offset();
    RdKafka::TopicPartition::destroy(parts);
  }
  if (expected < 0 || msg.offset <= expected)
    return;
  // Counted once per instance: the same gap is met again when the
  // partition is read again from a commit below it (a restart in place, a
  // partition that comes back) before the commit passed it.
  auto key = std::make_pair(std::string{rd_kafka_topic_name(msg.rkt)},
                            msg.partition);
  if (auto it = gaps_counted_.find(key); it != gaps_counted_.end()) {
    expected = std::max(expected, it->second);
    if (msg.offset <= expected)
      return;
  }
  gaps_counted_[key] = msg.offset;
  auto missing = msg.offset - expected;
  lost_ += static_cast<uint64_t>(missing);
  log::error(name_,
             std::string{rd_kafka_topic_name(msg.rkt)} + "["
               + std::to_string(msg.partition) + "]: " + std::to_string(missing)
               + " records (offsets " + std::to_string(expected) + " to "
               + std::to_string(msg.offset - 1)
               + ") are gone from the log before they were read "
                 "(retention shorter than the outage?): lost",
             {{"topic", rd_kafka_topic_name(msg.rkt)},
              {"partition", msg.partition},
              {"offset", expected}});
}

void tracked_consumer::idle(int timeout_ms) {
  // Serves rebalances. A record returned here (fetched before a pause took
  // effect) is not tracked: seek back so that it is consumed again rather
  // than skipped when the partition resumes.
  std::unique_ptr<RdKafka::Message> msg{consumer_->consume(timeout_ms)};
  if (msg->err() == RdKafka::ERR_NO_ERROR) {
    std::unique_ptr<RdKafka::TopicPartition> tp{RdKafka::TopicPartition::create(
      msg->topic_name(), msg->partition(), msg->offset())};
    auto rc = consumer_->seek(*tp, 1000);
    if (rc != RdKafka::ERR_NO_ERROR)
      log::warn(name_, "seek back to " + std::to_string(msg->offset())
                         + " failed: " + RdKafka::err2str(rc));
  }
}

std::vector<tracked_consumer::partition_lag> tracked_consumer::lag() const {
  std::vector<partition_lag> out;
  if (closed_)
    return out;
  std::vector<RdKafka::TopicPartition*> parts;
  if (consumer_->assignment(parts) != RdKafka::ERR_NO_ERROR)
    return out;
  if (consumer_->position(parts) == RdKafka::ERR_NO_ERROR)
    for (auto* p : parts) {
      int64_t lo = -1, hi = -1;
      if (consumer_->get_watermark_offsets(p->topic(), p->partition(), &lo, &hi)
            != RdKafka::ERR_NO_ERROR
          || hi < 0)
        continue;
      // Before the first record the position is unknown: all that the log
      // holds counts.
      auto pos = p->offset() >= 0 ? p->offset() : lo;
      out.push_back(
        {p->topic(), p->partition(), std::max<int64_t>(0, hi - pos), pos, hi});
    }
  RdKafka::TopicPartition::destroy(parts);
  return out;
}

void tracked_consumer::simulate_rebalance() {
  // Not while a real revoke waits (or librdkafka refused to complete
  // one): the assignment is about to change.
  if (closed_ || drain_.pending() || refused_.pending)
    return;
  std::vector<RdKafka::TopicPartition*> parts;
  if (consumer_->assignment(parts) != RdKafka::ERR_NO_ERROR || parts.empty()) {
    RdKafka::TopicPartition::destroy(parts);
    return;
  }
  log::info(name_, "fault injection: rebalance of " + describe(parts));
  simulating_ = true;
  // What the coordinator hands back: the partitions, offsets unset (so the
  // committed ones apply).
  std::vector<RdKafka::TopicPartition*> again;
  for (auto* p : parts)
    again.push_back(
      RdKafka::TopicPartition::create(p->topic(), p->partition()));
  rebalance_cb(consumer_.get(), RdKafka::ERR__REVOKE_PARTITIONS, parts);
  rebalance_cb(consumer_.get(), RdKafka::ERR__ASSIGN_PARTITIONS, again);
  simulating_ = false;
  RdKafka::TopicPartition::destroy(parts);
  RdKafka::TopicPartition::destroy(again);
}

bool tracked_consumer::rewind(int timeout_ms) {
  if (closed_)
    return false;
  // What is in flight is forgotten anyway: a waiting revoke has nothing
  // more to wait for.
  finish_held_revoke();
  std::vector<RdKafka::TopicPartition*> parts;
  auto rc = consumer_->assignment(parts);
  if (rc == RdKafka::ERR_NO_ERROR && !parts.empty())
    rc = consumer_->committed(parts, timeout_ms);
  bool ok = rc == RdKafka::ERR_NO_ERROR;
  if (!ok)
    log::warn(name_, "cannot read the committed offsets to rewind: "
                       + RdKafka::err2str(rc));
  for (auto* p : parts) {
    if (!ok)
      break;
    // Nothing committed yet: where a fresh member would start.
    auto offset = p->offset() >= 0 ? p->offset()
                                   : int64_t{RdKafka::Topic::OFFSET_BEGINNING};
    std::unique_ptr<RdKafka::TopicPartition> at{
      RdKafka::TopicPartition::create(p->topic(), p->partition(), offset)};
    auto src = consumer_->seek(*at, timeout_ms);
    if (src != RdKafka::ERR_NO_ERROR) {
      log::warn(name_,
                "rewind of " + p->topic() + "[" + std::to_string(p->partition())
                  + "] failed: " + RdKafka::err2str(src),
                {{"topic", p->topic()},
                 {"partition", p->partition()},
                 {"error", RdKafka::err2str(src)}});
      ok = false;
      break;
    }
    if (auto tp = tracker_.handle(p->topic(), p->partition()))
      tracker_.reset(tp);
  }
  RdKafka::TopicPartition::destroy(parts);
  last_tp_ = 0;
  pause(false);
  stats_->in_flight = static_cast<int64_t>(tracker_.in_flight());
  if (ok)
    log::info(name_, "rewound to the committed offsets");
  return ok;
}

bool tracked_consumer::ack(uint32_t tp, int64_t offset, dest_mask bits,
                           dest_mask* marks) {
  bool done = tracker_.ack(tp, offset, bits, marks);
  moved_ = moved_ || done;
  return done;
}

void tracked_consumer::pause(bool on) {
  if (on == paused_)
    return;
  std::vector<RdKafka::TopicPartition*> all;
  consumer_->assignment(all);
  // A revoked partition waiting for its records, or one librdkafka refused
  // to take back, stays paused.
  std::vector<RdKafka::TopicPartition*> parts;
  for (auto* p : all)
    if (!held(p->topic(), p->partition()))
      parts.push_back(p);
  auto rc = on ? consumer_->pause(parts) : consumer_->resume(parts);
  for (auto* p : parts)
    if (on)
      paused_parts_.emplace(p->topic(), p->partition());
    else
      paused_parts_.erase({p->topic(), p->partition()});
  if (rc != RdKafka::ERR_NO_ERROR)
    log::warn(name_, std::string{on ? "pause" : "resume"}
                       + " failed: " + RdKafka::err2str(rc));
  for (auto* p : parts)
    if (p->err() != RdKafka::ERR_NO_ERROR)
      log::warn(name_, std::string{on ? "pause " : "resume "} + p->topic() + "["
                         + std::to_string(p->partition())
                         + "] failed: " + RdKafka::err2str(p->err()));
  RdKafka::TopicPartition::destroy(all);
  log::debug(name_, std::string{on ? "paused" : "resumed"} + " at "
                      + std::to_string(tracker_.span()) + " records held");
  paused_ = on;
  stats_->paused = on;
}

bool tracked_consumer::commit_points(const std::vector<commit_point>& points,
                                     bool sync) {
  if (points.empty())
    return true;
  std::vector<RdKafka::TopicPartition*> offsets;
  for (auto& p : points)
    offsets.push_back(
      RdKafka::TopicPartition::create(p.topic, p.partition, p.offset));
  bool ok = true;
  // Stored in every case: librdkafka commits what is stored when it
  // unassigns (a revoke, close()), so a stored offset older than a commit
  // made here would move the group's commit back.
  auto stored = consumer_->offsets_store(offsets);
  for (auto* o : offsets)
    if (stored == RdKafka::ERR_NO_ERROR && o->err() != RdKafka::ERR_NO_ERROR)
      stored = o->err();
  if (stored != RdKafka::ERR_NO_ERROR && !sync) {
    // Not assigned in librdkafka at this moment (a rebalance under way); a
    // later round stores again what is still tracked.
    log::debug(name_, "storing offsets failed: " + RdKafka::err2str(stored));
    moved_ = true;
  }
  if (sync) {
    auto rc = consumer_->commitSync(offsets);
    ok = rc == RdKafka::ERR_NO_ERROR;
    if (ok) {
      for (size_t i = 0; i < points.size(); ++i)
        if (offsets[i]->err() == RdKafka::ERR_NO_ERROR) {
          tracker_.committed(points[i].tp, points[i].offset);
          confirmed(points[i].topic, points[i].partition, points[i].offset);
        } else {
          ok = false;
        }
      stats_->commits += 1;
    } else {
      // Nothing is marked committed, so the next round tries again.
      log::warn(name_, "commit failed: " + RdKafka::err2str(rc),
                {{"error", RdKafka::err2str(rc)}});
    }
  }
  // Otherwise librdkafka's committer (enable.auto.commit) commits what was
  // stored, on its timer between rebalances and as it unassigns; the result
  // arrives in offset_commit_cb.
  RdKafka::TopicPartition::destroy(offsets);
  return ok;
}

void tracked_consumer::offset_commit_cb(
  RdKafka::ErrorCode err, std::vector<RdKafka::TopicPartition*>& offsets) {
  if (err != RdKafka::ERR_NO_ERROR && err != RdKafka::ERR__NO_OFFSET) {
    // Which partitions: a refused commit of partitions just revoked means
    // their next owner starts from the commit before (duplicates).
    log::warn(name_,
              "commit failed: " + RdKafka::err2str(err) + " ("
                + describe(offsets) + ")",
              {{"error", RdKafka::err2str(err)}});
    return;
  }
  for (auto* p : offsets)
    if (p->err() == RdKafka::ERR_NO_ERROR && p->offset() >= 0) {
      if (auto tp = tracker_.handle(p->topic(), p->partition()))
        tracker_.committed(tp, p->offset());
      confirmed(p->topic(), p->partition(), p->offset());
    }
  // librdkafka's timer reports "nothing to commit" too: not a commit.
  if (err == RdKafka::ERR_NO_ERROR)
    stats_->commits += 1;
}

void tracked_consumer::store_positions() {
  if (closed_)
    return;
  // Acknowledgements arrive between polls (as the source actor's messages),
  // so this is where a revoke that waits for them can complete.
  if (drain_.pending()
      && drain_.due(in_flight_of(), std::chrono::steady_clock::now()))
    finish_held_revoke();
  retry_unassign();
  std::vector<commit_point> points;
  if (moved_) {
    points = tracker_.due();
    moved_ = false;
  }
  auto now = std::chrono::steady_clock::now();
  if (now >= next_resume_check_) {
    for (auto& p : resumed_due())
      points.push_back(p);
    next_resume_check_ = now + std::chrono::seconds{1};
  }
  commit_points(points, false);
}

bool tracked_consumer::commit_sync() {
  if (closed_)
    return true;
  auto points = tracker_.due();
  for (auto& p : resumed_due())
    points.push_back(p);
  return commit_points(points, true);
}

bool tracked_consumer::close() {
  if (closed_ || !consumer_)
    return true;
  auto ok = commit_sync();
  // librdkafka serves close() itself: a revoke still waiting completes now
  // (with what commit_sync just committed), and the one close() brings
  // does not wait (closed_).
  finish_held_revoke();
  closed_ = true;
  consumer_->close();
  kafka_stats::instance().forget(consumer_->name());
  return ok;
}

namespace {

constexpr auto unconfirmed_ttl = std::chrono::minutes{5};
// How long a resume point waits for a record past it before it is
// committed by itself: past the rebalance rounds that follow an assignment
// (a commit inside them fails with ILLEGAL_GENERATION, which librdkafka 2.0
// takes for a lost assignment).
constexpr auto resume_commit_after = std::chrono::seconds{10};

} // namespace

void tracked_consumer::confirmed(const std::string& topic, int32_t partition,
                                 int64_t offset) {
  if (unconfirmed_.empty())
    return;
  auto it = unconfirmed_.find({topic, partition});
  if (it != unconfirmed_.end() && it->second.offset <= offset)
    unconfirmed_.erase(it);
}

std::vector<commit_point> tracked_consumer::resumed_due() {
  std::vector<commit_point> out;
  if (unconfirmed_.empty())
    return out;
  auto now = std::chrono::steady_clock::now();
  for (auto& [key, u] : unconfirmed_) {
    if (u.resumed == std::chrono::steady_clock::time_point{}
        || now - u.resumed < resume_commit_after)
      continue;
    auto tp = tracker_.handle(key.first, key.second);
    // A record delivered past the point commits the partition anyway.
    if (tp == 0 || !tracker_.due(tp).empty())
      continue;
    out.push_back({tp, key.first, key.second, u.offset});
    u.resumed = now; // again in a while if this one fails
  }
  return out;
}

void tracked_consumer::remember_unconfirmed(
  const std::vector<commit_point>& points) {
  auto now = std::chrono::steady_clock::now();
  for (auto& p : points)
    unconfirmed_[{p.topic, p.partition}] = {p.offset, now};
}

void tracked_consumer::resume_unconfirmed(
  RdKafka::KafkaConsumer* consumer,
  std::vector<RdKafka::TopicPartition*>& parts) {
  auto now = std::chrono::steady_clock::now();
  for (auto it = unconfirmed_.begin(); it != unconfirmed_.end();)
    it = now - it->second.at > unconfirmed_ttl ? unconfirmed_.erase(it)
                                               : std::next(it);
  // The group's commits of the partitions with a remembered point; `of[i]`
  // is the assigned partition `ask[i]` stands for.
  std::vector<RdKafka::TopicPartition*> ask, of;
  for (auto* p : parts)
    if (unconfirmed_.count({p->topic(), p->partition()})) {
      ask.push_back(
        RdKafka::TopicPartition::create(p->topic(), p->partition()));
      of.push_back(p);
    }
  if (ask.empty())
    return;
  // Someone else may have owned the partition meanwhile and committed past
  // this instance's point: the later of the two wins.
  auto rc = consumer->committed(ask, 5000);
  if (rc != RdKafka::ERR_NO_ERROR)
    log::warn(name_, "cannot read the committed offsets of " + describe(ask)
                       + " (" + RdKafka::err2str(rc)
                       + "); starting them at the group's commits");
  for (size_t i = 0; i < ask.size(); ++i) {
    auto* a = ask[i];
    auto key = std::make_pair(a->topic(), a->partition());
    auto mine = unconfirmed_[key].offset;
    if (rc != RdKafka::ERR_NO_ERROR || a->err() != RdKafka::ERR_NO_ERROR)
      continue; // kept for the next time
    // Only above a commit of the group: a partition without one may be a
    // new log under an old name (topic recreated), where `mine` means
    // nothing.
    if (a->offset() < 0 || mine <= a->offset()) {
      unconfirmed_.erase(key);
      continue;
    }
    of[i]->set_offset(mine);
    unconfirmed_[key].resumed = std::chrono::steady_clock::now();
    log::info(
      name_,
      a->topic() + "[" + std::to_string(a->partition()) + "] resumes at "
        + std::to_string(mine)
        + ", delivered up to there by this instance (the "
          "group's commit: "
        + std::to_string(a->offset()) + ")",
      {{"topic", a->topic()}, {"partition", a->partition()}, {"offset", mine}});
  }
  RdKafka::TopicPartition::destroy(ask);
}

void tracked_consumer::rebalance_cb(
  RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
  std::vector<RdKafka::TopicPartition*>& parts) {
  bool cooperative = consumer->rebalance_protocol() == "COOPERATIVE";
  // librdkafka starts no rebalance before a revoke completed; a callback
  // meanwhile (a lost assignment) first completes the one waiting, and
  // supersedes a refused unassign (its partitions come with it).
  finish_held_revoke();
  refused_ = {};
  if (err == RdKafka::ERR__ASSIGN_PARTITIONS) {
    track_assigned(consumer, parts);
    assign_parts(consumer, parts, cooperative);
    restore_pause_flags(consumer, parts);
  } else {
    auto handles = handles_of(parts);
    // A planned revoke waits for the records in flight; a lost assignment
    // is someone else's already, and close() and fault injection do not
    // wait.
    if (err == RdKafka::ERR__REVOKE_PARTITIONS && !consumer->assignment_lost()
        && !closed_ && !simulating_ && drain_.waits(handles, in_flight_of()))
      hold_revoked(consumer, err, parts, std::move(handles), cooperative);
    else
      complete_revoke(consumer, err, parts, handles, cooperative,
                      revoke_drain::at_once(handles, in_flight_of()));
  }
  update_assignment_stats();
}

bool tracked_consumer::held(const std::string& topic, int32_t partition) const {
  auto key = std::make_pair(topic, partition);
  return (drain_.pending()
          && std::find(held_.parts.begin(), held_.parts.end(), key)
               != held_.parts.end())
         || (refused_.pending
             && std::find(refused_.parts.begin(), refused_.parts.end(), key)
                  != refused_.parts.end());
}

void tracked_consumer::hold_revoked(
  RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
  std::vector<RdKafka::TopicPartition*>& parts, std::vector<uint32_t> handles,
  bool cooperative) {
  // The revoke completes when incremental_unassign (unassign) is called,
  // which librdkafka lets the application do after the callback returned:
  // the group waits for this member (with the eager assignors, every
  // member waits, up to max.poll.interval.ms). Meanwhile the partitions
  // are still this member's: their positions are stored as they move, and
  // what librdkafka fetched of them is not handed out (track()).
  size_t in_flight = 0;
  for (auto tp : handles)
    in_flight += tracker_.in_flight(tp);
  drain_.start(std::move(handles), in_flight_of(),
               std::chrono::steady_clock::now());
  held_.parts.clear();
  for (auto* p : parts)
    held_.parts.emplace_back(p->topic(), p->partition());
  held_.err = err;
  held_.cooperative = cooperative;
  consumer->pause(parts);
  for (auto* p : parts)
    paused_parts_.emplace(p->topic(), p->partition());
  last_tp_ = 0;
  log::info(name_,
            "holding revoked " + describe(parts) + " until its "
              + std::to_string(in_flight)
              + " records in flight are delivered (kafka.revoke_drain_ms)");
}

void tracked_consumer::finish_held_revoke() {
  if (!drain_.pending())
    return;
  auto handles = drain_.handles();
  auto drained = drain_.finish(in_flight_of(),
                               std::chrono::steady_clock::now());
  std::vector<RdKafka::TopicPartition*> parts;
  for (auto& [topic, partition] : held_.parts)
    parts.push_back(RdKafka::TopicPartition::create(topic, partition));
  held_.parts.clear();
  complete_revoke(consumer_.get(), held_.err, parts, handles, held_.cooperative,
                  drained);
  RdKafka::TopicPartition::destroy(parts);
  update_assignment_stats();
}

void tracked_consumer::complete_revoke(
  RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
  std::vector<RdKafka::TopicPartition*>& parts,
  const std::vector<uint32_t>& handles, bool cooperative,
  const revoke_drain::summary& drained) {
  auto points = due_on_revoke(handles);
  store_on_revoke(consumer, err, parts, points);
  remember_unconfirmed(points);
  release_revoked(parts, handles, drained);
  unassign_parts(consumer, parts, cooperative);
}

void tracked_consumer::track_assigned(
  RdKafka::KafkaConsumer* consumer,
  std::vector<RdKafka::TopicPartition*>& parts) {
  // An assignment carries no offsets (the group's commits apply) except
  // where resume_unconfirmed set one.
  resume_unconfirmed(consumer, parts);
  for (auto* p : parts) {
    auto start = p->offset();
    if (start < 0) {
      tracker_.assign(p->topic(), p->partition());
      continue;
    }
    // Not committed now: a commit right after an assignment tends to
    // land in the next round of a cooperative rebalance and fail with
    // ILLEGAL_GENERATION, which librdkafka 2.0 takes for a lost
    // assignment (one more rebalance). The first record delivered past
    // the start commits it, or resumed_due() after a while if none comes;
    // until a commit there is confirmed the point stays in unconfirmed_,
    // for the next owner if that is this one.
    auto tp = tracker_.assign(p->topic(), p->partition(), start);
    tracker_.committed(tp, start);
  }
  log::info(name_, "assigned " + describe(parts));
}

void tracked_consumer::assign_parts(
  RdKafka::KafkaConsumer* consumer,
  std::vector<RdKafka::TopicPartition*>& parts, bool cooperative) {
  std::string failed;
  if (cooperative) {
    if (std::unique_ptr<RdKafka::Error> e{consumer->incremental_assign(parts)})
      failed = e->str();
  } else if (auto rc = consumer->assign(parts); rc != RdKafka::ERR_NO_ERROR) {
    failed = RdKafka::err2str(rc);
  }
  if (!failed.empty()) {
    log::error(name_, "assigning " + describe(parts) + " failed: " + failed);
    // Not ours after all: no handles (a later assignment makes fresh ones).
    for (auto* p : parts)
      if (auto tp = tracker_.handle(p->topic(), p->partition()))
        tracker_.revoke(tp);
  }
}

void tracked_consumer::restore_pause_flags(
  RdKafka::KafkaConsumer* consumer,
  std::vector<RdKafka::TopicPartition*>& parts) {
  // librdkafka keeps a partition's pause flag across assignments: one
  // paused before it was revoked comes back paused unless told.
  std::vector<RdKafka::TopicPartition*> flagged;
  for (auto* p : parts) {
    auto key = std::make_pair(p->topic(), p->partition());
    if (paused_)
      paused_parts_.insert(key);
    else if (paused_parts_.erase(key) > 0)
      flagged.push_back(p);
  }
  if (paused_)
    consumer->pause(parts);
  else if (!flagged.empty())
    consumer->resume(flagged);
}

std::vector<uint32_t> tracked_consumer::handles_of(
  const std::vector<RdKafka::TopicPartition*>& parts) const {
  std::vector<uint32_t> handles;
  for (auto* p : parts)
    if (auto tp = tracker_.handle(p->topic(), p->partition()))
      handles.push_back(tp);
  return handles;
}

std::vector<commit_point>
tracked_consumer::due_on_revoke(const std::vector<uint32_t>& handles) {
  // Revoked: commit what is safe now; acknowledgements that arrive later
  // carry the old handles and are ignored.
  std::vector<commit_point> points;
  for (auto tp : handles) {
    auto due = tracker_.due(tp);
    points.insert(points.end(), due.begin(), due.end());
  }
  return points;
}

void tracked_consumer::store_on_revoke(
  RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
  const std::vector<RdKafka::TopicPartition*>& parts,
  const std::vector<commit_point>& points) {
  // Stored: librdkafka commits the stored offsets of the partitions it
  // unassigns, as part of the rebalance (a commit of our own here could
  // meet the next generation: see make_client_conf). A lost assignment
  // (session timed out) is someone else's already. Until a commit is
  // confirmed the points are kept, for the next owner if that is this one.
  if (err == RdKafka::ERR__REVOKE_PARTITIONS && !consumer->assignment_lost()) {
    commit_points(points, false);
  } else {
    // librdkafka would still commit what was stored before, with a
    // generation that is gone (and take the refusal for one more lost
    // assignment): store nothing instead.
    std::vector<RdKafka::TopicPartition*> none;
    for (auto* p : parts)
      none.push_back(RdKafka::TopicPartition::create(
        p->topic(), p->partition(), RdKafka::Topic::OFFSET_INVALID));
    consumer->offsets_store(none);
    RdKafka::TopicPartition::destroy(none);
  }
}

void tracked_consumer::release_revoked(
  const std::vector<RdKafka::TopicPartition*>& parts,
  const std::vector<uint32_t>& handles, const revoke_drain::summary& drained) {
  for (auto tp : handles)
    tracker_.revoke(tp);
  last_tp_ = 0;
  stats_->revoked_drained += drained.partitions_drained;
  stats_->revoked_abandoned += drained.partitions_abandoned;
  stats_->revoke_records_drained += drained.records_drained;
  stats_->revoke_records_abandoned += drained.records_abandoned;
  auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(
                  drained.waited)
                  .count();
  // "revoked <partitions> with <n> ..." is what tests/integration/scale.cpp
  // reads: the moment the partitions changed hands, and what was left.
  std::string text = "revoked " + describe(parts) + " with "
                     + std::to_string(drained.records_abandoned)
                     + " records in flight left to the next owner";
  if (drained.records_drained > 0 || drained.timed_out)
    text += " (" + std::to_string(drained.records_drained)
            + " delivered while it waited " + std::to_string(waited) + " ms"
            + (drained.timed_out ? ", kafka.revoke_drain_ms passed)" : ")");
  log::fields fields = {
    {"drained", static_cast<int64_t>(drained.records_drained)},
    {"abandoned", static_cast<int64_t>(drained.records_abandoned)},
    {"waited_ms", static_cast<int64_t>(waited)}};
  if (drained.records_abandoned > 0 && drained.timed_out)
    log::warn(name_, text, fields);
  else
    log::info(name_, text, fields);
}

void tracked_consumer::unassign_parts(
  RdKafka::KafkaConsumer* consumer,
  std::vector<RdKafka::TopicPartition*>& parts, bool cooperative) {
  std::string failed;
  if (cooperative) {
    // incremental_unassign refuses the whole list for one partition that
    // is not in librdkafka's assignment: nothing is taken back, and the
    // rebalance keeps waiting for this member. Only what it holds is
    // passed; an empty list still completes this member's revoke.
    std::vector<RdKafka::TopicPartition*> current, still;
    if (consumer->assignment(current) == RdKafka::ERR_NO_ERROR) {
      for (auto* p : parts)
        if (std::any_of(current.begin(), current.end(), [p](auto* c) {
              return c->topic() == p->topic()
                     && c->partition() == p->partition();
            }))
          still.push_back(p);
    } else {
      still = parts;
    }
    if (std::unique_ptr<RdKafka::Error> e{
          consumer->incremental_unassign(still)})
      failed = e->str();
    RdKafka::TopicPartition::destroy(current);
  } else if (auto rc = consumer->unassign(); rc != RdKafka::ERR_NO_ERROR) {
    failed = RdKafka::err2str(rc);
  }
  if (failed.empty()) {
    if (refused_.pending)
      log::info(name_, "unassigned " + describe(parts) + " on a retry");
    refused_ = {};
    return;
  }
  // Their handles are gone: nothing of them is handed out or stored any
  // more, so nothing past what was delivered is committed. Paused, they
  // are not fetched either until librdkafka takes them back.
  if (!refused_.pending)
    log::error(name_, "unassigning " + describe(parts) + " failed: " + failed
                        + "; they stay paused, tried again every second");
  consumer->pause(parts);
  refused_.parts.clear();
  for (auto* p : parts) {
    paused_parts_.emplace(p->topic(), p->partition());
    refused_.parts.emplace_back(p->topic(), p->partition());
  }
  refused_.cooperative = cooperative;
  refused_.pending = true;
  refused_.next = std::chrono::steady_clock::now() + std::chrono::seconds{1};
}

void tracked_consumer::retry_unassign() {
  if (!refused_.pending || closed_
      || std::chrono::steady_clock::now() < refused_.next)
    return;
  std::vector<RdKafka::TopicPartition*> parts;
  for (auto& [topic, partition] : refused_.parts)
    parts.push_back(RdKafka::TopicPartition::create(topic, partition));
  unassign_parts(consumer_.get(), parts, refused_.cooperative);
  RdKafka::TopicPartition::destroy(parts);
}

void tracked_consumer::update_assignment_stats() {
  auto assigned = static_cast<int64_t>(tracker_.handles().size());
  if (assigned > 0) {
    stats_->ever_assigned = true;
  } else if (stats_->assigned_partitions > 0) {
    stats_->unassigned_since_ms
      = std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::steady_clock::now().time_since_epoch())
          .count();
  }
  stats_->assigned_partitions = assigned;
  stats_->in_flight = static_cast<int64_t>(tracker_.in_flight());
}

} // namespace cotflow
