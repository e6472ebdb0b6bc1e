// PNG image I/O (graphrun/png.h) and `graphrun run` with PNG inputs (-i x=FILE.png, -i x=DIR)
// and outputs (--png y). Bytes k read as k / 255 and are written back as k exactly.
#include <gtest/gtest.h>
#include <png.h>
#include <unistd.h>
#include <zlib.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "graphrun/npy.h"
#include "graphrun/png.h"
#include "test_util.h"

namespace graphrun {
namespace {

using testing::cli;
using testing::CliResult;

namespace fs = std::filesystem;
const std::string kSource = GRAPHRUN_SOURCE_DIR;
const std::string kEmoji = kSource + "/tests/runtime/fixtures/png/1f600.png";

fs::path fresh_dir(const std::string& name) {
  const fs::path dir = testing::fresh_temp_path("png_" + name);
  fs::create_directories(dir);
  return dir;
}

// An image whose every value is a multiple of 1/255, different per element.
Tensor byte_image(int64_t h, int64_t w, int64_t c, int seed) {
  Tensor t(DType::f32, {h, w, c});
  for (int64_t i = 0; i < t.num_elements(); ++i) t.data<float>()[i] = static_cast<float>((i * 37 + seed) % 256) / 255.f;
  return t;
}

std::string big_endian32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
}

// A PNG of a valid 8-bit RGB IHDR declaring `width` x `height` and an empty
// IDAT: its header claims an image its data cannot hold.
// PNG color types (IHDR): one channel, or three.
constexpr char kGray = 0, kRgb = 2;

void write_png_header(const std::string& path, uint32_t width, uint32_t height, char color_type = kRgb) {
  std::string png("\x89PNG\r\n\x1a\n", 8);
  auto chunk = [&](const std::string& type, const std::string& data) {
    const std::string body = type + data;
    const auto crc = crc32(0, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size()));
    png += big_endian32(static_cast<uint32_t>(data.size())) + body + big_endian32(static_cast<uint32_t>(crc));
  };
  chunk("IHDR", big_endian32(width) + big_endian32(height) + '\x08' + color_type + std::string(3, '\0'));
  chunk("IDAT", "");
  std::ofstream(path, std::ios::binary) << png;
}

