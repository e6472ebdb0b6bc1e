// NumPy .npy files in and out (format versions 1.0-3.0, C order).
//
// Reads little-endian float32, float64 (converted to float32), int64 and int32
// (converted to int64); writes float32 and int64. Errors name the file.
#pragma once

#include <string>

#include "graphrun/tensor.h"

namespace graphrun {

Tensor read_npy(const std::string& path);
void write_npy(const std::string& path, const Tensor& tensor);

}  // namespace graphrun
