#include "runtime/train/step_driver.h"

#include <fmt/format.h>

#include "runtime/train/batches.h"

namespace graphrun {

StepDriver::StepDriver(const std::string& model_path, const TrainOptions& options, size_t max_batches)
    : setup_(model_path, options), optimizer_(setup_.new_optimizer()) {
  const Split& train = setup_.dataset.train;
  const auto n = static_cast<size_t>(train.size());
  if (n == 0) throw Error(fmt::format("{}: the training split is empty", model_path));
  const std::vector<size_t> order = epoch_order(n, setup_.config, 1);
  const size_t batch = std::min(n, static_cast<size_t>(setup_.batch_size()));
  // Full batches only: one shape, one plan, as in the body of an epoch.
  for (size_t begin = 0; begin + batch <= n && batches_.size() < max_batches; begin += batch)
    batches_.push_back(train.gather(order, begin, begin + batch));
}

double StepDriver::step() {
  const Split& batch = batches_[static_cast<size_t>(steps_done_) % batches_.size()];
  // A timed step must not go on from a NaN, as training would not.
  const TrainingSetup::StepResult result = setup_.train_step(optimizer_, setup_.feeds(batch), steps_done_);
  if (!result.non_finite.empty()) throw Error(fmt::format("step {}: {}", steps_done_, result.non_finite));
  ++steps_done_;
  return result.update_seconds;
}

std::vector<Tensor> StepDriver::first_rows(int64_t n) const {
  const Split& train = setup_.dataset.train;
  std::vector<size_t> order(static_cast<size_t>(n));
  for (size_t i = 0; i < order.size(); ++i) order[i] = i % static_cast<size_t>(train.size());
  return setup_.feeds(train.gather(order, 0, order.size()));
}

}  // namespace graphrun
