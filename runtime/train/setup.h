// Everything training, evaluation and gradcheck derive from a model file, built
// once: the model, its data (load_dataset), the training graph (forward, loss and
// gradients from autodiff), the parameters (initialised, word vectors filled) and
// a runner.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "autodiff/autodiff.h"
#include "graphrun/train.h"
#include "runtime/exec/graph_runner.h"
#include "runtime/model_data.h"
#include "runtime/train/checkpoint.h"
#include "runtime/train/dataset.h"
#include "runtime/train/metrics.h"
#include "runtime/train/optimizer.h"

namespace graphrun {

struct TrainingState;

// The train {} block, checked against the graph without reading data: values in
// range, names of graph inputs, parameters and values that exist, metrics the run
// computes, the tokens input's length against max_length and the class count
// against the predictions' width. Errors name `model_path` and the value.
void check_train_config(const pb::TrainConfig& config, const Graph& graph, const std::string& model_path);

class TrainingSetup {
 public:
  enum class DataNeed {
    required,       // train and eval: the model must have a train block
    if_configured,  // gradcheck: a model without one gets no data
  };
  // `scope` limits what data is read (evaluation reads one split with the run's vocabulary).
  TrainingSetup(const std::string& model_path, const TrainOptions& options, const DatasetScope& scope = {},
                DataNeed need = DataNeed::required);
  // The same for a model loaded already.
  TrainingSetup(const Model& model, const TrainOptions& options, const DatasetScope& scope = {},
                DataNeed need = DataNeed::required);

  // Copies `value` into the parameter `name` (shape and dtype must match).
  void set_parameter(const std::string& name, const Tensor& value);
  // Feeds for one batch: each column to its graph input.
  std::vector<Tensor> feeds(const Split& batch) const;
  MetricTracker tracker() const { return MetricTracker(dataset.num_classes, dataset.binary_labels); }
  // The values a step fetches: the loss, then the predictions when there are any.
  std::vector<ValueId> metric_fetches() const;
  // Adds a batch's loss (and accuracy, when there are predictions) to `tracker`; `out` starts with metric_fetches().
  void track(MetricTracker& tracker, const Split& batch, const std::vector<Tensor>& out) const;
  // Loss (and accuracy) of the current parameters on a split, dropout off.
  MetricTracker evaluate(const Split& split) const;
  int64_t batch_size() const { return config.has_batch_size() ? config.batch_size() : 32; }
  bool has_accuracy() const { return predictions != kNoValue; }
  std::string accuracy_name() const { return dataset.binary_labels ? "binary_accuracy" : "accuracy"; }

  // What a training step fetches for the gradients, in `trainable` order: a
  // parameter's dense gradient, or, when that is a GatherGrad on axis 0 of the
  // parameter itself (an embedding table only a Gather reads), the GatherGrad's
  // indices and output_grad: the step then never builds the table of zeros and
  // the optimizer gets the gathered rows.
  std::vector<ValueId> gradient_fetches() const;
  // The gradients from a step's fetched values, gradient_fetches() at out[first...].
  std::vector<Gradient> gradients_of(const std::vector<Tensor>& out, size_t first) const;

  // The run's optimizer (train.optimizer) for the trainable parameters, its slots zeroed.
  Optimizer new_optimizer() const;
  // What a training step fetches: metric_fetches(), then gradient_fetches().
  const std::vector<ValueId>& step_fetches() const { return step_fetches_; }
  // How step `step` (counted from 0 over the whole run) runs the graph: dropout on, with that step's seed.
  RunContext step_context(int64_t step) const;
  struct StepResult {
    std::vector<Tensor> out;    // the step_fetches() values
    std::string non_finite;     // what was not finite ("the loss is nan"), when the parameters were left as they were
    double update_seconds = 0;  // the optimizer's share of the step
  };
  // One training step, the same for `graphrun train` and the timed steps of profile
  // and bench: the training graph on `feeds`, then, when the loss is finite,
  // `optimizer` on the trainable parameters in place (it checks the gradients as it
  // reads them and writes nothing when one is not finite).
  [[nodiscard]] StepResult train_step(Optimizer& optimizer, const std::vector<Tensor>& feeds, int64_t step);

  // A checkpoint of the trainable parameters, the optimizer and the loop's state,
  // its tensors sharing their storage: write it before the next step.
  CheckpointToWrite checkpoint(const Optimizer& optimizer, const TrainingState& state) const;
  void restore_parameters(const pb::Checkpoint& checkpoint, const std::string& source);

  const Model model;
  const detail::ModelData& data;
  pb::TrainConfig config;
  ValueId predictions = kNoValue;
  Dataset dataset;
  std::shared_ptr<Graph> graph;
  GradientResult gradients;
  std::vector<size_t> trainable;  // indices into graph parameters that get a gradient
  std::vector<Tensor> params;
  std::unique_ptr<GraphRunner> runner;

 private:
  std::vector<ValueId> input_ids_;       // the graph input of each dataset column
  std::vector<NodeId> table_gradients_;  // by trainable: its gradient's GatherGrad when fetched as rows, else kNoNode
  std::vector<ValueId> step_fetches_;
  // train_step's arguments to the optimizer, kept so that a small model's step does not allocate them.
  std::vector<Tensor> step_params_;
  std::vector<Gradient> step_gradients_;
  void gradients_into(const std::vector<Tensor>& out, size_t first, std::vector<Gradient>& grads) const;
  size_t first_gradient_ = 0;  // where the gradients start in step_fetches_
};

}  // namespace graphrun
