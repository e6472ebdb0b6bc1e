#include "runtime/train/numeric_dataset.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <filesystem>
#include <numeric>

#include "graph/shape.h"
#include "graphrun/data/labels.h"
#include "graphrun/npy.h"

namespace graphrun {
namespace {

namespace fs = std::filesystem;

constexpr std::array<const char*, 3> kSplits = {"train", "validation", "test"};

const std::string& npy_of(const pb::DataFeed& feed, size_t split) {
  return split == 0 ? feed.train_npy() : split == 1 ? feed.validation_npy() : feed.test_npy();
}
bool reads_npy(const pb::DataFeed& feed) {
  return !feed.train_npy().empty() || !feed.validation_npy().empty() || !feed.test_npy().empty();
}

std::string trimmed(const std::string& s) {
  const size_t begin = s.find_first_not_of(" \t\r");
  return begin == std::string::npos ? "" : s.substr(begin, s.find_last_not_of(" \t\r") - begin + 1);
}

// One cell as the input's dtype: float32 (parsed as a double, then rounded once,
// as numpy's float64 -> float32), or int64.
template <typename T>
T parse_cell(const data::Row& row, size_t column, const std::string& column_name, const pb::DataFeed& feed) {
  const std::string cell = trimmed(row.field(column));
  std::conditional_t<std::is_same_v<T, float>, double, int64_t> value{};
  const auto [end, ec] = std::from_chars(cell.data(), cell.data() + cell.size(), value);
  if (ec != std::errc() || end != cell.data() + cell.size() || cell.empty())
    throw Error(fmt::format("{}: column {}: '{}' is not {} (data.feed '{}')", row.where.str(), column_name, cell,
                            std::is_same_v<T, float> ? "a number" : "an integer", feed.input()));
  return static_cast<T>(value);
}

// The feed's columns of `rows` (the table's rows `kept`) as the input takes them:
// [N, k], or [N] for one column and a rank-1 input.
Tensor read_columns(const data::Table& table, const std::vector<size_t>& kept, const pb::DataFeed& feed,
                    const Value& input, const std::string& model_path) {
  const auto k = static_cast<int64_t>(feed.column_size());
  const Dims& want = input.type.dims;
  const bool rank1 = want.size() == 1 && k == 1;
  if (!rank1 && !(want.size() == 2 && (want[1] < 0 || want[1] == k)))
    throw Error(fmt::format(
        "{}: data.feed '{}' reads {} column(s), but input '{}' is {} (k columns feed [N, k], one may feed [N])",
        model_path, feed.input(), k, input.name, type_str(input.type)));
  std::vector<size_t> columns;
  std::vector<std::string> names;
  for (const std::string& c : feed.column()) {
    columns.push_back(table_column(table, c, 0, "data.feed.column"));
    names.push_back(table.header.empty() ? c : "'" + table.header.at(columns.back()) + "'");
  }
  const auto n = static_cast<int64_t>(kept.size());
  Tensor out(input.type.dtype, rank1 ? Dims{n} : Dims{n, k});
  for (size_t r = 0; r < kept.size(); ++r)
    for (size_t c = 0; c < columns.size(); ++c) {
      const data::Row& row = table.rows[kept[r]];
      const size_t at = r * columns.size() + c;
      if (out.dtype() == DType::f32)
        out.data<float>()[at] = parse_cell<float>(row, columns[c], names[c], feed);
      else
        out.data<int64_t>()[at] = parse_cell<int64_t>(row, columns[c], names[c], feed);
    }
  return out;
}

// One split's .npy array for a feed, checked against the input: same dtype, [N, ...] with its dims after the first.
Tensor read_feed_npy(const std::string& path, const Value& input) {
  const Tensor t = read_npy(path);
  const Dims& want = input.type.dims;
  bool fits = t.dtype() == input.type.dtype && t.rank() == static_cast<int>(want.size()) && t.rank() >= 1;
  for (size_t d = 1; fits && d < want.size(); ++d) fits = want[d] < 0 || want[d] == t.dims()[d];
  if (!fits)
    throw Error(fmt::format("{}: the array is {}, but input '{}' is {}", path, t.type_string(), input.name,
                            type_str(input.type)));
  return t;
}

// The rows of `t` at `kept`, in order.
Tensor take_rows(const Tensor& t, const std::vector<size_t>& kept) {
  Split one{{t}};
  return one.gather(kept, 0, kept.size()).columns[0];
}

// The graph inputs a numeric data config feeds, checked against the graph once,
// and the reading of one split: rows of the split's table (minus bad rows), the
// feeds' columns and arrays, the labels, the texts.
class NumericReader {
 public:
  NumericReader(const pb::TrainConfig& config, const Graph& graph, const std::string& model_path,
                const std::string& base_dir)
      : data_(config.data()), graph_(graph), model_path_(model_path), base_dir_(base_dir) {
    for (const pb::DataFeed& feed : data_.feed()) {
      add_input(feed.input(), "data.feed.input");
      if (reads_npy(feed) == (feed.column_size() > 0))
        throw Error(fmt::format("{}: data.feed '{}' needs either columns or .npy files (train_npy, ...)", model_path,
                                feed.input()));
      reads_tables_ = reads_tables_ || feed.column_size() > 0;
    }
    // label_column feeds the labels input as the text data does: class ids int64 [N], or 0/1 float32 [N, 1].
    if (!data_.label_column().empty())
      binary_labels_ = add_input(labels_input_name(config), "labels_input").type.dtype == DType::f32;
    // text_column: the texts become token ids for train.tokens_input (the last column), after all splits are read.
    if (has_text()) add_input(tokens_input_name(config), "tokens_input");
    reads_tables_ = reads_tables_ || !data_.label_column().empty() || has_text();
  }

