#pragma once

#include "config/config.hpp"
#include "pipeline/core/cot_event.hpp"
#include "pipeline/core/dest_mask.hpp"
#include "pipeline/core/record.hpp"
#include "pipeline/core/stats.hpp"
#include "pipeline/tak/backoff.hpp"
#include "pipeline/tak/circuit_breaker.hpp"
#include "pipeline/tak/parking.hpp"
#include "pipeline/tak/protocol/tak_protocol.hpp"
#include "pipeline/tak/transport.hpp"
#include "pipeline/tak/url/url.hpp"

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cotflow {

/// What one TAK destination is configured with (tak.* keys, its URL, its
/// destination bit and the fault injection aimed at it).
struct tak_destination_settings {
  using ms = std::chrono::milliseconds;
  std::string name;
  std::string url;
  tak_url target;
  dest_mask bit = 0;
  breaker_settings breaker;
  ms reconnect_min{0};
  ms reconnect_max{0};
  /// A connection up this long resets the reconnect backoff.
  ms healthy_after{0};
  /// Keepalive pings on TCP and TLS links (0: none) and how long a reply may
  /// take.
  ms ping_interval{0};
  ms ping_timeout{0};
  /// After this many pings in a row go unanswered (each one a reconnect),
  /// the server is taken for one that never answers: its connections are
  /// kept without pings. 0: reconnect every time.
  int ping_silent_cycles = 0;
  /// While events are written, a ping also goes out once this many bytes
  /// of events were written since the previous one (0: only every
  /// ping_interval), so that the server's answers keep confirming what it
  /// read.
  size_t ping_every_bytes = 0;
  /// protocol=negotiate: how long a new connection looks for the server's
  /// offer of TAK Protocol version 1 (writing XML meanwhile), and how long
  /// it waits, writing nothing, for the answer to its request.
  ms negotiate_offer{0};
  ms negotiate_response{0};
  /// cotflow's identity event on each new TCP/TLS connection (the URL's
  /// hello, on by default): its uid, callsign and version.
  std::string hello_uid;
  std::string hello_callsign;
  std::string version;
  /// Events held in memory before the destination spills to parking.
  size_t queue_events = 0;
  /// Bytes of events one write takes at most (at least one event).
  size_t write_bytes = 0;
  /// Bytes of the latest written events kept for sending again after a
  /// lost connection (the most that is resent).
  size_t replay_bytes = 0;
  /// Resent after a lost connection: the bytes the server's kernel had not
  /// acknowledged (tak_transport::unacknowledged) plus this many, for what
  /// the server read but may not have processed. The whole window when the
  /// transport cannot tell. Never more than what was written after the
  /// latest ping the server answered (it read everything before it).
  size_t resend_margin = 0;
  /// Fault injection: every connect and write fails from `down_after`
  /// after construction, for `down_for` (0: never).
  ms down_after{0};
  ms down_for{0};
  /// Seeds the backoff's and the breaker's jitter (tests); random if unset.
  std::optional<uint64_t> seed;
};

/// What a tak_destination gets from whoever runs it (the tak_sink actor, or
/// a test): clocks, where acknowledgements and timings go, the counters.
struct tak_destination_env {
  using time_point = std::chrono::steady_clock::time_point;
  /// The steady clock (connects, backoff, breaker, writes, pings).
  std::function<time_point()> now;
  /// Wall-clock ms since the epoch (latency, staleness, ping events).
  std::function<int64_t()> wall_ms;
  /// Sends an acknowledgement to the source, at once (in order).
  std::function<void(ack)> acknowledge;
  /// A write the kernel accepted took this many seconds.
  std::function<void(double)> write_took;
  /// End-to-end latencies of the events of one write, to publish.
  std::function<void(latency_tally&)> delivered;
  /// This destination's counters (written here, read by the endpoints).
  std::shared_ptr<destination_stats> counters;
  /// The pipeline's lifecycle: `draining` parks what waits while down.
  std::shared_ptr<const cotflow::stats> pipeline;
};

/// One TAK destination's delivery as pure logic: its queue, the write in
/// progress, the replay window, the connection's lifecycle (reconnects with
/// backoff, keepalive), the circuit breaker and the deliver-or-park
/// decisions. No actor and no socket: the transport and the parking topic
/// come in as interfaces and time through `env`, so tests drive it with
/// fakes. The tak_sink actor holds one and calls `take` per batch and
/// `pump` on every message and timer tick, scheduling the next tick when
/// `pump` says.
///
/// Delivery: an event counts as delivered once the kernel accepted its bytes
/// (TCP) or its datagram (UDP); events of a failed write stay queued, and
/// after the reconnect the latest written events go again: those the
/// server's kernel had not acknowledged, plus `resend_margin` bytes (at
/// most `replay_bytes`), but none written before the latest keepalive ping
/// the server answered: a TAK server reads a connection in order, so its
/// answer says it read everything written before the ping. An event whose stale
/// time passed is never written: it is dropped and counted when its write would
/// begin, wherever it waited (queue, resend, parking). While the breaker is
/// open, or the queue is full, or the pipeline drains while the server is away,
/// new events go to the parking topic (may be null) and count as acknowledged
/// (with `parked_bit`) once Kafka has them; they come back, in order, once the
/// breaker lets events through, and direct delivery resumes when the replay
/// caught up.
///
/// Events stay CoT XML until their write: each connection encodes them in
/// what it speaks (XML, or TAK Protocol version 1 stream frames or mesh
/// datagrams; see takp), so a resent or replayed event goes out in the
/// protocol of the connection it goes out on. With protocol=negotiate a
/// connection starts in XML and switches when the server offers version 1
/// and accepts cotflow's request; every new connection starts in XML again.
class tak_destination {
public:
  using clock = std::chrono::steady_clock;
  using ms = std::chrono::milliseconds;

  /// What `pump` asks of its caller.
  struct pump_result {
    /// The parking topic failed for good: stop the destination (an error).
    bool stop = false;
    /// When to pump again at the latest (the timer).
    ms again{0};
    /// Why it stops.
    std::string why = {};
  };

  tak_destination(tak_destination_settings settings,
                  std::unique_ptr<tak_transport> transport,
                  std::shared_ptr<parking_port> lot, tak_destination_env env);

  /// Takes a batch: events the destination's filter or coalescing leaves
  /// out are acknowledged at once (`skipped`), the rest are queued, or
  /// parked while parking. Does not write: call `pump`.
  void take(const std::shared_ptr<const cot_events>& events);

  /// True when `take` queued bytes that no `pump` has seen yet.
  bool has_deferred() const {
    return deferred_bytes_ > 0;
  }

  /// With another batch already waiting: may the write wait for it, so one
  /// write takes both? Not during a write, while parking, on UDP, or when
  /// a write's worth or a full queue waits already.
  bool may_wait_for_next_batch() const;

  /// Does the work that is due: parking bookkeeping and replay, connecting
  /// (when the backoff or the breaker allows), keepalive, and writing the
  /// queue, acknowledging every write the kernel accepted.
  pump_result pump();

  /// Applies hot-reloaded settings; the breaker keeps its state.
  void reconfigure(const breaker_settings& breaker, size_t queue_events);

  /// True while new events go to the parking topic.
  bool parking() const {
    return parking_.active;
  }

  /// Events queued (replayed ones and those of a write in progress too,
  /// and new ones held behind the end of a replay).
  size_t queued() const {
    return queue_.size() + parking_.held.size();
  }

  /// Events of the replay window (written on the current connection).
  size_t in_window() const {
    return window_.events.size();
  }

  const circuit_breaker& breaker() const {
    return guard_.breaker;
  }

  /// How many reconnect delays the backoff handed out since its reset.
  int reconnect_attempts() const {
    return link_.retry.attempts();
  }

private:
  /// Where a protocol=negotiate connection stands: looking for the server's
  /// offer (writing XML), or waiting for the answer to its request (writing
  /// nothing).
  enum class negotiation : uint8_t { none, offer, response };

  /// The connection and its lifecycle.
  struct link_state {
    link_state(std::unique_ptr<tak_transport> c, backoff b)
      : conn(std::move(c)), retry(b) {}
    std::unique_ptr<tak_transport> conn;
    backoff retry;
    clock::time_point next_attempt{};
    clock::time_point connected_since{};
    bool ever_connected = false;
    /// The last error logged, so that a repeated one is logged once.
    std::string last_error;
    /// Bytes of the replay window the server had not acknowledged after
    /// the latest write (an upper bound from then on); nothing: unknown.
    std::optional<size_t> window_unacked;
    /// Pings that went unanswered in a row; at ping_silent_cycles the
    /// server is taken for one that never answers (`pings_off`).
    int silent_pings = 0;
    bool pings_off = false;
    /// Keepalive: when the unanswered ping went out, if one did.
    std::optional<clock::time_point> ping_sent;
    clock::time_point next_ping{};
    /// Bytes of events written on this connection (the replay window's
    /// offsets), and where the latest ping went out in them.
    uint64_t written = 0;
    uint64_t pinged_at = 0;
    /// The offsets of the pings awaiting their answer (t-x-c-t-r), the
    /// first of them ping number `first_unanswered` of this connection;
    /// the offset of the latest answered one (the server read every event
    /// before it); the answers counted so far (tak_transport::pongs).
    std::deque<uint64_t> unanswered;
    uint64_t first_unanswered = 1;
    uint64_t confirmed = 0;
    uint64_t answers = 0;
    /// Fault injection: every connect and write fails within this window.
    clock::time_point down_from{};
    clock::time_point down_until{};
    /// What this connection writes, and where its negotiation stands.
    takp::wire_format format = takp::wire_format::xml;
    negotiation negotiating = negotiation::none;
    clock::time_point negotiate_until{};
    /// The uid of the server's offer, while the request waits for the
    /// write in progress to end.
    std::optional<std::string> offer_uid;
    takp::negotiation_reader inbox;
    /// A request went unanswered: later connections stay in XML.
    bool negotiation_failed = false;
    /// Mesh: when the next datagram says again which versions cotflow
    /// decodes (at least once a minute, as the protocol asks).
    clock::time_point next_control{};
  };

  /// The circuit breaker and whether a probe it granted is not reported.
  struct guard_state {
    explicit guard_state(circuit_breaker b) : breaker(std::move(b)) {}
    circuit_breaker breaker;
    bool probe_out = false;
  };

  /// The write in progress: the first `events` queued events, as `pieces`
  /// (`total` bytes; on TLS, or encoded for TAK Protocol version 1, one
  /// piece, `buffer`, holding them all), of which `written` bytes went out;
  /// begun at `since`. `sizes`: each event's bytes on the wire.
  struct write_state {
    std::vector<std::string_view> pieces;
    std::string buffer;
    std::vector<size_t> sizes;
    size_t total = 0;
    size_t events = 0;
    size_t written = 0;
    clock::time_point since{};
  };

  /// An event written on the current connection, and its bytes there.
  struct written_event {
    event_ref ev;
    size_t bytes;
  };

  /// Events written on the current connection, the latest `replay_bytes`.
  struct replay_window {
    std::deque<written_event> events;
    size_t bytes = 0;
  };

  /// The parking topic (null: parking off) and whether new events go there.
  struct parking_state {
    std::shared_ptr<parking_port> lot;
    bool active = false;
    /// A lost connection put written events back in the queue.
    bool requeued = false;
    /// Replayed events (their refs) a lost connection put back in the
    /// queue after they were counted as replayed: their next finish counts
    /// nothing.
    std::set<std::pair<uint32_t, int64_t>> resent;
    /// The server is back and the backlog short: new events are `held`
    /// behind it instead of parked until the replay caught up.
    bool closing = false;
    std::deque<event_ref> held;
    clock::time_point next_report{};
  };

  // Acknowledgements and breaker outcomes.
  enum class outcome { delivered, parked, dropped };
  void finish(const std::vector<record_ref>& refs, outcome how);
  void failed(const std::string& why);
  void succeeded();
  void publish_breaker();

  // The connection's lifecycle.
  bool faulty(clock::time_point now) const;
  bool ensure_connected();
  bool may_connect(clock::time_point now);
  void connect_failed(clock::time_point now, const std::string& err,
                      bool config_error);
  void lost(const std::string& why, bool credentials = false);
  bool keepalive(clock::time_point now, std::string& err);
  bool ping_due(clock::time_point now) const;
  void note_answers();
  size_t resend_bytes(size_t unacked) const;
  void start_protocol(clock::time_point now);
  bool negotiate(clock::time_point now, std::string& err);
  bool write_control(const std::string& xml, std::string& err);

  // Deliver or park.
  size_t park_queued();
  void start_parking(const std::string& why);
  bool confirm_parked();
  void decide_parking();
  void stop_closing();
  bool replay_parked();
  int tend_parking(clock::time_point now);

  // Writing.
  void drop_stale();
  bool encode_next(std::string_view xml, std::string& out);
  void append_event(size_t i, bool encoded, std::string& out,
                    bool& unencodable);
  void note_unacknowledged(bool complete);
  bool begin_write();
  void complete_write();

  tak_destination_settings cfg_;
  tak_destination_env env_;
  link_state link_;
  guard_state guard_;
  parking_state parking_;
  std::deque<event_ref> queue_;
  write_state write_;
  replay_window window_;
  /// Bytes of events queued since the last pump (see take).
  size_t deferred_bytes_ = 0;
  std::vector<record_ref> scratch_;
  latency_tally latencies_;
  takp::encoder proto_;
  /// What every event gets added to its detail on this destination
  /// (<marti> routing, <archive/>); empty: nothing.
  std::string extra_detail_;
  /// <dest> elements for the event's <marti> (dest_callsigns, ...).
  std::string dests_;
  std::string routed_;
};

} // namespace cotflow
