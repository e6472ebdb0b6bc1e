// Helpers shared by the runtime tests.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "graphrun/tensor.h"
#include "graphrun/train.h"
#include "tests/temp_dir.h"

namespace graphrun::testing {

// A float32 [rows, cols] tensor of uniform values in [low, high), reproducible from `seed`.
inline Tensor random_matrix(int64_t rows, int64_t cols, uint32_t seed, float low = -1.f, float high = 1.f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(low, high);
  Tensor t(DType::f32, {rows, cols});
  for (float& v : t.values<float>()) v = dist(rng);
  return t;
}

// The graphrun command line run with `args`: its exit code and its output (stdout and stderr).
struct CliResult {
  int exit_code;
  std::string output;
};
inline CliResult cli(const std::string& args) {
  static int calls = 0;  // one file per call
  const std::string out_file = fresh_temp_path("cli_out_" + std::to_string(calls++) + ".txt");
  const int status = std::system((std::string(GRAPHRUN_CLI) + " " + args + " > " + out_file + " 2>&1").c_str());
  std::string text;
  {
    std::ifstream in(out_file);
    text.assign((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  std::filesystem::remove(out_file);
  return {WEXITSTATUS(status), text};
}

// The graphrun command line started with `args` in the background, its output
// discarded: its process id, for exit_code_of (or kill).
inline pid_t cli_in_background(const std::string& args) {
  const std::string command = "exec " + std::string(GRAPHRUN_CLI) + " " + args + " > /dev/null 2>&1";
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return pid;
}

// Waits for process `pid` to end: its exit code, or -1 when a signal ended it.
inline int exit_code_of(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// A version 1.0 .npy file with the header dict `header` (padded as NumPy pads
// it) and then `data_bytes` zero bytes: hostile files whose header lies.
inline void write_raw_npy(const std::string& path, const std::string& header, size_t data_bytes) {
  std::string padded = header;
  padded += std::string((64 - (10 + padded.size() + 1) % 64) % 64, ' ') + "\n";
  const char len[2] = {static_cast<char>(padded.size() & 0xff), static_cast<char>(padded.size() >> 8)};
  std::ofstream out(path, std::ios::binary);
  out << std::string("\x93NUMPY\x01\x00", 8) << std::string(len, 2) << padded << std::string(data_bytes, '\0');
}

inline std::string file_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Trains `model` for `epochs` epochs into run directory `straight`, and for
// `first` epochs into `resumed` and then resumed to `epochs` (given
// `resume_model`, e.g. the run directory's own model copy; default `model`):
// metrics.csv and the checkpoints must be byte-identical.
inline void expect_resume_equals_uninterrupted(const std::string& model, const std::string& straight,
                                               const std::string& resumed, int first, int epochs,
                                               const std::string& resume_model = "") {
  TrainOptions o;
  o.quiet = true;
  o.run_dir = straight;
  o.epochs = epochs;
  train(model, o);
  o.run_dir = resumed;
  o.epochs = first;
  train(model, o);
  o.resume = true;
  o.epochs = epochs;
  EXPECT_EQ(train(resume_model.empty() ? model : resume_model, o).epochs.size(), static_cast<size_t>(epochs - first));
  for (const char* file : {"metrics.csv", "last.ckpt", "best.ckpt"}) {
    const std::string a = straight + "/" + file, b = resumed + "/" + file;
    EXPECT_EQ(std::filesystem::exists(a), std::filesystem::exists(b)) << file;
    EXPECT_EQ(file_text(a), file_text(b)) << file;
  }
  EXPECT_FALSE(file_text(straight + "/last.ckpt").empty());
}

}  // namespace graphrun::testing
