#include "pipeline/tak/protocol/cot_xml.hpp"

#include <charconv>
#include <cstdint>

namespace cotflow {

namespace {

constexpr int max_depth = 64;

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

bool is_name_char(char c) {
  return !is_space(c) && c != '/' && c != '>' && c != '=' && c != '<'
         && c != '"' && c != '\'';
}

bool references_ok(std::string_view raw) {
  if (raw.find('&') == std::string_view::npos)
    return true;
  thread_local std::string scratch;
  scratch.clear();
  return xml_unescape(raw, scratch);
}

/// Where a reader keeps what it reads at one level of nesting: asked for
/// each element there as soon as its name is read.
struct collector {
  /// Where that element's name, attributes and extent go (none: it is
  /// only checked).
  xml_element* keep = nullptr;
  /// Who keeps its children (none: they are only checked).
  collector* children = nullptr;

  virtual ~collector() = default;
  virtual collector& take(std::string_view tag) = 0;
};

/// A cursor over XML text; each reader advances `p` past what it read.
struct reader {
  std::string_view text;
  size_t p = 0;
  std::string& err;

  bool at_end() const {
    return p >= text.size();
  }

  bool starts(std::string_view s) const {
    return text.substr(p, s.size()) == s;
  }

  void skip_space() {
    while (!at_end() && is_space(text[p]))
      ++p;
  }

  bool fail(const std::string& why) {
    if (err.empty())
      err = why + " at byte " + std::to_string(p);
    return false;
  }

  /// Skips past `end`, which must follow.
  bool skip_past(std::string_view end, const char* what) {
    auto at = text.find(end, p);
    if (at == std::string_view::npos)
      return fail(std::string{"unterminated "} + what);
    p = at + end.size();
    return true;
  }

  /// At `<`: skips a comment, CDATA section or processing instruction and
  /// returns true; false (nothing skipped) when an element or end tag
  /// begins here. `ok` is cleared when the construct does not end.
  bool skip_markup(bool& ok) {
    if (starts("<!--"))
      ok = skip_past("-->", "comment");
    else if (starts("<![CDATA["))
      ok = skip_past("]]>", "CDATA section");
    else if (starts("<?"))
      ok = skip_past("?>", "processing instruction");
    else if (starts("<!"))
      ok = fail("a document type declaration is not allowed");
    else
      return false;
    return true;
  }

  std::string_view name() {
    auto from = p;
    while (!at_end() && is_name_char(text[p]))
      ++p;
    return text.substr(from, p - from);
  }

