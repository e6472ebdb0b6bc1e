// Image grids (montages) and latent-code grids: see graphrun/image_grid.h.
#include "graphrun/image_grid.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "graphrun/error.h"

namespace graphrun {

Tensor image_grid(const std::vector<Tensor>& batches, const GridOptions& options,
                  const std::vector<std::string>& names) {
  const auto name_of = [&](size_t b) { return b < names.size() ? names[b] : fmt::format("batch {}", b + 1); };
  if (batches.empty()) throw Error("image grid: no images");
  if (options.columns < 0 || options.gap < 0)
    throw Error(fmt::format("image grid: columns {} and gap {} must not be negative", options.columns, options.gap));
  std::vector<Dims> shapes;  // each batch as [N, H, W, C]
  for (size_t b = 0; b < batches.size(); ++b) {
    Dims d = batches[b].dims();
    if (d.size() == 3) d.insert(d.begin(), 1);
    const bool image_like = batches[b].dtype() == DType::f32 && d.size() == 4 && d[3] >= 1 && d[3] <= 4;
    if (!image_like)
      throw Error(fmt::format("{}: is {}; an image grid takes float32 [N, H, W, C] or [H, W, C] with C in 1..4",
                              name_of(b), batches[b].type_string()));
    if (b > 0 && d != shapes[0])
      throw Error(fmt::format("{}: is {}, but {} is {}; the images of a grid's rows must match one for one", name_of(b),
                              batches[b].type_string(), name_of(0), batches[0].type_string()));
    shapes.push_back(d);
  }
  const int64_t n = shapes[0][0], h = shapes[0][1], w = shapes[0][2], c = shapes[0][3];
  if (n == 0) throw Error(fmt::format("{}: holds no images", name_of(0)));
  const int64_t columns =
      options.columns > 0 ? options.columns : static_cast<int64_t>(std::ceil(std::sqrt(static_cast<double>(n))));
  const int64_t bands = (n + columns - 1) / columns;
  const int64_t rows = bands * static_cast<int64_t>(batches.size());
  const int64_t gap = options.gap, height = rows * (h + gap) + gap, width = columns * (w + gap) + gap;
  Tensor grid(DType::f32, {height, width, c});
  std::fill_n(grid.data<float>(), grid.num_elements(), options.fill);
  for (size_t b = 0; b < batches.size(); ++b) {
    const float* images = batches[b].data<float>();
    for (int64_t i = 0; i < n; ++i) {
      const int64_t row = (i / columns) * static_cast<int64_t>(batches.size()) + static_cast<int64_t>(b);
      const int64_t top = gap + row * (h + gap), left = gap + (i % columns) * (w + gap);
      for (int64_t y = 0; y < h; ++y)
        std::copy_n(images + ((i * h + y) * w) * c, w * c, grid.data<float>() + ((top + y) * width + left) * c);
    }
  }
  return grid;
}

Tensor latent_grid(const std::string& layout, int64_t dims, int64_t steps, double low, double high) {
  std::string pattern;  // 'x' or 'y' per dim
  if (layout == "A" || layout == "B" || layout == "C") {
    if (dims < 1)
      throw Error(fmt::format("latent grid: layout {} needs a number of dims (>= 1), got {}", layout, dims));
    for (int64_t i = 0; i < dims; ++i) {
      const bool x = layout == "A" ? i < dims / 2 : layout == "B" ? i % 2 == 0 : (i / 2) % 2 == 0;
      pattern += x ? 'x' : 'y';
    }
  } else {
    const bool letters = !layout.empty() && layout.find_first_not_of("xy") == std::string::npos;
    if (!letters)
      throw Error(fmt::format("latent grid: layout '{}' is not A, B, C or a string of x and y (one per dim)", layout));
    if (dims != 0 && dims != static_cast<int64_t>(layout.size()))
      throw Error(fmt::format("latent grid: layout '{}' has {} dims, not {}", layout, layout.size(), dims));
    pattern = layout;
  }
  if (steps < 1) throw Error(fmt::format("latent grid: steps {} must be at least 1", steps));
  if (!std::isfinite(low) || !std::isfinite(high))
    throw Error(fmt::format("latent grid: range {},{} must be finite", low, high));
  // numpy.linspace(low, high, steps): low + k * (high - low) / (steps - 1), the last exactly high.
  std::vector<double> axis(static_cast<size_t>(steps), low);
  for (int64_t k = 1; k < steps; ++k)
    axis[static_cast<size_t>(k)] =
        k == steps - 1 ? high : low + static_cast<double>(k) * ((high - low) / double(steps - 1));
  const auto d = static_cast<int64_t>(pattern.size());
  Tensor codes(DType::f32, {steps * steps, d});
  for (int64_t r = 0; r < steps; ++r)
    for (int64_t col = 0; col < steps; ++col)
      for (int64_t i = 0; i < d; ++i)
        codes.data<float>()[(r * steps + col) * d + i] = static_cast<float>(
            pattern[static_cast<size_t>(i)] == 'x' ? axis[static_cast<size_t>(r)] : axis[static_cast<size_t>(col)]);
  return codes;
}

}  // namespace graphrun
