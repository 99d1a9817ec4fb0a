#include "pipeline/tak/destination.hpp"

#include "pipeline/codec/cot_encoder.hpp"
#include "pipeline/core/counts.hpp"
#include "pipeline/core/log.hpp"
#include "pipeline/tak/tak_filter.hpp"

#include <algorithm>
#include <random>
#include <unordered_map>

namespace cotflow {

namespace {

using std::chrono::milliseconds;

bool from_parking(const record_ref& ref) {
  return (ref.tp & parking_port::replay_flag) != 0;
}

uint64_t seed_of(const tak_destination_settings& s, uint64_t offset) {
  return s.seed ? *s.seed + offset : std::random_device{}();
}

/// The <dest> elements a destination adds to every event's <marti>:
/// routing to callsigns, groups and Data Sync missions.
std::string dests_of(const tak_url& u) {
  std::string out;
  auto dests = [&](const std::vector<std::string>& values, const char* attr) {
    for (auto& v : values) {
      out += "<dest ";
      out += attr;
      out += "=\"";
      xml_escape(v, out);
      out += "\"/>";
    }
  };
  dests(u.dest_callsigns, "callsign");
  dests(u.dest_groups, "group");
  dests(u.dest_missions, "mission");
  return out;
}

} // namespace

tak_destination::tak_destination(tak_destination_settings settings,
                                 std::unique_ptr<tak_transport> transport,
                                 std::shared_ptr<parking_port> lot,
                                 tak_destination_env env)
  : cfg_(std::move(settings)), env_(std::move(env)),
    link_(std::move(transport),
          backoff{cfg_.reconnect_min, cfg_.reconnect_max, seed_of(cfg_, 0)}),
    guard_(circuit_breaker{cfg_.breaker, seed_of(cfg_, 1)}) {
  if (cfg_.down_for.count() > 0) {
    link_.down_from = env_.now() + cfg_.down_after;
    link_.down_until = link_.down_from + cfg_.down_for;
  }
  parking_.lot = std::move(lot);
  if (parking_.lot)
    env_.counters->parking_topic = parking_.lot->topic();
  dests_ = dests_of(cfg_.target);
  if (cfg_.target.archive)
    extra_detail_ = "<archive/>";
}

void tak_destination::reconfigure(const breaker_settings& breaker,
                                  size_t queue_events) {
  guard_.breaker.reconfigure(breaker);
  cfg_.queue_events = queue_events;
}

// --- Acknowledgements and breaker outcomes -------------------------------

void tak_destination::publish_breaker() {
  env_.counters->breaker = static_cast<int>(guard_.breaker.state());
  env_.counters->breaker_trips = guard_.breaker.trips();
}

// Acknowledges events that are done for this destination: input records to
// the source, replayed ones to the parking replayer. A replayed event is
// counted once, by how it left the parking topic (see parking_counts).
void tak_destination::finish(const std::vector<record_ref>& refs, outcome how) {
  // Parked or dropped rather than delivered: the source counts the record
  // so, not as delivered.
  auto mark = how == outcome::parked    ? parked_bit
              : how == outcome::dropped ? dropped_bit
                                        : dest_mask{0};
  ack a{cfg_.bit | mark, {}};
  a.refs.reserve(refs.size());
  uint64_t replayed = 0, inherited = 0;
  for (auto& r : refs) {
    if (!from_parking(r)) {
      a.refs.push_back(r);
      continue;
    }
    parking_.lot->done(r);
    // Sent again after a lost connection: counted the first time. A
    // sensor event is no record: never counted.
    if (parking_.resent.erase({r.tp, r.offset}) > 0
        || (r.tp & parking_port::sensor_flag) != 0)
      continue;
    if (r.tp & parking_port::inherited_flag)
      ++inherited;
    else
      ++replayed;
  }
  auto& c = *env_.counters;
  if (how == outcome::delivered) {
    c.unparked += replayed;
    c.inherited_replayed += inherited;
  } else if (how == outcome::dropped) {
    c.parked_dropped_at_write += replayed;
    c.inherited_dropped += inherited;
  }
  if (!a.refs.empty())
    env_.acknowledge(std::move(a));
}

void tak_destination::failed(const std::string& why) {
  auto& b = guard_.breaker;
  auto was = b.state();
  b.failure(env_.now(), why);
  guard_.probe_out = false;
  if (b.state() == circuit_state::open && (was != circuit_state::open)) {
    auto wait = std::chrono::duration_cast<milliseconds>(b.open_until()
                                                         - env_.now());
    env_.counters->trip_reason(b.last_trip_reason());
    log::warn("tak-sink",
              cfg_.name + ": circuit breaker open for "
                + std::to_string(wait.count()) + " ms (" + b.last_trip_reason()
                + ")",
              {{"destination", cfg_.name}, {"error", b.last_trip_reason()}});
  }
  publish_breaker();
}

void tak_destination::succeeded() {
  auto& b = guard_.breaker;
  auto was = b.state();
  b.success(env_.now());
  guard_.probe_out = false;
  if (was != circuit_state::closed && b.state() == circuit_state::closed)
    log::info(
      "tak-sink",
      cfg_.name + ": circuit breaker closed"
        + (parking_.active ? "; replaying parked events" : std::string{}),
      {{"destination", cfg_.name}});
  publish_breaker();
}

// --- The connection's lifecycle -----------------------------------------

bool tak_destination::faulty(clock::time_point now) const {
  return now >= link_.down_from && now < link_.down_until;
}

// How many of the window's latest bytes to send again after a loss. What
// the kernel accepted but the server's kernel had not acknowledged may
// never have reached the server, nor what the server read and did not
// process yet (the margin); the whole window when the kernel cannot say.
// But a ping the server answered says it read everything before it: only
// what was written after the latest answered one can be missing.
size_t tak_destination::resend_bytes(size_t unacked) const {
  size_t want = link_.window_unacked ? unacked + cfg_.resend_margin
                                     : window_.bytes;
  auto unconfirmed = link_.written - link_.confirmed;
  return static_cast<size_t>(std::min<uint64_t>(want, unconfirmed));
}

void tak_destination::lost(const std::string& why, bool credentials) {
  // The read that found the connection closed may have brought answers.
  note_answers();
  link_.conn->close();
  // Send those again first, in their order; the rest of the window
  // reached the server.
  size_t unacked = link_.window_unacked.value_or(window_.bytes);
  size_t want = resend_bytes(unacked);
  env_.counters->unconfirmed_at_loss += std::min<uint64_t>(
    window_.bytes, link_.written - link_.confirmed);
  size_t again = 0, again_bytes = 0;
  while (!window_.events.empty() && again_bytes < want) {
    again_bytes += window_.events.back().bytes;
    if (auto& ref = window_.events.back().ev->ref; from_parking(ref))
      parking_.resent.insert({ref.tp, ref.offset});
    queue_.push_front(std::move(window_.events.back().ev));
    window_.events.pop_back();
    ++again;
  }
  env_.counters->resent += again;
  env_.counters->resent_bytes += again_bytes;
  env_.counters->unacknowledged_at_loss += unacked;
  env_.counters->connected = false;
  env_.counters->error(why);
  window_.events.clear();
  window_.bytes = 0;
  link_.window_unacked.reset();
  link_.negotiating = negotiation::none;
  link_.offer_uid.reset();
  // A write cut short: its events are still queued and go again whole.
  write_.events = 0;
  write_.written = 0;
  parking_.requeued = true;
  auto delay = link_.retry.next();
  // Refused credentials will not heal in a second: retried as slowly as a
  // configuration error.
  if (credentials)
    for (int i = 0; i < 8; ++i)
      delay = std::max(delay, link_.retry.next());
  link_.next_attempt = env_.now() + delay;
  log::warn("tak-sink",
            cfg_.name + " (" + cfg_.url + "): " + why + "; "
              + std::to_string(queue_.size()) + " events queued ("
              + std::to_string(again) + " of them, "
              + std::to_string(again_bytes)
              + " bytes, to send again; the server had not acknowledged "
              + std::to_string(unacked) + " bytes, and "
              + std::to_string(link_.written - link_.confirmed)
              + " bytes were written after its latest answer to a ping), "
                "reconnecting in "
              + std::to_string(delay.count()) + " ms",
            {{"destination", cfg_.name}, {"error", why}});
  link_.last_error = why;
  failed(why);
}

// May a connect be tried now? While the breaker is closed the reconnect
// backoff decides; otherwise the connect is the breaker's probe.
bool tak_destination::may_connect(clock::time_point now) {
  switch (guard_.breaker.state()) {
    case circuit_state::closed:
      return now >= link_.next_attempt;
    case circuit_state::open:
    case circuit_state::half_open:
      // The connect is the probe (the reconnect backoff does not apply: the
      // breaker's wait already did).
      if (!guard_.probe_out) {
        if (!guard_.breaker.allow(now)) {
          publish_breaker();
          return false;
        }
        guard_.probe_out = true;
        publish_breaker();
        log::info("tak-sink",
                  cfg_.name
                    + ": circuit breaker half-open, "
                      "probing",
                  {{"destination", cfg_.name}});
      }
      return true;
  }
  return true;
}

void tak_destination::connect_failed(clock::time_point now,
                                     const std::string& err,
                                     bool config_error) {
  // A configuration error (unknown host) will not heal in a second: wait
  // as long as the backoff allows instead of hammering.
  auto delay = link_.retry.next();
  if (config_error)
    for (int i = 0; i < 8; ++i)
      delay = std::max(delay, link_.retry.next());
  link_.next_attempt = now + delay;
  auto what = std::string{config_error ? "configuration error: " : ""} + err;
  env_.counters->error(what);
  if (what != link_.last_error)
    log::warn("tak-sink",
              cfg_.name + " (" + cfg_.url + "): " + what + "; retrying in "
                + std::to_string(delay.count()) + " ms",
              {{"destination", cfg_.name}, {"error", what}});
  link_.last_error = what;
  failed(what);
}

bool tak_destination::ensure_connected() {
  if (link_.conn->connected())
    return true;
  auto now = env_.now();
  if (!may_connect(now))
    return false;
  std::string err;
  bool config_error = false;
  bool ok = false;
  if (faulty(now))
    err = "injected fault: destination down";
  else
    ok = link_.conn->connect(err, config_error);
  if (!ok) {
    connect_failed(now, err, config_error);
    return false;
  }
  link_.connected_since = now;
  start_protocol(now);
  // Who is connecting, first (on streams, unless the URL says hello=false).
  if (!link_.conn->is_udp() && cfg_.target.hello.value_or(true)) {
    std::string err;
    if (!write_control(hello_event(cfg_.hello_uid, cfg_.hello_callsign,
                                   cfg_.version, env_.wall_ms()),
                       err)) {
      connect_failed(now, err, false);
      return false;
    }
  }
  link_.ping_sent.reset();
  link_.next_ping = now + cfg_.ping_interval;
  link_.written = link_.pinged_at = link_.confirmed = link_.answers = 0;
  link_.unanswered.clear();
  link_.first_unanswered = 1;
  if (link_.ever_connected)
    env_.counters->reconnects += 1;
  link_.ever_connected = true;
  env_.counters->connected = true;
  log::info("tak-sink",
            cfg_.name + " (" + cfg_.url + "): connected; "
              + std::to_string(queue_.size()) + " events queued",
            {{"destination", cfg_.name}});
  link_.last_error.clear();
  // With nothing to write, an accepted connection is the probe's answer.
  if (guard_.probe_out && queue_.empty())
    succeeded();
  return true;
}

// The server's answers to pings (t-x-c-t-r) since the last look. It
// answers each ping in order, so the n-th answer on a connection answers
// its n-th ping: everything written before that ping was read. A server
// that leaves some pings unanswered makes an answer confirm less than it
// could, never more.
void tak_destination::note_answers() {
  auto answers = link_.conn->pongs();
  if (answers <= link_.answers)
    return;
  env_.counters->ping_answers += answers - link_.answers;
  link_.answers = answers;
  auto& out = link_.unanswered;
  while (!out.empty() && link_.first_unanswered <= answers) {
    link_.confirmed = out.front();
    out.pop_front();
    ++link_.first_unanswered;
  }
}

// A ping is due every ping_interval, and, while events are written, once
// ping_every_bytes of them went out since the previous ping (its answer
// trims what a loss resends). Never inside a write, nor while the answer
// to a protocol request is awaited.
bool tak_destination::ping_due(clock::time_point now) const {
  if (link_.ping_sent || write_.events > 0
      || link_.negotiating == negotiation::response)
    return false;
  return now >= link_.next_ping
         || (cfg_.ping_every_bytes > 0
             && link_.written - link_.pinged_at >= cfg_.ping_every_bytes);
}

// Keepalive on TCP and TLS links: any bytes from the server after a ping count
// as its reply; silence past the timeout means the link is dead even though
// writes still succeed. False with `err` when the link is lost.
bool tak_destination::keepalive(clock::time_point now, std::string& err) {
  auto& conn = *link_.conn;
  bool pings = cfg_.target.ping.value_or(!conn.is_udp());
  if (!pings || conn.is_udp() || link_.pings_off
      || cfg_.ping_interval.count() <= 0)
    return true;
  note_answers();
  if (link_.ping_sent && conn.last_read() >= *link_.ping_sent) {
    link_.ping_sent.reset();
    link_.silent_pings = 0;
  }
  if (link_.ping_sent && now - *link_.ping_sent > cfg_.ping_timeout) {
    link_.ping_sent.reset();
    ++link_.silent_pings;
    if (cfg_.ping_silent_cycles > 0
        && link_.silent_pings >= cfg_.ping_silent_cycles) {
      // Some servers never answer a ping: reconnecting (and resending)
      // every cycle forever helps nobody. A dead connection then shows
      // when a write fails or the write timeout passes.
      link_.pings_off = true;
      env_.counters->error("the server answered none of "
                           + std::to_string(link_.silent_pings)
                           + " keepalive pings in a row");
      log::warn("tak-sink",
                cfg_.name + " (" + cfg_.url + "): the server answered none of "
                  + std::to_string(link_.silent_pings)
                  + " keepalive pings in a row: keeping its "
                    "connection without pings",
                {{"destination", cfg_.name}});
      return true;
    }
    err = "no reply to the keepalive ping within "
          + std::to_string(cfg_.ping_timeout.count()) + " ms ("
          + std::to_string(link_.silent_pings) + " in a row)";
    return false;
  }
  if (ping_due(now)) {
    if (!write_control(ping_event("cotflow-" + cfg_.name, env_.wall_ms()), err))
      return false;
    link_.ping_sent = now;
    link_.next_ping = now + cfg_.ping_interval;
    link_.pinged_at = link_.written;
    // A server that reads but never answers: the oldest offsets go (their
    // answers, should they come, confirm nothing).
    if (link_.unanswered.size() >= 1024) {
      link_.unanswered.pop_front();
      ++link_.first_unanswered;
    }
    link_.unanswered.push_back(link_.written);
  }
  return true;
}

// What a new connection speaks first: version 1 at once (protocol=1,
// mesh), or XML, looking for the server's offer (negotiate) unless a
// request of this destination already went unanswered.
void tak_destination::start_protocol(clock::time_point now) {
  auto& l = link_;
  l.negotiating = negotiation::none;
  l.offer_uid.reset();
  l.inbox.clear();
  l.format = takp::wire_format::xml;
  switch (cfg_.target.protocol) {
    case tak_protocol_choice::xml:
      break;
    case tak_protocol_choice::v1:
      l.format = takp::wire_format::stream;
      break;
    case tak_protocol_choice::mesh:
      l.format = takp::wire_format::mesh;
      l.next_control = now;
      break;
    case tak_protocol_choice::negotiate:
      if (!l.negotiation_failed) {
        l.negotiating = negotiation::offer;
        l.negotiate_until = now + cfg_.negotiate_offer;
      }
      break;
  }
  env_.counters->protocol = l.format == takp::wire_format::xml ? 0 : 1;
}

// protocol=negotiate: reads what the server sends while the negotiation is
// open. Its offer of version 1 is answered with cotflow's request once no
// write is in progress (the request must not land inside one); the answer
// switches the connection to version 1 or leaves it in XML. False with
// `err` when the connection must go: lost, or no answer came (the protocol
// asks the client to disconnect then).
bool tak_destination::negotiate(clock::time_point now, std::string& err) {
  auto& l = link_;
  std::string in;
  if (!l.conn->read(in, err))
    return false;
  auto msg = l.inbox.feed(in);
  auto where = cfg_.name + " (" + cfg_.url + "): ";
  using kind = takp::server_message::kind;
  if (l.negotiating == negotiation::offer) {
    if (msg && msg->what == kind::offer) {
      auto& v = msg->versions;
      if (std::find(v.begin(), v.end(), 1) == v.end()) {
        l.negotiating = negotiation::none;
        log::info("tak-sink",
                  where
                    + "the server offers no TAK Protocol "
                      "version cotflow speaks; writing XML",
                  {{"destination", cfg_.name}});
        return true;
      }
      l.offer_uid = msg->uid;
    } else if (!l.offer_uid && now >= l.negotiate_until) {
      l.negotiating = negotiation::none;
      log::info("tak-sink",
                where + "no offer of TAK Protocol version 1 within "
                  + std::to_string(cfg_.negotiate_offer.count())
                  + " ms; writing XML",
                {{"destination", cfg_.name}});
      return true;
    }
    if (l.offer_uid && write_.events == 0) {
      if (!l.conn->write(
            takp::protocol_request(*l.offer_uid, 1, env_.wall_ms()), err))
        return false;
      l.offer_uid.reset();
      l.negotiating = negotiation::response;
      l.negotiate_until = now + cfg_.negotiate_response;
    }
    return true;
  }
  if (msg && msg->what == kind::response) {
    l.negotiating = negotiation::none;
    l.inbox.clear();
    if (msg->accepted) {
      l.format = takp::wire_format::stream;
      env_.counters->protocol = 1;
    }
    log::info("tak-sink",
              where
                + (msg->accepted
                     ? "the server accepted TAK Protocol version 1: writing "
                       "protobuf"
                     : "the server declined TAK Protocol version 1; writing "
                       "XML"),
              {{"destination", cfg_.name}});
    return true;
  }
  if (now >= l.negotiate_until) {
    l.negotiation_failed = true;
    err = "no answer to the request for TAK Protocol version 1 within "
          + std::to_string(cfg_.negotiate_response.count())
          + " ms (this destination's later connections write XML)";
    return false;
  }
  return true;
}

// Writes a message of cotflow's own (a ping) in what the connection speaks.
bool tak_destination::write_control(const std::string& xml, std::string& err) {
  if (link_.format == takp::wire_format::xml)
    return link_.conn->write(xml, err);
  std::string frame;
  if (!proto_.append(xml, link_.format, false, frame, err))
    return false;
  return link_.conn->write(frame, err);
}

// --- Deliver or park -----------------------------------------------------

void tak_destination::take(const std::shared_ptr<const cot_events>& batch) {
  // Events this destination does not take (filter, or superseded by a
  // later position of the same uid in this batch) are done for it.
  ack skipped{cfg_.bit, {}};
  auto& events = *batch;
  std::vector<bool> keep(events.size(), true);
  if (cfg_.target.coalesce) {
    std::unordered_map<std::string_view, size_t> latest;
    for (size_t i = 0; i < events.size(); ++i)
      latest[events[i].uid] = i;
    for (size_t i = 0; i < events.size(); ++i)
      keep[i] = latest[events[i].uid] == i || events[i].type == "t-x-d-d";
  }
  size_t taken = 0;
  for (size_t i = 0; i < events.size(); ++i) {
    auto& ev = events[i];
    keep[i] = keep[i] && destination_accepts(cfg_.target, ev.type, ev.source);
    if (!keep[i]) {
      skipped.refs.push_back(ev.ref);
    } else if (parking_.active && !parking_.closing) {
      parking_.lot->park(ev);
    } else {
      ++taken;
      deferred_bytes_ += ev.xml.size();
    }
  }
  // While the parked backlog's tail is replayed, new events wait behind
  // it (see decide_parking).
  auto& into = parking_.closing ? parking_.held : queue_;
  if (taken == events.size()) {
    // All of it: the queue refers to the batch the destinations share.
    for (size_t i = 0; i < events.size(); ++i)
      into.emplace_back(batch, i);
  } else if (taken > 0) {
    // A share of it (filters, coalescing): the queue and the replay window
    // count what they hold by these events, so they get a batch of their
    // own rather than keep the whole shared one alive.
    auto mine = std::make_shared<cot_events>();
    mine->reserve(taken);
    for (size_t i = 0; i < events.size(); ++i)
      if (keep[i])
        mine->push_back(events[i]);
    for (size_t i = 0; i < mine->size(); ++i)
      into.emplace_back(mine, i);
  }
  env_.counters->queue = static_cast<int64_t>(queued());
  if (!skipped.refs.empty()) {
    env_.counters->skipped += skipped.refs.size();
    env_.acknowledge(std::move(skipped));
  }
}

bool tak_destination::may_wait_for_next_batch() const {
  return write_.events == 0 && !parking_.active && !link_.conn->is_udp()
         && deferred_bytes_ < cfg_.write_bytes
         && queue_.size() < cfg_.queue_events;
}

// Moves the queued input records into the parking topic, so that their
// offsets can be committed. Replayed events stay queued: they are older
// than anything parked after them. The events of a write in progress stay
// too (part of them is on the wire) but are parked as well: a server that
// never reads must not hold their offsets; should the write complete after
// all, they arrive twice, never not at all. Returns the events parked.
size_t tak_destination::park_queued() {
  std::deque<event_ref> keep;
  size_t moved = 0;
  size_t i = 0;
  for (auto& ev : queue_) {
    bool writing = i++ < write_.events;
    if (!from_parking(ev->ref))
      parking_.lot->park(*ev), ++moved;
    if (writing || from_parking(ev->ref))
      keep.push_back(std::move(ev));
  }
  queue_ = std::move(keep);
  env_.counters->queue = static_cast<int64_t>(queued());
  return moved;
}

// From now on new events go to the parking topic, and so do the queued
// ones (see park_queued).
void tak_destination::start_parking(const std::string& why) {
  parking_.active = true;
  env_.counters->parking = true;
  auto moved = park_queued();
  log::warn("tak-sink",
            cfg_.name + ": " + why + "; parking new events to "
              + parking_.lot->topic() + " (" + std::to_string(moved)
              + " queued events moved there)",
            {{"destination", cfg_.name}, {"topic", parking_.lot->topic()}});
}

// Acknowledges what Kafka confirmed as parked. False (logged) when the
// parking topic cannot be written for good.
bool tak_destination::confirm_parked() {
  auto& lot = *parking_.lot;
  scratch_.clear();
  lot.serve(scratch_);
  if (!scratch_.empty()) {
    // Sensor events (tp 0) carry no input record: not counted as parked.
    env_.counters->parked += static_cast<uint64_t>(
      std::count_if(scratch_.begin(), scratch_.end(),
                    [](const record_ref& r) { return r.tp != 0; }));
    finish(scratch_, outcome::parked);
  }
  if (lot.failure().empty())
    return true;
  log::error("tak-sink",
             cfg_.name + ": cannot park to " + lot.topic() + ": "
               + lot.failure(),
             {{"destination", cfg_.name},
              {"topic", lot.topic()},
              {"error", lot.failure()}});
  return false;
}

// Mode changes: start parking (breaker open, queue full, draining while
// disconnected), or deliver directly again once the replay caught up.
//
// Catching up takes a pause in parking: while new events keep going to the
// parking topic, the replay chases a moving end (there is always a parked
// event Kafka has not confirmed or the replayer not fetched yet, at any
// steady input rate), and direct delivery would never resume. So once the
// server is back and the backlog is short, new events are held in memory
// instead (`closing`), behind the backlog, until the replay has handed out
// everything this instance parked; then they follow it. Should the server
// go again, the pipeline drain, or the held events fill the queue's bound
// first, they are parked after everything parked before them and parking
// goes on (to try again later): the order per uid holds either way.
void tak_destination::decide_parking() {
  auto state = guard_.breaker.state();
  auto& conn = *link_.conn;
  if (!parking_.active) {
    if (state == circuit_state::open)
      start_parking("circuit breaker open");
    else if (queue_.size() >= cfg_.queue_events)
      start_parking(std::to_string(queue_.size())
                    + " events queued (tak.queue_events)");
    else if (env_.pipeline->draining && !conn.connected() && !queue_.empty())
      start_parking("draining while disconnected");
    return;
  }
  bool up = state == circuit_state::closed && conn.connected()
            && !env_.pipeline->draining;
  if (!parking_.closing) {
    // What this instance parked and has not replayed: exact and current
    // (a backlog an earlier run parked is not in it; holding then ends in
    // parking the held events, and trying again).
    if (!up || queue_.size() >= cfg_.queue_events / 2
        || parking_of(*env_.counters).waiting() > cfg_.queue_events / 2)
      return;
    parking_.closing = true;
  }
  if (!up || parking_.held.size() >= cfg_.queue_events) {
    stop_closing();
    return;
  }
  if (queue_.size() >= cfg_.queue_events / 2 || !parking_.lot->caught_up())
    return;
  parking_.active = false;
  parking_.closing = false;
  env_.counters->parking = false;
  for (auto& ev : parking_.held)
    queue_.push_back(std::move(ev));
  parking_.held.clear();
  log::info("tak-sink",
            cfg_.name
              + ": parked backlog replayed; delivering "
                "directly again",
            {{"destination", cfg_.name}});
}

// The server went again (or the pipeline drains, or the replay did not
// catch up before the held events filled the queue's bound): the held
// events are parked, newest of all, and parking goes on.
void tak_destination::stop_closing() {
  parking_.closing = false;
  for (auto& ev : parking_.held)
    parking_.lot->park(*ev);
  parking_.held.clear();
}

// Replay while the breaker lets events through: fill the queue up to half
// its bound in direct mode (live events need the rest), all of it while
// parking. True when the replayer took or dropped events.
bool tak_destination::replay_parked() {
  auto state = guard_.breaker.state();
  auto may_send = state == circuit_state::closed
                  || (state == circuit_state::half_open
                      && link_.conn->connected());
  auto bound = parking_.active ? cfg_.queue_events : cfg_.queue_events / 2;
  if (!may_send || queue_.size() >= bound) {
    parking_.lot->hold();
    return false;
  }
  stale_drops stale;
  auto taken = parking_.lot->replay(bound - queue_.size(), env_.wall_ms(),
                                    queue_, stale);
  env_.counters->parked_stale += stale.counted;
  env_.counters->inherited_dropped += stale.inherited;
  return taken > 0 || stale.counted > 0 || stale.inherited > 0;
}

// Parking bookkeeping after the confirmations: mode changes, replay,
// commits. Returns how soon to come back: 0 while replaying, a moment
// while Kafka has parked events to confirm, otherwise no preference (-1).
int tak_destination::tend_parking(clock::time_point now) {
  auto& lot = *parking_.lot;
  // While parking, what a lost connection put back in the queue is parked
  // too rather than waiting for the next connection.
  if (parking_.active && parking_.requeued)
    park_queued();
  parking_.requeued = false;
  decide_parking();
  bool replaying = replay_parked();
  // Replayed positions go to the replayer's committer as they move.
  lot.store_positions();
  // Every round: a loss found while replaying shows at once.
  env_.counters->parked_lost += lot.take_lost();
  env_.counters->parked_foreign += lot.take_foreign();
  if (now >= parking_.next_report) {
    // The replayer's view freezes while it is paused (breaker open); what
    // this instance parked and has not replayed is in the topic anyway.
    auto waiting = static_cast<int64_t>(parking_of(*env_.counters).waiting());
    env_.counters->parking_backlog = std::max(lot.backlog(), waiting);
    parking_.next_report = now + milliseconds{1000};
  }
  return replaying ? 0 : lot.outstanding() > 0 ? 2 : -1;
}

// --- Writing --------------------------------------------------------------

// Starts a write of up to write_bytes of events (at least one; one datagram
// on UDP). False when the half-open breaker's probes are all out, or when
// nothing is left to write once stale events are dropped.
// Drops the events the next write would take whose stale time passed:
// they are done for this destination, and counted. Only that part of the
// queue is looked at (each event is, before its write), and an event is
// rarely stale: erasing in the middle of the queue is the exception.
void tak_destination::drop_stale() {
  auto wall = env_.wall_ms();
  scratch_.clear();
  size_t bytes = 0;
  for (size_t i = 0; i < queue_.size() && bytes < cfg_.write_bytes;) {
    auto& ev = queue_[i];
    if (ev->stale_ms != 0 && ev->stale_ms <= wall) {
      scratch_.push_back(ev->ref);
      queue_.erase(queue_.begin() + static_cast<std::ptrdiff_t>(i));
      continue;
    }
    bytes += ev->xml.size();
    ++i;
  }
  if (scratch_.empty())
    return;
  env_.counters->stale_at_write += scratch_.size();
  finish(scratch_, outcome::dropped);
}

// After a write call: how much of the replay window the server had not
// acknowledged then. A partial write's own bytes come after the window's.
void tak_destination::note_unacknowledged(bool complete) {
  auto n = link_.conn->unacknowledged();
  if (!n) {
    link_.window_unacked.reset();
    return;
  }
  auto own = complete ? 0 : write_.written;
  link_.window_unacked = *n > own ? *n - own : 0;
}

// Appends queued event `i` encoded for a version 1 connection to `out`;
// false (logged) when it cannot be, which only an event that is not CoT
// XML cotflow wrote could cause. A mesh datagram says which versions
// cotflow decodes every 30 s (the protocol asks for once a minute).
bool tak_destination::encode_next(std::string_view xml, std::string& out) {
  // Only a mesh datagram may carry the control: the clock only for it.
  bool mesh = link_.format == takp::wire_format::mesh;
  auto now = mesh ? env_.now() : clock::time_point{};
  bool control = mesh && now >= link_.next_control;
  std::string err;
  if (!proto_.append(xml, link_.format, control, out, err)) {
    log::error("tak-sink",
               cfg_.name
                 + ": an event cannot be encoded in TAK Protocol "
                   "version 1 and is dropped: "
                 + err,
               {{"destination", cfg_.name}, {"error", err}});
    return false;
  }
  if (control)
    link_.next_control = now + std::chrono::seconds{30};
  return true;
}

// Appends queued event `i` to `out` as this destination and connection
// write it: with the destination's detail added, encoded for version 1.
void tak_destination::append_event(size_t i, bool encoded, std::string& out,
                                   bool& unencodable) {
  std::string_view xml = queue_[i]->xml;
  if (!extra_detail_.empty() || !dests_.empty()) {
    routed_.clear();
    append_with_detail(xml, extra_detail_, encoded ? routed_ : out, dests_);
    if (!encoded)
      return;
    xml = routed_;
  }
  if (encoded)
    unencodable = !encode_next(xml, out);
  else
    out.append(xml);
}

bool tak_destination::begin_write() {
  drop_stale();
  if (queue_.empty())
    return false;
  auto& b = guard_.breaker;
  if (b.state() != circuit_state::closed && !guard_.probe_out) {
    if (!b.allow(env_.now()))
      return false;
    guard_.probe_out = true;
  }
  // TLS gets the events in one buffer, for full-size TLS records, and so
  // does version 1, encoded; plain TCP and UDP write XML events where they
  // are.
  auto& w = write_;
  size_t k = 0;
  w.total = 0;
  w.pieces.clear();
  w.buffer.clear();
  w.sizes.clear();
  bool encoded = link_.format != takp::wire_format::xml;
  bool one_buffer = encoded || link_.conn->is_tls() || !extra_detail_.empty()
                    || !dests_.empty();
  bool udp = link_.conn->is_udp();
  auto fits = [&](size_t i) {
    return !udp && w.total + queue_[i]->xml.size() <= cfg_.write_bytes;
  };
  std::vector<record_ref> unencodable;
  while (k < queue_.size() && (k == 0 || fits(k))) {
    if (!one_buffer) {
      const auto& xml = queue_[k++]->xml;
      w.total += xml.size();
      w.sizes.push_back(xml.size());
      w.pieces.emplace_back(xml);
      continue;
    }
    bool failed = false;
    append_event(k, encoded, w.buffer, failed);
    if (failed) {
      unencodable.push_back(queue_[k]->ref);
      queue_.erase(queue_.begin() + static_cast<std::ptrdiff_t>(k));
      continue;
    }
    ++k;
    w.sizes.push_back(w.buffer.size() - w.total);
    w.total = w.buffer.size();
  }
  if (!unencodable.empty()) {
    env_.counters->unencodable += unencodable.size();
    finish(unencodable, outcome::dropped);
  }
  if (k == 0)
    return false;
  if (one_buffer)
    w.pieces.emplace_back(w.buffer);
  w.events = k;
  w.written = 0;
  w.since = env_.now();
  return true;
}

// The kernel took the whole write: its events are delivered and move to
// the replay window.
void tak_destination::complete_write() {
  auto k = write_.events;
  write_.events = 0;
  env_.write_took(
    std::chrono::duration<double>(env_.now() - write_.since).count());
  scratch_.clear();
  auto wall = env_.wall_ms();
  for (size_t i = 0; i < k; ++i) {
    auto& ev = queue_.front();
    scratch_.push_back(ev->ref);
    if (auto ts = ev->timestamp_ms; ts > 0)
      latencies_.add(static_cast<double>(wall - ts) / 1000.0);
    window_.bytes += write_.sizes[i];
    link_.written += write_.sizes[i];
    window_.events.push_back({std::move(ev), write_.sizes[i]});
    queue_.pop_front();
  }
  env_.delivered(latencies_);
  while (!window_.events.empty() && window_.bytes > cfg_.replay_bytes) {
    window_.bytes -= window_.events.front().bytes;
    window_.events.pop_front();
  }
  env_.counters->events += k;
  env_.counters->bytes += write_.total;
  finish(scratch_, outcome::delivered);
  succeeded();
}

// Moves queued events into the socket, many per write, acknowledging each
// write the kernel accepted.
tak_destination::pump_result tak_destination::pump() {
  deferred_bytes_ = 0;
  auto now = env_.now();
  if (link_.conn->connected() && faulty(now))
    lost("injected fault: destination down");
  int soon = -1;
  if (parking_.lot) {
    if (!confirm_parked())
      return {true, ms{0},
              "cannot park to " + parking_.lot->topic() + ": "
                + parking_.lot->failure()};
    soon = tend_parking(now);
  }
  if (!ensure_connected()) {
    auto delay = ms{soon >= 0 ? 2 : 100};
    auto& b = guard_.breaker;
    if (b.state() == circuit_state::open && soon < 0)
      delay = std::min(delay, std::max(ms{1}, std::chrono::duration_cast<ms>(
                                                b.open_until() - now)));
    return {false, delay};
  }
  std::string err;
  bool open = link_.negotiating != negotiation::none ? negotiate(now, err)
                                                     : link_.conn->drain(err);
  if (!open) {
    lost(err, link_.conn->refused_credentials());
    return {false, ms{1}};
  }
  now = env_.now();
  if (now - link_.connected_since >= cfg_.healthy_after)
    link_.retry.reset();
  if (!keepalive(now, err)) {
    lost(err, link_.conn->refused_credentials());
    return {false, ms{1}};
  }
  // Writes wait for the answer to a protocol request; and a negotiation
  // comes back soon to read it.
  bool answer_due = link_.negotiating == negotiation::response;
  while (!answer_due && (write_.events > 0 || !queue_.empty())) {
    if (write_.events == 0 && !begin_write())
      break; // the half-open breaker's probes are out
    // Never blocks: a server that does not read leaves the write partial,
    // and the destination goes on taking batches (and spilling them to
    // parking) until the write timeout declares the connection dead. The
    // pieces stay valid meanwhile: the events they show are the first
    // `write_.events` of the queue, which keeps them alive.
    auto r = link_.conn->write_some(write_.pieces.data(), write_.pieces.size(),
                                    write_.total, write_.written, write_.since,
                                    err);
    if (r == tak_transport::progress::failed) {
      lost(err, link_.conn->refused_credentials());
      return {false, ms{1}};
    }
    if (r == tak_transport::progress::partial) {
      note_unacknowledged(false);
      env_.counters->queue = static_cast<int64_t>(queued());
      return {false, ms{5}};
    }
    complete_write();
    note_unacknowledged(true);
  }
  env_.counters->queue = static_cast<int64_t>(queued());
  // Replay waiting: come back at once. A negotiation: soon. Idle: come back
  // to read what the server sends and notice a close.
  if (link_.negotiating != negotiation::none)
    return {false, ms{soon >= 0 ? std::min(soon, 10) : 10}};
  return {false, soon >= 0 ? ms{soon} : ms{link_.conn->is_udp() ? 1000 : 250}};
}

} // namespace cotflow
