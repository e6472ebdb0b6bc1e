#include "graphrun/data/text_file.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <map>
#include <system_error>

#include <fmt/format.h>

#include "graphrun/error.h"

namespace graphrun::data {
namespace {

constexpr unsigned kChunkSize = 1u << 18;

gzFile open_gz(const std::string& path) {
  // gzopen does not tell a directory from a file; reading one fails later
  // with an obscure message, so reject it here.
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    throw Error(fmt::format("{}: cannot open: is a directory", path));
  }
  errno = 0;
  gzFile file = gzopen(path.c_str(), "rb");
  if (file == nullptr) {
    const char* reason = errno != 0 ? std::strerror(errno) : "out of memory";
    throw Error(fmt::format("{}: cannot open: {}", path, reason));
  }
  gzbuffer(file, kChunkSize);
  return file;
}

// gzread reports a truncated stream as a short read with Z_BUF_ERROR set,
// and other damage as -1; both must become an Error, not silent short data.
void check_gz_state(gzFile file, const std::string& path) {
  int code = Z_OK;
  const char* message = gzerror(file, &code);
  if (code == Z_BUF_ERROR) {
    throw Error(fmt::format("{}: truncated gzip data", path));
  }
  if (code == Z_ERRNO) {
    throw Error(fmt::format("{}: read error: {}", path, std::strerror(errno)));
  }
  if (code != Z_OK) {
    throw Error(fmt::format("{}: corrupt gzip data: {}", path, message));
  }
}

// Reads up to kChunkSize bytes and appends them to `out`; returns the count.
std::size_t read_chunk(gzFile file, const std::string& path, std::string& out) {
  const std::size_t old_size = out.size();
  out.resize(old_size + kChunkSize);
  const int got = gzread(file, out.data() + old_size, kChunkSize);
  out.resize(old_size + static_cast<std::size_t>(std::max(got, 0)));
  if (got <= 0) check_gz_state(file, path);
  return static_cast<std::size_t>(std::max(got, 0));
}

}  // namespace

std::string read_text_file(const std::string& path) {
  std::unique_ptr<gzFile_s, int (*)(gzFile)> file(open_gz(path), gzclose);
  std::string text;
  while (read_chunk(file.get(), path, text) > 0) {
  }
  return text;
}

void LineReader::GzCloser::operator()(void* file) const { gzclose(static_cast<gzFile>(file)); }

LineReader::LineReader(const std::string& path) : path_(path), file_(open_gz(path)) {}

LineReader::~LineReader() = default;

bool LineReader::fill() {
  if (eof_) return false;
  // Drop the consumed prefix so the buffer holds at most one partial line.
  buffer_.erase(0, pos_);
  pos_ = 0;
  if (read_chunk(static_cast<gzFile>(file_.get()), path_, buffer_) == 0) eof_ = true;
  return !eof_;
}

bool LineReader::next(std::string& line) {
  line.clear();
  std::size_t newline = buffer_.find('\n', pos_);
  while (newline == std::string::npos) {
    // fill() moves the unread bytes to the front; skip those already searched.
    const std::size_t searched = buffer_.size() - pos_;
    if (!fill()) break;
    newline = buffer_.find('\n', searched);
  }
  if (newline == std::string::npos) {
    if (pos_ >= buffer_.size()) return false;  // end of file
    newline = buffer_.size();                  // last line, no final newline
  }
  line.assign(buffer_, pos_, newline - pos_);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  pos_ = std::min(newline + 1, buffer_.size());
  ++line_number_;
  return true;
}

namespace {

// "<stem>.part<digits><ext>" -> part number, or 0 if `name` is not such a part.
long part_number(const std::string& name, const std::string& prefix, const std::string& ext) {
  if (name.size() <= prefix.size() + ext.size()) return 0;
  if (name.compare(0, prefix.size(), prefix) != 0) return 0;
  if (name.compare(name.size() - ext.size(), ext.size(), ext) != 0) return 0;
  const char* first = name.data() + prefix.size();
  const char* last = name.data() + name.size() - ext.size();
  long number = 0;
  auto [end, ec] = std::from_chars(first, last, number);
  if (ec != std::errc() || end != last) return 0;
  return number;
}

}  // namespace

std::vector<std::string> part_files(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::exists(path, ec)) return {path};

  const fs::path p(path);
  const fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
  const std::string prefix = p.stem().string() + ".part";
  const std::string ext = p.extension().string();

  std::map<long, std::string> parts;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (long n = part_number(name, prefix, ext); n > 0) {
      parts[n] = (p.has_parent_path() ? (dir / name).string() : name);
    }
  }
  if (parts.empty() || parts.begin()->first != 1) {
    throw Error(
        fmt::format("{}: no such file, and no part 1 ({}01{})", path, (p.parent_path() / prefix).string(), ext));
  }
  std::vector<std::string> files;
  long expected = 1;
  for (const auto& [number, file] : parts) {
    if (number != expected) {
      throw Error(fmt::format("{}: part {} is missing (found part {})", path, expected, number));
    }
    files.push_back(file);
    ++expected;
  }
  return files;
}

}  // namespace graphrun::data
