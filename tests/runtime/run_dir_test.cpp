// A run directory is safe: one process writes it at a time (a second training is
// refused with one line naming the holder, and leaves every file as it was; a
// killed holder leaves no stale lock), and a checkpoint that was cut or changed
// on disk is an error naming it, while checkpoints from before the header load.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <thread>

#include "graphrun/train.h"
#include "runtime/train/checkpoint.h"
#include "runtime/train/named_tensor.h"
#include "runtime/train/framed_file.h"
#include "runtime/train/run_dir.h"
#include "test_util.h"

namespace graphrun {
namespace {

namespace fs = std::filesystem;
const std::string kTinyModel = std::string(GRAPHRUN_SOURCE_DIR) + "/tests/runtime/models/tiny_text.pbtxt";
constexpr size_t kHeaderSize = 20;  // checkpoint.h: magic, version, length, CRC

std::string fresh_dir(const std::string& name) { return testing::fresh_temp_path("run_dir_" + name); }

TrainOptions quiet(const std::string& dir, int epochs) {
  TrainOptions o;
  o.run_dir = dir;
  o.quiet = true;
  o.epochs = epochs;
  return o;
}

std::string train_command(const std::string& dir, int epochs, const std::string& more = "") {
  return "train " + kTinyModel + " --run-dir " + dir + " --no-progress --epochs " + std::to_string(epochs) + more;
}

// Every file in `dir` with its bytes.
std::map<std::string, std::string> snapshot(const std::string& dir) {
  std::map<std::string, std::string> files;
  for (const fs::directory_entry& e : fs::directory_iterator(dir))
    files[e.path().filename().string()] = testing::file_text(e.path().string());
  return files;
}

bool wait_until(const std::function<bool()>& condition) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

// Resuming `run` to `epochs` gives what an uninterrupted run of `epochs` gives.
void expect_resumes_like_an_uninterrupted_run(const std::string& run, int epochs) {
  const std::string straight = fresh_dir("uninterrupted");
  train(kTinyModel, quiet(straight, epochs));
  TrainOptions resume = quiet(run, epochs);
  resume.resume = true;
  train(kTinyModel, resume);
  for (const char* file : {"metrics.csv", "last.ckpt", "best.ckpt"})
    EXPECT_EQ(testing::file_text(run + "/" + file), testing::file_text(straight + "/" + file)) << file;
}

TEST(RunDirectoryLock, ResumingAMissingDirectoryCreatesNothing) {
  const std::string dir = fresh_dir("mistyped");
  const testing::CliResult r = testing::cli(train_command(dir, 1, " --resume"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.output, "graphrun: error: " + dir + "/last.ckpt: no checkpoint to resume from (no such run directory)\n");
  EXPECT_FALSE(fs::exists(dir));
}

TEST(RunDirectoryLock, ASecondTrainingIsRefusedWithOneLineAndTouchesNothing) {
  const std::string dir = fresh_dir("held");
  train(kTinyModel, quiet(dir, 2));
  const RunDirectory run(dir);
  {
    const RunDirectoryLock held = run.lock();
    const std::string holder = testing::file_text(run.lock_file());
    EXPECT_EQ(holder.rfind("pid " + std::to_string(::getpid()) + " on ", 0), 0u) << holder;
    EXPECT_NE(holder.find(" (graphrun train started 20"), std::string::npos) << holder;
    const std::map<std::string, std::string> before = snapshot(dir);
    for (const char* resume : {"", " --resume"}) {
      const testing::CliResult second = testing::cli(train_command(dir, 4, resume));
      EXPECT_EQ(second.exit_code, 1);
      EXPECT_EQ(second.output, "graphrun: error: " + dir + ": run directory is in use by " + holder);
    }
    EXPECT_EQ(snapshot(dir), before);
    EXPECT_THROW(static_cast<void>(run.lock()), Error);  // the same process is refused too
  }
  // Released with its holder: the run continues.
  expect_resumes_like_an_uninterrupted_run(dir, 4);
}

// Long enough that the second starts while the first trains.
constexpr int kLongEpochs = 20;

TEST(RunDirectoryLock, OfTwoConcurrentTrainingsOneRefusesAndTheOthersRunIsIntact) {
  const std::string dir = fresh_dir("concurrent");
  const pid_t first = testing::cli_in_background(train_command(dir, kLongEpochs));
  const std::string first_holder = "pid " + std::to_string(first) + " on ";
  const bool first_holds_the_lock =
      wait_until([&] { return testing::file_text(dir + "/.lock").rfind(first_holder, 0) == 0; });
  const testing::CliResult second = testing::cli(train_command(dir, kLongEpochs));
  EXPECT_EQ(testing::exit_code_of(first), 0);
  ASSERT_TRUE(first_holds_the_lock);
  EXPECT_EQ(second.exit_code, 1);
  EXPECT_EQ(second.output.rfind("graphrun: error: " + dir + ": run directory is in use by " + first_holder, 0), 0u)
      << second.output;
  EXPECT_EQ(std::count(second.output.begin(), second.output.end(), '\n'), 1) << second.output;
  expect_resumes_like_an_uninterrupted_run(dir, kLongEpochs + 2);
}

TEST(RunDirectoryLock, AHolderKilledWithSignal9LeavesNoStaleLock) {
  const std::string dir = fresh_dir("killed");
  const pid_t holder = testing::cli_in_background(train_command(dir, 100000));
  const bool checkpointed = wait_until([&] { return fs::exists(dir + "/last.ckpt"); });
  ::kill(holder, SIGKILL);
  EXPECT_EQ(testing::exit_code_of(holder), -1);
  ASSERT_TRUE(checkpointed);
  // The record of the dead holder stays; the lock went with it.
  EXPECT_EQ(testing::file_text(dir + "/.lock").rfind("pid " + std::to_string(holder) + " on ", 0), 0u);
  const testing::CliResult next = testing::cli(train_command(dir, 1, " --resume"));
  EXPECT_EQ(next.exit_code, 0) << next.output;
}

// The tiny model in `dir`, on a copy of its training texts there repeated
// `copies` times, without a test split, at batch size `batch`.
std::string tiny_model_on_own_data(const std::string& dir, int copies, int batch) {
  fs::create_directories(dir);
  const std::string texts =
      testing::file_text(std::string(GRAPHRUN_SOURCE_DIR) + "/examples/emojify/data/train_emoji.csv");
  std::string repeated;
  for (int i = 0; i < copies; ++i) repeated += texts;
  write_file(dir + "/train.csv", repeated);
  std::string model = testing::file_text(kTinyModel);
  for (const auto& [from, to] :
       {std::pair<std::string, std::string>{"../../../examples/emojify/data/train_emoji.csv", "train.csv"},
        {"    test: \"../../../examples/emojify/data/tesss.csv\"\n", ""},
        {"batch_size: 8", "batch_size: " + std::to_string(batch)}}) {
    const size_t at = model.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    model.replace(at, from.size(), to);
  }
  write_file(dir + "/model.pbtxt", model);
  return dir + "/model.pbtxt";
}

// 60 copies (6336 training examples) at batch size 1: an epoch long enough to be interrupted halfway.
std::string long_epoch_model(const std::string& dir) { return tiny_model_on_own_data(dir, 60, 1); }

// SIGINT or SIGTERM mid-epoch: the step under way finishes, last.ckpt records the
// epoch's progress, one line says so, the exit code is 128 + the signal, and
// --resume continues exactly as if training had never stopped.
TEST(RunDirectorySignals, AnInterruptedEpochIsCheckpointedAndResumesExactly) {
  const std::string model = long_epoch_model(fresh_dir("long_epoch_model"));
  const std::string straight = fresh_dir("never_interrupted");
  train(model, quiet(straight, 2));
  for (const int signal : {SIGINT, SIGTERM}) {
    const std::string dir = fresh_dir("interrupted_" + std::to_string(signal));
    const pid_t trainer =
        testing::cli_in_background("train " + model + " --run-dir " + dir + " --no-progress --epochs 2");
    // The log's first line comes once the data is read: epoch 1 (half a second or more) is about to start.
    const bool training = wait_until([&] { return !testing::file_text(dir + "/train.log").empty(); });
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    ::kill(trainer, signal);
    EXPECT_EQ(testing::exit_code_of(trainer), 128 + signal);
    ASSERT_TRUE(training);
    const pb::Checkpoint saved = read_checkpoint(dir + "/last.ckpt");
    EXPECT_EQ(saved.epoch(), 0);
    ASSERT_TRUE(saved.has_partial_epoch()) << "the signal did not arrive mid-epoch";
    const int64_t done = saved.partial_epoch().examples();
    EXPECT_EQ(saved.step(), done);
    const std::string log = testing::file_text(dir + "/train.log");
    const std::string line = "interrupted by " + std::string(signal == SIGINT ? "SIGINT" : "SIGTERM") +
                             " in epoch 1 after " + std::to_string(done) + " of 6336 examples: saved " + dir +
                             "/last.ckpt (continue with --resume --run-dir " + dir + ")\n";
    EXPECT_EQ(log.substr(log.size() - std::min(log.size(), line.size())), line);
    TrainOptions resume = quiet(dir, 2);
    resume.resume = true;
    EXPECT_EQ(train(model, resume).epochs.size(), 2u);
    for (const char* file : {"metrics.csv", "last.ckpt", "best.ckpt"})
      EXPECT_EQ(testing::file_text(dir + "/" + file), testing::file_text(straight + "/" + file)) << file;
  }
}

// data.manifest records the data files; --resume refuses data that changed since
// the run started, in one line naming the file, unless --allow-data-change.
TEST(RunDirectoryData, ResumingOnChangedDataIsRefusedUnlessAllowed) {
  const std::string data_dir = fresh_dir("own_data");
  const std::string model = tiny_model_on_own_data(data_dir, 2, 8);
  const std::string dir = fresh_dir("manifest");
  const auto resume = [&](int epochs, const std::string& more = "") {
    return testing::cli("train " + model + " --run-dir " + dir + " --no-progress --resume --epochs " +
                        std::to_string(epochs) + more);
  };
  train(model, quiet(dir, 1));
  const std::string manifest = testing::file_text(dir + "/data.manifest");
  const std::string data = fs::absolute(data_dir + "/train.csv").lexically_normal().string();
  EXPECT_NE(manifest.find(" " + std::to_string(fs::file_size(data)) + " " + data + "\n"), std::string::npos)
      << manifest;
  EXPECT_EQ(resume(2).exit_code, 0);  // unchanged data

  // A row more: another size.
  const std::string texts = testing::file_text(data);
  write_file(data, texts + "i am happy,2\n");
  testing::CliResult r = resume(3);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.output, "graphrun: error: " + data + ": " + std::to_string(texts.size() + 13) + " bytes, " +
                          std::to_string(texts.size()) + " when the run started; resuming " + dir +
                          " would train on other data (--allow-data-change resumes anyway)\n");
  // The same size, one byte different.
  std::string edited = texts;
  edited[edited.find('2')] = '3';
  write_file(data, edited);
  r = resume(3);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find(data + ": its content changed since the run started (CRC-32 "), std::string::npos)
      << r.output;
  EXPECT_EQ(read_checkpoint(dir + "/last.ckpt").epoch(), 2);  // refused before training

