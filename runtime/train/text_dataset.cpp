#include "runtime/train/text_dataset.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "graphrun/data/embeddings.h"
#include "graphrun/data/labels.h"
#include "graphrun/data/sequence.h"
#include "graphrun/data/shuffle.h"
#include "graphrun/data/table.h"
#include "graphrun/data/text_file.h"
#include "runtime/train/dataset.h"

namespace graphrun {
namespace {

namespace fs = std::filesystem;

data::TokenizerConfig tokenizer_config(const pb::DataConfig& config) {
  data::TokenizerConfig t;
  if (config.has_filters()) t.filters = config.filters();
  if (config.has_lower()) t.lower = config.lower();
  if (config.num_words() > 0) t.num_words = config.num_words();
  if (!config.oov_token().empty()) t.oov_token = config.oov_token();
  return t;
}

// Raw texts and label ids of one split.
struct RawSplit {
  std::vector<std::string> texts;
  std::vector<int64_t> labels;
};

RawSplit read_split(const pb::DataConfig& config, const std::vector<std::string>& paths, size_t* skipped,
                    std::string* first_skip) {
  RawSplit split;
  if (paths.empty()) return split;
  const data::Table table = read_data_table(config, paths);
  const size_t text_col = table_column(table, config.text_column(), 0, "text_column");
  const size_t label_col = table_column(table, config.label_column(), 1, "label_column");

  // Empty texts are bad rows too.
  std::vector<data::Row> rows;
  for (const data::Row& row : table.rows) {
    if (row.fields.size() <= std::max(text_col, label_col))
      throw Error(fmt::format("{}: row has {} fields, expected at least {}", row.where.str(), row.fields.size(),
                              std::max(text_col, label_col) + 1));
    const std::string& text = row.field(text_col);
    if (std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isspace(c); })) {
      if (!config.skip_bad_rows())
        throw Error(fmt::format("{}: empty text (set skip_bad_rows to skip such rows)", row.where.str()));
      if ((*skipped)++ == 0) *first_skip = row.where.str() + ": empty text";
      continue;
    }
    rows.push_back(row);
  }
  data::EncodedLabels labels = config.classes_size() > 0
                                   ? data::encode_labels(rows, label_col,
                                                         {.classes = {config.classes().begin(), config.classes().end()},
                                                          .skip_bad_rows = config.skip_bad_rows()})
                                   : data::encode_int_labels(rows, label_col, std::nullopt, config.skip_bad_rows());
  if (labels.skipped) {
    if (*skipped == 0) *first_skip = labels.first_skip;
    *skipped += labels.skipped;
  }
  for (size_t k = 0; k < labels.kept.size(); ++k) {
    split.texts.push_back(apply_replacements(config, rows[labels.kept[k]].field(text_col)));
    split.labels.push_back(labels.ids[k]);
  }
  return split;
}

// Padded token ids of `texts`: int64 [N, max_length] (empty without texts).
Tensor padded_ids(const std::vector<std::string>& texts, const Vocabulary& vocabulary, const pb::DataConfig& config,
                  int64_t max_length) {
  if (texts.empty()) return Tensor();
  std::vector<std::vector<int64_t>> sequences;
  for (const std::string& t : texts) sequences.push_back(vocabulary.ids(t));
  const data::Padded padded = data::pad_sequences(
      sequences, {.maxlen = max_length,
                  .padding = config.padding() == pb::DataConfig::POST ? data::Side::kPost : data::Side::kPre,
                  .truncating = config.truncating() == pb::DataConfig::POST ? data::Side::kPost : data::Side::kPre});
  return Tensor::from_ints({padded.shape[0], padded.shape[1]}, padded.values);
}

}  // namespace

// The config's literal text replacements ("<br />" -> " ", "'" -> ""), applied
// in order before tokenizing.
std::string apply_replacements(const pb::DataConfig& config, std::string text) {
  for (const pb::DataConfig::Replace& r : config.replace()) {
    if (r.from().empty()) continue;
    for (size_t at = text.find(r.from()); at != std::string::npos; at = text.find(r.from(), at + r.to().size()))
      text.replace(at, r.from().size(), r.to());
  }
  return text;
}

std::vector<std::string> data_paths(const google::protobuf::RepeatedPtrField<std::string>& files,
                                    const std::string& base) {
  std::vector<std::string> paths;
  for (const std::string& f : files) paths.push_back(fs::path(f).is_relative() ? (fs::path(base) / f).string() : f);
  return paths;
}

