#include "runtime/train/optimizer.h"

#include <fmt/format.h>
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <cstring>
#include <map>

#include "graph/shape.h"

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

}  // namespace

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
}

void Optimizer::apply(std::vector<Tensor>& params, const std::vector<Tensor>& grads) {
  const size_t count = shapes_.size();
  if (params.size() != count || grads.size() != count)
    throw Error(fmt::format("optimizer: expected {} parameters and gradients, got {} and {}", count, params.size(),
                            grads.size()));
  std::vector<float*> p(count), s1(count, nullptr), s2(count, nullptr);
  std::vector<const float*> g(count);
  for (size_t i = 0; i < count; ++i) {
    check_same_type(params[i], shapes_[i], "parameter", i);
    check_same_type(grads[i], shapes_[i], "gradient", i);
    p[i] = params[i].data<float>();
    g[i] = grads[i].data<float>();
    if (!slot1_.empty()) s1[i] = slot1_[i].data<float>();
    if (!slot2_.empty()) s2[i] = slot2_[i].data<float>();
  }

  const OptimizerConfig& c = config_;
  const float wd = c.weight_decay;
  const auto for_each_chunk = [&](auto&& body) {
    tbb::parallel_for(tbb::blocked_range<size_t>(0, chunks_.size()), [&](const tbb::blocked_range<size_t>& r) {
      for (size_t k = r.begin(); k != r.end(); ++k) body(k, chunks_[k]);
    });
  };
  // Per-tensor sums of squares from the chunk sums, always in chunk order, so
  // the norm (and hence the clip scale) does not depend on thread timing.
  const auto tensor_sums = [&] {
    std::vector<double> sums(count, 0.0);
    for (size_t k = 0; k < chunks_.size(); ++k) sums[chunks_[k].tensor] += chunk_sums_[k];
    return sums;
  };
  const auto global_norm = [](const std::vector<double>& sums) {
    double total = 0;
    for (double s : sums) total += s;
    return std::sqrt(total);
  };

  // Clipping needs the norms before the update: a separate read-only pass.
  std::vector<float> scale(count, 1.0f);
  const bool clipping = c.clip != OptimizerConfig::Clip::none;
  if (clipping) {
    for_each_chunk([&](size_t k, const Chunk& ch) {
      chunk_sums_[k] =
          optimizer_math::sum_of_squares(g[ch.tensor] + ch.begin, p[ch.tensor] + ch.begin, wd, ch.end - ch.begin);
    });
    const std::vector<double> sums = tensor_sums();
    last_global_norm_ = global_norm(sums);
    const double limit = c.clip_norm;
    for (size_t i = 0; i < count; ++i) {
      const double norm = c.clip == OptimizerConfig::Clip::global_norm ? last_global_norm_ : std::sqrt(sums[i]);
      scale[i] = static_cast<float>(limit / std::max(norm, limit));
    }
  }

  const int64_t t = iterations_ + 1;
  const optimizer_math::AdamStep adam_step{
      static_cast<float>(double{c.learning_rate} * std::sqrt(1.0 - std::pow(double{c.beta2}, double(t))) /
                         (1.0 - std::pow(double{c.beta1}, double(t)))),
      1.0f - c.beta1, 1.0f - c.beta2,
      c.pytorch_epsilon ? static_cast<float>(double{c.epsilon} * std::sqrt(1.0 - std::pow(double{c.beta2}, double(t))))
                        : c.epsilon};
  const bool adam = c.kind == OptimizerConfig::Kind::adam;
  const bool velocity = !slot1_.empty();

  for_each_chunk([&](size_t k, const Chunk& ch) {
    const size_t i = ch.tensor;
    double sum = 0;
    for (int64_t b = ch.begin; b < ch.end; b += kBlockElements) {
      const int64_t n = std::min(kBlockElements, ch.end - b);
      // Without clipping the norm is only for logs: fused here, read before p changes.
      if (!clipping) sum += optimizer_math::sum_of_squares(g[i] + b, p[i] + b, wd, n);
      if (adam)
        optimizer_math::adam(p[i] + b, s1[i] + b, s2[i] + b, g[i] + b, n, adam_step, wd, scale[i]);
      else if (velocity)
        optimizer_math::sgd_momentum(p[i] + b, s1[i] + b, g[i] + b, n, c.learning_rate, c.momentum, c.nesterov, wd,
                                     scale[i]);
      else
        optimizer_math::sgd(p[i] + b, g[i] + b, n, c.learning_rate, wd, scale[i]);
    }
    if (!clipping) chunk_sums_[k] = sum;
  });
  if (!clipping) last_global_norm_ = global_norm(tensor_sums());
  iterations_ = t;
}

std::vector<std::pair<std::string, Tensor>> Optimizer::slots() const {
  std::vector<std::pair<std::string, Tensor>> out;
  const char* slot1 = config_.kind == OptimizerConfig::Kind::adam ? "adam.m." : "sgd.momentum.";
  for (size_t i = 0; i < slot1_.size(); ++i) out.emplace_back(slot1 + std::to_string(i), slot1_[i]);
  for (size_t i = 0; i < slot2_.size(); ++i) out.emplace_back("adam.v." + std::to_string(i), slot2_[i]);
  return out;
}

std::vector<std::pair<std::string, Tensor>> Optimizer::state() const {
  std::vector<std::pair<std::string, Tensor>> out;
  out.emplace_back("iterations", Tensor::from_ints({}, std::span<const int64_t>(&iterations_, 1)));
  for (const auto& [name, slot] : slots()) out.emplace_back(name, slot.clone());
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
