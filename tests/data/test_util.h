// Helpers for the graphrun_data tests: a scratch directory per test, writing
// plain and gzip files, and catching the message of a graphrun::Error.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include "graphrun/error.h"
#include "tests/temp_dir.h"

namespace graphrun::data::testing {

// A fresh directory, unique per test and process, removed at destruction.
class ScratchDir {
 public:
  ScratchDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = std::string("data_") + info->test_suite_name() + "_" + info->name();
    for (char& c : name) {
      if (c == '/') c = '_';
    }
    path_ = graphrun::testing::fresh_temp_path(name);
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  std::string file(const std::string& name) const { return (path_ / name).string(); }

  // Writes `content` byte for byte to `name`; returns the full path.
  std::string write(const std::string& name, const std::string& content) const {
    std::ofstream out(file(name), std::ios::binary);
    out << content;
    return file(name);
  }

  // Writes `content` gzip-compressed with zlib; returns the full path.
  std::string write_gz(const std::string& name, const std::string& content) const {
    gzFile gz = gzopen(file(name).c_str(), "wb");
    EXPECT_NE(gz, nullptr);
    if (gz != nullptr) {
      EXPECT_EQ(gzwrite(gz, content.data(), static_cast<unsigned>(content.size())), static_cast<int>(content.size()));
      EXPECT_EQ(gzclose(gz), Z_OK);
    }
    return file(name);
  }

 private:
  std::filesystem::path path_;
};

// The message of the graphrun::Error that `f` throws, or "<no error>".
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const graphrun::Error& e) {
    return e.what();
  }
  return "<no error>";
}

inline std::string fixture(const std::string& name) { return std::string(GRAPHRUN_DATA_FIXTURES) + "/" + name; }

}  // namespace graphrun::data::testing
