// Text datasets for training: DataConfig -> padded token ids and labels.
//
// Reads the train/validation/test files (CSV, TSV or text;label), builds the
// vocabulary (a Keras Tokenizer fit on the training texts, or the words of a
// word-vector set), turns texts into padded id sequences (Keras pad_sequences)
// and labels into class ids. Everything is read once, up front.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "graphrun.pb.h"
#include "graphrun/data/table.h"
#include "graphrun/data/tokenizer.h"
#include "graphrun/tensor.h"

namespace graphrun {

struct TextSplit {
  Tensor tokens;  // int64 [N, max_length]
  Tensor labels;  // int64 [N]
  int64_t size() const { return tokens.empty() ? 0 : tokens.dims()[0]; }
};

// How texts become ids; saved in the run directory so `eval`/`predict` tokenize
// exactly as training did.
class Vocabulary {
 public:
  static Vocabulary fit(const pb::DataConfig& config, const std::vector<std::string>& train_texts);
  static Vocabulary from_words(const pb::DataConfig& config, std::vector<std::string> sorted_words);
  static Vocabulary load(const std::string& path);
  // What load() reads, from text held in memory (a model bundle's); `source` names it in errors.
  static Vocabulary parse(const std::string& text, const std::string& source);
  void save(const std::string& path) const;

  std::vector<int64_t> ids(const std::string& text) const;
  // The words of `text` that get an id, in order, with their ids.
  std::vector<std::pair<std::string, int64_t>> tokens(const std::string& text) const;
  int64_t size() const;  // largest id + 1
  const data::WordIndex& word_index() const;

 private:
  std::optional<data::Tokenizer> tokenizer_;  // FIT_ON_TRAIN
  data::TokenizerConfig word_config_;         // WORD_VECTORS: how texts split into words
  data::WordIndex words_;                     // WORD_VECTORS: word -> id (from 1)
};

struct TextDataset {
  TextSplit train, validation, test;
  Vocabulary vocabulary;
  std::vector<std::string> classes;  // class names (empty for integer labels)
  int64_t num_classes = 0;
  int64_t max_length = 0;
  std::string notes;  // what a person should know: skipped rows, words without vectors
  // The word-vector embedding, when the config has one.
  std::string embedding_parameter;
  Tensor embedding;
};

// What load_text_dataset reads: by default everything, fitting the vocabulary
// (training). To score one split of a finished run, pass the run's saved
// vocabulary and the length it trained with, and name the split: only the files
// that split needs are read (for "test", the test files alone).
struct DatasetScope {
  const Vocabulary* vocabulary = nullptr;  // use instead of building one
  int64_t max_length = 0;                  // with `vocabulary`, when the config's max_length is 0
  std::string only_split;                  // "", "train", "validation" or "test"
};

// Texts as a model takes them: the vocabulary (the scope's, the word vectors'
// words, or a Tokenizer fit on the training texts), each split's padded token ids
// (int64 [N, max_length]; empty without texts) and the word-vector embedding.
struct TokenizedTexts {
  Tensor train, validation, test;
  Vocabulary vocabulary;
  int64_t max_length = 0;
  std::string embedding_parameter;  // with data.word_vectors.parameter
  Tensor embedding;
  std::string notes;  // words without vectors
};
TokenizedTexts tokenize_texts(const pb::DataConfig& config, const std::string& base_dir, const DatasetScope& scope,
                              const std::vector<std::string>& train, const std::vector<std::string>& validation,
                              const std::vector<std::string>& test);

// `base_dir` resolves relative paths. Errors name the file and line.
TextDataset load_text_dataset(const pb::DataConfig& config, const std::string& base_dir, uint64_t seed,
                              const DatasetScope& scope = {});

// The word-vector embedding of `vocabulary` ([size, dim], row 0 and words
// without a vector zero), reading only the vocabulary's words from the files.
Tensor word_vector_embedding(const pb::DataConfig& config, const std::string& base_dir, const Vocabulary& vocabulary);

// Token ids of one text, padded/truncated as the config says: int64 [1, max_length].
// `positions` receives, for each kept token, its index in the padded row.
Tensor encode_text(const pb::DataConfig& config, int64_t max_length, const Vocabulary& vocabulary,
                   const std::string& text, std::vector<std::pair<std::string, int64_t>>* kept_tokens = nullptr,
                   std::vector<int64_t>* positions = nullptr);

// Shared with the numeric source (numeric_dataset.h), which reads the same files:
// the config's files resolved against `base`; the files of a split as one table
// (CSV or TSV, per the config's format and header); a column given as a header
// name or a 0-based index (`fallback` when empty; `what` names the field in errors).
std::vector<std::string> data_paths(const google::protobuf::RepeatedPtrField<std::string>& files,
                                    const std::string& base);
data::Table read_data_table(const pb::DataConfig& config, const std::vector<std::string>& paths);
size_t table_column(const data::Table& table, const std::string& column, size_t fallback, const char* what);
// The config's literal text replacements (data.replace), applied in order before tokenizing.
std::string apply_replacements(const pb::DataConfig& config, std::string text);

}  // namespace graphrun