  const std::vector<std::string>& inputs() const { return inputs_; }
  bool has_text() const { return !data_.text_column().empty(); }
  bool binary_labels() const { return binary_labels_; }
  bool has_validation_data() const {
    bool has = data_.validation_size() > 0;
    for (const pb::DataFeed& feed : data_.feed()) has = has || !feed.validation_npy().empty();
    return has;
  }
  // Whether split `s` has data (files for the columns, or arrays).
  bool has_split(size_t s) const {
    bool present = reads_tables_ && files(s).size() > 0;
    for (const pb::DataFeed& feed : data_.feed()) present = present || !npy_of(feed, s).empty();
    return present;
  }

  // Split `s`: the feeds' columns, then the labels; its texts (replacements applied) go to `texts`.
  Split read(size_t s, std::vector<std::string>* texts) {
    data::Table table;
    if (reads_tables_) {
      if (files(s).empty())
        throw Error(fmt::format("{}: data.{} names no file, but the data config reads columns and has {} .npy files",
                                model_path_, kSplits[s], kSplits[s]));
      table = read_data_table(data_, data_paths(files(s), base_dir_));
    }
    // Bad rows first (empty texts, bad labels): skip_bad_rows decides which rows the other columns keep.
    std::vector<size_t> kept(table.rows.size());
    std::iota(kept.begin(), kept.end(), 0);
    const size_t text_column = has_text() ? table_column(table, data_.text_column(), 0, "text_column") : 0;
    if (has_text()) kept = rows_with_text(table, kept, text_column);
    Tensor labels;
    if (!data_.label_column().empty()) labels = read_labels(table, &kept);

    Split split;
    std::string first_source;  // the source of the split's first column, for row-count errors
    for (int f = 0; f < data_.feed_size(); ++f) {
      const pb::DataFeed& feed = data_.feed(f);
      std::string source = table.source;
      Tensor column;
      if (feed.column_size() > 0) {
        column = read_columns(table, kept, feed, graph_input_value(f), model_path_);
      } else {
        if (npy_of(feed, s).empty())
          throw Error(fmt::format("{}: data.feed '{}' has no {}_npy, but other feeds have {} data", model_path_,
                                  feed.input(), kSplits[s], kSplits[s]));
        source = fs::path(npy_of(feed, s)).is_relative() ? (fs::path(base_dir_) / npy_of(feed, s)).string()
                                                         : npy_of(feed, s);
        column = read_feed_npy(source, graph_input_value(f));
        // Rows of the table and of the arrays are the same examples; skipped table rows drop theirs.
        if (reads_tables_ && column.dims()[0] != static_cast<int64_t>(table.rows.size()))
          throw Error(
              fmt::format("{}: {} rows, but {} has {}", source, column.dims()[0], table.source, table.rows.size()));
        if (reads_tables_ && kept.size() != table.rows.size()) column = take_rows(column, kept);
      }
      if (!split.columns.empty() && column.dims()[0] != split.size())
        throw Error(fmt::format("{}: {} rows, but {} has {}", source, column.dims()[0], first_source, split.size()));
      if (split.columns.empty()) first_source = source;
      split.columns.push_back(std::move(column));
    }
    if (!labels.empty()) split.columns.push_back(labels);
    if (has_text())
      for (size_t r : kept) texts->push_back(apply_replacements(data_, table.rows[r].field(text_column)));
    if (split.size() == 0)
      throw Error(
          fmt::format("{}: the {} data has no rows", first_source.empty() ? table.source : first_source, kSplits[s]));
    return split;
  }

