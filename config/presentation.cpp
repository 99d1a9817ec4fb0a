#include "config/presentation.hpp"

#include "config/config.hpp"
#include "pipeline/core/text.hpp"

#include <yaml-cpp/yaml.h>

#include <cctype>
#include <charconv>
#include <cstdlib>
#include <functional>
#include <tuple>

namespace cotflow {

bool operator==(const team_style& a, const team_style& b) {
  return std::tie(a.name, a.role, a.endpoint)
         == std::tie(b.name, b.role, b.endpoint);
}

bool operator==(const sensor_style& a, const sensor_style& b) {
  // NaN (not set) equals NaN here: two configs that leave it unset agree.
  auto same = [](double x, double y) {
    return (std::isnan(x) && std::isnan(y)) || x == y;
  };
  return std::tie(a.uid, a.type, a.callsign)
           == std::tie(b.uid, b.type, b.callsign)
         && same(a.lat, b.lat) && same(a.lon, b.lon) && same(a.hae, b.hae)
         && same(a.azimuth, b.azimuth) && same(a.fov, b.fov)
         && same(a.vfov, b.vfov) && same(a.range, b.range);
}

bool operator==(const presentation_rule& a, const presentation_rule& b) {
  return std::tie(a.how, a.type, a.color, a.icon, a.team, a.sensor)
         == std::tie(b.how, b.type, b.color, b.icon, b.team, b.sensor);
}

std::optional<int32_t> argb_of(const std::string& color) {
  if ((color.size() != 7 && color.size() != 9) || color[0] != '#')
    return std::nullopt;
  uint32_t v = 0;
  for (size_t i = 1; i < color.size(); ++i) {
    auto c = static_cast<unsigned char>(color[i]);
    if (!std::isxdigit(c))
      return std::nullopt;
    v = v * 16
        + static_cast<uint32_t>(std::isdigit(c) ? c - '0'
                                                : std::tolower(c) - 'a' + 10);
  }
  if (color.size() == 7)
    v |= 0xFF000000u; // #RRGGBB: opaque
  // ATAK reads and writes the colour as a Java int: the same 32 bits read
  // as two's complement (opaque red is -65536).
  return static_cast<int32_t>(v);
}

// The team colours and roles of ATAK's own settings (and of TAK Server's
// group filter), as ATAK writes them in <__group>.
const std::vector<std::string>& team_names() {
  static const std::vector<std::string> names{
    "White",     "Yellow", "Orange", "Magenta", "Red",   "Maroon",     "Purple",
    "Dark Blue", "Blue",   "Cyan",   "Teal",    "Green", "Dark Green", "Brown"};
  return names;
}

const std::vector<std::string>& team_roles() {
  static const std::vector<std::string> roles{
    "Team Member", "Team Lead",        "HQ",  "Sniper",
    "Medic",       "Forward Observer", "RTO", "K9"};
  return roles;
}

namespace {

using problems = std::vector<std::string>;

/// `v` in the fewest digits that read back as `v`.
std::string number(double v) {
  char buf[32];
  auto end = std::to_chars(buf, buf + sizeof buf, v).ptr;
  return {buf, end};
}

/// One sub-key of a mapping read into a field: a text, a number or a
/// nested mapping. `read` gives its problems, each to follow the sub-key's
/// name (": expected a number", ".role: unknown key").
struct sub_key {
  const char* name;
  std::function<problems(const YAML::Node&)> read;
};

sub_key text_key(const char* name, std::string& field) {
  return {name, [&field](const YAML::Node& n) -> problems {
            if (!n.IsScalar())
              return {": expected a single value"};
            field = n.Scalar();
            return {};
          }};
}

sub_key number_key(const char* name, double& field) {
  return {name, [&field](const YAML::Node& n) -> problems {
            char* end = nullptr;
            auto s = n.IsScalar() ? n.Scalar() : std::string{};
            auto v = std::strtod(s.c_str(), &end);
            if (s.empty() || *end != '\0' || !std::isfinite(v))
              return {": expected a number, got '" + s + "'"};
            field = v;
            return {};
          }};
}

/// Reads the sub-keys of mapping `node`; every problem, each starting with
/// its sub-key; an unknown sub-key names the nearest known one.
problems read_mapping(const YAML::Node& node,
                      const std::vector<sub_key>& keys) {
  if (node.IsNull())
    return {};
  if (!node.IsMap())
    return {": expected a mapping"};
  problems out;
  std::vector<std::string> names;
  for (auto& k : keys)
    names.push_back(k.name);
  for (const auto& kv : node) {
    auto name = kv.first.Scalar();
    const sub_key* known = nullptr;
    for (auto& k : keys)
      if (name == k.name)
        known = &k;
    if (!known) {
      out.push_back(name + ": unknown key" + did_you_mean(name, names));
      continue;
    }
    for (auto& p : known->read(kv.second))
      out.push_back(name + p);
  }
  return out;
}

/// A nested mapping (team, sensor) read into an optional struct.
template <class T, class Keys>
sub_key nested_key(const char* name, std::optional<T>& field, Keys keys) {
  return {name, [&field, keys](const YAML::Node& n) -> problems {
            field.emplace();
            auto ps = read_mapping(n, keys(*field));
            for (auto& p : ps)
              if (p[0] != ':')
                p = "." + p;
            return ps;
          }};
}

std::vector<sub_key> team_keys(team_style& t) {
  return {text_key("name", t.name), text_key("role", t.role),
          text_key("endpoint", t.endpoint)};
}

std::vector<sub_key> sensor_keys(sensor_style& s) {
  return {text_key("uid", s.uid),           text_key("type", s.type),
          text_key("callsign", s.callsign), number_key("lat", s.lat),
          number_key("lon", s.lon),         number_key("hae", s.hae),
          number_key("azimuth", s.azimuth), number_key("fov", s.fov),
          number_key("vfov", s.vfov),       number_key("range", s.range)};
}

} // namespace

std::vector<std::string> parse_rule(const YAML::Node& node,
                                    presentation_rule& rule) {
  rule = presentation_rule{};
  auto ps = read_mapping(
    node, {text_key("how", rule.how), text_key("type", rule.type),
           text_key("color", rule.color), text_key("icon", rule.icon),
           nested_key("team", rule.team, team_keys),
           nested_key("sensor", rule.sensor, sensor_keys)});
  return ps;
}

std::vector<std::string>
parse_rules(const YAML::Node& node,
            std::map<std::string, presentation_rule>& rules) {
  rules.clear();
  if (node.IsNull())
    return {};
  if (!node.IsMap())
    return {": expected a mapping of name -> rule"};
  problems out;
  for (const auto& kv : node) {
    auto name = kv.first.Scalar();
    for (auto& p : parse_rule(kv.second, rules[name]))
      out.push_back(name + (p[0] == ':' ? "" : ".") + p);
  }
  return out;
}

namespace {

/// A CoT how code: the schema's form \w(-\w+)*, starting h (human) or m
/// (machine) as its taxonomy does.
bool is_how(const std::string& s) {
  if (s.empty() || (s[0] != 'h' && s[0] != 'm'))
    return false;
  bool after_dash = false;
  for (size_t i = 1; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c == '-') {
      if (after_dash || i + 1 == s.size())
        return false;
      after_dash = true;
    } else if (std::isalnum(c) || c == '_') {
      after_dash = false;
    } else {
      return false;
    }
  }
  return s.size() == 1 || s[1] == '-';
}

bool one_of(const std::string& v, const std::vector<std::string>& allowed) {
  for (auto& a : allowed)
    if (v == a)
      return true;
  return false;
}

std::string listed(const std::vector<std::string>& words) {
  std::string out;
  for (size_t i = 0; i < words.size(); ++i)
    out += (i == 0 ? "" : ", ") + words[i];
  return out;
}

void check_team(const team_style& t, const std::string& path, problems& errs) {
  if (!one_of(t.name, team_names()))
    errs.push_back(path + ".name: '" + t.name + "' is not a TAK team ("
                   + listed(team_names()) + ")");
  if (!t.role.empty() && !one_of(t.role, team_roles()))
    errs.push_back(path + ".role: '" + t.role + "' is not a TAK role ("
                   + listed(team_roles()) + ")");
}

void check_sensor(const sensor_style& s, const std::string& path,
                  problems& errs) {
  auto within = [&](const char* name, double v, double lo, double hi,
                    bool open_lo, bool open_hi) {
    if (std::isnan(v)
        || ((open_lo ? v > lo : v >= lo) && (open_hi ? v < hi : v <= hi)))
      return;
    errs.push_back(path + "." + name + ": must be within "
                   + (open_lo ? "(" : "[") + number(lo) + ", " + number(hi)
                   + (open_hi ? ")" : "]"));
  };
  within("lat", s.lat, -90, 90, false, false);
  within("lon", s.lon, -180, 180, false, false);
  within("azimuth", s.azimuth, 0, 360, false, true);
  within("fov", s.fov, 0, 360, true, false);
  within("vfov", s.vfov, 0, 180, true, false);
  if (!std::isnan(s.range) && !(s.range > 0))
    errs.push_back(path + ".range: must be more than 0 (metres)");
  if (std::isnan(s.lat) != std::isnan(s.lon))
    errs.push_back(path
                   + ": lat and lon go together (a sensor event needs "
                     "both; without them only the link is written)");
  if (!s.type.empty() && !is_cot_type_prefix(s.type))
    errs.push_back(path + ".type: '" + s.type + "' is not a CoT type");
}

} // namespace