  /// Reads the element at `p` (which is at `<`), and its descendants;
  /// `level` (when there is one) says where it and they are kept.
  bool element(collector* level, int depth) {
    if (depth > max_depth)
      return fail("elements nested deeper than 64");
    auto from = p++;
    auto tag = name();
    if (tag.empty())
      return fail("an element without a name");
    xml_element* keep = nullptr;
    collector* below = nullptr;
    if (level) {
      auto& c = level->take(tag);
      keep = c.keep;
      below = c.children;
    }
    if (keep) {
      keep->name = tag;
      keep->attributes.clear();
    }
    for (;;) {
      bool spaced = !at_end() && is_space(text[p]);
      skip_space();
      if (at_end())
        return fail("unterminated tag <" + std::string{tag} + ">");
      if (starts("/>")) {
        p += 2;
        if (keep) {
          keep->inner = {};
          keep->whole = text.substr(from, p - from);
        }
        return true;
      }
      if (text[p] == '>') {
        ++p;
        break;
      }
      if (!spaced)
        return fail("attributes must be separated by white space");
      auto attr = name();
      skip_space();
      if (attr.empty() || at_end() || text[p] != '=')
        return fail("an attribute without a value in <" + std::string{tag}
                    + ">");
      ++p;
      skip_space();
      if (at_end() || (text[p] != '"' && text[p] != '\''))
        return fail("an attribute value without quotes");
      char quote = text[p++];
      auto end = text.find(quote, p);
      if (end == std::string_view::npos)
        return fail("an unterminated attribute value");
      auto raw = text.substr(p, end - p);
      if (raw.find('<') != std::string_view::npos)
        return fail("'<' in an attribute value");
      if (!references_ok(raw))
        return fail("an unknown entity or a bad character reference");
      if (keep)
        keep->attributes.push_back({attr, raw});
      p = end + 1;
    }
    auto inner_from = p;
    for (;;) {
      auto lt = text.find('<', p);
      if (lt == std::string_view::npos)
        return fail("element <" + std::string{tag} + "> does not end");
      if (!references_ok(text.substr(p, lt - p)))
        return fail("an unknown entity or a bad character reference");
      p = lt;
      bool ok = true;
      if (skip_markup(ok)) {
        if (!ok)
          return false;
        continue;
      }
      if (starts("</")) {
        auto inner_to = p;
        p += 2;
        auto closing = name();
        skip_space();
        if (closing != tag || at_end() || text[p] != '>')
          return fail("</" + std::string{closing} + "> does not close <"
                      + std::string{tag} + ">");
        ++p;
        if (keep) {
          keep->inner = text.substr(inner_from, inner_to - inner_from);
          keep->whole = text.substr(from, p - from);
        }
        return true;
      }
      if (!element(below, depth + 1))
        return false;
    }
  }
};

/// Reads the element siblings of `content` at the top level (depth 1)
/// into `level`.
bool read_level(std::string_view content, collector& level, std::string& err) {
  reader r{content, 0, err};
  for (;;) {
    auto lt = content.find('<', r.p);
    if (lt == std::string_view::npos)
      return true;
    r.p = lt;
    bool ok = true;
    if (r.skip_markup(ok)) {
      if (!ok)
        return false;
      continue;
    }
    if (r.starts("</"))
      return r.fail("an end tag without its start");
    if (!r.element(&level, 1))
      return false;
  }
}

void append_utf8(uint32_t cp, std::string& out) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

bool is_xml_char(uint32_t cp) {
  return cp == 0x9 || cp == 0xA || cp == 0xD || (cp >= 0x20 && cp <= 0xD7FF)
         || (cp >= 0xE000 && cp <= 0xFFFD) || (cp >= 0x10000 && cp <= 0x10FFFF);
}

} // namespace

const std::string_view* xml_element::find(std::string_view attr) const {
  for (auto& a : attributes)
    if (a.name == attr)
      return &a.raw;
  return nullptr;
}

bool read_elements(std::string_view content, std::vector<xml_element>& out,
                   std::string& err) {
  struct append final : collector {
    std::vector<xml_element>& out;
    explicit append(std::vector<xml_element>& out) : out(out) {}
    collector& take(std::string_view) override {
      keep = &out.emplace_back();
      return *this;
    }
  } level{out};
  return read_level(content, level, err);
}

bool read_cot_xml(std::string_view xml, cot_xml& out, std::string& err) {
  // Each detail child's attributes go back to the spares, to be filled
  // again without going to the heap.
  for (auto& el : out.detail)
    if (el.attributes.capacity() != 0)
      out.spare_attributes.push_back(std::move(el.attributes));
  out.detail.clear();
  out.has_point = false;

  // One pass over the document: <event> and its children kept, <point>'s
  // attributes and <detail>'s children too, everything checked. What is
  // not <point> or <detail> under <event> is remembered, and refused only
  // once the whole document is known to be well-formed.
  struct detail_children final : collector {
    cot_xml& out;
    explicit detail_children(cot_xml& out) : out(out) {}
    collector& take(std::string_view) override {
      keep = &out.detail.emplace_back();
      if (!out.spare_attributes.empty()) {
        keep->attributes = std::move(out.spare_attributes.back());
        out.spare_attributes.pop_back();
      }
      return *this;
    }
  } in_detail{out};
  struct event_children final : collector {
    cot_xml& out;
    detail_children& in_detail;
    std::string_view stray;
    event_children(cot_xml& out, detail_children& in_detail)
      : out(out), in_detail(in_detail) {}
    collector& take(std::string_view tag) override {
      keep = nullptr;
      children = nullptr;
      if (tag == "point" && !out.has_point) {
        out.has_point = true;
        keep = &out.point;
      } else if (tag == "detail") {
        children = &in_detail;
      } else if (stray.empty()) {
        stray = tag;
      }
      return *this;
    }
  } in_event{out, in_detail};
  struct top_level final : collector {
    cot_xml& out;
    event_children& in_event;
    size_t count = 0;
    bool event_first = false;
    top_level(cot_xml& out, event_children& in_event)
      : out(out), in_event(in_event) {}
    collector& take(std::string_view tag) override {
      keep = nullptr;
      children = nullptr;
      if (count++ == 0 && tag == "event") {
        event_first = true;
        keep = &out.event;
        children = &in_event;
      }
      return *this;
    }
  } top{out, in_event};
  if (!read_level(xml, top, err))
    return false;
  if (top.count != 1 || !top.event_first) {
    err = "not one <event> element";
    return false;
  }
  if (!in_event.stray.empty()) {
    err = "<event> holds <" + std::string{in_event.stray}
          + ">: only <point> and <detail> belong there";
    return false;
  }
  return true;
}

bool xml_unescape(std::string_view raw, std::string& out) {
  for (size_t i = 0; i < raw.size();) {
    auto amp = raw.find('&', i);
    out.append(raw.substr(i, amp == std::string_view::npos ? amp : amp - i));
    if (amp == std::string_view::npos)
      return true;
    auto semi = raw.find(';', amp);
    if (semi == std::string_view::npos)
      return false;
    auto ref = raw.substr(amp + 1, semi - amp - 1);
    i = semi + 1;
    if (ref == "amp") {
      out += '&';
    } else if (ref == "lt") {
      out += '<';
    } else if (ref == "gt") {
      out += '>';
    } else if (ref == "quot") {
      out += '"';
    } else if (ref == "apos") {
      out += '\'';
    } else if (ref.size() > 1 && ref[0] == '#') {
      bool hex = ref[1] == 'x';
      auto digits = ref.substr(hex ? 2 : 1);
      uint32_t cp = 0;
      auto [end, ec] = std::from_chars(
        digits.data(), digits.data() + digits.size(), cp, hex ? 16 : 10);
      if (digits.empty() || ec != std::errc{}
          || end != digits.data() + digits.size() || !is_xml_char(cp))
        return false;
      append_utf8(cp, out);
    } else {
      return false;
    }
  }
  return true;
}

void append_with_detail(std::string_view xml, std::string_view extra,
                        std::string& out, std::string_view dests) {
  auto close = xml.rfind("</detail>");
  // Markup in an event is never text: attribute values and text have '<'
  // escaped, so "<marti>" and "</marti>" are the element's tags.
  auto marti = dests.empty() ? std::string_view::npos : xml.find("<marti>");
  auto marti_end = marti == std::string_view::npos
                     ? marti
                     : xml.find("</marti>", marti);
  if (close != std::string_view::npos && marti_end != std::string_view::npos
      && marti_end < close) {
    out.append(xml.substr(0, marti + 7));
    out.append(dests);
    out.append(xml.substr(marti_end, close - marti_end));
    out.append(extra);
    out.append(xml.substr(close));
    return;
  }
  std::string joined;
  if (!dests.empty()) {
    joined.reserve(dests.size() + extra.size() + 15);
    joined.append("<marti>").append(dests).append("</marti>").append(extra);
    extra = joined;
  }
  if (close != std::string_view::npos) {
    out.append(xml.substr(0, close));
    out.append(extra);
    out.append(xml.substr(close));
    return;
  }
  auto empty = xml.rfind("<detail/>");
  auto end = empty != std::string_view::npos ? empty : xml.rfind("</event>");
  if (end == std::string_view::npos) {
    out.append(xml); // not an event cotflow wrote: left as it is
    return;
  }
  out.append(xml.substr(0, end));
  out.append("<detail>");
  out.append(extra);
  out.append("</detail>");
  out.append(xml.substr(empty != std::string_view::npos ? end + 9 : end));
}

} // namespace cotflow
