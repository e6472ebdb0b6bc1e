#include "runtime/train/data_manifest.h"

#include <fmt/format.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "graphrun/png.h"
#include "runtime/train/text_dataset.h"

namespace graphrun {
namespace {

namespace fs = std::filesystem;

struct FileIdentity {
  uint32_t crc = 0;
  uint64_t size = 0;
};

// Size and CRC-32 of `path`; nothing when it cannot be read.
std::optional<FileIdentity> identity_of(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in || fs::is_directory(path)) return std::nullopt;
  FileIdentity id;
  uLong crc = ::crc32_z(0, nullptr, 0);
  std::vector<char> buffer(1 << 20);
  while (in.read(buffer.data(), static_cast<std::streamsize>(buffer.size())) || in.gcount() > 0) {
    const auto n = static_cast<size_t>(in.gcount());
    crc = ::crc32_z(crc, reinterpret_cast<const Bytef*>(buffer.data()), n);
    id.size += n;
  }
  id.crc = static_cast<uint32_t>(crc);
  return id;
}

}  // namespace

std::string data_manifest(const pb::DataConfig& config, const std::string& base_dir) {
  std::vector<std::string> files;
  const auto add = [&](const google::protobuf::RepeatedPtrField<std::string>& names) {
    for (const std::string& path : data_paths(names, base_dir)) {
      if (config.format() != pb::DataConfig::PNG_DIR) {
        files.push_back(path);
        continue;
      }
      const std::vector<std::string> images = list_png_dir(path);
      files.insert(files.end(), images.begin(), images.end());
    }
  };
  add(config.train());
  add(config.validation());
  add(config.test());
  for (const std::string& path : data_paths(config.word_vectors().file(), base_dir)) files.push_back(path);
  for (const pb::DataFeed& feed : config.feed()) {
    google::protobuf::RepeatedPtrField<std::string> arrays;
    for (const std::string& npy : {feed.train_npy(), feed.validation_npy(), feed.test_npy()})
      if (!npy.empty()) *arrays.Add() = npy;
    for (const std::string& path : data_paths(arrays, base_dir)) files.push_back(path);
  }
  std::string text;
  for (const std::string& path : files) {
    const std::optional<FileIdentity> id = identity_of(path);
    // Absolute: a resume from another directory, or through the run's model copy, reads the same files.
    if (id) text += fmt::format("{:08x} {} {}\n", id->crc, id->size, fs::absolute(path).lexically_normal().string());
  }
  return text;
}

std::optional<std::string> first_changed_file(const std::string& recorded) {
  std::istringstream lines(recorded);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream fields(line);
    std::string crc_hex, path;
    uint64_t size = 0;
    if (!(fields >> crc_hex >> size) || !std::getline(fields >> std::ws, path)) continue;
    const std::optional<FileIdentity> now = identity_of(path);
    if (!now) return fmt::format("{}: missing (it was read when the run started)", path);
    if (now->size != size) return fmt::format("{}: {} bytes, {} when the run started", path, now->size, size);
    if (fmt::format("{:08x}", now->crc) != crc_hex)
      return fmt::format("{}: its content changed since the run started (CRC-32 {:08x}, was {})", path, now->crc,
                         crc_hex);
  }
  return std::nullopt;
}

}  // namespace graphrun
