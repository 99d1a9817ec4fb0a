#include "pipeline/codec/cloudtak.hpp"

#include "pipeline/codec/xml_text.hpp"
#include "pipeline/core/json.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <initializer_list>
#include <string>

namespace cotflow::cloudtak {

namespace {

using result = std::optional<refusal>;
using json = rapidjson::Value;

result refuse(refusal_reason r, std::string detail) {
  return refusal{r, std::move(detail)};
}

/// Most elements of a list property (links, dest): a record is one track,
/// not a document.
constexpr size_t max_list = 64;
/// Longest code (geopointsrc, altsrc), as the decoder's flat fields.
constexpr size_t max_code = 64;

// Properties that become one detail element each: the property, the
// element and the attributes cotflow copies (the ones node-CoT and ATAK
// write; others are ignored, as unknown members are everywhere else).
struct element_rule {
  const char* property;
  const char* element;
  std::initializer_list<const char*> attributes;
};

const element_rule group_rule{"group", "__group", {"name", "role"}};
const element_rule status_rule{"status", "status", {"battery", "readiness"}};
const element_rule takv_rule{
  "takv", "takv", {"device", "platform", "os", "version", "appid"}};
const element_rule milsym_rule{"milsym", "__milsym", {"id"}};
const element_rule milicon_rule{"milicon", "__milicon", {"id"}};
const element_rule link_rule{"links",
                             "link",
                             {"uid", "type", "relation", "url", "point",
                              "callsign", "remarks", "mime", "production_time",
                              "parent_callsign"}};
const element_rule dest_rule{
  "dest", "dest", {"callsign", "uid", "group", "mission", "mission-guid"}};
const element_rule mission_rule{
  "mission", "mission", {"type", "guid", "tool", "name", "authorUid"}};
const element_rule contact_rule{
  "contact",
  "contact",
  {"phone", "endpoint", "emailAddress", "xmppUsername", "sipAddress"}};
const element_rule precision_rule{
  "precisionlocation", "precisionlocation", {"geopointsrc", "altsrc"}};

// Every property this reader reads (is_property); the decoder reads the
// rest of a Feature's properties itself.
constexpr const char* properties[] = {
  "group",          "status",
  "takv",           "milsym",
  "milicon",        "links",
  "dest",           "mission",
  "contact",        "precisionlocation",
  "icon",           "marker-color",
  "marker-opacity", "archived",
  "stroke",         "stroke-opacity",
  "stroke-width",   "stroke-style",
  "fill",           "fill-opacity",
  "labels",         "center",
};

/// "properties.group.name" and the like, for refusals.
std::string where(const char* property, const char* member = nullptr,
                  int index = -1) {
  std::string s = "properties.";
  s += property;
  if (index >= 0) {
    s += '[';
    s += std::to_string(index);
    s += ']';
  }
  if (member) {
    s += '.';
    s += member;
  }
  return s;
}

/// Text as an attribute keeps it: what XML cannot carry becomes U+FFFD,
/// and it is cut at the text limit (both counted in `d`).
void keep_text(std::string& s, detection& d, const limits& lim) {
  d.replaced_chars += static_cast<uint32_t>(xml_text::replace_flaws(s));
  d.truncated_fields += xml_text::truncate(s, lim.max_text) ? 1 : 0;
}

/// A scalar as attribute text: text as it is, a number as JSON writes it
/// (shortest form), true or false. Null: nothing (false). Anything else is
/// refused.
result scalar_text(const json& v, const std::string& name, std::string& out,
                   bool& given) {
  given = false;
  if (v.IsNull())
    return std::nullopt;
  if (v.IsString()) {
    out.assign(v.GetString(), v.GetStringLength());
  } else if (v.IsBool()) {
    out = v.GetBool() ? "true" : "false";
  } else if (v.IsInt64()) {
    out = std::to_string(v.GetInt64());
  } else if (v.IsNumber()) {
    double x = v.GetDouble();
    if (!std::isfinite(x))
      return refuse(refusal_reason::non_finite, name);
    char buf[32];
    auto end = std::to_chars(buf, buf + sizeof buf, x).ptr;
    out.assign(buf, end);
  } else {
    return refuse(refusal_reason::wrong_type,
                  name + " must be text, a number, true or false");
  }
  given = true;
  return std::nullopt;
}

/// The attributes of `rule` that object `v` gives, in the rule's order.
result read_attributes(const json& v, const element_rule& rule,
                       const std::string& name, std::vector<xml_attr>& out,
                       detection& d, const limits& lim) {
  if (!v.IsObject())
    return refuse(refusal_reason::wrong_type, name + " must be an object");
  for (const char* attr : rule.attributes) {
    auto m = v.FindMember(attr);
    if (m == v.MemberEnd())
      continue;
    std::string text;
    bool given;
    if (auto r = scalar_text(m->value, name + "." + attr, text, given))
      return r;
    if (!given)
      continue;
    keep_text(text, d, lim);
    out.push_back({attr, std::move(text)});
  }
  return std::nullopt;
}

/// One element of `rule` from object `v`.
result read_element(const json& v, const element_rule& rule,
                    const std::string& name, detail_element& out, detection& d,
                    const limits& lim) {
  out.name = rule.element;
  return read_attributes(v, rule, name, out.attrs, d, lim);
}

/// An object or a list of objects (dest), or a list (links): each an
/// element of `rule`, at most max_list.
result read_list(const json& v, const element_rule& rule, bool one_allowed,
                 std::vector<detail_element>& out, detection& d,
                 const limits& lim) {
  if (one_allowed && v.IsObject()) {
    out.emplace_back();
    return read_element(v, rule, where(rule.property), out.back(), d, lim);
  }
  if (!v.IsArray())
    return refuse(refusal_reason::wrong_type,
                  where(rule.property)
                    + (one_allowed ? " must be an object or a list of them"
                                   : " must be a list of objects"));
  if (v.Size() > max_list)
    return refuse(refusal_reason::out_of_range,
                  where(rule.property) + " has more than "
                    + std::to_string(max_list) + " entries");
  for (rapidjson::SizeType i = 0; i < v.Size(); ++i) {
    out.emplace_back();
    if (auto r = read_element(
          v[i], rule, where(rule.property, nullptr, static_cast<int>(i)),
          out.back(), d, lim))
      return r;
  }
  return std::nullopt;
}

/// properties.mission: <mission> with its <missionLayer> of text elements.
result read_mission(const json& v, detail_element& out, detection& d,
                    const limits& lim) {
  if (auto r = read_element(v, mission_rule, where("mission"), out, d, lim))
    return r;
  auto layer = v.FindMember("missionLayer");
  if (layer == v.MemberEnd() || layer->value.IsNull())
    return std::nullopt;
  auto name = where("mission", "missionLayer");
  if (!layer->value.IsObject())
    return refuse(refusal_reason::wrong_type, name + " must be an object");
  detail_element ml{"missionLayer", {}, {}, {}};
  for (const char* part : {"name", "parentUid", "type", "uid"}) {
    auto m = layer->value.FindMember(part);
    if (m == layer->value.MemberEnd())
      continue;
    std::string text;
    bool given;
    if (auto r = scalar_text(m->value, name + "." + part, text, given))
      return r;
    if (!given)
      continue;
    keep_text(text, d, lim);
    ml.children.push_back({part, {}, {}, std::move(text)});
  }
  out.children.push_back(std::move(ml));
  return std::nullopt;
}

/// A colour: "#RRGGBB" or "#RGB" (opaque), or an ARGB integer as ATAK
/// writes it (signed or not).
result read_colour(const json& v, const char* property, uint32_t& argb) {
  if (v.IsInt64()) {
    auto i = v.GetInt64();
    if (i < INT32_MIN || i > UINT32_MAX)
      return refuse(refusal_reason::out_of_range,
                    where(property) + " is not a 32-bit ARGB colour");
    argb = static_cast<uint32_t>(i);
    return std::nullopt;
  }
  auto bad = [&] {
    return refuse(refusal_reason::wrong_type,
                  where(property)
                    + " must be #RRGGBB, #RGB or an ARGB integer");
  };
  if (!v.IsString())
    return bad();
  std::string_view s{v.GetString(), v.GetStringLength()};
  if (s.size() != 7 && s.size() != 4)
    return bad();
  if (s[0] != '#')
    return bad();
  uint32_t rgb = 0;
  for (char c : s.substr(1)) {
    int x = c >= '0' && c <= '9'   ? c - '0'
            : c >= 'a' && c <= 'f' ? c - 'a' + 10
            : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                   : -1;
    if (x < 0)
      return bad();
    rgb = rgb << 4 | static_cast<uint32_t>(x);
    if (s.size() == 4) // #RGB: each digit twice
      rgb = rgb << 4 | static_cast<uint32_t>(x);
  }
  argb = 0xFF000000u | rgb;
  return std::nullopt;
}

/// An opacity in [0, 1] sets the colour's alpha.
result read_opacity(const json& v, const char* property, uint32_t& argb) {
  if (v.IsNull())
    return std::nullopt;
  if (!v.IsNumber())
    return refuse(refusal_reason::wrong_type,
                  where(property) + " must be a number");
  double o = v.GetDouble();
  if (!std::isfinite(o))
    return refuse(refusal_reason::non_finite, where(property));
  if (o < 0 || o > 1)
    return refuse(refusal_reason::out_of_range,
                  where(property) + " outside [0, 1]");
  auto alpha = static_cast<uint32_t>(std::lround(o * 255));
  argb = (argb & 0x00FFFFFFu) | alpha << 24;
  return std::nullopt;
}

/// A colour property and its opacity property; `argb` keeps its value
/// when neither is given. Whether either was.
result read_styled_colour(const json& props, const char* colour,
                          const char* opacity, uint32_t& argb, bool& given) {
  given = false;
  auto c = props.FindMember(colour);
  if (c != props.MemberEnd() && !c->value.IsNull()) {
    if (auto r = read_colour(c->value, colour, argb))
      return r;
    given = true;
  }
  auto o = props.FindMember(opacity);
  if (o != props.MemberEnd() && !o->value.IsNull()) {
    if (auto r = read_opacity(o->value, opacity, argb))
      return r;
    given = true;
  }
  return std::nullopt;
}

/// [lon, lat, hae?] within the globe; `clamped` (when given) lets a hae
/// out of range be set to the nearest end of it, marked there.
result read_position(const json& v, const std::string& name, double& lat,
                     double& lon, double* hae, uint8_t* clamped = nullptr) {
  if (!v.IsArray() || v.Size() < 2 || v.Size() > 3)
    return refuse(refusal_reason::wrong_type,
                  name + " must be [lon, lat, hae?]");
  for (rapidjson::SizeType i = 0; i < v.Size(); ++i) {
    if (!v[i].IsNumber())
      return refuse(refusal_reason::wrong_type,
                    name + " must be [lon, lat, hae?]");
    if (!std::isfinite(v[i].GetDouble()))
      return refuse(refusal_reason::non_finite, name);
  }
  lon = v[0].GetDouble();
  lat = v[1].GetDouble();
  if (lat < -90 || lat > 90 || lon < -180 || lon > 180)
    return refuse(refusal_reason::out_of_range,
                  name + " outside lat [-90, 90], lon [-180, 180]");
  if (hae && v.Size() == 3) {
    *hae = v[2].GetDouble();
    if (*hae < -20000 || *hae > 9999999) {
      if (!clamped)
        return refuse(refusal_reason::out_of_range,
                      name + " hae outside [-20000, 9999999]");
      *hae = *hae < -20000 ? -20000 : 9999999;
      *clamped |= clamped_hae;
    }
  }
  return std::nullopt;
}

/// A list of positions: a LineString's coordinates or a Polygon's ring.
result read_positions(const json& v, const std::string& name, size_t least,
                      detection& d, const limits& lim) {
  if (!v.IsArray())
    return refuse(refusal_reason::wrong_type,
                  name + " must be a list of [lon, lat, hae?]");
  if (v.Size() < least)
    return refuse(refusal_reason::wrong_type, name + " needs at least "
                                                + std::to_string(least)
                                                + " positions");
  if (v.Size() > lim.max_vertices)
    return refuse(refusal_reason::out_of_range,
                  name + " has " + std::to_string(v.Size())
                    + " positions, more than cot.max_vertices ("
                    + std::to_string(lim.max_vertices) + ")");
  auto& out = d.shape.vertices;
  out.reserve(v.Size() + 1);
  for (rapidjson::SizeType i = 0; i < v.Size(); ++i) {
    double lat, lon;
    if (auto r = read_position(v[i], name + "[" + std::to_string(i) + "]", lat,
                               lon, nullptr))
      return r;
    out.emplace_back(lat, lon);
  }
  return std::nullopt;
}

/// The geometry of a drawing, its style and its point.
result read_drawing(const json& geometry, const json* props, detection& d,
                    const limits& lim) {
  std::string_view type{geometry["type"].GetString(),
                        geometry["type"].GetStringLength()};
  auto coords = geometry.FindMember("coordinates");
  if (coords == geometry.MemberEnd())
    return refuse(refusal_reason::missing_field, "geometry.coordinates");
  auto& s = d.shape;
  if (type == "LineString") {
    s.shape = drawing::shape_t::line;
    if (auto r = read_positions(coords->value, "geometry.coordinates", 2, d,
                                lim))
      return r;
  } else {
    s.shape = drawing::shape_t::polygon;
    const auto& rings = coords->value;
    if (!rings.IsArray() || rings.Empty())
      return refuse(refusal_reason::wrong_type,
                    "geometry.coordinates must be a list of rings");
    if (rings.Size() > 1)
      return refuse(refusal_reason::unsupported_geometry,
                    "Polygon with holes (TAK draws only an outer ring)");
    if (auto r = read_positions(rings[0], "geometry.coordinates[0]", 3, d, lim))
      return r;
    // RFC 7946 rings end where they start; one that does not is closed
    // here, as every map closes it.
    auto& v = s.vertices;
    if (v.front() != v.back()) {
      if (v.size() + 1 > lim.max_vertices)
        return refuse(refusal_reason::out_of_range,
                      "geometry.coordinates[0] has more positions than "
                      "cot.max_vertices once closed");
      v.push_back(v.front());
    }
    // A ring of fewer than three different positions encloses nothing.
    std::vector<std::pair<double, double>> distinct{v.begin(), v.end() - 1};
    std::sort(distinct.begin(), distinct.end());
    if (std::unique(distinct.begin(), distinct.end()) - distinct.begin() < 3)
      return refuse(refusal_reason::wrong_type,
                    "geometry.coordinates[0] needs 3 different positions");
  }
  // simplestyle-spec's defaults, which GeoJSON viewers draw too: #555555
  // lines 2 pixels wide, polygons filled at 0.6. A line is never filled:
  // TAK would fill one that ends where it starts.
  uint32_t stroke = 0xFF555555u;
  uint32_t fill = s.shape == drawing::shape_t::polygon ? 0x99555555u : 0u;
  s.stroke_width = 2;
  s.stroke_style = "solid";
  if (props) {
    bool given;
    if (auto r = read_styled_colour(*props, "stroke", "stroke-opacity", stroke,
                                    given))
      return r;
    // A line's fill is checked as a polygon's, then left out.
    if (auto r = read_styled_colour(*props, "fill", "fill-opacity", fill,
                                    given))
      return r;
    if (s.shape == drawing::shape_t::line)
      fill = 0;
    auto w = props->FindMember("stroke-width");
    if (w != props->MemberEnd() && !w->value.IsNull()) {
      if (!w->value.IsNumber())
        return refuse(refusal_reason::wrong_type,
                      where("stroke-width") + " must be a number");
      s.stroke_width = w->value.GetDouble();
      if (!std::isfinite(s.stroke_width))
        return refuse(refusal_reason::non_finite, where("stroke-width"));
      if (s.stroke_width < 0 || s.stroke_width > 100)
        return refuse(refusal_reason::out_of_range,
                      where("stroke-width") + " outside [0, 100]");
    }
    auto st = props->FindMember("stroke-style");
    if (st != props->MemberEnd() && !st->value.IsNull()) {
      std::string_view style{st->value.IsString() ? st->value.GetString() : "",
                             st->value.IsString() ? st->value.GetStringLength()
                                                  : 0};
      // ATAK's styles for drawn shapes.
      if (style != "solid" && style != "dashed" && style != "dotted"
          && style != "outlined")
        return refuse(refusal_reason::wrong_type,
                      where("stroke-style")
                        + " must be solid, dashed, dotted or outlined");
      s.stroke_style.assign(style);
    }
    auto labels = props->FindMember("labels");
    if (labels != props->MemberEnd() && !labels->value.IsNull()) {
      if (!labels->value.IsBool())
        return refuse(refusal_reason::wrong_type,
                      where("labels") + " must be true or false");
      s.labels = labels->value.GetBool() ? 1 : 0;
    }
  }
  s.stroke_argb = static_cast<int32_t>(stroke);
  s.fill_argb = static_cast<int32_t>(fill);
  // The point that stands for the drawing (where its label and the
  // event's point are): properties.center when given.
  if (props) {
    auto c = props->FindMember("center");
    if (c != props->MemberEnd() && !c->value.IsNull())
      return read_position(c->value, where("center"), d.lat, d.lon, &d.hae,
                           lim.clamp ? &d.clamped : nullptr);
  }
  const auto& v = s.vertices;
  if (s.shape == drawing::shape_t::line) {
    d.lat = v[v.size() / 2].first;
    d.lon = v[v.size() / 2].second;
  } else {
    // A ring across the antimeridian (longitudes more than 180 degrees
    // apart) is averaged with its western longitudes moved east by 360,
    // so that its point is on it, not on the other side of the globe.
    double west = 180, east = -180;
    for (auto& p : v) {
      west = std::min(west, p.second);
      east = std::max(east, p.second);
    }
    bool across = east - west > 180;
    double lat = 0, lon = 0;
    for (size_t i = 0; i + 1 < v.size(); ++i) { // the ring's end is its start
      lat += v[i].first;
      lon += across && v[i].second < 0 ? v[i].second + 360 : v[i].second;
    }
    d.lat = lat / static_cast<double>(v.size() - 1);
    d.lon = lon / static_cast<double>(v.size() - 1);
    if (d.lon > 180)
      d.lon -= 360;
  }
  return std::nullopt;
}

/// The element properties of `props`, in a fixed order.
result read_elements(const json& props, detection& d, const limits& lim) {
  auto member = [&](const char* name) -> const json* {
    auto m = props.FindMember(name);
    return m != props.MemberEnd() && !m->value.IsNull() ? &m->value : nullptr;
  };
  auto& out = d.extra_detail;
  if (auto v = member("contact"))
    if (auto r = read_attributes(*v, contact_rule, where("contact"),
                                 d.contact_attrs, d, lim))
      return r;
  if (auto v = member("precisionlocation")) {
    // The flat geopointsrc and altsrc fields, when given, come first.
    std::vector<xml_attr> attrs;
    if (auto r = read_attributes(*v, precision_rule, where("precisionlocation"),
                                 attrs, d, lim))
      return r;
    for (auto& a : attrs) {
      // Codes, limited as the flat fields are.
      if (a.value.size() > max_code)
        return refuse(refusal_reason::out_of_range,
                      where("precisionlocation", a.name) + " longer than "
                        + std::to_string(max_code));
      auto& field = std::strcmp(a.name, "geopointsrc") == 0 ? d.geopointsrc
                                                            : d.altsrc;
      if (field.empty())
        field = std::move(a.value);
    }
  }
  for (const auto* rule :
       {&group_rule, &status_rule, &takv_rule, &milsym_rule, &milicon_rule}) {
    if (auto v = member(rule->property)) {
      out.emplace_back();
      if (auto r = read_element(*v, *rule, where(rule->property), out.back(), d,
                                lim))
        return r;
      if (out.back().attrs.empty())
        out.pop_back(); // nothing cotflow writes: no empty element
    }
  }
  if (auto v = member("links")) {
    auto first = out.size();
    if (auto r = read_list(*v, link_rule, false, out, d, lim))
      return r;
    // TAK reads every <link point> of a drawing as a vertex: a link with a
    // point would add a spike to the shape.
    if (d.shape.shape != drawing::shape_t::none)
      for (auto i = first; i < out.size(); ++i)
        for (auto& a : out[i].attrs)
          if (std::strcmp(a.name, "point") == 0)
            return refuse(refusal_reason::wrong_type,
                          where("links", "point", static_cast<int>(i - first))
                            + " on a drawing (TAK would take it for a "
                              "vertex)");
  }
  if (auto v = member("dest")) {
    detail_element marti{"marti", {}, {}, {}};
    if (auto r = read_list(*v, dest_rule, true, marti.children, d, lim))
      return r;
    if (!marti.children.empty())
      out.push_back(std::move(marti));
  }
  if (auto v = member("mission")) {
    out.emplace_back();
    if (auto r = read_mission(*v, out.back(), d, lim))
      return r;
  }
  if (auto v = member("archived")) {
    if (!v->IsBool())
      return refuse(refusal_reason::wrong_type,
                    where("archived") + " must be true or false");
    if (v->GetBool())
      out.push_back({"archive", {}, {}, {}});
  }
  if (auto v = member("icon")) {
    if (!v->IsString())
      return refuse(refusal_reason::wrong_type,
                    where("icon") + " must be text");
    std::string path{v->GetString(), v->GetStringLength()};
    // CloudTAK writes an icon as "iconset:group/name" for the web;
    // ATAK's iconsetpath has "/" there and names the file.
    if (path.find(':') != std::string::npos) {
      for (auto& c : path)
        if (c == ':')
          c = '/';
      if (path.size() < 4 || path.compare(path.size() - 4, 4, ".png") != 0)
        path += ".png";
    }
    keep_text(path, d, lim);
    if (!path.empty()) {
      out.push_back({"usericon", {{"iconsetpath", std::move(path)}}, {}, {}});
      d.has_icon = true;
    }
  }
  // A Point's colour; a drawing has its stroke and fill instead.
  if (d.shape.shape == drawing::shape_t::none) {
    uint32_t argb = 0xFFFFFFFFu;
    bool given;
    if (auto r = read_styled_colour(props, "marker-color", "marker-opacity",
                                    argb, given))
      return r;
    if (given) {
      out.push_back(
        {"color", {{"argb", argb_text(static_cast<int32_t>(argb))}}, {}, {}});
      d.has_color = true;
    }
  }
  return std::nullopt;
}

} // namespace

bool is_property(std::string_view name) {
  for (const char* p : properties)
    if (name == p)
      return true;
  return false;
}

bool is_drawing(std::string_view type) {
  return type == "LineString" || type == "Polygon";
}

std::string argb_text(int32_t argb) {
  return std::to_string(argb);
}

std::optional<refusal> read(std::string_view feature, detection& d,
                            const limits& lim) {
  // A copy ending in NUL: the end of the text for this parse as for the
  // decoder's (JSON has no raw NUL anywhere). Zero padding past it, as the
  // decoder's: RapidJSON's SIMD scans read whole 16-byte blocks.
  std::string text;
  text.reserve(feature.size() + 16);
  text.assign(feature);
  text.append(16, '\0');
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseValidateEncodingFlag
            | rapidjson::kParseNanAndInfFlag | rapidjson::kParseIterativeFlag>(
    text.c_str());
  if (doc.HasParseError() || !doc.IsObject())
    return refuse(refusal_reason::invalid_json, "the Feature read again");
  const json* props = nullptr;
  auto p = doc.FindMember("properties");
  if (p != doc.MemberEnd() && p->value.IsObject())
    props = &p->value;
  auto g = doc.FindMember("geometry");
  if (g != doc.MemberEnd() && g->value.IsObject()) {
    auto t = g->value.FindMember("type");
    if (t != g->value.MemberEnd() && t->value.IsString()
        && is_drawing({t->value.GetString(), t->value.GetStringLength()}))
      if (auto r = read_drawing(g->value, props, d, lim))
        return r;
  }
  if (props)
    return read_elements(*props, d, lim);
  return std::nullopt;
}

} // namespace cotflow::cloudtak
