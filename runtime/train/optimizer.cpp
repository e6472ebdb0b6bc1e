#include "runtime/train/optimizer.h"

#include <fmt/format.h>
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <cstring>
#include <map>

#include "graph/shape.h"
#include "ops/kernel.h"
#include "runtime/train/non_finite.h"

namespace graphrun {
namespace {

// Chunks of 64K elements (256 KB per float buffer) amortise task overhead; the
// fused norm walks each chunk in 2K-element blocks so the update re-reads the
// block from L1 instead of memory.
constexpr int64_t kChunkElements = int64_t{1} << 16;
constexpr int64_t kBlockElements = 2048;

void check_config(const OptimizerConfig& c) {
  // Written as !(ok) so that NaN fails too.
  const auto fail = [](const char* what, float value, const char* rule) {
    throw Error(fmt::format("optimizer: {} must be {}, got {}", what, rule, value));
  };
  if (!(c.learning_rate >= 0 && std::isfinite(c.learning_rate))) fail("learning_rate", c.learning_rate, ">= 0");
  if (!(c.weight_decay >= 0 && std::isfinite(c.weight_decay))) fail("weight_decay", c.weight_decay, ">= 0");
  if (c.kind == OptimizerConfig::Kind::sgd) {
    if (!(c.momentum >= 0 && c.momentum <= 1)) fail("momentum", c.momentum, "in [0, 1]");
  } else {
    if (!(c.beta1 >= 0 && c.beta1 < 1)) fail("beta1", c.beta1, "in [0, 1)");
    if (!(c.beta2 >= 0 && c.beta2 < 1)) fail("beta2", c.beta2, "in [0, 1)");
    if (!(c.epsilon > 0 && std::isfinite(c.epsilon))) fail("epsilon", c.epsilon, "> 0");
  }
  if (c.clip != OptimizerConfig::Clip::none && !(c.clip_norm > 0 && std::isfinite(c.clip_norm)))
    fail("clip_norm", c.clip_norm, "> 0 when clipping is on");
}

void check_same_type(const Tensor& t, const Dims& dims, const char* what, size_t i) {
  if (t.empty() || t.dtype() != DType::f32 || t.dims() != dims)
    throw Error(fmt::format("optimizer: {} {} is {}, expected float32{}", what, i,
                            t.empty() ? std::string("empty") : t.type_string(), dims_str(dims)));
}

// A gradient given as rows of a table with dims `table`: int64 indices in range,
// and rows shaped indices.dims + the table's row dims.
void check_rows(const Gradient& grad, const Dims& table, size_t i) {
  if (table.empty()) throw Error(fmt::format("optimizer: gradient {} is given as rows of a scalar", i));
  if (grad.indices.dtype() != DType::i64)
    throw Error(
        fmt::format("optimizer: the indices of gradient {} are {}, expected int64", i, grad.indices.type_string()));
  Dims rows_dims = grad.indices.dims();
  rows_dims.insert(rows_dims.end(), table.begin() + 1, table.end());
  check_same_type(grad.rows, rows_dims, "gradient rows", i);
  for (const int64_t index : grad.indices.values<int64_t>())
    if (index < -table[0] || index >= table[0])
      throw Error(fmt::format("optimizer: gradient {} has index {}, outside a table of {} rows", i, index, table[0]));
}

// Zeros standing in for the gradient of a block no gathered row touches.
alignas(64) constexpr float kZeroBlock[kBlockElements] = {};

}  // namespace

// Reads one tensor's gradient block by block, blocks in increasing order within
// a chunk: straight from a dense gradient, or built from row sums (zeros, and
// the rows that overlap the block copied in), so the update sees exactly the
// values a dense gradient would hold.
class Optimizer::GradientBlocks {
 public:
  explicit GradientBlocks(const float* dense) : dense_(dense) {}
  GradientBlocks(const RowSums& rows, int64_t row_elements, int64_t chunk_begin)
      : rows_(&rows), row_elements_(row_elements) {
    next_ = static_cast<size_t>(std::lower_bound(rows.rows.begin(), rows.rows.end(), chunk_begin / row_elements) -
                                rows.rows.begin());
  }

  // The gradient of elements [begin, begin + n), n <= kBlockElements.
  const float* block(int64_t begin, int64_t n) {
    if (dense_) return dense_ + begin;
    const int64_t end = begin + n;
    const std::vector<int64_t>& rows = rows_->rows;
    if (next_ == rows.size() || rows[next_] * row_elements_ >= end) return kZeroBlock;
    std::fill(block_, block_ + n, 0.0f);
    for (; next_ < rows.size() && rows[next_] * row_elements_ < end; ++next_) {
      const int64_t row_begin = rows[next_] * row_elements_, row_end = row_begin + row_elements_;
      const int64_t from = std::max(row_begin, begin), to = std::min(row_end, end);
      const float* sum = rows_->sums.data() + static_cast<int64_t>(next_) * row_elements_;
      std::copy(sum + (from - row_begin), sum + (to - row_begin), block_ + (from - begin));
      if (row_end > end) break;  // the row goes on into the next block
    }
    return block_;
  }

