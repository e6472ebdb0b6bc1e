#include "runtime/train/numeric_dataset.h"

#include <fmt/format.h>

#include <array>
#include <charconv>
#include <filesystem>
#include <numeric>
#include <set>

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
Tensor read_columns(const data::Table& table, const std::vector<size_t>& kept, const pb::DataFeed& feed, const Value& input,
                    const std::string& model_path) {
  const auto k = static_cast<int64_t>(feed.column_size());
  const Dims& want = input.type.dims;
  const bool rank1 = want.size() == 1 && k == 1;
  if (!rank1 && !(want.size() == 2 && (want[1] < 0 || want[1] == k)))
    throw Error(fmt::format("{}: data.feed '{}' reads {} column(s), but input '{}' is {} (k columns feed [N, k], one may feed [N])",
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
      if (out.dtype() == DType::f32) out.data<float>()[at] = parse_cell<float>(row, columns[c], names[c], feed);
      else out.data<int64_t>()[at] = parse_cell<int64_t>(row, columns[c], names[c], feed);
    }
  return out;
}

// One split's .npy array for a feed, checked against the input: same dtype, [N, ...] with its dims after the first.
Tensor read_feed_npy(const std::string& path, const Value& input) {
  const Tensor t = read_npy(path);
  const Dims& want = input.type.dims;
  bool fits = t.dtype() == input.type.dtype && t.rank() == static_cast<int>(want.size()) && t.rank() >= 1;
  for (size_t d = 1; fits && d < want.size(); ++d) fits = want[d] < 0 || want[d] == t.dims()[d];
  if (!fits) throw Error(fmt::format("{}: the array is {}, but input '{}' is {}", path, t.type_string(), input.name, type_str(input.type)));
  return t;
}

// The rows of `t` at `kept`, in order.
Tensor take_rows(const Tensor& t, const std::vector<size_t>& kept) {
  Split one{{t}};
  return one.gather(kept, 0, kept.size()).columns[0];
}

}  // namespace

