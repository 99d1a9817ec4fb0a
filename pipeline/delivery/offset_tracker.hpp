#pragma once

#include "pipeline/core/dest_mask.hpp"

#include <cstdint>
#include <deque>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace cotflow {

/// The offsets of one partition between dispatch and commit. Offsets are
/// dispatched in increasing order (gaps allowed); the commit position is the
/// first offset still owed, so a commit never passes an undelivered record.
class partition_offsets {
public:
  /// Records `offset` as handed out, owed by the destinations in `mask`.
  void dispatched(int64_t offset, dest_mask mask);

  /// Clears `bits` of `offset`; returns true when this completed the record
  /// and then sets `*marks` to the outcome_bits its acknowledgements carried
  /// (parked_bit, dropped_bit: some destination parked or dropped it).
  /// Unknown or already completed offsets are ignored (duplicate acks).
  bool ack(int64_t offset, dest_mask bits, dest_mask* marks = nullptr);

  /// The offset to commit (next to consume), or -1 before any dispatch.
  int64_t commit_position() const;

  /// Records dispatched and not yet complete.
  size_t in_flight() const {
    return in_flight_;
  }

  /// Records between the commit position and the newest dispatch, complete
  /// or not: what a crash would deliver again, and what the tracker holds.
  size_t span() const {
    return pending_.size();
  }

  /// The offset after the newest dispatch (-1 before any).
  int64_t next() const {
    return next_;
  }

  /// Before any dispatch: positions the partition at `offset`, as if
  /// everything before it had been delivered, so that `offset` is its commit
  /// position (see offset_tracker::assign).
  void start_at(int64_t offset) {
    if (pending_.empty() && offset > next_)
      next_ = offset;
  }

private:
  std::deque<std::pair<int64_t, dest_mask>> pending_;
  int64_t next_ = -1;
  size_t in_flight_ = 0;
};

/// A commit decision: commit `offset` on `topic`/`partition`.
struct commit_point {
  uint32_t tp;
  std::string topic;
  int32_t partition;
  int64_t offset;
};

/// Offsets of every assigned partition. Each assignment of a partition gets
/// a fresh handle (`tp`), so acknowledgements that arrive after a revoke, or
/// after the partition came back, are recognised and ignored.
class offset_tracker {
public:
  /// Starts tracking a newly assigned partition; returns its handle. With
  /// `start` >= 0 consumption starts there and `start` is due for a commit
  /// (the records before it are known to be delivered).
  uint32_t assign(const std::string& topic, int32_t partition,
                  int64_t start = -1);

  /// Stops tracking; returns the records it still had in flight.
  size_t revoke(uint32_t tp);

  /// The handle of an assigned partition, or 0 when it is not assigned.
  uint32_t handle(const std::string& topic, int32_t partition) const;

  /// Records a dispatch; returns false for an unknown handle.
  bool dispatched(uint32_t tp, int64_t offset, dest_mask mask);

  /// Applies an acknowledgement; returns true when it completed a record of
  /// a partition still assigned.
  bool ack(uint32_t tp, int64_t offset, dest_mask bits,
           dest_mask* marks = nullptr);

  /// Commit points that moved since they were last marked committed.
  std::vector<commit_point> due() const;

  /// The commit point of one handle if it moved (used on revoke).
  std::vector<commit_point> due(uint32_t tp) const;

  /// Notes that `offset` was committed for `tp`.
  void committed(uint32_t tp, int64_t offset);

  /// Records in flight over all partitions.
  size_t in_flight() const;

  /// Records in flight on one handle (0 if unknown).
  size_t in_flight(uint32_t tp) const;

  /// Sum of partition_offsets::span() over all partitions: the bound that
  /// credit applies to, so one stuck record cannot let memory and
  /// redelivery grow without limit behind it.
  size_t span() const;

  /// The offset after the newest dispatch of `tp` (-1 if none or unknown).
  int64_t next(uint32_t tp) const;

  /// Forgets what `tp` tracked (its offsets moved backwards: the log was
  /// truncated or the topic recreated) and returns a fresh handle for the
  /// same partition; acknowledgements of the old handle are ignored.
  uint32_t reset(uint32_t tp);

  /// Handles of all assigned partitions.
  std::vector<uint32_t> handles() const;

private:
  struct entry {
    std::string topic;
    int32_t partition;
    partition_offsets offsets;
    int64_t committed = -1;
  };
  std::unordered_map<uint32_t, entry> parts_;
  uint32_t next_tp_ = 1;
};

} // namespace cotflow