 private:
  const float* dense_ = nullptr;
  const RowSums* rows_ = nullptr;
  int64_t row_elements_ = 0;
  size_t next_ = 0;  // the first row not yet copied completely
  alignas(64) float block_[kBlockElements];
};

// Sums grads[i]'s slices per distinct row, each row from 0.0f in index order:
// the float additions GatherGrad makes into its table of zeros.
void Optimizer::sum_rows(size_t i, const Gradient& grad) {
  RowSums& r = row_sums_[i];
  const int64_t table_rows = shapes_[i][0];
  const int64_t row_elements = num_elements(shapes_[i]) / std::max<int64_t>(table_rows, 1);
  const std::span<const int64_t> indices = grad.indices.values<int64_t>();
  r.order.clear();
  for (size_t j = 0; j < indices.size(); ++j)
    r.order.emplace_back(indices[j] < 0 ? indices[j] + table_rows : indices[j], static_cast<int64_t>(j));
  std::sort(r.order.begin(), r.order.end());
  r.rows.clear();
  r.sums.clear();
  const float* slices = grad.rows.data<float>();
  for (const auto& [row, j] : r.order) {
    if (r.rows.empty() || r.rows.back() != row) {
      r.rows.push_back(row);
      r.sums.resize(r.sums.size() + static_cast<size_t>(row_elements), 0.0f);
    }
    float* sum = r.sums.data() + r.sums.size() - static_cast<size_t>(row_elements);
    const float* slice = slices + j * row_elements;
    for (int64_t k = 0; k < row_elements; ++k) sum[k] += slice[k];
  }
}

Optimizer::Optimizer(OptimizerConfig config, std::vector<Dims> parameter_shapes)
    : config_(config), shapes_(std::move(parameter_shapes)) {
  check_config(config_);
  const bool adam = config_.kind == OptimizerConfig::Kind::adam;
  const bool velocity = !adam && config_.momentum > 0;  // plain SGD keeps no slot, like Keras
  for (size_t i = 0; i < shapes_.size(); ++i) {
    for (int64_t d : shapes_[i])
      if (d < 0) throw Error(fmt::format("optimizer: parameter {} has unknown dims {}", i, dims_str(shapes_[i])));
    if (adam || velocity) slot1_.emplace_back(DType::f32, shapes_[i]);
    if (adam) slot2_.emplace_back(DType::f32, shapes_[i]);
    const int64_t n = num_elements(shapes_[i]);
    for (int64_t b = 0; b < n; b += kChunkElements) chunks_.push_back({i, b, std::min(n, b + kChunkElements)});
  }
  chunk_sums_.resize(chunks_.size());
  row_sums_.resize(shapes_.size());
  step_scales_.resize(shapes_.size());
  clip_sums_.resize(shapes_.size());
  int64_t total = 0;
  for (const Dims& shape : shapes_) total += num_elements(shape);
  parallel_chunks_ = chunks_.size() > 1 && total >= kParallelElements;
}

std::optional<size_t> Optimizer::apply(std::vector<Tensor>& params, const std::vector<Gradient>& grads) {
  const size_t count = shapes_.size();
  if (params.size() != count || grads.size() != count)
    throw Error(fmt::format("optimizer: expected {} parameters and gradients, got {} and {}", count, params.size(),
                            grads.size()));
  for (size_t i = 0; i < count; ++i) {
    check_same_type(params[i], shapes_[i], "parameter", i);
    if (grads[i].has_rows())
      check_rows(grads[i], shapes_[i], i);
    else
      check_same_type(grads[i].dense, shapes_[i], "gradient", i);
  }
  for (size_t i = 0; i < count; ++i)
    if (grads[i].has_rows()) sum_rows(i, grads[i]);
  // The gradient of tensor i from element `chunk_begin` on, block by block.
  const auto blocks_of = [&](size_t i, int64_t chunk_begin) {
    if (!grads[i].has_rows()) return GradientBlocks(grads[i].dense.data<float>());
    const int64_t row_elements = num_elements(shapes_[i]) / shapes_[i][0];
    return GradientBlocks(row_sums_[i], row_elements, chunk_begin);
  };

  const OptimizerConfig& c = config_;
  const float wd = c.weight_decay;
  // Chunks are independent, so the result is the same either way.
  const auto for_each_chunk = [&](auto&& body) {
    if (!parallel_chunks_) {
      for (size_t k = 0; k < chunks_.size(); ++k) body(k, chunks_[k]);
      return;
    }
    tbb::parallel_for(tbb::blocked_range<size_t>(0, chunks_.size()), [&](const tbb::blocked_range<size_t>& r) {
      for (size_t k = r.begin(); k != r.end(); ++k) body(k, chunks_[k]);
    });
  };
  // Clipping needs the norms before the update: a separate read-only pass.
  const bool clipping = c.clip != OptimizerConfig::Clip::none;
  std::vector<double>& clip_sums = clip_sums_;
  if (clipping) {
    for_each_chunk([&](size_t k, const Chunk& ch) {
      GradientBlocks g = blocks_of(ch.tensor, ch.begin);
      const float* p = params[ch.tensor].data<float>();
      optimizer_math::SumOfSquares sum;  // blocks are multiples of 8 elements: the same sum as one add()
      for (int64_t b = ch.begin; b < ch.end; b += kBlockElements) {
        const int64_t n = std::min(kBlockElements, ch.end - b);
        sum.add(g.block(b, n), p + b, wd, n);
      }
      chunk_sums_[k] = sum.total();
    });
    // Per-tensor sums from the chunk sums, always in chunk order, so the norm (and
    // hence the clip scale) does not depend on thread timing.
    std::fill(clip_sums.begin(), clip_sums.end(), 0.0);
    for (size_t k = 0; k < chunks_.size(); ++k) clip_sums[chunks_[k].tensor] += chunk_sums_[k];
  }

  // Nothing is written while a gradient is not finite. Row sums are checked
  // directly (every other row is zero); a finite sum of squares means a finite
  // gradient, so with clipping a dense gradient is read again only when its sum is not.
  for (size_t i = 0; i < count; ++i) {
    const bool finite = grads[i].has_rows() ? std::all_of(row_sums_[i].sums.begin(), row_sums_[i].sums.end(),
                                                          [](float x) { return std::isfinite(x); })
                                            : (clipping && std::isfinite(clip_sums[i])) || all_finite(grads[i].dense);
    if (!finite) return i;
  }

  std::vector<float>& scale = step_scales_;
  std::fill(scale.begin(), scale.end(), 1.0f);
  if (clipping) {
    double total = 0;
    for (double sum : clip_sums) total += sum;
    last_global_norm_ = std::sqrt(total);
    const double limit = c.clip_norm;
    for (size_t i = 0; i < count; ++i) {
      const double norm = c.clip == OptimizerConfig::Clip::global_norm ? last_global_norm_ : std::sqrt(clip_sums[i]);
      scale[i] = static_cast<float>(limit / std::max(norm, limit));
    }
  }

  const int64_t t = iterations_ + 1;
  const bool adam = c.kind == OptimizerConfig::Kind::adam;
  optimizer_math::AdamStep adam_step{};
  if (adam)  // the bias corrections of step t
    adam_step = {static_cast<float>(double{c.learning_rate} * std::sqrt(1.0 - std::pow(double{c.beta2}, double(t))) /
                                    (1.0 - std::pow(double{c.beta1}, double(t)))),
                 1.0f - c.beta1, 1.0f - c.beta2,
                 c.pytorch_epsilon
                     ? static_cast<float>(double{c.epsilon} * std::sqrt(1.0 - std::pow(double{c.beta2}, double(t))))
                     : c.epsilon};
  const bool velocity = !slot1_.empty();

  for_each_chunk([&](size_t, const Chunk& ch) {
    const size_t i = ch.tensor;
    float* p = params[i].data<float>();
    float* s1 = slot1_.empty() ? nullptr : slot1_[i].data<float>();
    float* s2 = slot2_.empty() ? nullptr : slot2_[i].data<float>();
    GradientBlocks blocks = blocks_of(i, ch.begin);
    for (int64_t b = ch.begin; b < ch.end; b += kBlockElements) {
      const int64_t n = std::min(kBlockElements, ch.end - b);
      const float* g = blocks.block(b, n);
      if (adam)
        optimizer_math::adam(p + b, s1 + b, s2 + b, g, n, adam_step, wd, scale[i]);
      else if (velocity)
        optimizer_math::sgd_momentum(p + b, s1 + b, g, n, c.learning_rate, c.momentum, c.nesterov, wd, scale[i]);
      else
        optimizer_math::sgd(p + b, g, n, c.learning_rate, wd, scale[i]);
    }
  });
  iterations_ = t;
  return std::nullopt;
}

std::vector<std::pair<std::string, Tensor>> Optimizer::slots() const {
  std::vector<std::pair<std::string, Tensor>> out;
  const char* slot1 = config_.kind == OptimizerConfig::Kind::adam ? "adam.m." : "sgd.momentum.";
  for (size_t i = 0; i < slot1_.size(); ++i) out.emplace_back(slot1 + std::to_string(i), slot1_[i]);
  for (size_t i = 0; i < slot2_.size(); ++i) out.emplace_back("adam.v." + std::to_string(i), slot2_[i]);
  return out;
}

std::vector<std::pair<std::string, Tensor>> Optimizer::shared_state() const {
  std::vector<std::pair<std::string, Tensor>> out;
  out.emplace_back("iterations", Tensor::from_ints({}, std::span<const int64_t>(&iterations_, 1)));
  for (auto& slot : slots()) out.push_back(std::move(slot));
  return out;
}

std::vector<std::pair<std::string, Tensor>> Optimizer::state() const {
  std::vector<std::pair<std::string, Tensor>> out = shared_state();
  for (auto& [name, tensor] : out) tensor = tensor.clone();
  return out;
}

void Optimizer::load_state(const std::vector<std::pair<std::string, Tensor>>& state) {
  std::map<std::string, const Tensor*> by_name;
  for (const auto& [name, tensor] : state)
    if (!by_name.emplace(name, &tensor).second) throw Error(fmt::format("optimizer state: duplicate slot '{}'", name));

  const auto take = [&](const std::string& name) {
    const auto it = by_name.find(name);
    if (it == by_name.end()) throw Error(fmt::format("optimizer state: missing slot '{}'", name));
    const Tensor* t = it->second;
    by_name.erase(it);
    return t;
  };
  // Validate everything first so a bad checkpoint leaves the optimizer as it was.
  const Tensor* iterations = take("iterations");
  if (iterations->empty() || iterations->dtype() != DType::i64 || iterations->num_elements() != 1 ||
      iterations->data<int64_t>()[0] < 0)
    throw Error(fmt::format("optimizer state: slot 'iterations' must be one int64 >= 0, got {}",
                            iterations->empty() ? std::string("empty") : iterations->type_string()));
  std::vector<std::pair<std::string, Tensor>> targets = slots();  // shallow: they share our storage
  std::vector<const Tensor*> sources;
  for (const auto& [name, slot] : targets) {
    const Tensor* t = take(name);
    if (t->empty() || t->dtype() != DType::f32 || t->dims() != slot.dims())
      throw Error(fmt::format("optimizer state: slot '{}' is {}, expected {}", name,
                              t->empty() ? std::string("empty") : t->type_string(), slot.type_string()));
    sources.push_back(t);
  }
  if (!by_name.empty())
    throw Error(fmt::format("optimizer state: unknown slot '{}' for this optimizer", by_name.begin()->first));

  // Copy rather than share, so the caller's tensors and ours stay independent.
  for (size_t k = 0; k < targets.size(); ++k)
    std::memcpy(targets[k].second.raw_data(), sources[k]->raw_data(), targets[k].second.num_bytes());
  iterations_ = iterations->data<int64_t>()[0];
}

OptimizerConfig optimizer_config(const pb::OptimizerConfig& c) {
  OptimizerConfig o;
  if (c.has_sgd()) {
    o.kind = OptimizerConfig::Kind::sgd;
    o.learning_rate = c.sgd().learning_rate() > 0 ? c.sgd().learning_rate() : 0.01f;
    o.momentum = c.sgd().momentum();
    o.nesterov = c.sgd().nesterov();
  } else {
    o.kind = OptimizerConfig::Kind::adam;
    const pb::OptimizerConfig::Adam& a = c.adam();
    if (a.has_learning_rate()) o.learning_rate = a.learning_rate();
    if (a.has_beta1()) o.beta1 = a.beta1();
    if (a.has_beta2()) o.beta2 = a.beta2();
    if (a.has_epsilon()) o.epsilon = a.epsilon();
    o.pytorch_epsilon = a.epsilon_placement() == pb::OptimizerConfig::Adam::PYTORCH;
  }
  if (c.clip_global_norm() > 0 && c.clip_norm_per_tensor() > 0)
    throw Error("training config: set clip_global_norm or clip_norm_per_tensor, not both");
  if (c.clip_global_norm() > 0) {
    o.clip = OptimizerConfig::Clip::global_norm;
    o.clip_norm = c.clip_global_norm();
  } else if (c.clip_norm_per_tensor() > 0) {
    o.clip = OptimizerConfig::Clip::per_tensor_norm;
    o.clip_norm = c.clip_norm_per_tensor();
  }
  o.weight_decay = c.weight_decay();
  return o;
}

}  // namespace graphrun
