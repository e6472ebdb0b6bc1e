#include "runtime/train/batches.h"

#include <numeric>

#include "graphrun/data/shuffle.h"

namespace graphrun {
namespace {

uint64_t mix(uint64_t a, uint64_t b) {  // SplitMix64 of a combined key
  uint64_t z = a + 0x9e3779b97f4a7c15ull * (b + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

}  // namespace

std::vector<size_t> epoch_order(size_t n, const pb::TrainConfig& config, int epoch) {
  if (!config.has_shuffle() || config.shuffle())
    return data::permutation(n, mix(config.seed(), static_cast<uint64_t>(epoch)));
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  return order;
}

uint64_t step_seed(const pb::TrainConfig& config, int64_t step) {
  return mix(config.seed() ^ 0x5eedull, static_cast<uint64_t>(step));
}

BatchPrefetcher::BatchPrefetcher(const Split& split, std::vector<size_t> order, size_t batch)
    : split_(split), order_(std::move(order)), batch_(batch), worker_([this] { produce(); }) {}

BatchPrefetcher::~BatchPrefetcher() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  changed_.notify_all();
  worker_.join();
}

bool BatchPrefetcher::next(Split* batch) {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [&] { return !ready_.empty() || produced_all_; });
  if (ready_.empty()) return false;
  *batch = std::move(ready_.front());
  ready_.pop_front();
  changed_.notify_all();
  return true;
}

void BatchPrefetcher::produce() {
  for (size_t begin = 0; begin < order_.size(); begin += batch_) {
    Split batch = split_.gather(order_, begin, std::min(order_.size(), begin + batch_));
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return ready_.size() < 2 || stop_; });
    if (stop_) return;
    ready_.push_back(std::move(batch));
    changed_.notify_all();
  }
  std::lock_guard lock(mutex_);
  produced_all_ = true;
  changed_.notify_all();
}

}  // namespace graphrun
