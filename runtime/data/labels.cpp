#include "graphrun/data/labels.h"

#include <algorithm>
#include <map>
#include <unordered_map>

#include <fmt/format.h>

#include "graphrun/error.h"
#include "parse_util.h"

namespace graphrun::data {
namespace {

// Runs `encode(row)` for every row; it returns a class id or throws Error for a
// bad label. Collects the ids, or skips and counts the bad rows.
template <typename Encode>
EncodedLabels encode_rows(std::span<const Row> rows, bool skip_bad_rows, Encode encode) {
  EncodedLabels out;
  out.ids.reserve(rows.size());
  out.kept.reserve(rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    try {
      out.ids.push_back(encode(rows[i]));
      out.kept.push_back(i);
    } catch (const Error& e) {
      if (!skip_bad_rows) throw;
      if (out.skipped++ == 0) out.first_skip = e.what();
    }
  }
  return out;
}

[[noreturn]] void bad_label(const Row& row, const std::string& what) {
  throw Error(fmt::format("{}: {}", row.where.str(), what));
}

// The sorted distinct non-empty labels of the rows that have the column.
std::vector<std::string> distinct_labels(std::span<const Row> rows, std::size_t column) {
  std::vector<std::string> labels;
  for (const Row& row : rows) {
    if (column < row.fields.size() && !row.fields[column].empty()) {
      labels.push_back(row.fields[column]);
    }
  }
  std::sort(labels.begin(), labels.end());
  labels.erase(std::unique(labels.begin(), labels.end()), labels.end());
  return labels;
}

}  // namespace

EncodedLabels encode_labels(std::span<const Row> rows, std::size_t column, const LabelOptions& options) {
  std::vector<std::string> classes = options.classes.empty() ? distinct_labels(rows, column) : options.classes;
  std::unordered_map<std::string, std::int64_t> id_of;
  for (std::size_t i = 0; i < classes.size(); ++i) {
    if (classes[i].empty()) throw Error("label classes: empty class name");
    if (!id_of.emplace(classes[i], static_cast<std::int64_t>(i)).second) {
      throw Error("label classes: duplicate class " + detail::quote_for_message(classes[i]));
    }
  }
  EncodedLabels out = encode_rows(rows, options.skip_bad_rows, [&](const Row& row) {
    const std::string& label = row.field(column);
    if (label.empty()) bad_label(row, "empty label");
    auto it = id_of.find(label);
    if (it == id_of.end()) {
      bad_label(row, fmt::format("unknown label {} (classes: {})", detail::quote_for_message(label),
                                 detail::quoted_list(classes)));
    }
    return it->second;
  });
  out.num_classes = static_cast<std::int64_t>(classes.size());
  out.classes = std::move(classes);
  return out;
}

EncodedLabels encode_int_labels(std::span<const Row> rows, std::size_t column, std::optional<std::int64_t> num_classes,
                                bool skip_bad_rows) {
  if (num_classes && *num_classes <= 0) {
    throw Error(fmt::format("label classes: num_classes must be > 0, got {}", *num_classes));
  }
  EncodedLabels out = encode_rows(rows, skip_bad_rows, [&](const Row& row) {
    const std::string& label = row.field(column);
    const auto id = detail::parse_int64(detail::trim_ascii(label));
    if (!id) bad_label(row, "label " + detail::quote_for_message(label) + " is not an integer");
    if (*id < 0) bad_label(row, fmt::format("label {} is negative", *id));
    if (num_classes && *id >= *num_classes) {
      bad_label(row, fmt::format("label {} is out of range 0..{}", *id, *num_classes - 1));
    }
    return *id;
  });
  // Without a given count, the largest id seen decides (as Keras'
  // to_categorical does); `classes` stays empty since ids may be sparse.
  out.num_classes =
      num_classes ? *num_classes : (out.ids.empty() ? 0 : *std::max_element(out.ids.begin(), out.ids.end()) + 1);
  return out;
}

}  // namespace graphrun::data
