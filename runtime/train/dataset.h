// The training data as the trainer sees it, whatever file format it came from:
// per split (train, validation, test), one tensor per fed graph input, the
// examples along the first dim. A batch is a split of a few rows.
//
// Three sources fill it, chosen by load_dataset (the one place that looks at the
// format): text (token ids and labels, runtime/train/text_dataset.h), PNG images
// (runtime/train/image_dataset.h) and numeric columns (CSV columns or .npy files
// per graph input, runtime/train/numeric_dataset.h).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "graph/graph.h"
#include "graphrun.pb.h"
#include "graphrun/data/shuffle.h"
#include "graphrun/tensor.h"
#include "runtime/train/text_dataset.h"

namespace graphrun {

// The examples of one split, or one batch: columns[i] feeds Dataset::inputs[i].
struct Split {
  std::vector<Tensor> columns;
  int64_t size() const { return columns.empty() || columns[0].empty() ? 0 : columns[0].dims()[0]; }
  // The examples order[begin, end), in that order, as a new split.
  Split gather(const std::vector<size_t>& order, size_t begin, size_t end) const;
};

struct Dataset {
  std::vector<std::string> inputs;  // the graph input each column feeds
  Split train, validation, test;
  // Class labels for accuracy and the confusion matrix: the column fed to
  // train.labels_input, when the model reports train.predictions.
  std::optional<size_t> labels_column;
  bool binary_labels = false;  // labels are float32 [N, 1] 0/1 (binary_accuracy)
  int64_t num_classes = 0;
  std::vector<std::string> classes;      // class names (empty: "0", "1", ...)
  std::string notes;                     // what a person should know: skipped rows, words without vectors
  std::optional<Vocabulary> vocabulary;  // text data: saved in the run directory
  std::string embedding_parameter;       // word vectors: the parameter they fill, and its value
  Tensor embedding;

  const Split& split(const std::string& name) const;  // "train", "validation" or "test"
};

// Where a config's examples come from; decided here only, from the format and feeds.
enum class DataSource {
  text,     // token ids (and labels) from texts
  images,   // format PNG_DIR
  numeric,  // data.feed: numbers per graph input
};
DataSource data_source(const pb::DataConfig& config);
// Whether the data has texts to tokenize (so a run saves its vocabulary): text data, or numeric feeds with a
// text_column.
bool tokenizes_texts(const pb::DataConfig& config);

// The graph inputs a config feeds when it names none.
std::string tokens_input_name(const pb::TrainConfig& config);  // default "tokens"
std::string labels_input_name(const pb::TrainConfig& config);  // default "labels"
std::string images_input_name(const pb::TrainConfig& config);  // default "images"

// Reads the data of `graph`'s train block (relative paths against `base_dir`;
// `model_path` names the model in errors). `scope` limits what is read (one split,
// with a run's saved vocabulary).
Dataset load_dataset(const pb::TrainConfig& config, const Graph& graph, const std::string& model_path,
                     const std::string& base_dir, const DatasetScope& scope = {});

// The graph input `name` (an Error naming train.`field` when it is not one).
ValueId graph_input(const Graph& graph, const std::string& model_path, const std::string& name, const char* field);

// The rows a validation_split takes from the training rows, per the config's
// split_rule and seed (split_seed, else `seed`); `labels` stratify (one class
// for unlabelled data).
data::Split validation_rows(const pb::DataConfig& config, const std::vector<int64_t>& labels, uint64_t seed);

}  // namespace graphrun
