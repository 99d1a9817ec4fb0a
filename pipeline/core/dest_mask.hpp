#pragma once

#include <cstdint>

namespace cotflow {

/// Which destinations still owe an acknowledgement for one record, one bit
/// per destination.
using dest_mask = uint32_t;

/// Not a destination: set in an acknowledgement whose destination parked
/// the record (see parking_lot) rather than delivered it. A record that
/// completes with it is counted as parked.
inline constexpr dest_mask parked_bit = dest_mask{1} << 31;

/// Not a destination: set in an acknowledgement whose destination dropped
/// the record (stale by its write, not encodable for it) rather than
/// delivered it. A record that completes with it is counted as dropped at
/// a destination, not delivered.
inline constexpr dest_mask dropped_bit = dest_mask{1} << 30;

/// The marks an acknowledgement may carry besides its destination's bit:
/// what became of the record there. At most 30 destinations.
inline constexpr dest_mask outcome_bits = parked_bit | dropped_bit;

/// All bits of a record that waits for `n` destinations.
inline dest_mask all_destinations(unsigned n) {
  return n >= 32 ? ~dest_mask{0} : (dest_mask{1} << n) - 1;
}

} // namespace cotflow
