// Optimizers for the training loop: a runtime step, not graph nodes. One
// apply() updates every parameter buffer in place from its gradient with fused
// loops (one memory pass per tensor, two when clipping needs the norm first),
// split across threads with oneTBB, in the caller's task arena.
//
// An embedding table's gradient may arrive as the rows a batch gathered (see
// Gradient): the pass then reads the gradient of every other row as zeros from
// cache instead of a table-sized buffer of zeros from memory. Adam still decays
// m and v of every row, with exactly the operations the dense gradient gets.
//
// The update rules follow tf.keras (TF 2.x, optimizer_v2) and its C++ kernels
// (tensorflow/core/kernels/training_ops.cc), per element, with e the effective
// gradient (below) and t = iterations() + 1:
//
//   SGD, momentum 0:  p -= lr * e                    (ApplyGradientDescent)
//   SGD, momentum m:  a = m * a - lr * e             (ApplyKerasMomentum)
//                     p += a                 or, nesterov,  p += m * a - lr * e
//   Adam:             alpha = lr * sqrt(1 - beta2^t) / (1 - beta1^t)
//                     m += (e - m) * (1 - beta1)     (ApplyAdam, non-nesterov)
//                     v += (e * e - v) * (1 - beta2)
//                     p -= (m * alpha) / (sqrt(v) + epsilon)
//   Adam's epsilon is the paper's "epsilon hat" (added to sqrt(v), not to the
//   bias-corrected sqrt(v_hat)), as in tf.keras; alpha is computed in double and
//   rounded once to float. Everything per element is float math without FMA.
//   With pytorch_epsilon (torch.optim.Adam: p -= lr * m_hat / (sqrt(v_hat) + eps),
//   m_hat = m / (1 - beta1^t), v_hat = v / (1 - beta2^t)) the same update runs with
//   epsilon * sqrt(1 - beta2^t) (double, rounded once) in place of epsilon, which
//   is that formula rearranged.
//
// Effective gradient, in this order (as Keras: regularisation is part of the
// loss, so clipping sees it):
//   1. coupled L2:  g' = g + weight_decay * p   (p before the step). A Keras
//      kernel_regularizer=l2(l) adds l * sum(p^2) to the loss, i.e. 2 * l * p
//      to the gradient: weight_decay = 2 * l reproduces it.
//   2. clipping, with norm = ||.||_2 of g' computed in double:
//      global_norm:     scale = clip_norm / max(N, clip_norm), N = sqrt(sum over
//                       all tensors of ||g'_i||^2), the same scale for every
//                       tensor (tf.clip_by_global_norm; Keras 2 standalone
//                       `clipnorm`; tf.keras `global_clipnorm`)
//      per_tensor_norm: scale_i = clip_norm / max(||g'_i||, clip_norm)
//                       (tf.clip_by_norm per tensor; tf.keras `clipnorm`)
//      e = float(scale) * g'; scale is exactly 1 when the norm is within bounds.
//
// Checkpoint state (state()/load_state()), named:
//   "iterations"                   int64 scalar, the number of applied steps
//   "sgd.momentum.<i>"             SGD with momentum > 0 only
//   "adam.m.<i>", "adam.v.<i>"     Adam
// with <i> the parameter's index in the constructor's list.
#pragma once

#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "graphrun.pb.h"
#include "graphrun/tensor.h"

namespace graphrun {

struct OptimizerConfig {
  enum class Kind { sgd, adam } kind = Kind::adam;
  float learning_rate = 0.001f;  // Keras Adam default; Keras SGD's is 0.01
  // SGD
  float momentum = 0.f;  // in [0, 1]
  bool nesterov = false;
  // Adam (Keras defaults)
  float beta1 = 0.9f, beta2 = 0.999f;  // in [0, 1)
  float epsilon = 1e-7f;               // > 0
  // false: tf.keras (epsilon added to sqrt(v)); true: torch.optim.Adam (added to
  // the bias-corrected sqrt(v_hat)), computed as epsilon * sqrt(1 - beta2^t) on sqrt(v).
  bool pytorch_epsilon = false;
  // Coupled L2 term added to the gradient: weight_decay * p (>= 0).
  float weight_decay = 0.f;
  enum class Clip { none, global_norm, per_tensor_norm } clip = Clip::none;
  float clip_norm = 0.f;  // the threshold, > 0 when clip != none
};

// A parameter's gradient as apply() takes it: dense, with the parameter's dims;
// or, for a table [rows, ...] read by a Gather on axis 0, the gradients of the
// slices it gathered: `rows` has the dims indices.dims + the table's row dims,
// and its slice j belongs to table row indices[j] (negative counts from the
// end). Slices of a repeated row add up in index order starting from 0.0f, as
// GatherGrad adds them; a row not indexed has gradient zero.
struct Gradient {
  // Implicit, so that {tensor, ...} is a list of dense gradients.
  Gradient(Tensor dense_gradient) : dense(std::move(dense_gradient)) {}
  static Gradient of_rows(Tensor indices, Tensor rows) {
    Gradient g{Tensor()};
    g.indices = std::move(indices);
    g.rows = std::move(rows);
    return g;
  }
  bool has_rows() const { return !indices.empty(); }

