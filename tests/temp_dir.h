// Where tests write files. Every path is under one directory of the test process's
// own, named by its process id, so two checkouts running their suites at once (and
// ctest's parallel processes) never write to the same path.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <system_error>

namespace graphrun::testing {

// graphrun_test_<pid> in gtest's temp directory: made empty at first use, removed when the process exits.
inline const std::filesystem::path& process_temp_dir() {
  struct OwnDirectory {
    std::filesystem::path path =
        std::filesystem::path(::testing::TempDir()) / ("graphrun_test_" + std::to_string(::getpid()));
    OwnDirectory() {
      std::filesystem::remove_all(path);  // left by an earlier process with the same id
      std::filesystem::create_directories(path);
    }
    ~OwnDirectory() {
      std::error_code ignored;
      std::filesystem::remove_all(path, ignored);
    }
  };
  static const OwnDirectory directory;
  return directory.path;
}

// `name` in process_temp_dir().
inline std::string temp_path(const std::string& name) { return (process_temp_dir() / name).string(); }

// temp_path(name) with nothing there: what an earlier test of the process left at that name is removed.
inline std::string fresh_temp_path(const std::string& name) {
  const std::string path = temp_path(name);
  std::filesystem::remove_all(path);
  return path;
}

}  // namespace graphrun::testing
