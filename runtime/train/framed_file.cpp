#include "runtime/train/framed_file.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/stubs/logging.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>

#include "graphrun/error.h"

namespace graphrun {
namespace {

void append_le(std::string& out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out += static_cast<char>((value >> (8 * i)) & 0xff);
}

uint64_t read_le(std::string_view in, size_t at, int bytes) {
  uint64_t value = 0;
  for (int i = 0; i < bytes; ++i) value |= uint64_t{static_cast<unsigned char>(in[at + i])} << (8 * i);
  return value;
}

uint32_t crc32_update(uint32_t crc, std::string_view bytes) {
  return static_cast<uint32_t>(::crc32_z(crc, reinterpret_cast<const Bytef*>(bytes.data()), bytes.size()));
}

uint32_t crc32_of(std::string_view bytes) {
  return crc32_update(static_cast<uint32_t>(::crc32_z(0, nullptr, 0)), bytes);
}

std::string frame_header(const FrameFormat& format, uint64_t payload_size, uint32_t payload_crc) {
  std::string header(format.magic);
  append_le(header, format.version, 4);
  append_le(header, payload_size, 8);
  append_le(header, payload_crc, 4);
  return header;
}

// Writes all of `bytes` at `offset`, retrying interrupted and short writes.
bool write_all_at(int fd, std::string_view bytes, off_t offset) {
  while (!bytes.empty()) {
    const ssize_t n = ::pwrite(fd, bytes.data(), bytes.size(), offset);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
    offset += n;
  }
  return true;
}

// Makes a rename into the directory of `path` durable; best effort (some file systems refuse).
void sync_directory_of(const std::string& path) {
  const std::filesystem::path dir = std::filesystem::path(path).parent_path();
  const int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

// The next `bytes` bytes of `in`, read into a string of that size.
std::string read_bytes(std::ifstream& in, uint64_t bytes, const std::string& path, const FrameFormat& format) {
  std::string out(static_cast<size_t>(bytes), '\0');
  if (!in.read(out.data(), static_cast<std::streamsize>(out.size())))
    throw Error(fmt::format("{}: cannot read {}", path, format.what));
  return out;
}

// Where a framed file's payload is, its header checked.
struct PayloadLocation {
  std::ifstream in;             // at the payload's first byte
  uint64_t length = 0;          // of the payload
  std::optional<uint32_t> crc;  // none for a bare payload
};

PayloadLocation locate_payload(const std::string& path, const FrameFormat& format) {
  if (std::filesystem::is_directory(path)) throw Error(fmt::format("{}: is a directory, not a {}", path, format.what));
  PayloadLocation payload;
  std::ifstream& in = payload.in;
  in.open(path, std::ios::binary | std::ios::ate);
  if (!in) throw Error(fmt::format("{}: cannot open {}", path, format.what));
  const auto size = static_cast<uint64_t>(in.tellg());
  in.seekg(0);
  if (size == 0) throw Error(fmt::format("{}: truncated: the file is empty", path));
  const std::string header = read_bytes(in, std::min<uint64_t>(size, kFrameHeaderSize), path, format);
  if (header.substr(0, format.magic.size()) != format.magic.substr(0, header.size())) {
    if (!format.accept_bare_payload)
      throw Error(fmt::format("{}: not a graphrun {} (wrong magic: it does not start with \"{}\")", path, format.what,
                              format.magic));
    in.seekg(0);
    payload.length = size;
    return payload;
  }
  if (size < kFrameHeaderSize)
    throw Error(
        fmt::format("{}: truncated: {} bytes, the {} header alone is {}", path, size, format.what, kFrameHeaderSize));
  const uint64_t version = read_le(header, 4, 4);
  if (version != format.version)
    throw Error(fmt::format("{}: {} format {} (this graphrun reads format {}){}", path, format.what, version,
                            format.version, version > format.version ? ": written by a newer graphrun" : ""));
  // The length is checked against the file before the payload is allocated: a header claiming more is refused.
  const uint64_t length = read_le(header, 8, 8);
  const uint64_t stored = size - kFrameHeaderSize;
  if (stored < length)
    throw Error(
        fmt::format("{}: truncated: {} bytes, the {} header says {}", path, size, format.what,
                    std::min(length, std::numeric_limits<uint64_t>::max() - kFrameHeaderSize) + kFrameHeaderSize));
  if (stored > length) throw Error(fmt::format("{}: checksum mismatch: the file is corrupt", path));
  payload.length = length;
  payload.crc = static_cast<uint32_t>(read_le(header, 16, 4));
  return payload;
}

void check_crc(const PayloadLocation& payload, uint32_t crc, const std::string& path) {
  if (payload.crc && crc != *payload.crc) throw Error(fmt::format("{}: checksum mismatch: the file is corrupt", path));
}

// A payload read piece by piece, its CRC taken on the way.
class PayloadStream : public google::protobuf::io::CopyingInputStream {
 public:
  explicit PayloadStream(PayloadLocation& payload) : payload_(payload), remaining_(payload.length) {}

  int Read(void* buffer, int size) override {
    const auto n = static_cast<size_t>(std::min<uint64_t>(static_cast<uint64_t>(size), remaining_));
    if (n == 0) return 0;
    if (!payload_.in.read(static_cast<char*>(buffer), static_cast<std::streamsize>(n))) {
      failed_ = true;
      return -1;
    }
    crc_ = crc32_update(crc_, std::string_view(static_cast<const char*>(buffer), n));
    remaining_ -= n;
    return static_cast<int>(n);
  }

  // Reads what the parse left, so the CRC covers the whole payload.
  void read_to_end() {
    std::string rest(std::min<uint64_t>(remaining_, 1 << 20), '\0');
    while (remaining_ > 0 && Read(rest.data(), static_cast<int>(rest.size())) > 0) {
    }
  }
  bool failed() const { return failed_; }
  uint32_t crc() const { return crc_; }

 private:
  PayloadLocation& payload_;
  uint64_t remaining_;
  uint32_t crc_ = crc32_of({});
  bool failed_ = false;
};

}  // namespace

void write_framed_file(const std::string& path, const FrameFormat& format, std::string_view payload) {
  write_framed_file(path, format, [&](const PayloadSink& sink) { return sink(payload); });
}

void write_framed_file(const std::string& path, const FrameFormat& format,
                       const std::function<bool(const PayloadSink&)>& write_payload) {
  const std::string temp = path + ".tmp";
  struct File {
    int fd;
    ~File() {
      if (fd >= 0) ::close(fd);
    }
  };
  const File file{::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)};
  if (file.fd < 0) throw Error(fmt::format("{}: cannot write {}: {}", temp, format.what, std::strerror(errno)));
  uint64_t size = 0;
  auto crc = static_cast<uint32_t>(::crc32_z(0, nullptr, 0));
  const PayloadSink sink = [&](std::string_view piece) {
    const auto at = static_cast<off_t>(kFrameHeaderSize + size);
    size += piece.size();
    crc = crc32_update(crc, piece);
    return write_all_at(file.fd, piece, at);
  };
  // The payload goes after the space left for the header, which goes in last. Flushed
  // to disk before the rename makes it the file.
  errno = 0;
  const bool written =
      write_payload(sink) && write_all_at(file.fd, frame_header(format, size, crc), 0) && ::fsync(file.fd) == 0;
  if (!written) throw Error(fmt::format("{}: cannot write {}: {}", temp, format.what, std::strerror(errno)));
  std::error_code ec;
  std::filesystem::rename(temp, path, ec);
  if (ec) throw Error(fmt::format("{}: cannot replace {}: {}", path, format.what, ec.message()));
  sync_directory_of(path);
}

bool parse_payload(std::string_view payload, google::protobuf::MessageLite& message) {
  if (payload.size() > static_cast<size_t>(std::numeric_limits<int>::max())) return false;
  const google::protobuf::LogSilencer quiet;
  return message.ParseFromArray(payload.data(), static_cast<int>(payload.size()));
}

std::string read_framed_file(const std::string& path, const FrameFormat& format) {
  PayloadLocation payload = locate_payload(path, format);
  std::string bytes = read_bytes(payload.in, payload.length, path, format);
  check_crc(payload, crc32_of(bytes), path);
  return bytes;
}

bool parse_framed_file(const std::string& path, const FrameFormat& format,
                       const std::function<bool(google::protobuf::io::CodedInputStream&)>& parse) {
  PayloadLocation payload = locate_payload(path, format);
  PayloadStream stream(payload);
  bool parsed = false;
  if (payload.length <= static_cast<uint64_t>(std::numeric_limits<int>::max())) {  // protobuf's limit
    // Blocks of up to 1 MB; a small file gets a buffer of its own size, not a 1 MB allocation.
    const auto block = static_cast<int>(std::clamp<uint64_t>(payload.length, 4096, 1 << 20));
    google::protobuf::io::CopyingInputStreamAdaptor blocks(&stream, block);
    google::protobuf::io::CodedInputStream in(&blocks);
    in.PushLimit(static_cast<int>(payload.length));
    const google::protobuf::LogSilencer quiet;
    parsed = parse(in);
  }
  stream.read_to_end();
  if (stream.failed()) throw Error(fmt::format("{}: cannot read {}", path, format.what));
  check_crc(payload, stream.crc(), path);
  return parsed;
}

}  // namespace graphrun