  Tensor dense;
  Tensor indices;  // int64
  Tensor rows;     // float32
};

// The model file's train.optimizer as an OptimizerConfig (SGD's learning rate
// defaults to 0.01, as in Keras; at most one clipping rule).
OptimizerConfig optimizer_config(const pb::OptimizerConfig& config);

class Optimizer {
 public:
  // Validates the config and allocates zeroed slots; throws Error naming the
  // offending value.
  Optimizer(OptimizerConfig config, std::vector<Dims> parameter_shapes);

  // One step: params[i] is updated in place from grads[i]. Both lists follow the
  // constructor's order and are float32 with the constructor's dims; a mismatch
  // or an index outside the table throws Error before anything is written.
  // When a gradient holds a NaN or an infinity, nothing is written either and
  // the index of the first such gradient is returned.
  std::optional<size_t> apply(std::vector<Tensor>& params, const std::vector<Gradient>& grads);

  int64_t iterations() const { return iterations_; }
  // With clipping on, the global norm of the gradients (with the L2 term) before
  // clipping, from the last apply(); 0 before the first, and without clipping,
  // where nothing needs it (its pass was a third of a small model's update).
  double last_global_norm() const { return last_global_norm_; }

  // Deep copies of the slots and the step count, named as above; loading them
  // into an optimizer with the same config and shapes continues bit for bit.
  std::vector<std::pair<std::string, Tensor>> state() const;
  // state() without the copies: the slots share the optimizer's storage, so they
  // hold its values only until the next apply(). For writing them out at once.
  std::vector<std::pair<std::string, Tensor>> shared_state() const;
  // Expects exactly the names state() produces; throws Error naming the slot on
  // a missing, unknown or mis-shaped entry, and then leaves the state unchanged.
  void load_state(const std::vector<std::pair<std::string, Tensor>>& state);

  const OptimizerConfig& config() const { return config_; }

 private:
  struct Chunk {  // a range of one tensor: the unit of parallel work
    size_t tensor;
    int64_t begin, end;
  };
  // One step's gradient of a table given as rows, summed per distinct row. The
  // vectors keep their capacity from step to step: no allocation once the
  // largest batch has been seen.
  struct RowSums {
    std::vector<std::pair<int64_t, int64_t>> order;  // (row, j): the slices sorted by row, then index order
    std::vector<int64_t> rows;                       // the distinct rows, ascending
    std::vector<float> sums;                         // rows.size() x row_elements
  };
  void sum_rows(size_t i, const Gradient& grad);
  class GradientBlocks;
  // The slots named as in state(), sharing storage with ours.
  std::vector<std::pair<std::string, Tensor>> slots() const;

  OptimizerConfig config_;
  std::vector<Dims> shapes_;
  std::vector<Chunk> chunks_;
  // Whether chunks go to TBB's workers: not for a model whose parameters total less than
  // kParallelElements, where waking a worker costs more than the whole update.
  bool parallel_chunks_ = false;
  std::vector<double> chunk_sums_;  // per-chunk sums of squares when clipping, added in a fixed order
  std::vector<Tensor> slot1_;       // SGD velocity (momentum > 0) or Adam m
  std::vector<Tensor> slot2_;       // Adam v
  std::vector<RowSums> row_sums_;   // by parameter; used for gradients given as rows
  // apply()'s per-tensor clip scales, by parameter: a member so that an update allocates nothing.
  std::vector<float> step_scales_;
  std::vector<double> clip_sums_;  // per-tensor sums of squares, when clipping
  int64_t iterations_ = 0;
  double last_global_norm_ = 0;
};

// The per-element update rules over [0, n) of one tensor. `scale` is the clip
// factor; p, slots and g never alias.
namespace optimizer_math {

// Sum of (g + wd * p)^2 in double; eight independent accumulators keep the adds
// pipelined (a single double chain would not vectorise without reassociation).
// A range may be added in pieces: when every piece but the last has a multiple
// of 8 elements, the total is the same as for one add() of the whole range.
struct SumOfSquares {
  double acc[8] = {};

