#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace cotflow {

/// One attribute as it stands in the XML: `raw` is still escaped.
struct xml_attribute {
  std::string_view name;
  std::string_view raw;
};

/// One element, read without copying: its name, attributes, the text
/// between its tags (`inner`, empty for `<a/>`) and all of it (`whole`,
/// from `<` to the end of its closing tag).
struct xml_element {
  std::string_view name;
  std::vector<xml_attribute> attributes;
  std::string_view inner;
  std::string_view whole;

  /// The raw value of attribute `name`, or nothing.
  const std::string_view* find(std::string_view name) const;
};

/// A CoT event as read from its XML: the attributes of <event> and
/// <point>, and the children of <detail> in their order.
struct cot_xml {
  xml_element event;
  /// The event's <point>, when has_point (else what an earlier read left).
  xml_element point;
  bool has_point = false;
  std::vector<xml_element> detail;
  /// The attribute lists of the last event's detail children, kept for
  /// the next one's: a cot_xml read again and again stops allocating.
  std::vector<std::vector<xml_attribute>> spare_attributes;
};

/// Reads the element siblings of `content` (text, comments, CDATA and
/// processing instructions between them are skipped) into `out`, each with
/// its descendants checked but not collected. False with `err` when the
/// content is not well-formed XML as far as this reader checks: tags that
/// do not match or do not end, attributes without a quoted value, nesting
/// deeper than 64.
bool read_elements(std::string_view content, std::vector<xml_element>& out,
                   std::string& err);

/// Reads one CoT event (an optional `<?xml ...?>` prolog, then <event>)
/// in one pass, reusing what `out` holds from the last one. False with
/// `err` when it is not one.
bool read_cot_xml(std::string_view xml, cot_xml& out, std::string& err);

/// Appends the CoT event `xml` to `out` with `extra` (detail elements)
/// added at the end of its <detail>, which is made when the event has
/// none, and `dests` (<dest .../> elements of TAK Server's routing) as its
/// <marti>: a destination that routes decides where its events go, so the
/// event's own <marti> (a record's CloudTAK `dest`) gets these instead of
/// its own, which could widen the operator's routing; else a <marti> of
/// their own.
void append_with_detail(std::string_view xml, std::string_view extra,
                        std::string& out, std::string_view dests = {});

/// Appends the text of an attribute value or of character data: the five
/// predefined entities and numeric character references replaced. False
/// when a reference is unknown or not a character XML allows.
bool xml_unescape(std::string_view raw, std::string& out);

} // namespace cotflow