  // "skipped N bad rows (first: ...). ", or "".
  std::string skipped_note() const {
    return skipped_ ? fmt::format("skipped {} bad rows (first: {}). ", skipped_, first_skip_) : "";
  }

 private:
  const Value& add_input(const std::string& name, const char* field) {
    const Value& input = graph_.value(graph_input(graph_, model_path_, name, field));
    if (std::find(inputs_.begin(), inputs_.end(), name) != inputs_.end())
      throw Error(fmt::format("{}: graph input '{}' is fed twice by the data config", model_path_, name));
    if (input.type.dtype != DType::f32 && input.type.dtype != DType::i64)
      throw Error(fmt::format("{}: input '{}' is {}; numeric data feeds float32 or int64 inputs", model_path_, name,
                              type_str(input.type)));
    inputs_.push_back(name);
    return input;
  }
  const Value& graph_input_value(int feed) const {
    return graph_.value(*graph_.find_value(inputs_[static_cast<size_t>(feed)]));
  }
  const google::protobuf::RepeatedPtrField<std::string>& files(size_t s) const {
    return s == 0 ? data_.train() : s == 1 ? data_.validation() : data_.test();
  }
  void count_skipped(size_t n, const std::string& first) {
    if (n && skipped_ == 0) first_skip_ = first;
    skipped_ += n;
  }

  // `kept` without the rows whose text is empty (an Error unless skip_bad_rows).
  std::vector<size_t> rows_with_text(const data::Table& table, const std::vector<size_t>& kept, size_t column) {
    std::vector<size_t> out;
    for (size_t r : kept) {
      const std::string& text = table.rows[r].field(column);
      if (!std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isspace(c); })) {
        out.push_back(r);
        continue;
      }
      if (!data_.skip_bad_rows())
        throw Error(fmt::format("{}: empty text (set skip_bad_rows to skip such rows)", table.rows[r].where.str()));
      count_skipped(1, table.rows[r].where.str() + ": empty text");
    }
    return out;
  }

  // The label column of the rows `kept` as the labels input takes it; rows with a bad label leave `kept`
  // (skip_bad_rows).
  Tensor read_labels(const data::Table& table, std::vector<size_t>* kept) {
    const size_t column = table_column(table, data_.label_column(), 1, "label_column");
    std::vector<data::Row> rows;
    for (size_t r : *kept) rows.push_back(table.rows[r]);
    const data::EncodedLabels encoded =
        data_.classes_size() > 0 ? data::encode_labels(rows, column,
                                                       {.classes = {data_.classes().begin(), data_.classes().end()},
                                                        .skip_bad_rows = data_.skip_bad_rows()})
                                 : data::encode_int_labels(rows, column, std::nullopt, data_.skip_bad_rows());
    count_skipped(encoded.skipped, encoded.first_skip);
    std::vector<size_t> labelled;
    for (size_t k : encoded.kept) labelled.push_back((*kept)[k]);
    *kept = std::move(labelled);
    const auto n = static_cast<int64_t>(encoded.ids.size());
    if (!binary_labels_) return Tensor::from_ints({n}, encoded.ids);
    Tensor binary(DType::f32, {n, 1});
    for (int64_t k = 0; k < n; ++k) binary.data<float>()[k] = static_cast<float>(encoded.ids[static_cast<size_t>(k)]);
    return binary;
  }

  const pb::DataConfig& data_;
  const Graph& graph_;
  const std::string& model_path_;
  const std::string& base_dir_;
  std::vector<std::string> inputs_;  // per column: the feeds', then labels, then tokens
  bool reads_tables_ = false;
  bool binary_labels_ = false;
  size_t skipped_ = 0;
  std::string first_skip_;
};

