#pragma once

#include "config/config.hpp"
#include "pipeline/codec/presentation.hpp"
#include "pipeline/core/detection.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace cotflow {

/// What became of a detection at the encoder.
enum class encode_outcome : uint8_t {
  encoded,
  /// Its explicit stale time has passed.
  dropped_stale,
  /// Older than cot.max_age_s.
  dropped_too_old,
  /// Below cot.min_confidence with low_confidence = drop.
  dropped_low_confidence,
};

/// The stable wire name of an outcome ("dropped_stale", ...).
std::string_view to_string(encode_outcome o);

/// Appends `text` to `out` with the five XML special characters escaped and
/// control characters that XML 1.0 forbids replaced by U+FFFD.
void xml_escape(std::string_view text, std::string& out);

/// Appends `v` with `precision` decimals, as printf's %.*f writes it.
void append_fixed(std::string& out, double v, int precision);

/// Names looked up without regard to ASCII case (the type mappings). Where
/// two names differ only in case, the first added counts. A lookup compares
/// only with the names of the same length.
template <class V>
class iname_table {
public:
  void add(std::string_view name, V value) {
    if (find(name))
      return;
    if (by_length_.size() <= name.size())
      by_length_.resize(name.size() + 1);
    by_length_[name.size()].push_back({std::string{name}, std::move(value)});
  }

  /// The value of `name`, or null.
  const V* find(std::string_view name) const {
    if (name.size() >= by_length_.size())
      return nullptr;
    for (auto& e : by_length_[name.size()])
      if (same(e.name, name))
        return &e.value;
    return nullptr;
  }

private:
  static bool same(std::string_view a, std::string_view b) {
    for (size_t i = 0; i < a.size(); ++i)
      if (a[i] != b[i] && lower(a[i]) != lower(b[i]))
        return false;
    return true;
  }

  static char lower(char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
  }

  struct entry {
    std::string name;
    V value;
  };
  std::vector<std::vector<entry>> by_length_;
};

/// A TAK keepalive ping (type t-x-c-t) at `now_ms`, as TAK clients send it.
std::string ping_event(std::string_view uid, int64_t now_ms);

/// cotflow's identity on a new TAK connection (PyTAK sends one; some
/// servers, FreeTAKServer among them, take the first event as the client's
/// identity): a t-x-d-d event, which puts nothing on a map, with cotflow's
/// uid, its callsign in <contact> and <takv> naming cotflow `version`.
std::string hello_event(std::string_view uid, std::string_view callsign,
                        std::string_view version, int64_t now_ms);

/// Maps detections to CoT types and encodes CoT 2.0 XML events (SPEC §4).
class cot_encoder {
public:
  /// With `pres`, events get the presentation it configures (how, icon,
  /// colour, team, sensor link); without, they look as they always did.
  explicit cot_encoder(const cot_config& cfg,
                       const presentation_config& pres = {});

  /// The CoT type of a detection per the configured mapping.
  std::string cot_type(const detection& d) const;

  /// The stable uid of a detection: uid_prefix + source-id (or id).
  void uid(const detection& d, std::string& out) const;

  /// Encodes one event into `xml` (cleared first) at time `now_ms` (not
  /// from two threads at once: the presentation cache fills on use); its
  /// CoT type goes into `type` and its stale time (ms; 0 for a delete
  /// event, which never goes stale in transit) into `stale_ms` when given.
  encode_outcome encode(const detection& d, int64_t now_ms, std::string& xml,
                        std::string* type = nullptr,
                        int64_t* stale_ms = nullptr) const;

  /// Whether a presentation rule is configured (sensor events possible).
  bool presenting() const {
    return pres_.on();
  }

  /// The event of the sensor that made `d` (its source's rule places a
  /// sensor) into `xml` (cleared first), its uid, type and stale time, when
  /// this encoder has not written it for half its time to live (cot.stale_s
  /// or cot.stale_by_type of the sensor's type); false when it is not due.
  /// Call after encoding `d`: the sensor goes along with its detections.
  bool sensor_event(const detection& d, int64_t now_ms, std::string& xml,
                    std::string& uid, std::string& type, int64_t& stale_ms);

private:
  int64_t ttl_s(const std::string& type) const;

  cot_config cfg_;
  /// The configured mappings, looked up without regard to case.
  iname_table<char> affiliations_;
  iname_table<std::string> classifications_;
  /// Resolved per (source, type) on first use; mutable for that cache.
  presentation pres_;
};

} // namespace cotflow
