#pragma once

#include "pipeline/tak/protocol/cot_xml.hpp"
#include "pipeline/tak/protocol/tak_message.pb.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

/// TAK Protocol version 1 (ATAK's commoncommo protocol.txt): CoT events as
/// protobuf TakMessages, framed for a stream (`0xbf`, the payload's length
/// as a varint, the payload) or for a mesh datagram (`0xbf 0x01 0xbf`, the
/// payload), and the negotiation by which a stream connection that starts
/// in XML switches to it.
///
/// cotflow's events are CoT XML from the encoder to the parking topic; a
/// destination encodes each one for the connection it goes out on, so a
/// parked or resent event is written in whatever that connection speaks.
namespace cotflow::takp {

namespace pb = atakmap::commoncommo::protobuf::v1;

/// How events are written on one connection.
enum class wire_format : uint8_t {
  /// CoT XML, one event after another (TAK Protocol version 0).
  xml,
  /// Stream frames of TAK Protocol version 1.
  stream,
  /// Mesh datagrams of TAK Protocol version 1.
  mesh,
};

/// Converts one CoT XML event into `out` (cleared first). The detail
/// elements the protocol has a message for (contact, __group,
/// precisionlocation, status, takv, track) go into it when the whole
/// element fits, each only once; every other one goes, as written, into
/// xmlDetail. False with `err` when `xml` is not a CoT event this reads
/// (no uid, type, how or times, no point, numbers that are not numbers).
bool to_tak_message(std::string_view xml, pb::TakMessage& out,
                    std::string& err);

/// Appends `v` as an unsigned protobuf varint.
void append_varint(uint64_t v, std::string& out);

/// Encodes CoT XML events for a connection that speaks version 1. The
/// event is read by a reader kept for the next one, and its message built
/// in an arena that starts again for the next event: once warm, only the
/// characters of its strings longer than std::string holds in place (a
/// uid, xmlDetail) go to the heap, ~2 allocations per event (bench_codec).
class encoder {
public:
  encoder();
  ~encoder();
  encoder(const encoder&) = delete;
  encoder& operator=(const encoder&) = delete;

  /// Appends `xml` as a stream frame or a mesh datagram (per `format`,
  /// not xml) to `out`; with `control`, the message also says which
  /// versions cotflow decodes (a mesh sender must, at least once a
  /// minute). False with `err` (nothing appended) when to_tak_message
  /// fails.
  bool append(std::string_view xml, wire_format format, bool control,
              std::string& out, std::string& err);

private:
  std::unique_ptr<char[]> block_;
  std::unique_ptr<google::protobuf::Arena> arena_;
};

/// The negotiation messages a server sends on a stream connection.
struct server_message {
  enum class kind : uint8_t {
    /// t-x-takp-v: the versions the server offers (`versions`).
    offer,
    /// t-x-takp-r: its answer to cotflow's request (`accepted`).
    response,
  };
  kind what = kind::offer;
  /// The negotiation's uid, which the request repeats.
  std::string uid;
  std::vector<int> versions;
  bool accepted = false;
};

/// Finds the negotiation messages among the XML a server sends. Bytes go
/// in as they come; complete events are read and the rest waits for more.
/// At most 64 KiB of an unfinished event are kept.
class negotiation_reader {
public:
  /// Appends what the server sent and returns the first negotiation
  /// message in the events it completes, if any.
  std::optional<server_message> feed(std::string_view bytes);

  /// What was received and not read yet: after a "true" response, the
  /// start of the server's version 1 stream.
  const std::string& rest() const {
    return buffer_;
  }

  void clear() {
    buffer_.clear();
  }

private:
  std::string buffer_;
  cot_xml event_;
};

/// cotflow's request for version `version` in the negotiation `uid`
/// (t-x-takp-q), as CoT XML, at `now_ms`.
std::string protocol_request(std::string_view uid, int version, int64_t now_ms);

} // namespace cotflow::takp
