// Pretrained word vectors in GloVe text format and embedding matrices built
// from them, as in the Keras examples:
//
//   embedding_matrix = np.zeros((num_rows, dim))
//   for word, i in word_index.items():
//       if i >= num_rows: continue
//       v = embeddings_index.get(word)
//       if v is not None: embedding_matrix[i] = v
//
// File format: one word per line, "word v1 v2 ... vD", fields separated by
// spaces (any run of ASCII whitespace, as Python's str.split()). Files may be
// gzip-compressed; a set of files (e.g. glove.6B.100d.top30k.part01.txt ...
// part08.txt) is read in the given order as one table. D is taken from the
// first line and every line of every file must have D numbers. Empty lines are
// skipped. A word that occurs twice keeps its last vector (Python dict
// semantics). Errors name file:line: wrong number of values, a value that is
// not a number (or overflows float).
//
// Files are read line by line, so the vocabulary-filtered loaders need memory
// only for the vectors they keep.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "graphrun/data/tokenizer.h"  // WordIndex

namespace graphrun::data {

struct WordVectors {
  std::int64_t dim = 0;
  std::vector<std::string> words;  // in order of first appearance in the files
  std::vector<float> values;       // [words.size(), dim], row-major
  WordIndex row_of;                // word -> row in `words` / `values` (0-based)

  // The vector of `word`, or an empty span if it has none.
  std::span<const float> vector(const std::string& word) const;
};

// Every word of the files.
WordVectors load_word_vectors(std::span<const std::string> paths);

// Only the words that are keys of `vocabulary` (the others are parsed and
// checked, but not kept). `dim` is still set if no word was kept.
WordVectors load_word_vectors(std::span<const std::string> paths, const WordIndex& vocabulary);

// A word index for the whole table as the deeplearning.ai Emojify code builds
// it (read_glove_vecs): the words sorted by byte value (= Python's sorted() on
// code points for UTF-8), indices starting at 1. Use it with
// build_embedding_matrix(vectors, index, index.size() + 1).
WordIndex sorted_word_index(const WordVectors& vectors);

struct EmbeddingMatrix {
  std::int64_t rows = 0;
  std::int64_t dim = 0;
  std::vector<float> values;  // [rows, dim], row-major
  // Words with index in 1..rows-1 that have no vector (their rows stay zero).
  std::int64_t missing = 0;
  std::vector<std::string> missing_words;  // the first 20 of them, by index
};

// Row i = the vector of the word with index i in `word_index`; row 0 and rows
// of words without a vector are zero; words with index >= num_rows are left
// out. Throws Error if num_rows < 1.
EmbeddingMatrix build_embedding_matrix(const WordVectors& vectors, const WordIndex& word_index, std::int64_t num_rows);

// Same, reading only the vectors of words in `word_index` with index < num_rows.
EmbeddingMatrix build_embedding_matrix(std::span<const std::string> paths, const WordIndex& word_index,
                                       std::int64_t num_rows);

}  // namespace graphrun::data