  r = resume(3, " --allow-data-change");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("note: resuming on changed data (--allow-data-change): " + data), std::string::npos)
      << r.output;
  EXPECT_EQ(resume(4).exit_code, 0);  // the manifest now records the data as it is
}

TEST(RunDirectoryData, ARunWithoutAManifestResumesWithANote) {
  const std::string dir = fresh_dir("no_manifest");
  train(kTinyModel, quiet(dir, 1));
  fs::remove(dir + "/data.manifest");  // as runs from before manifests
  const testing::CliResult r = testing::cli(train_command(dir, 2, " --resume"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("note: " + dir + " had no data.manifest (a run from an older graphrun)"), std::string::npos)
      << r.output;
  EXPECT_TRUE(fs::exists(dir + "/data.manifest"));
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

// write_checkpoint takes the tensors' bytes from the tensors themselves: the file
// holds what protobuf serializes for the whole message, empty tensors and the
// fields after the tensors included.
TEST(Checkpoint, WrittenFromTheTensorsItHoldsTheSerializedMessage) {
  const std::string dir = fresh_dir("from_tensors");
  fs::create_directories(dir);
  CheckpointToWrite checkpoint;
  checkpoint.message.set_version(1);
  checkpoint.message.set_epoch(3);
  checkpoint.message.set_step(40);
  checkpoint.message.set_seed(7);
  checkpoint.message.set_best_value(0.5);
  checkpoint.message.add_metrics_csv("epoch,loss");
  checkpoint.message.mutable_partial_epoch()->set_examples(5);
  const std::vector<std::pair<std::string, Tensor>> parameters = {
      {"w", Tensor::from_floats({2, 2}, std::vector<float>{1.f, -2.f, 0.5f, 3.f})},
      {"empty", Tensor(DType::f32, {0, 3})}};
  const int64_t iterations = 40;
  const Tensor optimizer_state = Tensor::from_ints({}, std::span<const int64_t>(&iterations, 1));
  pb::Checkpoint whole = checkpoint.message;
  for (const auto& [name, tensor] : parameters) {
    checkpoint.add_parameter(name, tensor);
    *whole.add_parameter() = to_named_tensor(name, tensor);
  }
  checkpoint.add_optimizer_state("iterations", optimizer_state);
  *whole.add_optimizer_state() = to_named_tensor("iterations", optimizer_state);
  write_checkpoint(dir + "/last.ckpt", checkpoint);
  EXPECT_EQ(testing::file_text(dir + "/last.ckpt").substr(kHeaderSize), whole.SerializeAsString());
}

// Protobuf parses no message over 2 GB: a checkpoint that large is refused before
// anything is written. Each tensor alone is below the limit, the two together above.
// (They are never read, so they are left uninitialised: nothing is paged in.)
TEST(Checkpoint, OneOverProtobufsLimitIsRefusedBeforeAnythingIsWritten) {
  const std::string dir = fresh_dir("over_2gb");
  fs::create_directories(dir);
  CheckpointToWrite checkpoint;
  checkpoint.message.set_version(1);
  const Tensor gigabyte = Tensor::uninitialized(DType::f32, {int64_t{1} << 28});
  checkpoint.add_parameter("w", gigabyte);
  checkpoint.add_optimizer_state("w/m", gigabyte);
  try {
    write_checkpoint(dir + "/last.ckpt", checkpoint);
    ADD_FAILURE() << "written";
  } catch (const Error& e) {
    // 2 GiB of data and 48 bytes of tags, lengths, names, dims and the version.
    EXPECT_EQ(std::string(e.what()),
              dir + "/last.ckpt: cannot serialize checkpoint: 2147483696 bytes, more than protobuf's limit of " +
                  "2147483647");
  }
  EXPECT_TRUE(fs::is_empty(dir));
}

// read_checkpoint reads the tensors' fields apart from the others (so that it never
// holds the payload and the message at once): in any order, beside fields it does not
// know, they give what protobuf's own parse of the payload gives.
TEST(Checkpoint, ReadAsProtobufParsesItWhateverTheFieldOrder) {
  const std::string dir = fresh_dir("field_order");
  fs::create_directories(dir);
  pb::Checkpoint first, tensors, last;
  first.add_metrics_csv("epoch,loss");
  first.set_epoch(7);
  tensors.set_version(1);
  *tensors.add_optimizer_state() = to_named_tensor("iterations", Tensor::from_ints({1}, std::vector<int64_t>{40}));
  *tensors.add_parameter() = to_named_tensor("w", Tensor::from_floats({2}, std::vector<float>{1.f, -2.f}));
  *tensors.add_parameter() = to_named_tensor("empty", Tensor(DType::f32, {0, 3}));
  last.add_metrics_csv("1,0.5");
  last.set_epoch(1);
  last.mutable_partial_epoch()->set_examples(5);
  const std::string unknown_field = "\xa0\x06\x2a";  // field 100, varint 42
  const std::string payload =
      first.SerializeAsString() + tensors.SerializeAsString() + unknown_field + last.SerializeAsString();
  pb::Checkpoint expected;
  ASSERT_TRUE(expected.ParseFromString(payload));
  const FrameFormat format{.magic = "GRCK", .version = 1, .what = "checkpoint"};
  write_framed_file(dir + "/last.ckpt", format, payload);
  EXPECT_EQ(read_checkpoint(dir + "/last.ckpt").SerializeAsString(), expected.SerializeAsString());
  // A tensor field claiming more bytes than the payload holds does not parse.
  write_framed_file(dir + "/last.ckpt", format, std::string("\x08\x01\x2a\xff\xff\xff\xff\x0f", 8));
  try {
    read_checkpoint(dir + "/last.ckpt");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), dir + "/last.ckpt: not a graphrun checkpoint (corrupt or wrong version)");
  }
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

// A tensor whose declared shape lies about its bytes is refused before anything is
// allocated, naming the checkpoint and the tensor.
TEST(Checkpoint, ATensorShapeThatLiesIsAnErrorNamingIt) {
  pb::NamedTensor huge;
  huge.set_name("w");
  huge.add_dims(int64_t{1} << 30);
  huge.add_dims(int64_t{1} << 30);
  huge.set_data(std::string(4, '\0'));
  EXPECT_THROW(
      {
        try {
          from_named_tensor(huge, "run/last.ckpt");
        } catch (const Error& e) {
          EXPECT_EQ(std::string(e.what()),
                    "run/last.ckpt: tensor 'w': shape [1073741824,1073741824] has more than 2^40 elements");
          throw;
        }
      },
      Error);
  pb::NamedTensor short_data = huge;
  short_data.clear_dims();
  short_data.add_dims(int64_t{1} << 28);  // 1 GiB of float32 declared, 4 bytes stored
  try {
    from_named_tensor(short_data, "run/last.ckpt");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "run/last.ckpt: tensor 'w' holds 4 bytes, its shape [268435456] needs 1073741824");
  }
}

// Protobuf refuses a string that is not UTF-8 and would say so on stderr itself: the
// user sees graphrun's line alone.
TEST(Checkpoint, AnOldFormatCheckpointWithANonUtf8NameFailsEvalWithOneLine) {
  const std::string dir = trained_run("not_utf8");
  // Field 5 (a parameter) holding field 1 (its name): the one byte 0xff.
  write_file(dir + "/best.ckpt", std::string("\x2a\x03\x0a\x01\xff", 5));
  const testing::CliResult r = testing::cli(eval_command(dir));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.output, "graphrun: error: " + dir + "/best.ckpt: not a graphrun checkpoint (corrupt or wrong version)\n");
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
