#include "graphrun/data/embeddings.h"

#include <algorithm>
#include <functional>

#include <fmt/format.h>

#include "graphrun/data/text_file.h"
#include "graphrun/error.h"
#include "parse_util.h"

namespace graphrun::data {
namespace {

constexpr std::size_t kMissingWordsShown = 20;

// Parses "word v1 ... vD" into `vector`; sets `dim` from the first line seen.
// Returns the word.
std::string_view parse_vector_line(std::string_view line, const LineReader& in, std::int64_t& dim,
                                   std::vector<float>& vector) {
  const auto fields = detail::split_whitespace(line);
  const auto count = static_cast<std::int64_t>(fields.size()) - 1;
  if (dim == 0) {
    if (count < 1) {
      throw Error(fmt::format("{}:{}: word {} has no vector values", in.path(), in.line_number(),
                              detail::quote_for_message(fields[0])));
    }
    dim = count;
  }
  if (count != dim) {
    throw Error(fmt::format("{}:{}: word {} has {} values, expected {}", in.path(), in.line_number(),
                            detail::quote_for_message(fields[0]), count, dim));
  }
  vector.resize(static_cast<std::size_t>(dim));
  for (std::size_t i = 1; i < fields.size(); ++i) {
    const auto value = detail::parse_float(fields[i]);
    if (!value) {
      throw Error(fmt::format("{}:{}: value {} of word {} is not a float: {}", in.path(), in.line_number(), i,
                              detail::quote_for_message(fields[0]), detail::quote_for_message(fields[i])));
    }
    vector[i - 1] = *value;
  }
  return fields[0];
}

// Reads all files, calling `keep(word, vector)` for each line.
void for_each_vector(std::span<const std::string> paths, std::int64_t& dim,
                     const std::function<void(std::string_view, const std::vector<float>&)>& keep) {
  std::string line;
  std::vector<float> vector;
  for (const std::string& path : paths) {
    LineReader in(path);
    while (in.next(line)) {
      if (detail::trim_ascii(line).empty()) continue;
      const std::string_view word = parse_vector_line(line, in, dim, vector);
      keep(word, vector);
    }
  }
}

WordVectors load(std::span<const std::string> paths, const WordIndex* vocabulary) {
  WordVectors table;
  for_each_vector(paths, table.dim, [&](std::string_view word_view, const std::vector<float>& v) {
    std::string word(word_view);
    if (vocabulary != nullptr && !vocabulary->contains(word)) return;
    auto [it, inserted] = table.row_of.try_emplace(word, static_cast<std::int64_t>(table.words.size()));
    if (inserted) {
      table.words.push_back(std::move(word));
      table.values.insert(table.values.end(), v.begin(), v.end());
    } else {  // a repeated word keeps its last vector, as a Python dict would
      std::copy(v.begin(), v.end(), table.values.begin() + it->second * table.dim);
    }
  });
  return table;
}

// Words of `word_index` whose index is in 1..num_rows-1.
WordIndex rows_in_range(const WordIndex& word_index, std::int64_t num_rows) {
  WordIndex kept;
  for (const auto& [word, index] : word_index) {
    if (index >= 1 && index < num_rows) kept.emplace(word, index);
  }
  return kept;
}

}  // namespace

std::span<const float> WordVectors::vector(const std::string& word) const {
  auto it = row_of.find(word);
  if (it == row_of.end()) return {};
  return std::span<const float>(values).subspan(static_cast<std::size_t>(it->second * dim),
                                                static_cast<std::size_t>(dim));
}

WordVectors load_word_vectors(std::span<const std::string> paths) { return load(paths, nullptr); }

WordVectors load_word_vectors(std::span<const std::string> paths, const WordIndex& vocabulary) {
  return load(paths, &vocabulary);
}

WordIndex sorted_word_index(const WordVectors& vectors) {
  std::vector<std::string> words = vectors.words;
  std::sort(words.begin(), words.end());
  WordIndex index;
  for (std::size_t i = 0; i < words.size(); ++i) {
    index.emplace(words[i], static_cast<std::int64_t>(i + 1));
  }
  return index;
}

EmbeddingMatrix build_embedding_matrix(const WordVectors& vectors, const WordIndex& word_index, std::int64_t num_rows) {
  if (num_rows < 1) {
    throw Error(fmt::format("embedding matrix: num_rows must be >= 1, got {}", num_rows));
  }
  EmbeddingMatrix matrix;
  matrix.rows = num_rows;
  matrix.dim = vectors.dim;
  matrix.values.assign(static_cast<std::size_t>(num_rows * vectors.dim), 0.0f);
  // Walk the rows in index order so that missing_words lists the most frequent.
  std::vector<const std::string*> word_at(static_cast<std::size_t>(num_rows), nullptr);
  for (const auto& [word, index] : rows_in_range(word_index, num_rows)) {
    word_at[static_cast<std::size_t>(index)] = &word_index.find(word)->first;
  }
  for (std::int64_t row = 1; row < num_rows; ++row) {
    const std::string* word = word_at[static_cast<std::size_t>(row)];
    if (word == nullptr) continue;
    const auto v = vectors.vector(*word);
    if (v.empty()) {
      if (matrix.missing_words.size() < kMissingWordsShown) matrix.missing_words.push_back(*word);
      ++matrix.missing;
      continue;
    }
    std::copy(v.begin(), v.end(), matrix.values.begin() + row * vectors.dim);
  }
  return matrix;
}

EmbeddingMatrix build_embedding_matrix(std::span<const std::string> paths, const WordIndex& word_index,
                                       std::int64_t num_rows) {
  return build_embedding_matrix(load_word_vectors(paths, rows_in_range(word_index, num_rows)), word_index, num_rows);
}

}  // namespace graphrun::data
