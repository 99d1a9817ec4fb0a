#pragma once

#include "config/presentation.hpp"

#include <cstdint>
#include <limits>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace cotflow {

/// What the presentation section adds to the events of one (source, type),
/// rendered once as XML pieces that the encoder copies.
struct event_style {
  /// The how code; empty: cot.how.
  std::string how;
  /// A replacement CoT type (low confidence); empty: the mapped type.
  std::string type;
  /// Attributes added to `<contact>`: ` endpoint="..."` in team mode.
  std::string contact;
  /// The elements after `<contact>`, each empty when not configured, kept
  /// apart so that a record's own icon or colour can replace just its own:
  /// `<__group/>`, `<usericon/>`, `<color/>`, `<link relation="p-p"/>`.
  std::string group;
  std::string icon;
  std::string color;
  std::string link;
};

/// A placed sensor's own event, rendered but for its times.
struct sensor_event_parts {
  std::string uid;
  std::string type;
  /// `<event version="2.0" uid=".." type=".." how="m-c"`
  std::string head;
  /// `><point .../><detail><contact .../><sensor .../>`
  std::string body;
  /// When this encoder last wrote it (ms); none yet: the lowest value.
  int64_t last_sent_ms = std::numeric_limits<int64_t>::min();
};

/// The presentation rules of a configuration resolved per (source, type)
/// on first use and kept: an event costs two hash lookups, not a walk of
/// the rules. One per encoder, used from one thread.
class presentation {
public:
  /// `uid_prefix` (cot.uid_prefix) starts the uid of a sensor that has no
  /// uid of its own.
  presentation(const presentation_config& cfg, const std::string& uid_prefix);

  /// Whether any rule is configured; when not, events are as without
  /// presentation and nothing here needs to be asked.
  bool on() const {
    return on_;
  }

  /// The style of an event of `source` with CoT type `type` (before a
  /// low-confidence replacement); the reference holds until the next call.
  const event_style& style(const std::string& source, const std::string& type,
                           bool low_confidence) const;

  /// The placed sensor of `source` (its rule has a sensor with lat/lon), or
  /// null.
  sensor_event_parts* sensor(const std::string& source);

private:
  struct source_entry {
    presentation_rule rule;
    std::string name;
    /// Index into sensors_, or -1.
    int sensor = -1;
    /// CoT type -> (style, low-confidence style).
    mutable std::unordered_map<std::string, std::pair<event_style, event_style>>
      by_type;
  };

  std::pair<event_style, event_style> resolve(const source_entry& s,
                                              const std::string& type) const;

  bool on_ = false;
  std::string uid_prefix_;
  std::unordered_map<std::string, source_entry> sources_;
  /// The entry of every source without a rule.
  source_entry others_;
  /// Type prefix rules, longest first.
  std::vector<std::pair<std::string, presentation_rule>> types_;
  presentation_rule low_;
  std::vector<sensor_event_parts> sensors_;
};

} // namespace cotflow