  void add(const float* __restrict g, const float* __restrict p, float weight_decay, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
      for (int j = 0; j < 8; ++j) {
        const double e = g[i + j] + weight_decay * p[i + j];
        acc[j] += e * e;
      }
    for (; i < n; ++i) {
      const double e = g[i] + weight_decay * p[i];
      acc[0] += e * e;
    }
  }
  double total() const { return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7])); }
};

inline double sum_of_squares(const float* __restrict g, const float* __restrict p, float weight_decay, int64_t n) {
  SumOfSquares sum;
  sum.add(g, p, weight_decay, n);
  return sum.total();
}

inline void sgd(float* __restrict p, const float* __restrict g, int64_t n, float lr, float weight_decay, float scale) {
  for (int64_t i = 0; i < n; ++i) p[i] -= lr * (scale * (g[i] + weight_decay * p[i]));
}

inline void sgd_momentum(float* __restrict p, float* __restrict a, const float* __restrict g, int64_t n, float lr,
                         float momentum, bool nesterov, float weight_decay, float scale) {
  if (nesterov) {
    for (int64_t i = 0; i < n; ++i) {
      const float step = lr * (scale * (g[i] + weight_decay * p[i]));
      a[i] = a[i] * momentum - step;
      p[i] += a[i] * momentum - step;
    }
  } else {
    for (int64_t i = 0; i < n; ++i) {
      a[i] = a[i] * momentum - lr * (scale * (g[i] + weight_decay * p[i]));
      p[i] += a[i];
    }
  }
}

struct AdamStep {
  float alpha;  // lr * sqrt(1 - beta2^t) / (1 - beta1^t)
  float one_minus_beta1, one_minus_beta2, epsilon;
};

inline void adam_element(float& p, float& m, float& v, float g, const AdamStep& s, float weight_decay, float scale) {
  const float e = scale * (g + weight_decay * p);
  m += (e - m) * s.one_minus_beta1;
  v += (e * e - v) * s.one_minus_beta2;
  p -= (m * s.alpha) / (std::sqrt(v) + s.epsilon);
}

// adam_element over [0, n). GCC keeps std::sqrt's errno branch (the build has no
// -fno-math-errno), which stops vectorisation, so on x86 the same operations run
// as SSE intrinsics, 4 lanes at a time; every operation is correctly rounded,
// so the lanes and the scalar tail give identical bits.
inline void adam(float* __restrict p, float* __restrict m, float* __restrict v, const float* __restrict g, int64_t n,
                 const AdamStep& s, float weight_decay, float scale) {
  int64_t i = 0;
#if defined(__SSE2__)
  const __m128 wd = _mm_set1_ps(weight_decay), sc = _mm_set1_ps(scale), b1 = _mm_set1_ps(s.one_minus_beta1),
               b2 = _mm_set1_ps(s.one_minus_beta2), alpha = _mm_set1_ps(s.alpha), eps = _mm_set1_ps(s.epsilon);
  for (; i + 4 <= n; i += 4) {
    __m128 pi = _mm_loadu_ps(p + i), mi = _mm_loadu_ps(m + i), vi = _mm_loadu_ps(v + i);
    const __m128 e = _mm_mul_ps(sc, _mm_add_ps(_mm_loadu_ps(g + i), _mm_mul_ps(wd, pi)));
    mi = _mm_add_ps(mi, _mm_mul_ps(_mm_sub_ps(e, mi), b1));
    vi = _mm_add_ps(vi, _mm_mul_ps(_mm_sub_ps(_mm_mul_ps(e, e), vi), b2));
    pi = _mm_sub_ps(pi, _mm_div_ps(_mm_mul_ps(mi, alpha), _mm_add_ps(_mm_sqrt_ps(vi), eps)));
    _mm_storeu_ps(p + i, pi);
    _mm_storeu_ps(m + i, mi);
    _mm_storeu_ps(v + i, vi);
  }
#endif
  for (; i < n; ++i) adam_element(p[i], m[i], v[i], g[i], s, weight_decay, scale);
}

}  // namespace optimizer_math
}  // namespace graphrun
