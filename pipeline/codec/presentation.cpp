#include "pipeline/codec/presentation.hpp"

#include "pipeline/codec/cot_encoder.hpp"

#include <algorithm>
#include <cmath>

namespace cotflow {

namespace {

// CoT "how" codes (MITRE CoT 2.0 event schema, the how attribute's
// taxonomy): h-e human estimated, h-g-i-g-o as TAK clients write a point
// placed by hand, m-g GPS, m-i mensurated from imagery (a camera), m-f
// fused from several sources, m-r relayed from another system, m-p
// predicted by a tracker, m-c out of a configuration file (the sensor's
// own position, configured here).
constexpr const char* configured_how = "m-c";

/// ATAK's type for a sensor point: the one its sensor field-of-view tool
/// (SensorDetailHandler) draws a cone for without further marks.
constexpr const char* default_sensor_type = "b-m-p-s-p-loc";

/// ATAK's endpoint of a contact that is reached through the TAK server.
constexpr const char* default_endpoint = "*:-1:stcp";

/// Maps beyond this many types of one source start again: a record's own
/// type can be anything, the cache must not grow with it.
constexpr size_t max_cached_types = 512;

/// ` name="escaped value"`
void attr(std::string& out, const char* name, const std::string& value) {
  out += ' ';
  out += name;
  out += "=\"";
  xml_escape(value, out);
  out += '"';
}

void num_attr(std::string& out, const char* name, double v, int precision) {
  out += ' ';
  out += name;
  out += "=\"";
  append_fixed(out, v, precision);
  out += '"';
}

/// A source's sensor uid and type, with their defaults.
std::pair<std::string, std::string> sensor_id(const sensor_style& s,
                                              const std::string& source,
                                              const std::string& uid_prefix) {
  return {s.uid.empty() ? uid_prefix + "sensor-" + source : s.uid,
          s.type.empty() ? default_sensor_type : s.type};
}

/// Copies into `to` each field `from` sets.
void overlay(presentation_rule& to, const presentation_rule& from) {
  for (auto [t, f] : {std::pair{&to.how, &from.how},
                      {&to.type, &from.type},
                      {&to.color, &from.color},
                      {&to.icon, &from.icon}})
    if (!f->empty())
      *t = *f;
  if (from.team)
    to.team = from.team;
  if (from.sensor)
    to.sensor = from.sensor;
}

/// The pieces of XML a merged rule stands for.
event_style render(const presentation_rule& r, const std::string& source,
                   const std::string& uid_prefix) {
  event_style s;
  s.how = r.how;
  s.type = r.type;
  if (r.team) {
    attr(s.contact, "endpoint",
         r.team->endpoint.empty() ? default_endpoint : r.team->endpoint);
    s.group = "<__group";
    attr(s.group, "name", r.team->name);
    // TAK Protocol v1 and ATAK need both.
    attr(s.group, "role",
         r.team->role.empty() ? team_roles().front() : r.team->role);
    s.group += "/>";
  }
  if (!r.icon.empty()) {
    s.icon = "<usericon";
    attr(s.icon, "iconsetpath", r.icon);
    s.icon += "/>";
  }
  if (auto argb = argb_of(r.color)) {
    s.color = "<color argb=\"" + std::to_string(*argb) + "\"/>";
  }
  if (r.sensor) {
    auto [uid, type] = sensor_id(*r.sensor, source, uid_prefix);
    s.link = "<link";
    attr(s.link, "uid", uid);
    s.link += " relation=\"p-p\"";
    attr(s.link, "type", type);
    s.link += "/>";
  }
  return s;
}

sensor_event_parts sensor_parts(const sensor_style& s,
                                const std::string& source,
                                const std::string& uid_prefix) {
  sensor_event_parts p;
  std::tie(p.uid, p.type) = sensor_id(s, source, uid_prefix);
  p.head = "<event version=\"2.0\"";
  attr(p.head, "uid", p.uid);
  attr(p.head, "type", p.type);
  attr(p.head, "how", configured_how);
  p.body = "><point";
  num_attr(p.body, "lat", s.lat, 7);
  num_attr(p.body, "lon", s.lon, 7);
  num_attr(p.body, "hae", std::isnan(s.hae) ? 9999999.0 : s.hae, 1);
  p.body += " ce=\"9999999.0\" le=\"9999999.0\"/><detail><contact";
  attr(p.body, "callsign", s.callsign.empty() ? source : s.callsign);
  p.body += "/>";
  if (!std::isnan(s.azimuth) || !std::isnan(s.fov) || !std::isnan(s.vfov)
      || !std::isnan(s.range)) {
    // The attributes of ATAK's <sensor> detail (SensorDetailHandler):
    // azimuth (degrees true), fov and vfov (degrees, edge to edge), range
    // (metres); ATAK draws the cone when azimuth, fov and range are given.
    p.body += "<sensor";
    for (auto [name, v] : {std::pair{"azimuth", s.azimuth},
                           {"fov", s.fov},
                           {"vfov", s.vfov},
                           {"range", s.range}})
      if (!std::isnan(v))
        num_attr(p.body, name, v, 1);
    p.body += "/>";
  }
  return p;
}

} // namespace

presentation::presentation(const presentation_config& cfg,
                           const std::string& uid_prefix)
  : uid_prefix_(uid_prefix), low_(cfg.low_confidence) {
  on_ = !cfg.sources.empty() || !cfg.types.empty()
        || !(cfg.low_confidence == presentation_rule{});
  for (auto& [name, rule] : cfg.sources) {
    auto& e = sources_[name];
    e.rule = rule;
    e.name = name;
    if (rule.sensor && rule.sensor->placed()) {
      e.sensor = static_cast<int>(sensors_.size());
      sensors_.push_back(sensor_parts(*rule.sensor, name, uid_prefix_));
    }
  }
  types_.assign(cfg.types.begin(), cfg.types.end());
  std::stable_sort(types_.begin(), types_.end(), [](auto& a, auto& b) {
    return a.first.size() > b.first.size();
  });
}

std::pair<event_style, event_style>
presentation::resolve(const source_entry& s, const std::string& type) const {
  presentation_rule merged;
  // The longest type prefix that ends at a dash or at the end.
  for (auto& [prefix, rule] : types_)
    if (type.compare(0, prefix.size(), prefix) == 0
        && (type.size() == prefix.size() || type[prefix.size()] == '-')) {
      merged = rule;
      break;
    }
  overlay(merged, s.rule); // the source's rule wins over the type's
  auto low = merged;
  overlay(low, low_);
  return {render(merged, s.name, uid_prefix_),
          render(low, s.name, uid_prefix_)};
}

const event_style& presentation::style(const std::string& source,
                                       const std::string& type,
                                       bool low_confidence) const {
  auto it = sources_.find(source);
  auto& s = it == sources_.end() ? others_ : it->second;
  auto t = s.by_type.find(type);
  if (t == s.by_type.end()) {
    if (s.by_type.size() >= max_cached_types)
      s.by_type.clear();
    t = s.by_type.emplace(type, resolve(s, type)).first;
  }
  return low_confidence ? t->second.second : t->second.first;
}

sensor_event_parts* presentation::sensor(const std::string& source) {
  auto it = sources_.find(source);
  if (it == sources_.end() || it->second.sensor < 0)
    return nullptr;
  return &sensors_[static_cast<size_t>(it->second.sensor)];
}

} // namespace cotflow