data::Table read_data_table(const pb::DataConfig& config, const std::vector<std::string>& paths) {
  const data::TableOptions options{.header = config.has_header() ? config.header()
                                                                 : config.format() != pb::DataConfig::TEXT_LABEL};
  switch (config.format()) {
    case pb::DataConfig::CSV:
      return data::read_csv_parts(paths, options);
    case pb::DataConfig::TSV:
    case pb::DataConfig::TEXT_LABEL: {
      data::Table all;
      for (const std::string& p : paths) {
        data::Table t = config.format() == pb::DataConfig::TSV ? data::read_tsv(p, options) : data::read_text_label(p);
        if (all.rows.empty()) {
          all.source = t.source;
          all.header = t.header;
        }
        for (data::Row& r : t.rows) all.rows.push_back(std::move(r));
      }
      return all;
    }
    default:
      throw Error(fmt::format("data format {} is not supported", static_cast<int>(config.format())));
  }
}

size_t table_column(const data::Table& table, const std::string& column, size_t fallback, const char* what) {
  if (column.empty()) return fallback;
  if (std::all_of(column.begin(), column.end(), ::isdigit)) return std::stoul(column);
  if (table.header.empty())
    throw Error(
        fmt::format("{}: {} '{}' is a column name, but the file is read without a header", table.source, what, column));
  return table.column_index(column);
}

Vocabulary Vocabulary::fit(const pb::DataConfig& config, const std::vector<std::string>& train_texts) {
  Vocabulary v;
  v.tokenizer_.emplace(tokenizer_config(config));
  v.tokenizer_->fit_on_texts(train_texts);
  return v;
}

Vocabulary Vocabulary::from_words(const pb::DataConfig& config, std::vector<std::string> sorted_words) {
  Vocabulary v;
  v.word_config_ = tokenizer_config(config);
  for (size_t i = 0; i < sorted_words.size(); ++i) v.words_.emplace(sorted_words[i], static_cast<int64_t>(i + 1));
  return v;
}

std::vector<int64_t> Vocabulary::ids(const std::string& text) const {
  if (tokenizer_) return tokenizer_->text_to_sequence(text);
  std::vector<int64_t> ids;
  for (const std::string& w :
       data::text_to_word_sequence(text, word_config_.filters, word_config_.lower, word_config_.split)) {
    auto it = words_.find(w);
    if (it != words_.end()) ids.push_back(it->second);  // unknown words are skipped
  }
  return ids;
}

std::vector<std::pair<std::string, int64_t>> Vocabulary::tokens(const std::string& text) const {
  std::vector<std::pair<std::string, int64_t>> out;
  if (tokenizer_) {
    const data::TokenizerConfig& c = tokenizer_->config();
    const std::optional<int64_t> oov = c.oov_token ? tokenizer_->index_of(*c.oov_token) : std::nullopt;
    for (const std::string& w : tokenizer_->tokenize(text)) {
      std::optional<int64_t> id = tokenizer_->index_of(w);
      if (id && c.num_words && *id >= *c.num_words) id.reset();  // Keras keeps ids < num_words
      if (!id) id = oov;
      if (id) out.emplace_back(w, *id);
    }
    return out;
  }
  for (const std::string& w :
       data::text_to_word_sequence(text, word_config_.filters, word_config_.lower, word_config_.split)) {
    auto it = words_.find(w);
    if (it != words_.end()) out.emplace_back(w, it->second);
  }
  return out;
}

int64_t Vocabulary::size() const {
  if (tokenizer_) {
    const int64_t all = static_cast<int64_t>(tokenizer_->index_word().size());
    return tokenizer_->config().num_words ? std::min(all, *tokenizer_->config().num_words) : all;
  }
  return static_cast<int64_t>(words_.size()) + 1;
}

const data::WordIndex& Vocabulary::word_index() const { return tokenizer_ ? tokenizer_->word_index() : words_; }

void Vocabulary::save(const std::string& path) const {
  if (tokenizer_) {
    tokenizer_->save(path);
    return;
  }
  std::ofstream out(path);
  // Filters are hex-encoded: they may hold tabs and newlines.
  std::string hex;
  for (unsigned char c : word_config_.filters) hex += fmt::format("{:02x}", c);
  out << "graphrun-word-vocabulary\t1\nlower\t" << (word_config_.lower ? 1 : 0) << "\nfilters\t" << hex << "\n";
  std::vector<std::string> by_id(words_.size() + 1);
  for (const auto& [w, id] : words_) by_id[static_cast<size_t>(id)] = w;
  for (size_t i = 1; i < by_id.size(); ++i) out << by_id[i] << "\n";
  if (!out) throw Error(fmt::format("{}: cannot write vocabulary", path));
}

Vocabulary Vocabulary::load(const std::string& path) { return parse(data::read_text_file(path), path); }

