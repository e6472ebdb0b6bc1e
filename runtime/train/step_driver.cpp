#include "runtime/train/step_driver.h"

#include <fmt/format.h>

#include <chrono>
#include <optional>

#include "runtime/train/batches.h"

namespace graphrun {
namespace {

std::vector<Dims> trainable_shapes(const TrainingSetup& setup) {
  std::vector<Dims> shapes;
  for (size_t i : setup.trainable) shapes.push_back(setup.params[i].dims());
  return shapes;
}

}  // namespace

StepDriver::StepDriver(const std::string& model_path, const TrainOptions& options, size_t max_batches)
    : setup_(model_path, options),
      optimizer_(optimizer_config(setup_.config.optimizer()), trainable_shapes(setup_)) {
  const Split& train = setup_.dataset.train;
  const auto n = static_cast<size_t>(train.size());
  if (n == 0) throw Error(fmt::format("{}: the training split is empty", model_path));
  const std::vector<size_t> order = epoch_order(n, setup_.config, 1);
  const size_t batch = std::min(n, static_cast<size_t>(setup_.batch_size()));
  // Full batches only: one shape, one plan, as in the body of an epoch.
  for (size_t begin = 0; begin + batch <= n && batches_.size() < max_batches; begin += batch)
    batches_.push_back(train.gather(order, begin, begin + batch));
  fetches_ = setup_.metric_fetches();  // as the trainer: the loss and the predictions are computed too
  first_gradient_ = fetches_.size();
  for (ValueId gradient : setup_.gradient_fetches()) fetches_.push_back(gradient);  // as the trainer: table rows
}

double StepDriver::step() {
  const Split& batch = batches_[static_cast<size_t>(steps_done_) % batches_.size()];
  const RunContext context{true, step_seed(setup_.config, steps_done_)};
  const std::vector<Tensor> out = setup_.runner->run(setup_.feeds(batch), setup_.params, fetches_, context);
  const auto update_start = std::chrono::steady_clock::now();
  std::vector<Tensor> params;
  for (size_t i : setup_.trainable) params.push_back(setup_.params[i]);  // shares storage: updated in place
  // The optimizer checks the gradients as the trainer's does; a timed step must not go on from a NaN.
  if (const std::optional<size_t> k = optimizer_.apply(params, setup_.gradients_of(out, first_gradient_)))
    throw Error(fmt::format("step {}: the gradient of '{}' is not finite", steps_done_,
                            setup_.graph->value(setup_.graph->parameters[setup_.trainable[*k]].value).name));
  ++steps_done_;
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - update_start).count();
}

std::vector<Tensor> StepDriver::first_rows(int64_t n) const {
  const Split& train = setup_.dataset.train;
  std::vector<size_t> order(static_cast<size_t>(n));
  for (size_t i = 0; i < order.size(); ++i) order[i] = i % static_cast<size_t>(train.size());
  return setup_.feeds(train.gather(order, 0, order.size()));
}

}  // namespace graphrun