void check_rule(const presentation_rule& r, rule_place place,
                const std::string& path, std::vector<std::string>& errs) {
  if (!r.how.empty() && !is_how(r.how))
    errs.push_back(path + ".how: '" + r.how
                   + "' is not a CoT how code (h-... human entered, m-... "
                     "machine generated: m-i, m-f, m-r, h-e, ...)");
  if (!r.color.empty() && !argb_of(r.color))
    errs.push_back(path + ".color: '" + r.color
                   + "' is not #AARRGGBB or #RRGGBB");
  if (!r.icon.empty() && r.icon.find('/') == std::string::npos)
    errs.push_back(path + ".icon: '" + r.icon
                   + "' is not an ATAK iconsetpath (<iconset uid>/<group>/"
                     "<file>.png)");
  if (!r.type.empty() && place != rule_place::low_confidence)
    errs.push_back(path
                   + ".type: only presentation.low_confidence replaces "
                     "the type");
  else if (!r.type.empty() && !is_cot_type_prefix(r.type))
    errs.push_back(path + ".type: '" + r.type + "' is not a CoT type");
  if (r.team && place == rule_place::low_confidence)
    errs.push_back(path
                   + ".team: not for low_confidence (a source's or a "
                     "type's rule)");
  else if (r.team)
    check_team(*r.team, path + ".team", errs);
  if (r.sensor && place != rule_place::source)
    errs.push_back(path + ".sensor: only a source's rule has a sensor");
  else if (r.sensor)
    check_sensor(*r.sensor, path + ".sensor", errs);
}

