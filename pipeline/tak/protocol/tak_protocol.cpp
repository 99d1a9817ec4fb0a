#include "pipeline/tak/protocol/tak_protocol.hpp"

#include "pipeline/codec/cot_encoder.hpp"
#include "pipeline/core/time.hpp"

#include <charconv>
#include <initializer_list>

namespace cotflow::takp {

namespace {

/// Epoch ms of an RFC 3339 attribute value.
bool time_value(const xml_element& el, std::string_view name, uint64_t& out) {
  auto raw = el.find(name);
  if (!raw)
    return false;
  auto ms = parse_rfc3339(*raw);
  if (!ms || *ms < 0)
    return false;
  out = static_cast<uint64_t>(*ms);
  return true;
}

bool number(std::string_view raw, double& out) {
  while (!raw.empty() && (raw.front() == ' ' || raw.front() == '+'))
    raw.remove_prefix(1);
  while (!raw.empty() && raw.back() == ' ')
    raw.remove_suffix(1);
  auto [end, ec] = std::from_chars(raw.data(), raw.data() + raw.size(), out);
  return ec == std::errc{} && end == raw.data() + raw.size() && !raw.empty();
}

bool number_value(const xml_element& el, std::string_view name, double& out) {
  auto raw = el.find(name);
  return raw && number(*raw, out);
}

/// The unescaped value of attribute `name` into `out`; false when absent
/// or not decodable.
bool text_value(const xml_element& el, std::string_view name,
                std::string* out) {
  auto raw = el.find(name);
  if (!raw)
    return false;
  out->clear();
  return xml_unescape(*raw, *out);
}

/// Whether `el` has exactly the attributes `required` plus any of
/// `optional`, and nothing between its tags: only then does it fit its
/// message whole.
bool fits(const xml_element& el,
          std::initializer_list<std::string_view> required,
          std::initializer_list<std::string_view> optional = {}) {
  if (!el.inner.empty())
    return false;
  size_t found = 0;
  for (auto& a : el.attributes) {
    bool known = false;
    for (auto r : required)
      known = known || a.name == r;
    if (known) {
      ++found;
      continue;
    }
    for (auto o : optional)
      known = known || a.name == o;
    if (!known)
      return false;
  }
  // Attribute names are unique in well-formed XML.
  return found == required.size();
}

/// Fills the typed message of a detail element, when it has one and the
/// element fits it. False: the element goes into xmlDetail.
bool typed(const xml_element& el, pb::Detail& d) {
  auto& n = el.name;
  if (n == "contact") {
    if (!fits(el, {"callsign"}, {"endpoint"}))
      return false;
    auto c = d.mutable_contact();
    if (!text_value(el, "callsign", c->mutable_callsign()))
      return false;
    if (el.find("endpoint")
        && !text_value(el, "endpoint", c->mutable_endpoint()))
      return false;
    return true;
  }
  if (n == "__group") {
    auto g = d.mutable_group();
    return fits(el, {"name", "role"})
           && text_value(el, "name", g->mutable_name())
           && text_value(el, "role", g->mutable_role());
  }
  if (n == "precisionlocation") {
    auto p = d.mutable_precisionlocation();
    return fits(el, {"geopointsrc", "altsrc"})
           && text_value(el, "geopointsrc", p->mutable_geopointsrc())
           && text_value(el, "altsrc", p->mutable_altsrc());
  }
  if (n == "status") {
    auto raw = el.find("battery");
    uint32_t battery = 0;
    if (!fits(el, {"battery"}) || !raw)
      return false;
    auto [end, ec] = std::from_chars(raw->data(), raw->data() + raw->size(),
                                     battery);
    if (ec != std::errc{} || end != raw->data() + raw->size())
      return false;
    d.mutable_status()->set_battery(battery);
    return true;
  }
  if (n == "takv") {
    auto t = d.mutable_takv();
    return fits(el, {"device", "platform", "os", "version"})
           && text_value(el, "device", t->mutable_device())
           && text_value(el, "platform", t->mutable_platform())
           && text_value(el, "os", t->mutable_os())
           && text_value(el, "version", t->mutable_version());
  }
  if (n == "track") {
    double speed = 0, course = 0;
    if (!fits(el, {"speed", "course"}) || !number_value(el, "speed", speed)
        || !number_value(el, "course", course))
      return false;
    d.mutable_track()->set_speed(speed);
    d.mutable_track()->set_course(course);
    return true;
  }
  return false;
}

/// Clears what `typed` may have half filled for an element that did not
/// fit after all.
void untype(std::string_view name, pb::Detail& d) {
  if (name == "contact")
    d.clear_contact();
  else if (name == "__group")
    d.clear_group();
  else if (name == "precisionlocation")
    d.clear_precisionlocation();
  else if (name == "status")
    d.clear_status();
  else if (name == "takv")
    d.clear_takv();
  else if (name == "track")
    d.clear_track();
}

constexpr std::string_view typed_names[] = {
  "contact", "__group", "precisionlocation", "status", "takv", "track"};

bool has_message(std::string_view name) {
  for (auto n : typed_names)
    if (n == name)
      return true;
  return false;
}

/// The detail's children: each that has a message and appears once goes
/// into it when it fits; the rest, as written, into xmlDetail.
void fill_detail(const std::vector<xml_element>& children, pb::Detail& d) {
  for (auto& el : children) {
    bool once = true;
    if (has_message(el.name)) {
      size_t count = 0;
      for (auto& other : children)
        count += other.name == el.name;
      once = count == 1;
    }
    if (once && has_message(el.name) && typed(el, d))
      continue;
    untype(el.name, d);
    d.mutable_xmldetail()->append(el.whole);
  }
}

} // namespace

bool to_tak_message(std::string_view xml, pb::TakMessage& out,
                    std::string& err) {
  thread_local cot_xml parsed;
  out.Clear();
  if (!read_cot_xml(xml, parsed, err))
    return false;
  auto& ev = parsed.event;
  auto& e = *out.mutable_cotevent();
  uint64_t ms = 0;
  auto text = [&](std::string_view name, std::string* to, bool required) {
    if (!ev.find(name))
      return !required;
    return text_value(ev, name, to);
  };
  if (!text("uid", e.mutable_uid(), true)
      || !text("type", e.mutable_type(), true)
      || !text("how", e.mutable_how(), true)
      || !text("access", e.mutable_access(), false)
      || !text("qos", e.mutable_qos(), false)
      || !text("opex", e.mutable_opex(), false)) {
    err = "<event> lacks uid, type or how, or an attribute cannot be read";
    return false;
  }
  uint64_t start = 0, stale = 0;
  if (!time_value(ev, "time", ms) || !time_value(ev, "start", start)
      || !time_value(ev, "stale", stale)) {
    err = "<event>'s time, start or stale is missing or not RFC 3339";
    return false;
  }
  e.set_sendtime(ms);
  e.set_starttime(start);
  e.set_staletime(stale);
  if (!parsed.has_point) {
    err = "<event> has no <point>";
    return false;
  }
  auto& p = parsed.point;
  double v[5];
  if (!number_value(p, "lat", v[0]) || !number_value(p, "lon", v[1])
      || !number_value(p, "hae", v[2]) || !number_value(p, "ce", v[3])
      || !number_value(p, "le", v[4])) {
    err = "<point> lacks lat, lon, hae, ce or le, or one is not a number";
    return false;
  }
  e.set_lat(v[0]);
  e.set_lon(v[1]);
  e.set_hae(v[2]);
  e.set_ce(v[3]);
  e.set_le(v[4]);
  if (!parsed.detail.empty())
    fill_detail(parsed.detail, *e.mutable_detail());
  return true;
}

void append_varint(uint64_t v, std::string& out) {
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7F) | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
}

