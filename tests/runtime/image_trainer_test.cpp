// Training on a directory of PNG images (DataConfig format PNG_DIR): an
// autoencoder's loss falls, resume equals an uninterrupted run, keep_best and
// early stopping follow val_loss, eval reports a split's loss, and bad image data
// gets one-line errors naming the directory, file or input at fault.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "graphrun/png.h"
#include "graphrun/train.h"
#include "runtime/cli/format.h"
#include "test_util.h"

namespace graphrun {
namespace {

namespace fs = std::filesystem;
const std::string kModel = std::string(GRAPHRUN_SOURCE_DIR) + "/tests/runtime/models/tiny_autoencoder.pbtxt";

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// `n` images [h, w, c] in `dir`: soft blobs at places that vary with the image, so
// the images share structure an autoencoder can learn.
void write_images(const fs::path& dir, int n, int64_t h = 8, int64_t w = 8, int64_t c = 4, int first = 0) {
  fs::create_directories(dir);
  for (int i = first; i < first + n; ++i) {
    Tensor image(DType::f32, {h, w, c});
    const double cy = (i * 3) % h, cx = (i * 5) % w;
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x)
        for (int64_t k = 0; k < c; ++k)
          image.data<float>()[(y * w + x) * c + k] =
              static_cast<float>(std::exp(-((y - cy) * (y - cy) + (x - cx) * (x - cx)) / (4.0 + k)));
    char name[32];
    std::snprintf(name, sizeof name, "img%03d.png", i);
    write_png((dir / name).string(), image);
  }
}

// A fresh directory holding the model (with `replace_from` replaced), 16 training
// and 4 test images; returns the model's path.
std::string image_setup(const std::string& name, const std::string& replace_from = "",
                        const std::string& replace_to = "") {
  const fs::path dir = testing::fresh_temp_path("image_trainer_" + name);
  write_images(dir / "images", 16);
  write_images(dir / "test_images", 4, 8, 8, 4, 16);
  std::string model = read_file(kModel);
  if (!replace_from.empty()) {
    const size_t at = model.find(replace_from);
    EXPECT_NE(at, std::string::npos) << replace_from;
    model.replace(at, replace_from.size(), replace_to);
  }
  std::ofstream(dir / "model.pbtxt") << model;
  return (dir / "model.pbtxt").string();
}

std::string run_dir_of(const std::string& model, const std::string& name = "run") {
  return (fs::path(model).parent_path() / name).string();
}

TrainOptions quiet(const std::string& dir) {
  TrainOptions o;
  o.run_dir = dir;
  o.quiet = true;
  return o;
}

// The values of one metrics.csv column, by epoch.
std::vector<double> column(const std::string& csv_path, const std::string& name) {
  std::istringstream csv(read_file(csv_path));
  std::string line, cell;
  std::getline(csv, line);
  std::istringstream header(line);
  size_t index = 0;
  for (; std::getline(header, cell, ','); ++index)
    if (cell == name) break;
  std::vector<double> values;
  while (std::getline(csv, line)) {
    std::istringstream row(line);
    for (size_t i = 0; i <= index; ++i) std::getline(row, cell, ',');
    values.push_back(std::stod(cell));
  }
  return values;
}

TEST(ImageTrainer, AutoencoderLossFallsAndReportsLossesOnly) {
  const std::string model = image_setup("basic"), dir = run_dir_of(model);
  const TrainResult r = train(model, quiet(dir));
  ASSERT_EQ(r.epochs.size(), 6u);
  EXPECT_LT(r.epochs.back().metrics[0].second, r.epochs.front().metrics[0].second);
  EXPECT_EQ(read_file(dir + "/metrics.csv").substr(0, 21), "epoch,loss,val_loss\n1");
  EXPECT_NE(read_file(dir + "/train.log").find("on 12 examples (4 validation, 4 test)"), std::string::npos)
      << read_file(dir + "/train.log");
  for (const char* file : {"model.pbtxt", "metrics.csv", "last.ckpt", "best.ckpt", "train.log"})
    EXPECT_TRUE(fs::exists(fs::path(dir) / file)) << file;
  EXPECT_FALSE(fs::exists(fs::path(dir) / "vocab.txt"));  // no texts, no vocabulary
  ASSERT_EQ(r.test_metrics.size(), 1u);
  EXPECT_EQ(r.test_metrics[0].first, "test_loss");
}

TEST(ImageTrainer, ResumeEqualsAnUninterruptedRun) {
  const std::string model = image_setup("resume");
  testing::expect_resume_equals_uninterrupted(model, run_dir_of(model, "straight"), run_dir_of(model, "resumed"), 2, 4);
}

// A learning rate high enough that val_loss goes up and down: best.ckpt must hold
// the epoch of the lowest val_loss (lower is better for losses), and eval of the
// validation split scores that checkpoint.
TEST(ImageTrainer, KeepBestAndEarlyStoppingFollowTheLowestValLoss) {
  const std::string model =
      image_setup("keep_best", "optimizer { adam { learning_rate: 0.01 } }",
                  "optimizer { adam { learning_rate: 0.3 } } early_stopping { monitor: \"val_loss\" patience: 3 }");
  const std::string dir = run_dir_of(model);
  TrainOptions o = quiet(dir);
  o.epochs = 30;
  const TrainResult r = train(model, o);
  const std::vector<double> val = column(dir + "/metrics.csv", "val_loss");
  ASSERT_EQ(val.size(), r.epochs.size());
  const auto lowest = std::min_element(val.begin(), val.end());
  EXPECT_EQ(r.best_epoch, 1 + (lowest - val.begin()));
  ASSERT_TRUE(r.best_value.has_value());
  EXPECT_NEAR(*r.best_value, *lowest, 1e-6);
  if (r.stopped_early) {
    EXPECT_EQ(static_cast<int>(val.size()) - r.best_epoch, 3);
  }
  const EvalResult v = evaluate(model, dir, "validation", quiet(""));
  EXPECT_NEAR(v.metrics[0].second, *r.best_value, 1e-5);
}

TEST(ImageTrainer, EvalReportsTheSplitLossAndPredictRefuses) {
  const std::string model = image_setup("eval"), dir = run_dir_of(model);
  const TrainResult r = train(model, quiet(dir));
  const EvalResult e = evaluate(model, dir, "test", quiet(""));
  EXPECT_EQ(e.examples, 4);
  ASSERT_EQ(e.metrics.size(), 1u);
  EXPECT_EQ(e.metrics[0].first, "loss");
  EXPECT_NEAR(e.metrics[0].second, r.test_metrics[0].second, 1e-6);
  EXPECT_EQ(format_eval(e).find("confusion"), std::string::npos) << format_eval(e);
  // The test images alone score it: the training directory is not needed.
  fs::remove_all(fs::path(model).parent_path() / "images");
  EXPECT_NEAR(evaluate(model, dir, "test", quiet("")).metrics[0].second, e.metrics[0].second, 1e-6);
  try {
    predict(model, dir, {"a text"});
    ADD_FAILURE() << "predict ran on an image model";
  } catch (const Error& error) {
    const std::string msg = error.what();
    EXPECT_NE(msg.find("PNG_DIR"), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
}

TEST(ImageTrainer, GradcheckFeedsTheImages) {
  const GradCheckResult g = gradcheck(image_setup("gradcheck"), 4);
  EXPECT_TRUE(g.passed) << g.worst;
  EXPECT_GT(g.checked, 0);
}

// The autoencoder's two halves as graphs of their own, parameters named as in the full model.
const char* const kEncoderHalf = R"(version: 1
input { name: "images" shape: [-1, 8, 8, 4] }
parameter { name: "w_enc" shape: [256, 6] }
parameter { name: "b_enc" shape: [6] }
node { name: "flat" op: "Flatten" input: "images" }
node { name: "code_lin" op: "Gemm" input: ["flat", "w_enc", "b_enc"] }
node { name: "code" op: "Relu" input: "code_lin" }
output: "code"
)";
const char* const kDecoderHalf = R"(version: 1
input { name: "code" shape: [-1, 6] }
parameter { name: "w_dec" shape: [6, 256] }
parameter { name: "b_dec" shape: [256] }
node { name: "logits_flat" op: "Gemm" input: ["code", "w_dec", "b_dec"] }
node { name: "logits" op: "Reshape" input: "logits_flat" shape: [-1, 8, 8, 4] }
node { name: "reconstruction" op: "Sigmoid" input: "logits" }
output: "reconstruction"
)";

std::string write_model(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
  return path;
}

// The decoder with its bias parameter renamed b_out (declaration and use).
std::string renamed_b_dec(std::string text) {
  for (size_t at; (at = text.find("\"b_dec\"")) != std::string::npos;) text.replace(at, 7, "\"b_out\"");
  return text;
}

void expect_same(const Tensor& got, const Tensor& expected) {
  ASSERT_EQ(got.type_string(), expected.type_string());
  for (int64_t i = 0; i < got.num_elements(); ++i) ASSERT_EQ(got.data<float>()[i], expected.data<float>()[i]) << i;
}

// load_trained takes, for each parameter a graph declares, the same-named tensor of
// the run's checkpoint, so an encoder or a decoder alone runs with an autoencoder
// run's parameters (the checkpoint's other tensors ignored), on the command line too;
// a missing or mis-shaped parameter is a one-line error naming it, the checkpoint and
// both shapes.
TEST(ImageTrainer, AGraphsHalfLoadsTheParametersItNamesFromTheRun) {
  const std::string model = image_setup("halves"), dir = run_dir_of(model);
  train(model, quiet(dir));
  const fs::path folder = fs::path(model).parent_path();
  const Tensor images = read_png_dir((folder / "test_images").string());
  const std::vector<Tensor> full = load_trained(model, dir).run({{"images", images}}, {"code", "reconstruction"});

  const std::string encoder = write_model((folder / "encoder.pbtxt").string(), kEncoderHalf);
  const std::string decoder = write_model((folder / "decoder.pbtxt").string(), kDecoderHalf);
  const Tensor code = load_trained(encoder, dir).run({{"images", images}})[0];
  expect_same(code, full[0]);
  expect_same(load_trained(decoder, dir).run({{"code", full[0]}})[0], full[1]);

  // graphrun run: the encoder over a directory of PNGs, the decoder over the codes' .npy.
  const std::string out = (folder / "out").string();
  testing::CliResult r = testing::cli("run " + encoder + " --checkpoint " + dir +
                                      " -i images=" + (folder / "test_images").string() + " -o " + out);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  expect_same(read_npy(out + "/code.npy"), full[0]);
  r = testing::cli("run " + decoder + " --checkpoint " + dir + " -i code=" + out + "/code.npy -o " + out);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  expect_same(read_npy(out + "/reconstruction.npy"), full[1]);

  const auto error_of_loading = [&](const std::string& text) -> std::string {
    try {
      load_trained(write_model((folder / "other.pbtxt").string(), text), dir);
    } catch (const Error& e) {
      return e.what();
    }
    return "no error";
  };
  const std::string renamed = renamed_b_dec(kDecoderHalf);
  EXPECT_EQ(error_of_loading(renamed), dir + "/best.ckpt: no parameter 'b_out' (float32[256] in " +
                                           (folder / "other.pbtxt").string() + "); the run trained a model without it");
  std::string wide = kEncoderHalf;
  wide.replace(wide.find("[256, 6]"), 8, "[256, 7]");
  wide.replace(wide.find("[6]"), 3, "[7]");
  EXPECT_EQ(error_of_loading(wide), dir +
                                        "/best.ckpt: parameter 'w_enc' is float32[256,6] in the checkpoint, "
                                        "float32[256,7] in " +
                                        (folder / "other.pbtxt").string());
  // A frozen parameter is not in checkpoints: it keeps the model's initialiser.
  std::string frozen = renamed;
  frozen.replace(frozen.find("shape: [256] }"), 14, "shape: [256] trainable: false }");
  EXPECT_EQ(error_of_loading(frozen), "no error");
}

// `graphrun run --split NAME` feeds the model's inputs from that split of its training
// data (split_inputs): the test split is the test directory's images, in order; the
// validation split is as many as training holds back. An input fed twice is an error.
TEST(ImageTrainer, RunFeedsASplitOfTheTrainingData) {
  const std::string model = image_setup("run_split");
  const fs::path folder = fs::path(model).parent_path();
  expect_same(split_inputs(model, "", "test").at("images"), read_png_dir((folder / "test_images").string()));
  EXPECT_EQ(split_inputs(model, "", "validation").at("images").dims(), (Dims{4, 8, 8, 4}));
  const std::string out = (folder / "out").string();
  testing::CliResult r = testing::cli("run " + model + " --split test -f images -f reconstruction -o " + out);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  expect_same(read_npy(out + "/images.npy"), read_png_dir((folder / "test_images").string()));
  EXPECT_EQ(read_npy(out + "/reconstruction.npy").dims(), (Dims{4, 8, 8, 4}));
  r = testing::cli("run " + model + " --split test -i images=" + (folder / "images").string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.output, "graphrun: error: --input 'images=" + (folder / "images").string() +
                          "': input 'images' is fed by --split test already\n");
  EXPECT_EQ(testing::cli("run " + model + " --split nope").output,
            "graphrun: error: unknown split 'nope' (use train, validation or test)\n");
  const std::string text_model = std::string(GRAPHRUN_SOURCE_DIR) + "/tests/runtime/models/tiny_text.pbtxt";
  EXPECT_EQ(testing::cli("run " + text_model + " --split test").output,
            "graphrun: error: " + text_model +
                ": the model's data are texts, tokenized with a training run's vocabulary: name the run directory "
                "(--checkpoint RUN_DIR)\n");
}

std::string error_of(const std::string& model) {
  try {
    train(model, quiet(run_dir_of(model)));
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

void expect_error(const std::string& model, const std::string& part) {
  const std::string msg = error_of(model);
  EXPECT_NE(msg.find(part), std::string::npos) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
}

TEST(ImageTrainer, BadImageDataGetsOneLineErrors) {
  expect_error(image_setup("missing_dir", "train: \"images\"", "train: \"no_such_dir\""),
               "no_such_dir: cannot list directory");
  const std::string empty = image_setup("empty_dir", "train: \"images\"", "train: \"empty\"");
  fs::create_directories(fs::path(empty).parent_path() / "empty");
  expect_error(empty, "empty: directory holds no .png files");

  const std::string sizes = image_setup("sizes");
  write_images(fs::path(sizes).parent_path() / "images", 1, 9, 8, 4, 99);  // img099.png, 9 rows
  expect_error(sizes, "img099.png: image is [9,8,4]");
  const std::string test_sizes = image_setup("test_sizes");
  fs::remove_all(fs::path(test_sizes).parent_path() / "test_images");
  write_images(fs::path(test_sizes).parent_path() / "test_images", 2, 8, 8, 3);
  expect_error(test_sizes, "test_images: test images are [8,8,3]");

  expect_error(image_setup("no_input", "images_input: \"images\"", "images_input: \"pixels\""),
               "train.images_input 'pixels' is not a graph input");
  // [-1, 4, 16, 4] flattens to 256 as well, so the graph itself is valid.
  expect_error(
      image_setup("wrong_shape", "shape: [-1, 8, 8, 4]", "shape: [-1, 4, 16, 4]"),
      "train.images_input 'images' is float32[?,4,16,4], but the images are float32 [N, H, W, C] = [12,8,8,4]");
  expect_error(image_setup("rank", "shape: [-1, 8, 8, 4]", "shape: [-1, 256]"), "train.images_input 'images'");
  expect_error(image_setup("predictions", "images_input: \"images\"",
                           "images_input: \"images\" predictions: \"reconstruction\""),
               "train.predictions needs labels");
  expect_error(image_setup("sklearn", "validation_split: 0.25", "validation_split: 0.25 split_rule: SKLEARN"),
               "split_rule");
}

}  // namespace
}  // namespace graphrun
