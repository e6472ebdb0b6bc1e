// Training metrics: loss and accuracy accumulated over batches, the confusion
// matrix, and how a metric list prints.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "graphrun.pb.h"
#include "graphrun/tensor.h"
#include "graphrun/train.h"

namespace graphrun {

// Accumulates loss and accuracy over batches, and a confusion matrix.
class MetricTracker {
 public:
  // `binary`: one probability per example, thresholded at 0.5.
  MetricTracker(int64_t num_classes, bool binary);
  // `n` examples; accuracy only with predictions, against labels int64 [N] or float32 [N, 1] (0 or 1).
  void add(const Tensor& loss, int64_t n, const Tensor& predictions, const Tensor& labels);
  double loss() const { return examples_ ? loss_sum_ / double(examples_) : 0; }
  double accuracy() const { return examples_ ? double(correct_) / double(examples_) : 0; }
  int64_t examples() const { return examples_; }
  const std::vector<std::vector<int64_t>>& confusion() const { return confusion_; }
  // The sums so far, for a checkpoint written mid-epoch; restore() continues from them
  // (Error naming `source` when its confusion matrix has another number of classes).
  void save_to(pb::PartialEpoch& partial) const;
  void restore(const pb::PartialEpoch& partial, const std::string& source);

 private:
  int64_t classes_;
  bool binary_;
  double loss_sum_ = 0;
  int64_t examples_ = 0;
  int64_t correct_ = 0;
  std::vector<std::vector<int64_t>> confusion_;
};

std::string metrics_line(const Metrics& metrics);  // "  loss 0.1234  accuracy 0.5000"
std::optional<double> metric_value(const Metrics& metrics, const std::string& name);
bool lower_is_better(const std::string& metric);  // losses; accuracies are higher-is-better

}  // namespace graphrun