namespace {

constexpr size_t arena_block = 64 * 1024;

} // namespace

encoder::encoder() : block_(new char[arena_block]) {
  google::protobuf::ArenaOptions options;
  options.initial_block = block_.get();
  options.initial_block_size = arena_block;
  arena_ = std::make_unique<google::protobuf::Arena>(options);
}

encoder::~encoder() = default;

bool encoder::append(std::string_view xml, wire_format format, bool control,
                     std::string& out, std::string& err) {
  // What the last event left in the arena goes; its first block stays.
  arena_->Reset();
  auto& msg = *google::protobuf::Arena::CreateMessage<pb::TakMessage>(
    arena_.get());
  if (!to_tak_message(xml, msg, err))
    return false;
  if (control) {
    auto c = msg.mutable_takcontrol();
    c->set_minprotoversion(1);
    c->set_maxprotoversion(1);
  }
  auto size = msg.ByteSizeLong();
  if (format == wire_format::mesh) {
    out += "\xbf\x01\xbf";
  } else {
    out += '\xbf';
    append_varint(size, out);
  }
  auto at = out.size();
  out.resize(at + size);
  msg.SerializeWithCachedSizesToArray(
    reinterpret_cast<uint8_t*>(out.data() + at));
  return true;
}

std::optional<server_message> negotiation_reader::feed(std::string_view bytes) {
  constexpr size_t most = 64 * 1024;
  buffer_.append(bytes);
  constexpr std::string_view end_tag = "</event>";
  for (;;) {
    auto end = buffer_.find(end_tag);
    if (end == std::string::npos) {
      if (buffer_.size() > most)
        buffer_.erase(0, buffer_.size() - most);
      return std::nullopt;
    }
    end += end_tag.size();
    std::string_view one{buffer_.data(), end};
    std::string err;
    std::optional<server_message> found;
    // Other events (a server relays other clients' traffic) and what this
    // cannot read are passed over: only the negotiation matters here.
    if (one.find("t-x-takp-") != std::string_view::npos
        && read_cot_xml(one, event_, err)) {
      auto type = event_.event.find("type");
      auto uid = event_.event.find("uid");
      std::vector<xml_element> control, inner;
      for (auto& el : event_.detail)
        if (el.name == "TakControl")
          read_elements(el.inner, control, err);
      if (type && uid && (*type == "t-x-takp-v" || *type == "t-x-takp-r")) {
        server_message m;
        xml_unescape(*uid, m.uid);
        m.what = *type == "t-x-takp-v" ? server_message::kind::offer
                                       : server_message::kind::response;
        for (auto& el : control) {
          if (el.name == "TakProtocolSupport")
            if (auto ver = el.find("version")) {
              int n = 0;
              auto [p, ec] = std::from_chars(ver->data(),
                                             ver->data() + ver->size(), n);
              if (ec == std::errc{} && p == ver->data() + ver->size())
                m.versions.push_back(n);
            }
          if (el.name == "TakResponse")
            if (auto status = el.find("status"))
              m.accepted = *status == "true";
        }
        found = std::move(m);
      }
    }
    buffer_.erase(0, end);
    if (found)
      return found;
  }
}

std::string protocol_request(std::string_view uid, int version,
                             int64_t now_ms) {
  std::string xml = "<event version=\"2.0\" uid=\"";
  xml_escape(uid, xml);
  xml += "\" type=\"t-x-takp-q\" how=\"m-g\" time=\"";
  xml += rfc3339(now_ms);
  xml += "\" start=\"";
  xml += rfc3339(now_ms);
  xml += "\" stale=\"";
  xml += rfc3339(now_ms + 60000);
  xml += "\"><point lat=\"0.0\" lon=\"0.0\" hae=\"0.0\" ce=\"999999\" "
         "le=\"999999\"/><detail><TakControl><TakRequest version=\"";
  xml += std::to_string(version);
  xml += "\"/></TakControl></detail></event>";
  return xml;
}

} // namespace cotflow::takp
