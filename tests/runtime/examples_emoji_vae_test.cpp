// The emoji VAE example (examples/emoji_vae): the notebook's parameter counts, a
// training run on a slice whose loss falls, its encoder and decoder halves running
// from that run exactly as the whole model computes, finite latent codes for all 872
// emoji (and the log-variance clamp that keeps z finite for any input), the pictures
// the README shows made end to end on the command line, and the shipped results.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <string>

#include "graphrun/graphrun.h"
#include "graphrun/train.h"
#include "tests/runtime/example_test_util.h"
#include "tests/runtime/test_util.h"

namespace graphrun {
namespace {

namespace fs = std::filesystem;
const std::string kSource = GRAPHRUN_SOURCE_DIR;
const std::string kExample = kSource + "/examples/emoji_vae";
const std::string kVae = kExample + "/vae.pbtxt";
const std::string kImages = kSource + "/examples/data/emoji_images/png36";

// Two epochs on the first 48 training and validation images, batch 16; the training loss falls.
std::string train_on_a_slice(const std::string& name) {
  TrainOptions o;
  o.run_dir = testing::fresh_example_dir(name);
  o.quiet = true;
  o.epochs = 2;
  o.limit_examples = 48;
  const TrainResult r = train(kVae, o);
  EXPECT_EQ(r.epochs.size(), 2u);
  if (r.epochs.size() == 2u) {
    EXPECT_EQ(r.epochs[0].metrics.at(1).first, "val_loss");
    EXPECT_LT(r.epochs[1].metrics[0].second, r.epochs[0].metrics[0].second);
  }
  return o.run_dir;
}

// The first n emoji in file-name order, [n, 36, 36, 4].
Tensor first_emoji(size_t n) {
  const std::vector<std::string> paths = list_png_dir(kImages);
  return read_png_batch(std::vector<std::string>(paths.begin(), paths.begin() + static_cast<std::ptrdiff_t>(n)));
}

void expect_all_finite(const Tensor& t, const std::string& what) {
  int64_t bad = 0;
  for (float v : t.values<float>()) bad += std::isfinite(v) ? 0 : 1;
  EXPECT_EQ(bad, 0) << what << " " << t.type_string();
}

void expect_near(const Tensor& got, const Tensor& expected, float tolerance, const std::string& what) {
  ASSERT_EQ(got.type_string(), expected.type_string()) << what;
  float worst = 0;
  for (int64_t i = 0; i < got.num_elements(); ++i)
    worst = std::max(worst, std::abs(got.data<float>()[i] - expected.data<float>()[i]));
  EXPECT_LE(worst, tolerance) << what;
}

// Keras' summaries of the notebook's encoder (2,730,464) and decoder (166,660).
TEST(Examples, EmojiVaeParameterCountsMatchTheNotebook) {
  for (const testing::ParameterCounts& c : {testing::ParameterCounts{"examples/emoji_vae/vae.pbtxt", 2897124, 0},
                                            testing::ParameterCounts{"examples/emoji_vae/encoder.pbtxt", 2730464, 0},
                                            testing::ParameterCounts{"examples/emoji_vae/decoder.pbtxt", 166660, 0}})
    testing::expect_parameter_counts(kSource, c);
}

// The halves run from the VAE's run, by parameter name, and compute what the whole
// model computes; every one of the 872 emoji gets a finite code.
TEST(Examples, EmojiVaeTrainsOnASliceAndItsHalvesEncodeEveryEmojiFinitely) {
  const std::string run = train_on_a_slice("emoji_vae_halves");
  const testing::RemoveAtEnd cleanup{run};
  const Tensor emoji = read_png_dir(kImages);
  ASSERT_EQ(emoji.dims(), (Dims{872, 36, 36, 4}));
  const std::vector<Tensor> codes =
      load_trained(kExample + "/encoder.pbtxt", run).run({{"original", emoji}}, {"z_mean", "z_log_var"});
  ASSERT_EQ(codes[0].dims(), (Dims{872, 16}));
  expect_all_finite(codes[0], "z_mean");
  expect_all_finite(codes[1], "z_log_var");

  // The whole VAE on the first 64 emoji: its z_mean is the encoder's, and its
  // reconstruction (of the sampled z) is the decoder's output for that z.
  const Tensor first = first_emoji(64);
  const std::vector<Tensor> whole =
      load_trained(kVae, run).run({{"original", first}}, {"z_mean", "z", "reconstruction"});
  expect_all_finite(whole[1], "z");
  const Tensor encoded = load_trained(kExample + "/encoder.pbtxt", run).run({{"original", first}})[0];
  expect_near(encoded, whole[0], 1e-5f, "encoder z_mean");
  const Tensor decoded = load_trained(kExample + "/decoder.pbtxt", run).run({{"z", whole[1]}})[0];
  expect_near(decoded, whole[2], 1e-5f, "decoder reconstruction");
}

// Far outside [0, 1] the raw log-variances pass exp's float32 range (88.7); the clamp
// to [-30, 30] keeps z finite, where exp(log_var / 2) * eps would be inf.
TEST(Examples, EmojiVaeLogVarianceClampKeepsZFiniteForAnyInput) {
  Tensor bright = first_emoji(8);
  for (float& v : bright.values<float>()) v *= 2000;
  const std::vector<Tensor> out = Session(Model::load(kVae)).run({{"original", bright}}, {"z_log_var_raw", "z"});
  float largest = 0;
  for (float v : out[0].values<float>()) largest = std::max(largest, v);
  EXPECT_GT(largest, 2 * 88.8f) << "the input does not push exp(log_var / 2) past float32's range";
  expect_all_finite(out[1], "z");
}

// The README's pictures, end to end on the command line: the validation images and
// their reconstructions as one montage, and each layout's 20x20 grid of generated
// emoji, all valid PNGs of the grid's size.
TEST(Examples, EmojiVaePicturesAreOnePngEach) {
  const std::string run = train_on_a_slice("emoji_vae_pictures");
  const testing::RemoveAtEnd cleanup{run};
  const std::string out = run + "/pictures";
  testing::CliResult r = testing::cli("run " + kVae + " --checkpoint " + run +
                                      " --split validation --fetch original --fetch reconstruction -o " + out);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const Tensor originals = read_npy(out + "/original.npy");
  ASSERT_EQ(originals.dims(), (Dims{174, 36, 36, 4}));  // the whole validation split
  r = testing::cli("montage " + out + "/original.npy " + out + "/reconstruction.npy --cols 20 -o " + out +
                   "/montage.png");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(read_png(out + "/montage.png").dims(), (Dims{9 * 2 * 38 + 2, 20 * 38 + 2, 4}));  // 9 bands of 2 rows
  for (const char* layout : {"A", "B", "C"}) {
    const std::string z = out + "/z_" + layout + ".npy", grid = out + "/generated_" + layout + ".png";
    r = testing::cli(std::string("latent-grid --layout ") + layout + " --dims 16 --steps 20 --range=-2,2 -o " + z);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    r = testing::cli("run " + kExample + "/decoder.pbtxt --checkpoint " + run + " -i z=" + z + " -o " + out);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    r = testing::cli("montage " + out + "/reconstruction.npy --cols 20 -o " + grid);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(read_png(grid).dims(), (Dims{20 * 38 + 2, 20 * 38 + 2, 4})) << layout;
  }
}

// The shipped run (the README's figures): its 872 codes are finite, and its pictures
// are PNGs of the grids' sizes (174 validation images in 9 bands of 20).
TEST(Examples, EmojiVaeShippedResults) {
  const Tensor codes = read_npy(kExample + "/codes.npy");
  ASSERT_EQ(codes.dims(), (Dims{872, 16}));
  expect_all_finite(codes, "shipped codes");
  EXPECT_EQ(read_png(kExample + "/montage.png").dims(), (Dims{9 * 2 * 38 + 2, 20 * 38 + 2, 4}));
  for (const char* layout : {"A", "B", "C"})
    EXPECT_EQ(read_png(kExample + "/generated_" + std::string(layout) + ".png").dims(),
              (Dims{20 * 38 + 2, 20 * 38 + 2, 4}))
        << layout;
}

}  // namespace
}  // namespace graphrun
