// PNG images in and out, through libpng's simplified (png_image) API.
//
// Images are float32 [H, W, C] with values byte / 255, C the file's channels
// after expansion: gray 1, gray + alpha 2, RGB 3, RGBA 4 (a palette gives 3, or
// 4 with transparency; a tRNS chunk on gray or RGB adds the alpha channel).
// 16-bit files are reduced to 8 bits (untagged ones taken as sRGB, not linear); a
// file with a non-sRGB gAMA chunk is converted to sRGB by libpng. Errors name the file.
#pragma once

#include <string>
#include <vector>

#include "graphrun/tensor.h"

namespace graphrun {

Tensor read_png(const std::string& path);
// [N, H, W, C], in the given order; every image must have the same H, W and C.
Tensor read_png_batch(const std::vector<std::string>& paths);
// The paths of every *.png in the directory, sorted by file name; an error names
// a directory that is missing or holds no .png file.
std::vector<std::string> list_png_dir(const std::string& dir);
// Every *.png in the directory, sorted by file name, as read_png_batch.
Tensor read_png_dir(const std::string& dir);
// float32 [H, W, C], C in {1, 2, 3, 4}; values are clipped to [0, 1] and rounded
// to the nearest byte. Written to a temp file and renamed into place.
void write_png(const std::string& path, const Tensor& image);

}  // namespace graphrun
