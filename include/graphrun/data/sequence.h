// pad_sequences with the semantics of Keras 2's
// keras.preprocessing.sequence.pad_sequences (dtype int64 instead of int32).
//
//   - maxlen unset: the length of the longest sequence (0 if there are none).
//   - truncating kPre (default) drops values from the front of a longer
//     sequence, keeping its last maxlen; kPost keeps its first maxlen.
//   - padding kPre (default) puts the `value`s before the sequence, kPost
//     after it.
//   - Empty sequences give a row of `value`s.
// One difference: maxlen = 0 gives rows of width 0 (Keras raises an error for
// it when a sequence is not empty).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace graphrun::data {

enum class Side { kPre, kPost };

// "pre" or "post" (as in Keras); anything else is an Error naming the value
// and `what` (e.g. "padding").
Side parse_side(std::string_view text, std::string_view what);

struct PadOptions {
  std::optional<std::int64_t> maxlen{};  // unset: longest sequence
  Side padding = Side::kPre;
  Side truncating = Side::kPre;
  std::int64_t value = 0;
};

// A dense int64 matrix, row-major: values[i * shape[1] + j].
struct Padded {
  std::vector<std::int64_t> values;
  std::vector<std::int64_t> shape;  // {number of sequences, maxlen}
};

// Throws Error if maxlen is negative.
Padded pad_sequences(std::span<const std::vector<std::int64_t>> sequences, const PadOptions& options = {});

}  // namespace graphrun::data