Vocabulary Vocabulary::parse(const std::string& text, const std::string& source) {
  if (text.rfind("graphrun-word-vocabulary", 0) != 0) {
    Vocabulary v;
    v.tokenizer_.emplace(data::Tokenizer::parse(text, source));
    return v;
  }
  std::istringstream in(text);
  Vocabulary v;
  std::string line;
  std::getline(in, line);
  int line_no = 1;
  auto field = [&](const char* key) {
    ++line_no;
    if (!std::getline(in, line) || line.rfind(std::string(key) + "\t", 0) != 0)
      throw Error(fmt::format("{}:{}: expected '{}'", source, line_no, key));
    return line.substr(std::string(key).size() + 1);
  };
  v.word_config_.lower = field("lower") == "1";
  const std::string hex = field("filters");
  v.word_config_.filters.clear();
  for (size_t i = 0; i < hex.size(); i += 2) {
    unsigned byte = 0;
    const char* end = hex.data() + std::min(i + 2, hex.size());
    if (hex.size() % 2 != 0 || std::from_chars(hex.data() + i, end, byte, 16).ptr != end)
      throw Error(fmt::format("{}:{}: filters '{}' are not hex-encoded bytes", source, line_no, hex));
    v.word_config_.filters += static_cast<char>(byte);
  }
  int64_t id = 1;
  while (std::getline(in, line)) v.words_.emplace(line, id++);
  return v;
}

TokenizedTexts tokenize_texts(const pb::DataConfig& config, const std::string& base_dir, const DatasetScope& scope,
                              const std::vector<std::string>& train, const std::vector<std::string>& validation,
                              const std::vector<std::string>& test) {
  TokenizedTexts out;
  std::optional<data::WordVectors> vectors;
  if (scope.vocabulary) {
    out.vocabulary = *scope.vocabulary;
    if (config.word_vectors().file_size() > 0)  // only the vocabulary's words
      vectors =
          data::load_word_vectors(data_paths(config.word_vectors().file(), base_dir), out.vocabulary.word_index());
  } else {
    if (config.word_vectors().file_size() > 0)
      vectors = data::load_word_vectors(data_paths(config.word_vectors().file(), base_dir));
    if (config.vocabulary() == pb::DataConfig::WORD_VECTORS) {
      if (!vectors) throw Error("training config: vocabulary WORD_VECTORS needs data.word_vectors files");
      std::vector<std::string> words = vectors->words;
      std::sort(words.begin(), words.end());
      out.vocabulary = Vocabulary::from_words(config, std::move(words));
    } else {
      out.vocabulary = Vocabulary::fit(config, train);
    }
  }

  out.max_length = config.max_length() > 0 ? config.max_length() : scope.vocabulary ? scope.max_length : 0;
  if (out.max_length <= 0)
    for (const std::string& t : train)
      out.max_length = std::max<int64_t>(out.max_length, static_cast<int64_t>(out.vocabulary.ids(t).size()));
  out.train = padded_ids(train, out.vocabulary, config, out.max_length);
  out.validation = padded_ids(validation, out.vocabulary, config, out.max_length);
  out.test = padded_ids(test, out.vocabulary, config, out.max_length);

  if (vectors && !config.word_vectors().parameter().empty()) {
    const data::EmbeddingMatrix m =
        data::build_embedding_matrix(*vectors, out.vocabulary.word_index(), out.vocabulary.size());
    // rows - 1: row 0 is padding, not a word.
    out.embedding_parameter = config.word_vectors().parameter();
    out.embedding = Tensor::from_floats({m.rows, m.dim}, m.values);
    out.notes = fmt::format("{} of {} vocabulary words have no vector. ", m.missing, m.rows - 1);
  }
  return out;
}

