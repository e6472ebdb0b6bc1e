// Image grids (graphrun/image_grid.h, `graphrun montage`) and latent-code grids
// (`graphrun latent-grid`): where each image and gap lands, the notebook's three
// layouts, and one-line errors.
#include "graphrun/image_grid.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <functional>

#include "graphrun/graphrun.h"
#include "test_util.h"

namespace graphrun {
namespace {

// n images [h, w, c] whose every value is (batch * 100 + image + 1) / 1000, so a
// grid pixel tells which image it came from.
Tensor numbered_images(int batch, int64_t n, int64_t h, int64_t w, int64_t c) {
  Tensor t(DType::f32, {n, h, w, c});
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < h * w * c; ++k) t.data<float>()[i * h * w * c + k] = float(batch * 100 + i + 1) / 1000;
  return t;
}

float at(const Tensor& grid, int64_t y, int64_t x, int64_t k = 0) {
  return grid.data<float>()[(y * grid.dims()[1] + x) * grid.dims()[2] + k];
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

// 5 images of 3x2 in 2 columns, two batches: 3 bands of 2 rows, gap 1.
TEST(ImageGrid, EachBatchIsARowOfItsBandAndGapsAreFilled) {
  const Tensor grid = image_grid({numbered_images(0, 5, 3, 2, 4), numbered_images(1, 5, 3, 2, 4)},
                                 {.columns = 2, .gap = 1, .fill = 0.5f});
  ASSERT_EQ(grid.dims(), (Dims{6 * (3 + 1) + 1, 2 * (2 + 1) + 1, 4}));
  EXPECT_EQ(at(grid, 0, 0), 0.5f);       // the border
  EXPECT_EQ(at(grid, 1, 1), 0.001f);     // batch 0, image 0 at band 0, row 0, column 0
  EXPECT_EQ(at(grid, 3, 2, 3), 0.001f);  // its last pixel, last channel
  EXPECT_EQ(at(grid, 1, 3), 0.5f);       // the gap between columns
  EXPECT_EQ(at(grid, 1, 4), 0.002f);     // image 1 beside it
  EXPECT_EQ(at(grid, 5, 1), 0.101f);     // batch 1's image 0 under batch 0's
  EXPECT_EQ(at(grid, 9, 1), 0.003f);     // band 1: image 2
  EXPECT_EQ(at(grid, 13, 4), 0.104f);    // batch 1's image 3
  EXPECT_EQ(at(grid, 17, 1), 0.005f);    // band 2: image 4 alone
  EXPECT_EQ(at(grid, 17, 4), 0.5f);      // the empty cell after it
  EXPECT_EQ(at(grid, 21, 1), 0.105f);
  // One image [H, W, C], default columns (ceil(sqrt(1)) = 1) and gap 2.
  const Tensor one = image_grid({numbered_images(0, 1, 3, 2, 1).reshaped({3, 2, 1})});
  EXPECT_EQ(one.dims(), (Dims{3 + 4, 2 + 4, 1}));
}

TEST(ImageGrid, BatchesThatDoNotFitAreOneLineErrors) {
  const Tensor a = numbered_images(0, 4, 3, 2, 4);
  EXPECT_EQ(error_of([&] {
              image_grid({a, numbered_images(0, 3, 3, 2, 4)}, {}, {"orig.npy", "recon.npy"});
            }),
            "recon.npy: is float32[3,3,2,4], but orig.npy is float32[4,3,2,4]; the images of a grid's rows must "
            "match one for one");
  EXPECT_EQ(error_of([&] {
              image_grid({Tensor(DType::f32, {4, 3, 2, 5})});
            }),
            "batch 1: is float32[4,3,2,5]; an image grid takes float32 [N, H, W, C] or [H, W, C] with C in 1..4");
  EXPECT_EQ(error_of([&] { image_grid({}); }), "image grid: no images");
}

// The notebook's compose_code_A/B/C over np.linspace(-2, 2, 20), in itertools.product order.
TEST(LatentGrid, TheNotebooksLayoutsOverALinspace) {
  const Tensor a = latent_grid("A", 16, 20, -2, 2);
  ASSERT_EQ(a.dims(), (Dims{400, 16}));
  const auto code = [](const Tensor& t, int64_t row) {
    return std::vector<float>(t.data<float>() + row * 16, t.data<float>() + row * 16 + 16);
  };
  const float x = static_cast<float>(-2 + 3 * (4.0 / 19)), y = static_cast<float>(-2 + 17 * (4.0 / 19));
  const int64_t row = 3 * 20 + 17;  // product(axis, axis): x = axis[3], y = axis[17]
  EXPECT_EQ(code(a, row), (std::vector<float>{x, x, x, x, x, x, x, x, y, y, y, y, y, y, y, y}));
  EXPECT_EQ(code(latent_grid("B", 16, 20, -2, 2), row),
            (std::vector<float>{x, y, x, y, x, y, x, y, x, y, x, y, x, y, x, y}));
  EXPECT_EQ(code(latent_grid("C", 16, 20, -2, 2), row),
            (std::vector<float>{x, x, y, y, x, x, y, y, x, x, y, y, x, x, y, y}));
  EXPECT_EQ(code(a, 0)[0], -2.f);
  EXPECT_EQ(code(a, 399)[15], 2.f);  // linspace ends exactly at high
  const Tensor pattern = latent_grid("xyy", 0, 2, 0, 1);
  ASSERT_EQ(pattern.dims(), (Dims{4, 3}));
  EXPECT_EQ(std::vector<float>(pattern.data<float>() + 3, pattern.data<float>() + 6), (std::vector<float>{0, 1, 1}));
  EXPECT_EQ(error_of([] { latent_grid("D", 16, 20, -2, 2); }),
            "latent grid: layout 'D' is not A, B, C or a string of x and y (one per dim)");
  EXPECT_EQ(error_of([] { latent_grid("xy", 16, 20, -2, 2); }), "latent grid: layout 'xy' has 2 dims, not 16");
  EXPECT_EQ(error_of([] { latent_grid("A", 0, 20, -2, 2); }),
            "latent grid: layout A needs a number of dims (>= 1), got 0");
}

// The command line: codes to .npy, images (.npy, a PNG directory) to one PNG grid.
TEST(LatentGrid, CliWritesCodesAndMontagesReadBackAsPngsOfTheGridsSize) {
  const std::filesystem::path dir = testing::fresh_temp_path("grid_cli");
  std::filesystem::create_directories(dir / "pngs");
  testing::CliResult r =
      testing::cli("latent-grid --layout B --dims 16 --steps 5 --range=-1,1 -o " + (dir / "z.npy").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const Tensor z = read_npy((dir / "z.npy").string());
  EXPECT_EQ(z.dims(), (Dims{25, 16}));
  EXPECT_EQ(z.data<float>()[1], -1.f);  // code 0: x = y = -1

  const Tensor images = numbered_images(0, 7, 36, 36, 4);
  write_npy((dir / "images.npy").string(), images);
  for (int i = 0; i < 7; ++i)
    write_png((dir / "pngs" / ("img" + std::to_string(i) + ".png")).string(),
              numbered_images(0, 1, 36, 36, 4).reshaped({36, 36, 4}));
  r = testing::cli("montage " + (dir / "images.npy").string() + " " + (dir / "pngs").string() + " --cols 3 -o " +
                   (dir / "out" / "montage.png").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(read_png((dir / "out" / "montage.png").string()).dims(), (Dims{6 * 38 + 2, 3 * 38 + 2, 4}));
  r = testing::cli("montage " + (dir / "z.npy").string() + " -o " + (dir / "z.png").string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.output,
            "graphrun: error: " + (dir / "z.npy").string() +
                ": is float32[25,16]; an image grid takes float32 [N, H, W, C] or [H, W, C] with C in 1..4\n");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace graphrun