void expect_equal(const Tensor& actual, const Tensor& expected) {
  ASSERT_EQ(actual.dims(), expected.dims());
  for (int64_t i = 0; i < actual.num_elements(); ++i)
    ASSERT_EQ(actual.data<float>()[i], expected.data<float>()[i]) << i;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(Png, RoundTripIsExactForOneToFourChannelsAndOddSizes) {
  const fs::path dir = fresh_dir("roundtrip");
  for (int64_t c = 1; c <= 4; ++c) {
    const Tensor image = byte_image(7, 5, c, static_cast<int>(c));
    const std::string path = (dir / ("c" + std::to_string(c) + ".png")).string();
    write_png(path, image);
    expect_equal(read_png(path), image);
  }
  EXPECT_FALSE(fs::exists(dir / "c4.png.tmp"));  // the temp file was renamed into place
  fs::remove_all(dir);
}

TEST(Png, ValuesOutsideZeroToOneAreClippedAndRounded) {
  const fs::path dir = fresh_dir("clip");
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> values = {-0.5f, 1.7f, -inf, inf, 0.5f, 0.2f / 255.f, 254.6f / 255.f};
  const std::vector<float> expected = {0.f, 1.f, 0.f, 1.f, 128 / 255.f, 0.f, 255 / 255.f};
  write_png((dir / "clip.png").string(), Tensor::from_floats({1, 7, 1}, values));
  expect_equal(read_png((dir / "clip.png").string()), Tensor::from_floats({1, 7, 1}, expected));
  fs::remove_all(dir);
}

TEST(Png, WriteRejectsNaNAndWrongShapes) {
  const fs::path dir = fresh_dir("write_errors");
  const std::string path = (dir / "bad.png").string();
  Tensor nan_image = byte_image(2, 3, 3, 0);
  nan_image.data<float>()[4] = std::nanf("");
  EXPECT_EQ(error_of([&] { write_png(path, nan_image); }), path + ": cannot write PNG: element 4 is NaN");
  EXPECT_NE(error_of([&] {
              write_png(path, Tensor(DType::f32, {2, 3, 5}));
            }).find(path + ": cannot write float32[2,3,5] as PNG"),
            std::string::npos);
  EXPECT_NE(error_of([&] { write_png(path, Tensor(DType::f32, {2, 3})); }).find("float32[2,3]"), std::string::npos);
  EXPECT_NE(error_of([&] { write_png(path, Tensor(DType::i64, {2, 3, 1})); }).find("int64[2,3,1]"), std::string::npos);
  EXPECT_FALSE(fs::exists(path));
  fs::remove_all(dir);
}

TEST(Png, ReadsARealEmojiAsRgbaWithTransparentPixels) {
  const Tensor emoji = read_png(kEmoji);
  ASSERT_EQ(emoji.dims(), (Dims{36, 36, 4}));
  int transparent = 0, opaque = 0;
  for (int64_t i = 0; i < emoji.num_elements(); ++i) {
    const float v = emoji.data<float>()[i];
    ASSERT_GE(v, 0.f);
    ASSERT_LE(v, 1.f);
    if (i % 4 != 3) continue;  // alpha
    transparent += v == 0.f;
    opaque += v == 1.f;
  }
  EXPECT_GT(transparent, 0);  // the corners are background
  EXPECT_GT(opaque, 0);       // the face is not
}

TEST(Png, ReadsAPaletteWithTransparencyAsRgba) {
  const fs::path dir = fresh_dir("palette");
  const std::string path = (dir / "palette.png").string();
  // libpng's simplified writer makes a palette PNG (with tRNS) from a colormap and indices.
  const png_byte colormap[2 * 4] = {255, 0, 0, 255, 0, 0, 255, 0};  // opaque red, transparent blue
  const png_byte indices[3] = {0, 1, 0};
  png_image image;
  std::memset(&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  image.width = 3;
  image.height = 1;
  image.format = PNG_FORMAT_RGBA_COLORMAP;
  image.colormap_entries = 2;
  ASSERT_TRUE(png_image_write_to_file(&image, path.c_str(), 0, indices, 0, colormap)) << image.message;
  png_image_free(&image);
  expect_equal(read_png(path), Tensor::from_floats({1, 3, 4}, std::vector<float>{1, 0, 0, 1, 0, 0, 1, 0, 1, 0, 0, 1}));
  fs::remove_all(dir);
}

TEST(Png, ReadErrorsNameTheFileAndTheProblem) {
  const fs::path dir = fresh_dir("read_errors");
  const std::string missing = (dir / "missing.png").string();
  EXPECT_EQ(error_of([&] { read_png(missing); }), missing + ": cannot open PNG file (No such file or directory)");

  const std::string text = (dir / "text.png").string();
  std::ofstream(text) << "this is a text file, not an image\n";
  EXPECT_EQ(error_of([&] { read_png(text); }), text + ": not a PNG file (bad signature)");

  // A PNG cut in half: the header reads, the image data does not.
  std::ifstream in(kEmoji, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string truncated = (dir / "truncated.png").string();
  std::ofstream(truncated, std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  const std::string message = error_of([&] { read_png(truncated); });
  EXPECT_EQ(message.rfind(truncated + ": corrupt PNG file (", 0), 0u) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  fs::remove_all(dir);
}

TEST(Png, HeaderClaimingAHugeImageIsAnErrorBeforeAllocating) {
  const fs::path dir = fresh_dir("huge");
  const std::string path = (dir / "huge.png").string();
  write_png_header(path, 100000, 100000);
  // 3e10 samples: had the buffer been allocated, libpng would report the missing data instead.
  EXPECT_EQ(
      error_of([&] { read_png(path); }),
      path + ": image of 100000x100000 pixels with 3 channels has more than the 268435456 samples graphrun reads");
  // Within that bound, but more than its 45 bytes can decode to (1032:1 deflate, 32 bytes per stored byte at most).
  write_png_header(path, 8000, 8000);
  EXPECT_EQ(error_of([&] { read_png(path); }),
            path + ": image of 8000x8000 pixels with 3 channels cannot be stored in a file of 45 bytes");
  write_png_header(path, 8000, 8000, kGray);
  EXPECT_EQ(error_of([&] { read_png(path); }),
            path + ": image of 8000x8000 pixels with 1 channel cannot be stored in a file of 45 bytes");
  // A small header with the same empty data gets past the size check to libpng's own error.
  write_png_header(path, 4, 4);
  EXPECT_EQ(error_of([&] { read_png(path); }).rfind(path + ": corrupt PNG file (", 0), 0u);
  fs::remove_all(dir);
}

TEST(Png, DirectoryIsReadSortedByNameIgnoringOtherFiles) {
  const fs::path dir = fresh_dir("dir");
  for (const std::string name : {"b", "c", "a"})
    write_png((dir / (name + ".png")).string(), byte_image(3, 5, 2, name[0]));
  std::ofstream(dir / "notes.txt") << "not an image\n";
  const Tensor batch = read_png_dir(dir.string());
  ASSERT_EQ(batch.dims(), (Dims{3, 3, 5, 2}));
  for (int n = 0; n < 3; ++n)
    for (int64_t i = 0; i < 30; ++i)
      ASSERT_EQ(batch.data<float>()[n * 30 + i], byte_image(3, 5, 2, 'a' + n).data<float>()[i]) << n << " " << i;
  EXPECT_EQ(read_png_batch({(dir / "c.png").string(), (dir / "a.png").string()}).data<float>()[0],
            byte_image(3, 5, 2, 'c').data<float>()[0]);  // an explicit list keeps its order
  fs::remove_all(dir);
}

TEST(Png, DirectoryOfDifferentSizesIsAnErrorNamingTheFirstThatDiffers) {
  const fs::path dir = fresh_dir("sizes");
  write_png((dir / "a.png").string(), byte_image(3, 3, 4, 0));
  write_png((dir / "b.png").string(), byte_image(3, 3, 4, 1));
  write_png((dir / "c.png").string(), byte_image(4, 3, 4, 2));
  write_png((dir / "d.png").string(), byte_image(3, 3, 1, 3));
  EXPECT_EQ(error_of([&] { read_png_dir(dir.string()); }),
            (dir / "c.png").string() + ": image is [4,3,4] [H, W, C] but " + (dir / "a.png").string() +
                " is [3,3,4]; every image of a batch must have the same shape");
  const fs::path empty = fresh_dir("empty");
  EXPECT_EQ(error_of([&] { read_png_dir(empty.string()); }), empty.string() + ": directory holds no .png files");
  fs::remove_all(dir);
  fs::remove_all(empty);
}

TEST(Cli, RunReadsAPngDirectoryAndWritesPngs) {
  const fs::path dir = fresh_dir("cli_dir");
  fs::create_directories(dir / "in");
  std::vector<Tensor> images;
  for (int n = 0; n < 3; ++n) {
    images.push_back(byte_image(5, 3, 4, 10 * n));
    write_png((dir / "in" / ("img" + std::to_string(n) + ".png")).string(), images.back());
  }
  const std::string model = kSource + "/tests/runtime/models/png_invert.pbtxt";
  const CliResult r = cli("run " + model + " -i x=" + (dir / "in").string() + " --png y -o " + (dir / "out").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(read_npy((dir / "out" / "y.npy").string()).dims(), (Dims{3, 5, 3, 4}));
  for (int n = 0; n < 3; ++n) {
    Tensor expected = images[static_cast<size_t>(n)].clone();
    for (float& v : expected.values<float>()) v = static_cast<float>(255 - std::lround(v * 255)) / 255.f;
    expect_equal(read_png((dir / "out" / ("y_000" + std::to_string(n) + ".png")).string()), expected);
  }
  EXPECT_FALSE(fs::exists(dir / "out" / "y_0003.png"));

  // One file feeds a batch of one.
  const CliResult one =
      cli("run " + model + " -i x=" + (dir / "in" / "img1.png").string() + " --png y -o " + (dir / "one").string());
  ASSERT_EQ(one.exit_code, 0) << one.output;
  EXPECT_EQ(read_npy((dir / "one" / "y.npy").string()).dims(), (Dims{1, 5, 3, 4}));
  EXPECT_TRUE(fs::exists(dir / "one" / "y_0000.png"));
  fs::remove_all(dir);
}

TEST(Cli, PngErrorsAreOneLine) {
  const fs::path dir = fresh_dir("cli_errors");
  const std::string mlp = kSource + "/examples/mlp/mlp.pbtxt";
  write_npy((dir / "x.npy").string(), Tensor(DType::f32, {2, 4}));
  CliResult r = cli("run " + mlp + " -i x=" + (dir / "x.npy").string() + " --png probs -o " + dir.string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.output,
            "graphrun: error: --png 'probs': value 'probs' is float32[2,3]; PNG output needs float32 [N, H, W, C] with "
            "C in 1..4\n");
  EXPECT_FALSE(fs::exists(dir / "probs.npy"));  // nothing is written when a --png value is wrong

  const std::string text = (dir / "x.png").string();
  std::ofstream(text) << "not a png\n";
  r = cli("run " + kSource + "/tests/runtime/models/png_invert.pbtxt -i x=" + text + " -o " + dir.string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.output, "graphrun: error: " + text + ": not a PNG file (bad signature)\n");

  const std::string huge = (dir / "huge.png").string();
  write_png_header(huge, 100000, 100000);
  r = cli("run " + kSource + "/tests/runtime/models/png_invert.pbtxt -i x=" + huge + " -o " + dir.string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.output,
            "graphrun: error: " + huge +
                ": image of 100000x100000 pixels with 3 channels has more than the 268435456 samples graphrun "
                "reads\n");
  fs::remove_all(dir);
}

}  // namespace
}  // namespace graphrun