namespace {

/// Appends "name: value" to a flow mapping being built in `out`.
void field(std::string& out, const char* name, const std::string& value) {
  out += (out.size() > 1 ? ", " : "") + std::string{name} + ": " + value;
}

} // namespace

std::string render_rule(const presentation_rule& r) {
  std::string out = "{";
  auto text = [&out](const char* name, const std::string& v) {
    if (!v.empty())
      field(out, name, yaml_quote(v));
  };
  text("how", r.how);
  text("type", r.type);
  text("color", r.color);
  text("icon", r.icon);
  if (r.team) {
    std::string t = "{";
    for (auto [name, v] : {std::pair{"name", &r.team->name},
                           {"role", &r.team->role},
                           {"endpoint", &r.team->endpoint}})
      if (!v->empty())
        field(t, name, yaml_quote(*v));
    field(out, "team", t + "}");
  }
  if (r.sensor) {
    auto& s = *r.sensor;
    std::string t = "{";
    for (auto [name, v] : {std::pair{"uid", &s.uid},
                           {"type", &s.type},
                           {"callsign", &s.callsign}})
      if (!v->empty())
        field(t, name, yaml_quote(*v));
    for (auto [name, v] : {std::pair{"lat", s.lat},
                           {"lon", s.lon},
                           {"hae", s.hae},
                           {"azimuth", s.azimuth},
                           {"fov", s.fov},
                           {"vfov", s.vfov},
                           {"range", s.range}})
      if (!std::isnan(v))
        field(t, name, number(v));
    field(out, "sensor", t + "}");
  }
  return out + "}";
}

} // namespace cotflow
