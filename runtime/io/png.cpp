#include "graphrun/png.h"

#include <fmt/format.h>
#include <png.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>

#include "graph/shape.h"

namespace graphrun {
namespace {

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw Error(fmt::format("{}: {}", path, what));
}

// png_image_free releases libpng's state on every path, including the exceptions below.
struct ImageGuard {
  png_image& image;
  ~ImageGuard() { png_image_free(&image); }
};

// 2^28 samples (a 16384 x 16384 gray or 8192 x 8192 RGBA image) is a 1 GiB
// float tensor: beyond any image a model here is fed, far below what wraps.
constexpr int64_t kMaxPngSamples = int64_t{1} << 28;

// The most output bytes one byte of a PNG file can decode to: deflate expands at
// most 1032:1, and one stored byte becomes at most 32 output bytes (8 pixels of a
// 1-bit palette image, as RGBA). A header claiming more than file size x this is
// rejected before its buffer is allocated.
constexpr int64_t kMaxPngExpansion = 1032 * 32;

uint32_t format_for_channels(int64_t channels) {
  switch (channels) {
    case 1:
      return PNG_FORMAT_GRAY;
    case 2:
      return PNG_FORMAT_GA;
    case 3:
      return PNG_FORMAT_RGB;
    default:
      return PNG_FORMAT_RGBA;
  }
}

}  // namespace

Tensor read_png(const std::string& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!file) fail(path, fmt::format("cannot open PNG file ({})", std::strerror(errno)));
  // Check the signature ourselves: libpng's message for a non-PNG is less clear.
  png_byte signature[8] = {};
  if (std::fread(signature, 1, 8, file.get()) != 8 || png_sig_cmp(signature, 0, 8) != 0)
    fail(path, "not a PNG file (bad signature)");
  std::rewind(file.get());

  png_image image;
  std::memset(&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  ImageGuard guard{image};
  if (!png_image_begin_read_from_stdio(&image, file.get()))
    fail(path, fmt::format("corrupt PNG file ({})", image.message));
  // Keep the file's color and alpha channels, as 8-bit sRGB bytes. Untagged 16-bit
  // data is taken as sRGB too (libpng would assume linear and re-encode it).
  image.format &= PNG_FORMAT_FLAG_COLOR | PNG_FORMAT_FLAG_ALPHA;
  image.flags |= PNG_IMAGE_FLAG_16BIT_sRGB;
  const int64_t channels = PNG_IMAGE_SAMPLE_CHANNELS(image.format);
  const Dims dims{image.height, image.width, channels};
  const std::string image_size =
      fmt::format("{}x{} pixels with {} channel{}", image.width, image.height, channels, channels == 1 ? "" : "s");
  // The header alone sets the size: check it before allocating (PNG_IMAGE_SIZE wraps in 32 bits).
  if (checked_num_elements(dims, path) > kMaxPngSamples)
    fail(path, fmt::format("image of {} has more than the {} samples graphrun reads", image_size, kMaxPngSamples));
  std::error_code size_error;
  const auto file_size = static_cast<int64_t>(std::filesystem::file_size(path, size_error));
  if (!size_error && num_elements(dims) / kMaxPngExpansion > file_size)
    fail(path, fmt::format("image of {} cannot be stored in a file of {} bytes", image_size, file_size));
  std::vector<png_byte> bytes(static_cast<size_t>(num_elements(dims)));
  if (!png_image_finish_read(&image, nullptr, bytes.data(), 0, nullptr))
    fail(path, fmt::format("corrupt PNG file ({})", image.message));

  Tensor t = Tensor::uninitialized(DType::f32, dims);
  std::transform(bytes.begin(), bytes.end(), t.data<float>(), [](png_byte b) { return static_cast<float>(b) / 255.f; });
  return t;
}

Tensor read_png_batch(const std::vector<std::string>& paths) {
  if (paths.empty()) throw Error("no PNG files to read");
  std::vector<Tensor> images;
  images.reserve(paths.size());
  for (const std::string& path : paths) {
    images.push_back(read_png(path));
    if (images.back().dims() != images.front().dims())
      fail(path, fmt::format("image is {} [H, W, C] but {} is {}; every image of a batch must have the same shape",
                             dims_str(images.back().dims()), paths.front(), dims_str(images.front().dims())));
  }
  Dims dims = images.front().dims();
  const int64_t per_image = images.front().num_elements();
  dims.insert(dims.begin(), static_cast<int64_t>(images.size()));
  Tensor batch = Tensor::uninitialized(DType::f32, dims);
  for (size_t i = 0; i < images.size(); ++i)
    std::copy_n(images[i].data<float>(), per_image, batch.data<float>() + static_cast<int64_t>(i) * per_image);
  return batch;
}

std::vector<std::string> list_png_dir(const std::string& dir) {
  std::vector<std::string> paths;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec))
    if (entry.path().extension() == ".png" && entry.is_regular_file()) paths.push_back(entry.path().string());
  if (ec) fail(dir, fmt::format("cannot list directory ({})", ec.message()));
  if (paths.empty()) fail(dir, "directory holds no .png files");
  std::sort(paths.begin(), paths.end());
  return paths;
}

Tensor read_png_dir(const std::string& dir) { return read_png_batch(list_png_dir(dir)); }

void write_png(const std::string& path, const Tensor& image) {
  const Dims& d = image.dims();
  if (image.dtype() != DType::f32 || d.size() != 3 || d[2] < 1 || d[2] > 4 || d[0] < 1 || d[1] < 1)
    fail(path, fmt::format("cannot write {} as PNG: expected float32 [H, W, C] with C in 1..4", image.type_string()));
  std::vector<png_byte> bytes(static_cast<size_t>(image.num_elements()));
  const float* values = image.data<float>();
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (std::isnan(values[i])) fail(path, fmt::format("cannot write PNG: element {} is NaN", i));
    bytes[i] = static_cast<png_byte>(std::lround(std::clamp(values[i], 0.f, 1.f) * 255.f));
  }

  png_image png;
  std::memset(&png, 0, sizeof png);
  png.version = PNG_IMAGE_VERSION;
  png.width = static_cast<png_uint_32>(d[1]);
  png.height = static_cast<png_uint_32>(d[0]);
  png.format = format_for_channels(d[2]);
  ImageGuard guard{png};
  // Temp file and rename, as checkpoints: a reader never sees half an image.
  const std::string temp = path + ".tmp";
  if (!png_image_write_to_file(&png, temp.c_str(), 0, bytes.data(), 0, nullptr)) {
    std::error_code ignored;
    std::filesystem::remove(temp, ignored);
    fail(path, fmt::format("cannot write PNG ({})", png.message));
  }
  std::error_code ec;
  std::filesystem::rename(temp, path, ec);
  if (ec) fail(path, fmt::format("cannot write PNG ({})", ec.message()));
}

}  // namespace graphrun
