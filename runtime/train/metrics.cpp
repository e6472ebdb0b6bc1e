#include "runtime/train/metrics.h"

#include <fmt/format.h>

#include <algorithm>

namespace graphrun {

MetricTracker::MetricTracker(int64_t num_classes, bool binary)
    : classes_(std::max<int64_t>(num_classes, 2)), binary_(binary) {
  confusion_.assign(static_cast<size_t>(classes_), std::vector<int64_t>(static_cast<size_t>(classes_), 0));
}

void MetricTracker::add(const Tensor& loss, int64_t n, const Tensor& predictions, const Tensor& labels) {
  loss_sum_ += double(loss.data<float>()[0]) * double(n);
  examples_ += n;
  if (predictions.empty()) return;
  const int64_t width = predictions.num_elements() / n;
  const float* p = predictions.data<float>();
  for (int64_t i = 0; i < n; ++i) {
    int64_t predicted = 0;
    if (binary_ || width == 1) {
      predicted = p[i * width] > 0.5f ? 1 : 0;
    } else {
      for (int64_t c = 1; c < width; ++c)
        if (p[i * width + c] > p[i * width + predicted]) predicted = c;
    }
    const int64_t truth =
        labels.dtype() == DType::i64 ? labels.data<int64_t>()[i] : static_cast<int64_t>(labels.data<float>()[i]);
    correct_ += predicted == truth;
    if (truth >= 0 && truth < classes_ && predicted < classes_)
      ++confusion_[static_cast<size_t>(truth)][static_cast<size_t>(predicted)];
  }
}

void MetricTracker::save_to(pb::PartialEpoch& partial) const {
  partial.set_examples(examples_);
  partial.set_loss_sum(loss_sum_);
  partial.set_correct(correct_);
  for (const std::vector<int64_t>& row : confusion_) partial.mutable_confusion()->Add(row.begin(), row.end());
}

void MetricTracker::restore(const pb::PartialEpoch& partial, const std::string& source) {
  if (partial.confusion_size() != classes_ * classes_)
    throw Error(fmt::format("{}: the interrupted epoch's confusion matrix has {} entries, {} classes need {}", source,
                            partial.confusion_size(), classes_, classes_ * classes_));
  examples_ = partial.examples();
  loss_sum_ = partial.loss_sum();
  correct_ = partial.correct();
  for (size_t i = 0; i < confusion_.size(); ++i)
    for (size_t j = 0; j < confusion_.size(); ++j)
      confusion_[i][j] = partial.confusion(static_cast<int>(i * confusion_.size() + j));
}

std::string metrics_line(const Metrics& metrics) {
  std::string s;
  for (const auto& [name, value] : metrics) s += fmt::format("  {} {:.4f}", name, value);
  return s;
}

std::optional<double> metric_value(const Metrics& metrics, const std::string& name) {
  for (const auto& [k, v] : metrics)
    if (k == name) return v;
  return std::nullopt;
}

bool lower_is_better(const std::string& metric) { return metric.find("loss") != std::string::npos; }

}  // namespace graphrun
