// Batches of a split: the epoch's order of examples, the step's random stream,
// and a prefetcher that gathers the batches ahead of the training loop.
//
// Random streams are derived, not stored: the epoch's shuffle from (seed, epoch)
// and each step's dropout masks from (seed, step), so a resumed run replays
// exactly what an uninterrupted one would have done.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "graphrun.pb.h"
#include "runtime/train/dataset.h"

namespace graphrun {

// The order in which epoch `epoch` (1-based) visits n examples: shuffled unless train.shuffle is false.
std::vector<size_t> epoch_order(size_t n, const pb::TrainConfig& config, int epoch);
// The seed of step `step`'s random ops (dropout).
uint64_t step_seed(const pb::TrainConfig& config, int64_t step);

// Prepares an epoch's batches on a background thread, two ahead of the
// training loop, so gathering rows never stalls the compute.
class BatchPrefetcher {
 public:
  BatchPrefetcher(const Split& split, std::vector<size_t> order, size_t batch);
  ~BatchPrefetcher();
  // The next batch, in order; false after the last one.
  bool next(Split* batch);

 private:
  void produce();

  const Split& split_;
  const std::vector<size_t> order_;
  const size_t batch_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Split> ready_;
  bool produced_all_ = false;
  bool stop_ = false;
  std::thread worker_;  // last: starts after the members it uses exist
};

}  // namespace graphrun