Dataset load_numeric_dataset(const pb::TrainConfig& config, const Graph& graph, const std::string& model_path,
                             const std::string& base_dir, const std::string& only_split) {
  const pb::DataConfig& data = config.data();
  if (!only_split.empty() && only_split != "train" && only_split != "validation" && only_split != "test")
    throw Error(fmt::format("unknown split '{}' (use train, validation or test)", only_split));
  if (!data.text_column().empty())
    throw Error(fmt::format("{}: data.text_column with data.feed: texts and numeric feeds in one dataset are not supported yet",
                            model_path));
  Dataset ds;
  std::vector<const Value*> inputs;  // per column of the dataset
  std::set<std::string> fed;
  bool reads_tables = false;
  auto add_input = [&](const std::string& name, const char* field) {
    const Value& input = graph.value(graph_input(graph, model_path, name, field));
    if (!fed.insert(name).second) throw Error(fmt::format("{}: graph input '{}' is fed twice by the data config", model_path, name));
    if (input.type.dtype != DType::f32 && input.type.dtype != DType::i64)
      throw Error(fmt::format("{}: input '{}' is {}; numeric data feeds float32 or int64 inputs", model_path, name, type_str(input.type)));
    ds.inputs.push_back(name);
    inputs.push_back(&input);
    return &input;
  };
  for (const pb::DataFeed& feed : data.feed()) {
    add_input(feed.input(), "data.feed.input");
    if (reads_npy(feed) == (feed.column_size() > 0))
      throw Error(fmt::format("{}: data.feed '{}' needs either columns or .npy files (train_npy, ...)", model_path, feed.input()));
    reads_tables = reads_tables || feed.column_size() > 0;
  }
  // label_column feeds the labels input as the text data does: class ids int64 [N], or 0/1 float32 [N, 1].
  const bool has_label_column = !data.label_column().empty();
  if (has_label_column) {
    const Value* labels = add_input(labels_input_name(config), "labels_input");
    ds.binary_labels = labels->type.dtype == DType::f32;
    reads_tables = true;
  }
  for (size_t c = 0; c < ds.inputs.size(); ++c)
    if (ds.inputs[c] == labels_input_name(config)) ds.labels_column = c;
  if (!config.predictions().empty() && !ds.labels_column)
    throw Error(fmt::format("{}: train.predictions needs labels: set data.label_column or feed train.labels_input '{}'", model_path,
                            labels_input_name(config)));

  bool has_validation = data.validation_size() > 0;
  for (const pb::DataFeed& feed : data.feed()) has_validation = has_validation || !feed.validation_npy().empty();
  const bool split_from_train = !has_validation && data.validation_split() > 0;
  const std::array<const google::protobuf::RepeatedPtrField<std::string>*, 3> files = {&data.train(), &data.validation(), &data.test()};
  const std::array<Split*, 3> splits = {&ds.train, &ds.validation, &ds.test};
  size_t skipped = 0;
  std::string first_skip;
  for (size_t s = 0; s < kSplits.size(); ++s) {
    const bool wanted = only_split.empty() || only_split == kSplits[s] || (s == 0 && only_split == "validation" && split_from_train);
    if (!wanted) continue;
    bool present = reads_tables && files[s]->size() > 0;
    for (const pb::DataFeed& feed : data.feed()) present = present || !npy_of(feed, s).empty();
    if (!present) {
      if (s == 0) throw Error(fmt::format("{}: the data config has no training data (data.train or train_npy)", model_path));
      continue;
    }
    data::Table table;
    if (reads_tables) {
      if (files[s]->empty())
        throw Error(fmt::format("{}: data.{} names no file, but the data config reads columns and has {} .npy files", model_path,
                                kSplits[s], kSplits[s]));
      table = read_data_table(data, data_paths(*files[s], base_dir));
    }
    std::vector<size_t> kept(table.rows.size());
    std::iota(kept.begin(), kept.end(), 0);
    Tensor labels;
    if (has_label_column) {  // first: skip_bad_rows decides which rows the other columns keep
      const size_t column = table_column(table, data.label_column(), 1, "label_column");
      const data::EncodedLabels encoded =
          data.classes_size() > 0
              ? data::encode_labels(table.rows, column, {.classes = {data.classes().begin(), data.classes().end()}, .skip_bad_rows = data.skip_bad_rows()})
              : data::encode_int_labels(table.rows, column, std::nullopt, data.skip_bad_rows());
      if (encoded.skipped) {
        if (skipped == 0) first_skip = encoded.first_skip;
        skipped += encoded.skipped;
      }
      kept = encoded.kept;
      labels = Tensor::from_ints({static_cast<int64_t>(kept.size())}, encoded.ids);
      if (ds.binary_labels) {
        Tensor binary(DType::f32, {labels.num_elements(), 1});
        for (int64_t k = 0; k < labels.num_elements(); ++k) binary.data<float>()[k] = static_cast<float>(labels.data<int64_t>()[k]);
        labels = binary;
      }
    }
    std::string first_source;  // the source of the split's first column, for row-count errors
    int64_t rows = -1;
    for (int f = 0; f < data.feed_size(); ++f) {
      const pb::DataFeed& feed = data.feed(f);
      const Value& input = *inputs[static_cast<size_t>(f)];
      Tensor column;
      std::string source = table.source;
      if (feed.column_size() > 0) {
        column = read_columns(table, kept, feed, input, model_path);
      } else {
        if (npy_of(feed, s).empty())
          throw Error(fmt::format("{}: data.feed '{}' has no {}_npy, but other feeds have {} data", model_path, feed.input(),
                                  kSplits[s], kSplits[s]));
        source = fs::path(npy_of(feed, s)).is_relative() ? (fs::path(base_dir) / npy_of(feed, s)).string() : npy_of(feed, s);
        column = read_feed_npy(source, input);
        // Rows of the table and of the arrays are the same examples; skipped table rows drop theirs.
        if (reads_tables && column.dims()[0] == static_cast<int64_t>(table.rows.size()) && kept.size() != table.rows.size())
          column = take_rows(column, kept);
        else if (reads_tables && column.dims()[0] != static_cast<int64_t>(table.rows.size()))
          throw Error(fmt::format("{}: {} rows, but {} has {}", source, column.dims()[0], table.source, table.rows.size()));
      }
      if (rows >= 0 && column.dims()[0] != rows)
        throw Error(fmt::format("{}: {} rows, but {} has {}", source, column.dims()[0], first_source, rows));
      if (rows < 0) first_source = source;
      rows = column.dims()[0];
      splits[s]->columns.push_back(std::move(column));
    }
    if (has_label_column) splits[s]->columns.push_back(labels);
    if (splits[s]->size() == 0) throw Error(fmt::format("{}: the {} data has no rows", first_source.empty() ? table.source : first_source, kSplits[s]));
  }

  if (!ds.train.columns.empty() && split_from_train) {
    std::vector<int64_t> strata(static_cast<size_t>(ds.train.size()), 0);  // unlabelled: one class
    if (ds.labels_column) {
      const Tensor& l = ds.train.columns[*ds.labels_column];
      for (size_t i = 0; i < strata.size(); ++i)
        strata[i] = l.dtype() == DType::i64 ? l.data<int64_t>()[i] : static_cast<int64_t>(l.data<float>()[i]);
    }
    const data::Split split = validation_rows(data, strata, config.seed());
    ds.validation = ds.train.gather(split.validation, 0, split.validation.size());
    ds.train = ds.train.gather(split.train, 0, split.train.size());
    if (split.validation.empty()) ds.validation = {};
  }

  if (ds.labels_column) {
    ds.classes.assign(data.classes().begin(), data.classes().end());
    for (const Split* s : {&ds.train, &ds.validation, &ds.test}) {
      if (s->columns.empty()) continue;
      const Tensor& l = s->columns[*ds.labels_column];
      for (int64_t i = 0; i < l.num_elements(); ++i)
        ds.num_classes = std::max(ds.num_classes, 1 + (l.dtype() == DType::i64 ? l.data<int64_t>()[i] : static_cast<int64_t>(l.data<float>()[i])));
    }
    if (!ds.classes.empty()) ds.num_classes = static_cast<int64_t>(ds.classes.size());
  }
  if (skipped) ds.notes += fmt::format("skipped {} bad rows (first: {}). ", skipped, first_skip);
  return ds;
}

}  // namespace graphrun