// The class id of example i of a labels column: int64 [N], or float32 [N, 1] 0/1.
int64_t label_at(const Tensor& labels, size_t i) {
  return labels.dtype() == DType::i64 ? labels.data<int64_t>()[i] : static_cast<int64_t>(labels.data<float>()[i]);
}

}  // namespace

Dataset load_numeric_dataset(const pb::TrainConfig& config, const Graph& graph, const std::string& model_path,
                             const std::string& base_dir, const DatasetScope& scope) {
  const std::string& only = scope.only_split;
  if (!only.empty() && only != "train" && only != "validation" && only != "test")
    throw Error(fmt::format("unknown split '{}' (use train, validation or test)", only));
  NumericReader reader(config, graph, model_path, base_dir);
  Dataset ds;
  ds.inputs = reader.inputs();
  ds.binary_labels = reader.binary_labels();
  for (size_t c = 0; c < ds.inputs.size(); ++c)
    if (ds.inputs[c] == labels_input_name(config)) ds.labels_column = c;
  if (!config.predictions().empty() && !ds.labels_column)
    throw Error(fmt::format("{}: train.predictions needs labels: set data.label_column or feed train.labels_input '{}'",
                            model_path, labels_input_name(config)));

  const pb::DataConfig& data = config.data();
  const bool split_from_train = !reader.has_validation_data() && data.validation_split() > 0;
  const std::array<Split*, 3> splits = {&ds.train, &ds.validation, &ds.test};
  std::array<std::vector<std::string>, 3> texts;  // per split
  for (size_t s = 0; s < kSplits.size(); ++s) {
    // A validation split cut from the training rows needs them read (and split) too.
    const bool wanted = only.empty() || only == kSplits[s] || (s == 0 && only == "validation" && split_from_train);
    if (!wanted) continue;
    if (reader.has_split(s))
      *splits[s] = reader.read(s, &texts[s]);
    else if (s == 0)
      throw Error(fmt::format("{}: the data config has no training data (data.train or train_npy)", model_path));
  }

  if (ds.train.size() > 0 && split_from_train) {
    std::vector<int64_t> strata(static_cast<size_t>(ds.train.size()), 0);  // unlabelled: one class
    if (ds.labels_column)
      for (size_t i = 0; i < strata.size(); ++i) strata[i] = label_at(ds.train.columns[*ds.labels_column], i);
    const data::Split split = validation_rows(data, strata, config.seed());
    if (!split.validation.empty()) ds.validation = ds.train.gather(split.validation, 0, split.validation.size());
    ds.train = ds.train.gather(split.train, 0, split.train.size());
    if (reader.has_text()) {
      std::vector<std::string> train_texts;
      for (size_t r : split.validation) texts[1].push_back(texts[0][r]);
      for (size_t r : split.train) train_texts.push_back(std::move(texts[0][r]));
      texts[0] = std::move(train_texts);
    }
  }
  ds.notes = reader.skipped_note();
  if (reader.has_text()) {  // after the validation split, so the vocabulary sees training texts only
    TokenizedTexts tokens = tokenize_texts(data, base_dir, scope, texts[0], texts[1], texts[2]);
    for (auto [split, ids] :
         {std::pair{&ds.train, &tokens.train}, {&ds.validation, &tokens.validation}, {&ds.test, &tokens.test}})
      if (!split->columns.empty()) split->columns.push_back(std::move(*ids));
    ds.vocabulary = std::move(tokens.vocabulary);
    ds.embedding_parameter = std::move(tokens.embedding_parameter);
    ds.embedding = std::move(tokens.embedding);
    ds.notes += tokens.notes;
  }

  if (ds.labels_column) {
    ds.classes.assign(data.classes().begin(), data.classes().end());
    for (const Split* s : splits)
      for (int64_t i = 0; i < s->size(); ++i)
        ds.num_classes = std::max(ds.num_classes, 1 + label_at(s->columns[*ds.labels_column], static_cast<size_t>(i)));
    if (!ds.classes.empty()) ds.num_classes = static_cast<int64_t>(ds.classes.size());
  }
  return ds;
}

}  // namespace graphrun
