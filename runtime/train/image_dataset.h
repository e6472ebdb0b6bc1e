// Image datasets for training (DataConfig format PNG_DIR): directories of PNG
// files, read once, up front, as float32 [N, H, W, C] in [0, 1]. There are no
// labels: an image model's loss is computed from the images alone.
#pragma once

#include <string>

#include "graphrun.pb.h"
#include "graphrun/tensor.h"

namespace graphrun {

struct ImageDataset {
  Tensor train, validation, test;  // float32 [N, H, W, C]; empty when the config has no such split
};

// `base_dir` resolves relative directories. `only_split` ("", "train",
// "validation" or "test") reads just what that split needs (a validation_split
// reads the training directories). Errors name the directory or file at fault.
ImageDataset load_image_dataset(const pb::DataConfig& config, const std::string& base_dir, uint64_t seed,
                                const std::string& only_split = "");

}  // namespace graphrun
