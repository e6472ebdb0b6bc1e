// What every fuzz target shares: the input as a file, for the readers that take
// a path (as the command line tool calls them), and the one expected outcome.
//
// The file is an anonymous in-memory file (memfd) reached as /proc/self/fd/N: each
// reader opens it afresh, and no fuzz input ever touches the disk.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "graphrun/error.h"

namespace graphrun::fuzz {

class InputFile {
 public:
  InputFile() : fd_(::memfd_create("graphrun-fuzz", 0)), path_("/proc/self/fd/" + std::to_string(fd_)) {
    if (fd_ < 0) {
      std::perror("memfd_create");
      std::abort();
    }
  }
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  // Replaces the file's content; returns its path.
  const std::string& write(std::string_view bytes) {
    if (::ftruncate(fd_, 0) != 0 ||
        ::pwrite(fd_, bytes.data(), bytes.size(), 0) != static_cast<ssize_t>(bytes.size())) {
      std::perror("writing the fuzz input file");
      std::abort();
    }
    return path_;
  }

 private:
  int fd_;
  std::string path_;
};

// One per target: the process runs many inputs one after another.
inline InputFile& input_file() {
  static InputFile file;
  return file;
}

inline std::string_view as_bytes(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// A graphrun::Error is the reader rejecting the input: the expected outcome for
// bad input. Anything else escaping (another exception, a crash, a sanitizer
// report, a hang, memory beyond -rss_limit_mb) is a finding.
template <typename Read>
void expect_error_or_success(Read&& read) {
  try {
    read();
  } catch (const graphrun::Error&) {
  }
}

}  // namespace graphrun::fuzz
