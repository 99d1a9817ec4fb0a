#include "actors/source.hpp"

#include "actors/detail/failure.hpp"
#include "actors/detail/poll_call.hpp"
#include "pipeline/core/log.hpp"

#include <caf/all.hpp>

#include <algorithm>

namespace cotflow {

namespace {

/// How long the credit bound may hold before partitions are paused.
constexpr auto pause_after = std::chrono::milliseconds{500};

/// Credit freed by acknowledgements starts a round only from this share
/// of the bound down: a round per acknowledgement would hand out records
/// in chunks of a few at full speed.
constexpr int64_t resume_below_percent = 75;

void finish(source_actor::stateful_pointer<source_state> self) {
  auto& s = self->state;
  auto left = static_cast<uint64_t>(s.feed->in_flight());
  auto committed = s.feed->close();
  if (!committed)
    log::warn("source", "the final commit failed; the next owner of these "
                        "partitions re-reads from the last committed offsets "
                        "(duplicates, nothing lost)");
  else if (left == 0)
    log::info("source", "drained; offsets committed");
  else
    log::warn("source", std::to_string(left)
                          + " records still in flight at the end of the "
                            "grace period; they stay uncommitted and will be "
                            "consumed again");
  s.drained.deliver(left);
  s.stopping = false;
  s.started = false;
}

// One round: takes what the feed has ready (never waiting: the source
// shares the scheduler's threads), within credit. The next round comes at
// once if more is ready; else with the feed's ready call (records, a
// rebalance), with an acknowledgement that frees credit, or with the tick,
// which keeps the deadlines (credit pause, drains) and at least one poll
// every pipeline.poll_timeout_ms.
void round(source_actor::stateful_pointer<source_state> self) {
  auto& s = self->state;
  s.waiting_for_credit = false;
  bool more = false;
  // The actor clock: the steady clock, or a test's.
  auto now = self->clock().now();
  if (s.stopping) {
    if (s.feed->in_flight() == 0 || now >= s.deadline) {
      finish(self);
      return;
    }
    s.feed->idle(0);
  } else {
    auto step = s.credit->decide(static_cast<int64_t>(s.feed->span()),
                                 s.feed->paused(), now);
    if (step.pause)
      s.feed->pause(*step.pause);
    if (step.action == credit_gate::step::retry_soon) {
      s.waiting_for_credit = true;
    } else if (step.action == credit_gate::step::idle) {
      s.feed->idle(0);
    } else {
      record_chunk chunk;
      chunk.records.reserve(std::min<size_t>(step.room, 512));
      // Each record holds librdkafka's message: its bytes are read where the
      // consumer put them, by the encoder, without a copy here.
      s.feed->take(0, step.room,
                   [&](record&& r) { chunk.records.push_back(std::move(r)); });
      chunk.drained = s.feed->drained();
      more = !chunk.drained;
      if (!chunk.records.empty())
        self->send(s.next, std::move(chunk));
    }
  }
  // Delivered positions go to librdkafka's committer as they move; it
  // commits them every pipeline.commit_interval_ms.
  s.feed->store_positions();
  if (s.rebalance_every.count() > 0 && now >= s.next_rebalance) {
    s.feed->simulate_rebalance();
    s.next_rebalance = now + s.rebalance_every;
  }
  if (more) {
    self->send(self, atom::poll::value);
    return;
  }
  // One tick pending at a time.
  auto tick = std::chrono::milliseconds{s.cfg.poll_timeout_ms};
  if (now >= s.tick_due) {
    s.tick_due = now + tick;
    self->delayed_send(self, tick, atom::poll::value);
  }
}

} // namespace

source_actor::behavior_type
source(source_actor::stateful_pointer<source_state> self,
       std::shared_ptr<record_feed> feed, pipeline_config cfg,
       std::shared_ptr<stats> st, int64_t rebalance_every_ms) {
  self->set_exception_handler(detail::exception_text);
  self->state.rebalance_every = std::chrono::milliseconds{rebalance_every_ms};
  self->state.feed = std::move(feed);
  self->state.cfg = cfg;
  self->state.credit.emplace(cfg.max_in_flight, pause_after);
  self->state.st = std::move(st);
  self->state.feed->on_ready(detail::poll_call(self->address()));
  return {
    [=](atom::start, batcher_actor next) {
      auto& s = self->state;
      if (s.started)
        return;
      s.next = std::move(next);
      s.started = true;
      s.next_rebalance = self->clock().now() + s.rebalance_every;
      self->send(self, atom::poll::value);
    },
    [=](ack& a) {
      auto& s = self->state;
      uint64_t done = 0, parked = 0, dropped = 0;
      for (auto& ref : a.refs) {
        dest_mask marks = 0;
        if (s.feed->ack(ref.tp, ref.offset, a.bits, &marks)) {
          ++done;
          parked += (marks & parked_bit) ? 1 : 0;
          dropped += (marks & dropped_bit) ? 1 : 0;
        }
      }
      // Parked and dropped first, so that a reader never sees such a
      // record counted as delivered.
      s.st->parked += parked;
      s.st->dropped_at_destination += dropped;
      s.st->completed += done;
      s.st->in_flight = static_cast<int64_t>(s.feed->in_flight());
      if (!s.started)
        return;
      if (s.stopping
          || ((s.waiting_for_credit || s.feed->paused())
              && static_cast<int64_t>(s.feed->span()) * 100
                   <= s.credit->limit() * resume_below_percent))
        round(self);
      else
        s.feed->store_positions();
    },
    [=](atom::poll) {
      if (self->state.started)
        round(self);
    },
    [=](tunables& t) {
      // The running section differs from the one this source started with
      // only in the hot keys a reload applied (max_in_flight, bounding the
      // credit): taking all of it takes those.
      self->state.cfg = t.running->pipeline;
      self->state.credit->limit(self->state.cfg.max_in_flight);
      if (self->state.started && self->state.waiting_for_credit)
        round(self);
    },
    [=](atom::stop) -> caf::typed_response_promise<uint64_t> {
      auto& s = self->state;
      auto rp = self->make_response_promise<uint64_t>();
      if (!s.started) {
        s.feed->close();
        rp.deliver(static_cast<uint64_t>(s.feed->in_flight()));
        return rp;
      }
      log::info("source", "stopping: no new records; draining "
                            + std::to_string(s.feed->in_flight())
                            + " in flight");
      s.stopping = true;
      s.drained = rp;
      s.deadline = self->clock().now()
                   + std::chrono::milliseconds{s.cfg.drain_timeout_ms};
      s.feed->pause(true);
      // Everything sent to the batcher before this flush is in the batch
      // it empties (messages between two actors keep their order).
      self->send(s.next, atom::flush::value);
      round(self);
      return rp;
    },
  };
}

} // namespace cotflow