TextDataset load_text_dataset(const pb::DataConfig& config, const std::string& base_dir, uint64_t seed,
                              const DatasetScope& scope) {
  if (config.train_size() == 0) throw Error("training config: data.train names no file");
  const std::string& only = scope.only_split;
  if (!only.empty() && only != "train" && only != "validation" && only != "test")
    throw Error(fmt::format("unknown split '{}' (use train, validation or test)", only));
  if (!only.empty() && !scope.vocabulary) throw Error("load_text_dataset: one split needs the run's saved vocabulary");
  // A validation split cut from the training rows needs them read (and split) too.
  const bool split_from_train = config.validation_size() == 0 && config.validation_split() > 0;
  const bool read_train = only.empty() || only == "train" || (only == "validation" && split_from_train);
  size_t skipped = 0;
  std::string first_skip;
  auto read_if = [&](bool wanted, const auto& files) {
    return wanted ? read_split(config, data_paths(files, base_dir), &skipped, &first_skip) : RawSplit{};
  };
  RawSplit train = read_if(read_train, config.train());
  RawSplit validation = read_if(only.empty() || only == "validation", config.validation());
  RawSplit test = read_if(only.empty() || only == "test", config.test());
  if (read_train && train.texts.empty()) throw Error(fmt::format("{}: no training rows", config.train(0)));

  // A validation split comes out of the raw training rows first, so the
  // vocabulary (and the default length) only ever sees training texts, as Keras
  // code that splits before fitting its Tokenizer does.
  if (read_train && split_from_train) {
    // With split_rule SKLEARN, rows stay in sklearn's shuffled order: the Tokenizer
    // breaks ties between equally frequent words by first occurrence, so the order
    // decides which words make the num_words cut (as it did for the notebook's data_train).
    const data::Split split = validation_rows(config, train.labels, seed);
    RawSplit kept;
    for (size_t i : split.validation) {
      validation.texts.push_back(train.texts[i]);
      validation.labels.push_back(train.labels[i]);
    }
    for (size_t i : split.train) {
      kept.texts.push_back(std::move(train.texts[i]));
      kept.labels.push_back(train.labels[i]);
    }
    train = std::move(kept);
  }

  TokenizedTexts tokens = tokenize_texts(config, base_dir, scope, train.texts, validation.texts, test.texts);
  TextDataset ds;
  for (auto [raw, to, ids] : {std::tuple{&train, &ds.train, &tokens.train},
                              {&validation, &ds.validation, &tokens.validation},
                              {&test, &ds.test, &tokens.test}}) {
    if (raw->texts.empty()) continue;
    to->tokens = std::move(*ids);
    to->labels = Tensor::from_ints({static_cast<int64_t>(raw->labels.size())}, raw->labels);
  }
  ds.vocabulary = std::move(tokens.vocabulary);
  ds.max_length = tokens.max_length;

  ds.classes.assign(config.classes().begin(), config.classes().end());
  for (const TextSplit* s : {&ds.train, &ds.validation, &ds.test})
    for (int64_t i = 0; i < s->size(); ++i) ds.num_classes = std::max(ds.num_classes, s->labels.data<int64_t>()[i] + 1);
  if (!ds.classes.empty()) ds.num_classes = static_cast<int64_t>(ds.classes.size());

  if (skipped) ds.notes += fmt::format("skipped {} bad rows (first: {}). ", skipped, first_skip);
  ds.notes += tokens.notes;
  ds.embedding_parameter = std::move(tokens.embedding_parameter);
  ds.embedding = std::move(tokens.embedding);
  return ds;
}

}  // namespace graphrun

namespace graphrun {

Tensor word_vector_embedding(const pb::DataConfig& config, const std::string& base_dir, const Vocabulary& vocabulary) {
  const data::WordVectors vectors =
      data::load_word_vectors(data_paths(config.word_vectors().file(), base_dir), vocabulary.word_index());
  const data::EmbeddingMatrix m = data::build_embedding_matrix(vectors, vocabulary.word_index(), vocabulary.size());
  return Tensor::from_floats({m.rows, m.dim}, m.values);
}

Tensor encode_text(const pb::DataConfig& config, int64_t max_length, const Vocabulary& vocabulary,
                   const std::string& text, std::vector<std::pair<std::string, int64_t>>* kept_tokens,
                   std::vector<int64_t>* positions) {
  std::vector<std::pair<std::string, int64_t>> tokens = vocabulary.tokens(apply_replacements(config, text));
  const auto length = static_cast<int64_t>(tokens.size());
  // Truncation keeps the last (pre) or the first (post) max_length tokens.
  if (length > max_length) {
    const auto drop = static_cast<std::ptrdiff_t>(length - max_length);
    if (config.truncating() == pb::DataConfig::POST)
      tokens.erase(tokens.end() - drop, tokens.end());
    else
      tokens.erase(tokens.begin(), tokens.begin() + drop);
  }
  const auto kept = static_cast<int64_t>(tokens.size());
  const int64_t offset = config.padding() == pb::DataConfig::POST ? 0 : max_length - kept;
  Tensor ids(DType::i64, {1, max_length});
  if (positions) positions->clear();
  for (int64_t i = 0; i < kept; ++i) {
    ids.data<int64_t>()[offset + i] = tokens[static_cast<size_t>(i)].second;
    if (positions) positions->push_back(offset + i);
  }
  if (kept_tokens) *kept_tokens = std::move(tokens);
  return ids;
}

}  // namespace graphrun
