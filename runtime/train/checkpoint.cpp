#include "runtime/train/checkpoint.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string_view>

#include "graph/shape.h"

namespace graphrun {
namespace {

constexpr std::string_view kMagic = "GRCK";
constexpr uint32_t kFormatVersion = 1;
constexpr size_t kHeaderSize = 20;  // magic, version, length, CRC

void append_le(std::string& out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out += static_cast<char>((value >> (8 * i)) & 0xff);
}

uint64_t read_le(std::string_view in, size_t at, int bytes) {
  uint64_t value = 0;
  for (int i = 0; i < bytes; ++i) value |= uint64_t{static_cast<unsigned char>(in[at + i])} << (8 * i);
  return value;
}

uint32_t crc32_of(std::string_view bytes) {
  return static_cast<uint32_t>(
      ::crc32_z(::crc32_z(0, nullptr, 0), reinterpret_cast<const Bytef*>(bytes.data()), bytes.size()));
}

std::string frame_header(std::string_view payload) {
  std::string header(kMagic);
  append_le(header, kFormatVersion, 4);
  append_le(header, payload.size(), 8);
  append_le(header, crc32_of(payload), 4);
  return header;
}

// The protobuf bytes of checkpoint file `file` at `path`: after the header,
// checked against its length and CRC; the whole file when it has no header.
std::string_view checkpoint_payload(const std::string& path, std::string_view file) {
  if (file.empty()) throw Error(fmt::format("{}: truncated: the file is empty", path));
  if (file.substr(0, kMagic.size()) != kMagic.substr(0, file.size())) return file;  // written before the header
  if (file.size() < kHeaderSize)
    throw Error(
        fmt::format("{}: truncated: {} bytes, the checkpoint header alone is {}", path, file.size(), kHeaderSize));
  const uint64_t version = read_le(file, 4, 4);
  if (version != kFormatVersion)
    throw Error(fmt::format("{}: checkpoint format {} (this graphrun reads format {})", path, version, kFormatVersion));
  const uint64_t length = read_le(file, 8, 8);
  const std::string_view payload = file.substr(kHeaderSize);
  if (payload.size() < length)
    throw Error(
        fmt::format("{}: truncated: {} bytes, the checkpoint header says {}", path, file.size(), kHeaderSize + length));
  if (payload.size() > length || crc32_of(payload) != read_le(file, 16, 4))
    throw Error(fmt::format("{}: checksum mismatch: the file is corrupt", path));
  return payload;
}

bool write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
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

}  // namespace

pb::NamedTensor to_named_tensor(const std::string& name, const Tensor& tensor) {
  pb::NamedTensor named;
  named.set_name(name);
  named.set_dtype(tensor.dtype() == DType::f32 ? pb::FLOAT32 : pb::INT64);
  for (int64_t d : tensor.dims()) named.add_dims(d);
  named.set_data(static_cast<const char*>(tensor.raw_data()), tensor.num_bytes());
  return named;
}

Tensor from_named_tensor(const pb::NamedTensor& named, const std::string& source) {
  const DType dtype = named.dtype() == pb::INT64 ? DType::i64 : DType::f32;
  const Dims dims(named.dims().begin(), named.dims().end());
  // The declared size is checked against the stored bytes before anything is allocated.
  const size_t bytes = checked_num_bytes(dtype, dims, fmt::format("{}: tensor '{}'", source, named.name()));
  if (named.data().size() != bytes)
    throw Error(fmt::format("{}: tensor '{}' holds {} bytes, its shape {} needs {}", source, named.name(),
                            named.data().size(), dims_str(dims), bytes));
  Tensor t(dtype, dims);
  std::memcpy(t.raw_data(), named.data().data(), bytes);
  return t;
}

void write_checkpoint(const std::string& path, const pb::Checkpoint& checkpoint) {
  std::string payload;
  if (!checkpoint.SerializeToString(&payload)) throw Error(fmt::format("{}: cannot serialize checkpoint", path));
  const std::string temp = path + ".tmp";
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw Error(fmt::format("{}: cannot write checkpoint: {}", temp, std::strerror(errno)));
  // Flushed to disk before the rename makes it the checkpoint.
  const bool written = write_all(fd, frame_header(payload)) && write_all(fd, payload) && ::fsync(fd) == 0;
  const int write_errno = errno;
  ::close(fd);
  if (!written) throw Error(fmt::format("{}: cannot write checkpoint: {}", temp, std::strerror(write_errno)));
  std::error_code ec;
  std::filesystem::rename(temp, path, ec);
  if (ec) throw Error(fmt::format("{}: cannot replace checkpoint: {}", path, ec.message()));
  sync_directory_of(path);
}

pb::Checkpoint read_checkpoint(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw Error(fmt::format("{}: cannot open checkpoint", path));
  std::string file(static_cast<size_t>(in.tellg()), '\0');
  in.seekg(0);
  if (!in.read(file.data(), static_cast<std::streamsize>(file.size())))
    throw Error(fmt::format("{}: cannot read checkpoint", path));
  const std::string_view payload = checkpoint_payload(path, file);
  pb::Checkpoint checkpoint;
  if (payload.size() > static_cast<size_t>(std::numeric_limits<int>::max()) ||
      !checkpoint.ParseFromArray(payload.data(), static_cast<int>(payload.size())) || checkpoint.version() != 1)
    throw Error(fmt::format("{}: not a graphrun checkpoint (corrupt or wrong version)", path));
  return checkpoint;
}

}  // namespace graphrun
