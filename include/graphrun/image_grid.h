// Pictures of image models: many images as one grid (a montage), and the latent
// codes of a 2-D grid for a generative model's decoder (`graphrun montage`,
// `graphrun latent-grid`).
//
//   graphrun::Tensor grid = graphrun::image_grid({originals, reconstructions}, {.columns = 20});
//   graphrun::write_png("montage.png", grid);
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "graphrun/tensor.h"

namespace graphrun {

struct GridOptions {
  int64_t columns = 0;  // images per row; 0: ceil(sqrt(N))
  int64_t gap = 2;      // pixels between images and around the grid
  float fill = 1;       // every channel of the gaps and empty cells (1: white, opaque)
};

// `batches` are float32 [N, H, W, C] (or one image [H, W, C]) of one H, W and C, with
// the same N. Image i of a batch goes to column i % columns of band i / columns; each
// band is one row per batch, in order, so batch 2's image i sits under batch 1's
// (originals above their reconstructions). Returns the grid, float32 [H', W', C], for
// write_png. Errors name the batch (by `names`, e.g. its file; default "batch 1", ...)
// and the shapes that do not fit.
Tensor image_grid(const std::vector<Tensor>& batches, const GridOptions& options = {},
                  const std::vector<std::string>& names = {});

// The latent codes of a steps x steps grid over [low, high]^2 (the emoji VAE notebook's
// generated-emoji figures), float32 [steps * steps, dims]: code r * steps + c has
// x = the r-th and y = the c-th of `steps` evenly spaced values from low to high
// (numpy.linspace), written into its dims by `layout`:
//   "A"  the first dims / 2 dims x, the rest y       (x x x x ... y y y y)
//   "B"  alternating, x first                         (x y x y ...)
//   "C"  pairs                                        (x x y y x x y y ...)
//   a string of x and y, one letter per dim ("xxyy"; then dims may be 0 or its length).
// Decoded and laid out with `columns = steps`, row r of the picture varies y along it.
Tensor latent_grid(const std::string& layout, int64_t dims, int64_t steps, double low, double high);

}  // namespace graphrun
