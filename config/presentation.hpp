#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace YAML {
class Node;
} // namespace YAML

/// How events look on a TAK map, per detection source and per CoT type
/// (the `presentation` section): the `how` code, an icon, a colour, team
/// membership and the sensor that made a detection.
namespace cotflow {

/// A feed shown as TAK team members: `<__group name role/>` and the
/// `endpoint` of its `<contact>`.
struct team_style {
  /// One of team_names(); required.
  std::string name;
  /// One of team_roles(); empty: "Team Member".
  std::string role;
  /// The contact's endpoint; empty: "*:-1:stcp" (reachable through the
  /// TAK server, as ATAK writes it for a server-connected device).
  std::string endpoint;
};

/// The sensor that produced a source's detections: linked from each of
/// them, and published as its own event when it has a position.
struct sensor_style {
  static constexpr double none = std::numeric_limits<double>::quiet_NaN();
  /// Its uid after cot.uid_prefix; empty: "sensor-<source>".
  std::string uid;
  /// Its CoT type; empty: "b-m-p-s-p-loc" (ATAK's sensor point).
  std::string type;
  /// Its callsign; empty: the source's name.
  std::string callsign;
  /// Position (degrees, metres HAE); without lat/lon only the link is
  /// written, no sensor event.
  double lat = none;
  double lon = none;
  double hae = none;
  /// Field of view as ATAK's <sensor> detail draws it: azimuth of its
  /// centre (degrees true), horizontal and vertical width (degrees) and
  /// range (metres).
  double azimuth = none;
  double fov = none;
  double vfov = none;
  double range = none;

  /// Whether it is published as its own event.
  bool placed() const {
    return !std::isnan(lat) && !std::isnan(lon);
  }
};

/// One rule of the presentation section; an empty field sets nothing.
struct presentation_rule {
  /// The CoT how code ("m-i", "m-f", "h-e", ...).
  std::string how;
  /// A replacement CoT type (presentation.low_confidence only).
  std::string type;
  /// "#AARRGGBB" or "#RRGGBB", written as ATAK's signed ARGB integer.
  std::string color;
  /// An ATAK iconsetpath ("<iconset uid>/<group>/<file>.png").
  std::string icon;
  std::optional<team_style> team;
  /// presentation.sources only.
  std::optional<sensor_style> sensor;
};

bool operator==(const team_style& a, const team_style& b);
bool operator==(const sensor_style& a, const sensor_style& b);
bool operator==(const presentation_rule& a, const presentation_rule& b);

/// The `presentation` section. Precedence, attribute by attribute: what a
/// record carries itself (its `how`), then low_confidence (for a flagged
/// record), then its source's rule, then the rule of the longest matching
/// type prefix, then cot.how.
struct presentation_config {
  /// Detection `source` -> rule.
  std::map<std::string, presentation_rule> sources;
  /// CoT type prefix ("a-h", "a-f-G-U-C") -> rule; the longest wins.
  std::map<std::string, presentation_rule> types;
  /// What changes for a record below cot.min_confidence with
  /// cot.low_confidence = flag.
  presentation_rule low_confidence;
};

/// Where a rule is written; each place allows some of the fields.
enum class rule_place { source, type, low_confidence };

/// ATAK's `<color argb>`: the signed 32-bit ARGB integer of "#AARRGGBB",
/// or of "#RRGGBB" made opaque; nothing for any other text.
std::optional<int32_t> argb_of(const std::string& color);

/// The team colours ATAK offers for `<__group name>`.
const std::vector<std::string>& team_names();

/// The roles ATAK offers for `<__group role>`.
const std::vector<std::string>& team_roles();

/// Reads one rule from a YAML mapping; every problem (a sub-key that does
/// not exist, a value of the wrong kind), each starting with its sub-key.
std::vector<std::string> parse_rule(const YAML::Node& node,
                                    presentation_rule& rule);

/// Reads a mapping of name -> rule; every problem, each starting with its
/// name.
std::vector<std::string>
parse_rules(const YAML::Node& node,
            std::map<std::string, presentation_rule>& rules);

/// Adds to `errs` every problem of `rule` (at `path`) as a rule of `place`.
void check_rule(const presentation_rule& rule, rule_place place,
                const std::string& path, std::vector<std::string>& errs);

/// The rule as a YAML flow mapping that parse_rule reads back.
std::string render_rule(const presentation_rule& rule);

} // namespace cotflow
