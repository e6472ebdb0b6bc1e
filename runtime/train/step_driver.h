// Training steps without a training loop around them: what profile_training and
// bench/train_steps time. The batches are the first full batches of the training
// split in epoch 1's order (gathered up front, cycled when steps outnumber them);
// step k runs with the dropout seed step k of `graphrun train` has. No metrics,
// no checkpoints, no run directory.
#pragma once

#include <string>
#include <vector>

#include "graphrun/profile.h"
#include "graphrun/train.h"
#include "runtime/train/optimizer.h"
#include "runtime/train/setup.h"

namespace graphrun {

class StepDriver {
 public:
  // `max_batches` bounds how many distinct batches are gathered.
  StepDriver(const std::string& model_path, const TrainOptions& options, size_t max_batches = 16);

  // One training step (TrainingSetup::train_step) on the next batch.
  // Returns the seconds the optimizer took.
  double step();

  const TrainingSetup& setup() const { return setup_; }
  const Optimizer& optimizer() const { return optimizer_; }
  int64_t batch_size() const { return batches_.front().size(); }
  const std::vector<Split>& batches() const { return batches_; }
  // Rows [0, n) of the training split (cycled when it has fewer), fed as the graph inputs: for inference timing.
  std::vector<Tensor> first_rows(int64_t n) const;

 private:
  TrainingSetup setup_;
  Optimizer optimizer_;
  std::vector<Split> batches_;
  int64_t steps_done_ = 0;
};

// profile_training's measurements on a driver that exists already (its warm-up included).
TrainingProfile profile_steps(StepDriver& driver, const ProfileOptions& options);

}  // namespace graphrun
