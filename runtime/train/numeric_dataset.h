// Numeric datasets for training (DataConfig.feed): each feed fills one graph
// input with numbers per example, from columns of the split's CSV/TSV files or
// from one .npy file per split. label_column, when set, feeds train.labels_input
// and text_column train.tokens_input (tokenized as the text data is) from the
// same rows. For an MLP, a regression, a model fed precomputed vectors, or
// several inputs per example (a question's text and two answer codes).
#pragma once

#include <string>

#include "graph/graph.h"
#include "graphrun.pb.h"
#include "runtime/train/dataset.h"

namespace graphrun {

// `scope.only_split` ("", "train", "validation" or "test") reads what that split
// needs; with a text column, `scope.vocabulary` tokenizes as a finished run did.
// Errors are one line naming the file (and line and column) or the feed at fault.
Dataset load_numeric_dataset(const pb::TrainConfig& config, const Graph& graph, const std::string& model_path,
                             const std::string& base_dir, const DatasetScope& scope = {});

}  // namespace graphrun
