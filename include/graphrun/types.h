// Element types and dimensions, shared by the public API and the internals.
#pragma once

#include <cstdint>
#include <vector>

namespace graphrun {

enum class DType : uint8_t { f32, i64 };

// -1 marks a dimension known only at run time (the batch).
constexpr int64_t kUnknownDim = -1;
using Dims = std::vector<int64_t>;

}  // namespace graphrun
