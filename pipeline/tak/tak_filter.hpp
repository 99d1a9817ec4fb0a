#pragma once

#include "pipeline/tak/url/url.hpp"

#include <string_view>

namespace cotflow {

/// True when a TAK destination's filter accepts an event of CoT `type` from
/// `source` (SPEC: by type prefix, affiliation or source; default all).
inline bool destination_accepts(const tak_url& u, std::string_view type,
                                std::string_view source) {
  if (!u.types.empty()) {
    bool any = false;
    for (auto& prefix : u.types)
      any = any
            || (type.substr(0, prefix.size()) == prefix
                && (type.size() == prefix.size()
                    || type[prefix.size()] == '-'));
    if (!any)
      return false;
  }
  if (!u.affiliations.empty()) {
    // The affiliation is the second component of atoms: a-h-G -> h.
    if (type.size() < 3 || type[0] != 'a' || type[1] != '-')
      return false;
    bool any = false;
    for (auto& a : u.affiliations)
      any = any || a[0] == type[2];
    if (!any)
      return false;
  }
  if (!u.sources.empty()) {
    bool any = false;
    for (auto& s : u.sources)
      any = any || s == source;
    if (!any)
      return false;
  }
  return true;
}

} // namespace cotflow
