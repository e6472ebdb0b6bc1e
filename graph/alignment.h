// The byte alignment of graphrun's buffers (tensors and plan arenas) and of the
// regions planned inside an arena (temporaries, kernel scratchpads, the regions a
// kernel carves from its scratchpad), so that every buffer a kernel sees is aligned
// for vector loads and oneDNN.
#pragma once

#include <cstddef>

namespace graphrun {

inline constexpr size_t kBufferAlignment = 64;

// `bytes` rounded up to a multiple of `alignment`.
constexpr size_t align_up(size_t bytes, size_t alignment = kBufferAlignment) {
  return (bytes + alignment - 1) / alignment * alignment;
}

}  // namespace graphrun
