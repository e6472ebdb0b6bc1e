// A run directory is safe: a checkpoint that was cut or changed on disk is an
// error naming it, while checkpoints from before the header load.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "graphrun/train.h"
#include "runtime/train/checkpoint.h"
#include "test_util.h"

namespace graphrun {
namespace {

namespace fs = std::filesystem;
const std::string kTinyModel = std::string(GRAPHRUN_SOURCE_DIR) + "/tests/runtime/models/tiny_text.pbtxt";
constexpr size_t kHeaderSize = 20;  // checkpoint.h: magic, version, length, CRC

std::string fresh_dir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("graphrun_run_dir_" + std::to_string(::getpid()) + "_" + name);
  fs::remove_all(dir);
  return dir.string();
}

TrainOptions quiet(const std::string& dir, int epochs) {
  TrainOptions o;
  o.run_dir = dir;
  o.quiet = true;
  o.epochs = epochs;
  return o;
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

// A finished two-epoch run of the tiny model; eval scores its best.ckpt.
std::string trained_run(const std::string& name) {
  const std::string dir = fresh_dir(name);
  train(kTinyModel, quiet(dir, 2));
  EXPECT_TRUE(fs::exists(dir + "/best.ckpt"));
  return dir;
}

std::string eval_command(const std::string& dir) { return "eval " + kTinyModel + " --checkpoint " + dir; }

TEST(Checkpoint, IsAHeaderThenTheProtobufBytes) {
  const std::string dir = trained_run("framed");
  const pb::Checkpoint checkpoint = read_checkpoint(dir + "/last.ckpt");
  const std::string file = testing::file_text(dir + "/last.ckpt");
  EXPECT_EQ(file.substr(0, 4), "GRCK");
  EXPECT_EQ(file.substr(kHeaderSize), checkpoint.SerializeAsString());
}

TEST(Checkpoint, FlippedBytesFailEvalWithOneLine) {
  const std::string dir = trained_run("flipped");
  std::string bytes = testing::file_text(dir + "/best.ckpt");
  ASSERT_GT(bytes.size(), 200u);
  for (size_t i = 0; i < 40; ++i) bytes[bytes.size() / 2 + i] ^= 0x5a;
  write_file(dir + "/best.ckpt", bytes);
  const testing::CliResult r = testing::cli(eval_command(dir));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.output, "graphrun: error: " + dir + "/best.ckpt: checksum mismatch: the file is corrupt\n");
}

TEST(Checkpoint, ATruncatedCheckpointFailsEvalWithOneLine) {
  const std::string dir = trained_run("truncated");
  const std::string bytes = testing::file_text(dir + "/best.ckpt");
  write_file(dir + "/best.ckpt", bytes.substr(0, bytes.size() / 2));
  const testing::CliResult r = testing::cli(eval_command(dir));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.output, "graphrun: error: " + dir + "/best.ckpt: truncated: " + std::to_string(bytes.size() / 2) +
                          " bytes, the checkpoint header says " + std::to_string(bytes.size()) + "\n");
  // Cut inside the header, or to nothing.
  for (size_t keep : {size_t{0}, size_t{2}, kHeaderSize - 1}) {
    write_file(dir + "/best.ckpt", bytes.substr(0, keep));
    try {
      read_checkpoint(dir + "/best.ckpt");
      ADD_FAILURE() << keep << " bytes loaded";
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()).rfind(dir + "/best.ckpt: truncated: ", 0), 0u) << e.what();
    }
  }
}

TEST(Checkpoint, OneWrittenBeforeTheHeaderStillLoads) {
  const std::string dir = trained_run("old_format");
  TrainOptions eval_options;
  eval_options.quiet = true;
  const EvalResult framed = evaluate(kTinyModel, dir, "test", eval_options);
  for (const char* name : {"/best.ckpt", "/last.ckpt"})
    write_file(dir + name, testing::file_text(dir + name).substr(kHeaderSize));
  EXPECT_EQ(evaluate(kTinyModel, dir, "test", eval_options).metrics, framed.metrics);
  EXPECT_EQ(read_checkpoint(dir + "/last.ckpt").epoch(), 2);
  TrainOptions resume = quiet(dir, 3);
  resume.resume = true;
  EXPECT_EQ(train(kTinyModel, resume).epochs.size(), 1u);
}

}  // namespace
}  // namespace graphrun
