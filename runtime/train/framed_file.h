// Files holding one serialized protobuf message behind a 20-byte header, so a
// flipped byte or a cut file is an error naming the file, never wrong values.
// The header (little-endian) is
//
//   magic    4 bytes, the kind of file ("GRCK" checkpoint, "GRBN" model bundle)
//   u32      format version
//   u64      length of the payload that follows
//   u32      CRC-32 (zlib) of the payload
//
// Writes are atomic: the file goes to "<path>.tmp", is fsynced and then renamed
// over <path>, so a crash mid-write never loses the previous one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/message_lite.h>

namespace graphrun {

inline constexpr size_t kFrameHeaderSize = 20;

struct FrameFormat {
  std::string_view magic;  // 4 bytes
  uint32_t version = 1;
  std::string_view what;  // names the kind of file in errors: "checkpoint", "bundle"
  // A file not starting with the magic is the bare payload (written before the header existed), not an error.
  bool accept_bare_payload = false;
};

void write_framed_file(const std::string& path, const FrameFormat& format, std::string_view payload);

// Takes the next piece of a payload; false when it could not be written.
using PayloadSink = std::function<bool(std::string_view piece)>;
// The framed file whose payload `write_payload` gives, in pieces, to the sink it is
// passed (returning false on a failure): for payloads too large to hold twice. The
// header goes in last, into the space left for it, when the length and CRC are known.
void write_framed_file(const std::string& path, const FrameFormat& format,
                       const std::function<bool(const PayloadSink&)>& write_payload);

// Parses a framed file's payload into `message`; false when it does not parse.
// Protobuf's own log line about the fault (a string that is not UTF-8, say) is
// silenced: the caller's Error is the one line the user sees.
bool parse_payload(std::string_view payload, google::protobuf::MessageLite& message);

// The payload of the framed file at `path`. The header is checked before the
// payload is allocated (magic, version, the length against the file's size), then
// the CRC: any fault is an Error naming the file and what is wrong.
std::string read_framed_file(const std::string& path, const FrameFormat& format);

// What `parse` says of the payload of the framed file at `path`, read from a stream
// limited to the payload as `parse` consumes it: for payloads too large to hold
// twice. The checks and errors are read_framed_file's; the CRC is checked after the
// parse, over the whole payload however much of it `parse` read, and a mismatch is
// the error whatever `parse` said. Protobuf's own log lines are silenced, as in
// parse_payload.
bool parse_framed_file(const std::string& path, const FrameFormat& format,
                       const std::function<bool(google::protobuf::io::CodedInputStream& payload)>& parse);

}  // namespace graphrun
