// Turning a label column into class ids 0..C-1.
//
// String labels: either a fixed class list (id = position in the list, as
// with a Keras model whose output units are in that order), or, if none is
// given, the distinct labels sorted by byte value (for ASCII and UTF-8 the
// same order as Python's sorted() and sklearn's LabelEncoder). Labels are
// matched exactly, case- and whitespace-sensitive.
// Integer labels: base-10 integers, surrounding ASCII whitespace allowed (as
// Python's int()), which must lie in 0..num_classes-1.
//
// A bad label (unknown class, empty, not an integer, out of range, or a row too
// short to have the label column) is an Error "<file>:<line>: ..." naming the
// label, unless skip_bad_rows is set: then the row is left out and counted.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "graphrun/data/table.h"

namespace graphrun::data {

struct EncodedLabels {
  std::vector<std::int64_t> ids;     // one class id per kept row
  std::vector<std::size_t> kept;     // index (into the input rows) of each id
  std::int64_t num_classes = 0;      // number of classes (ids are < num_classes)
  std::vector<std::string> classes;  // id -> class name (string labels only)
  std::size_t skipped = 0;           // rows left out (skip_bad_rows only)
  std::string first_skip;            // why the first skipped row was left out
};

struct LabelOptions {
  // Class names in id order; empty: the sorted distinct labels of the rows.
  std::vector<std::string> classes{};
  bool skip_bad_rows = false;
};

// Encodes column `column` of `rows` as string class labels. Throws Error if
// `options.classes` has a duplicate or empty name.
EncodedLabels encode_labels(std::span<const Row> rows, std::size_t column, const LabelOptions& options = {});

// Encodes column `column` of `rows` as integer class ids. With num_classes
// unset, any integer >= 0 is accepted and num_classes is the largest id + 1
// (as Keras' to_categorical); `classes` stays empty.
EncodedLabels encode_int_labels(std::span<const Row> rows, std::size_t column,
                                std::optional<std::int64_t> num_classes = std::nullopt, bool skip_bad_rows = false);

// values[kept[0]], values[kept[1]], ...: the other columns of the kept rows.
template <typename T>
std::vector<T> gather(const std::vector<T>& values, std::span<const std::size_t> kept) {
  std::vector<T> out;
  out.reserve(kept.size());
  for (std::size_t i : kept) out.push_back(values.at(i));
  return out;
}

}  // namespace graphrun::data
