// What the recurrent files share (private to ops/rnn/): a layer's config, the input
// positions, the path rule, the step-wise workspace layout and the two paths' kernels.
// The ops, their inputs and the math are described in rnn.cpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ops/kernel.h"

namespace graphrun::rnn {

// The four cells. The two GRUs are Keras' reset_after false (the classic GRU, oneDNN's
// vanilla gru: the reset gate scales h before the recurrent matmul) and reset_after true
// (oneDNN's linear-before-reset lbr_gru: r scales h R_h + rb_h after it).
enum class Cell { rnn, lstm, gru_reset_before, gru_reset_after };

// Everything a kernel or shape rule needs to know about one recurrent layer.
struct RnnConfig {
  Cell cell = Cell::lstm;
  int64_t N = -1, T = -1, C = -1, H = 0;
  int64_t D = 1;  // directions
  pb::RecurrentParams::Direction direction = pb::RecurrentParams::FORWARD;
  bool return_sequences = false;
  bool has_ids = false;           // a trailing int64 token-id input [N, T]: mask = id != 0
  float dropout = 0.f;            // on x_t, training only
  float recurrent_dropout = 0.f;  // on h_{t-1}, training only

  int64_t gates() const { return cell == Cell::lstm ? 4 : cell == Cell::rnn ? 1 : 3; }
  int64_t bias_gates() const { return cell == Cell::gru_reset_after ? 4 : gates(); }          // oneDNN's bias
  int64_t keras_bias() const { return cell == Cell::gru_reset_after ? 6 * H : gates() * H; }  // per direction
  int64_t DH() const { return D * H; }
  // The gate pre-activations of one time step, all directions: what a team splits
  // between the step's barriers (Kernel::parallel_work).
  int64_t step_gate_elements() const { return N * D * gates() * H; }
  bool concrete() const { return N >= 0 && T >= 0; }
};

// Input positions of the forward op.
constexpr int kX = 0, kW = 1, kR = 2, kB = 3, kInitH = 4, kInitC = 5;

// Input positions of the Grad op: X W R B Y Y_h [Y_c] workspace dY dY_h [dY_c] [initial_h [initial_c]].
struct GradInputs {
  int y = 4, y_h = 5, y_c = -1, ws, dy, dy_h, dy_c = -1, init_h, init_c = -1;
  explicit GradInputs(bool has_cell) {
    int k = 6;
    if (has_cell) y_c = k++;
    ws = k++;
    dy = k++;
    dy_h = k++;
    if (has_cell) dy_c = k++;
    init_h = k++;
    if (has_cell) init_c = k++;
  }
};

// The optional token ids come last (in the op and its Grad) and are told apart by their dtype.
inline bool has_token_ids(const std::vector<TensorType>& inputs) {
  return inputs.size() > kB + 1 && inputs.back().dtype == DType::i64;
}

// The path rule, static per node so the op and its Grad agree: oneDNN's fused RNN has
// neither masking nor dropout, so either one takes the step-wise kernels. `reason` names
// what forced the step-wise path ("mask_zero, dropout 0.2"); it is empty for the fused one.
enum class RecurrentPath { fused, stepwise };
struct PathChoice {
  RecurrentPath path;
  std::string reason;
};
PathChoice choose_recurrent_path(const RnnConfig& c);

// The step-wise path's workspace (offsets in floats). Per-step arrays are per direction
// d and row n * T + t (t in time order, as X), so backward reads them like X and Y:
//   in_masks  [D, G, N, C]  input dropout multipliers (dropout > 0; ones outside training)
//   rec_masks [D, G, N, H]  recurrent dropout multipliers (recurrent_dropout > 0; ones likewise)
//   xd        [D, G, N, T, C] X * dm_g, the input projection's source per gate (dropout > 0)
//   step_mask [N, T]        1 for a real step, 0 for padding
//   act       [D, N, T, G*H] gate activations (LSTM i,f,g,o; GRU z,r,n; RNN h'); zeros at a
//                           masked step (but the classic GRU's, whose backward reads r there)
//   hs, cs    [D, N, T, H]  h and (LSTM) c after step t
//   tanh_cs   [D, N, T, H]  LSTM: tanh(c_t) as forward computed it (zeros at masked steps)
//   q         [D, N, T, H]  reset_after GRU: h R_h + rb_h, the recurrent part inside r * (.)
//                           (zeros at masked steps)
struct StepLayout {
  int64_t in_masks = 0, rec_masks = 0, xd = 0, step_mask = 0, act = 0, hs = 0, cs = 0, tanh_cs = 0, q = 0, total = 0;
};
StepLayout step_layout(const RnnConfig& c);

// A float pointer `offset` bytes into a scratchpad.
inline float* at(void* base, size_t offset) { return reinterpret_cast<float*>(static_cast<std::byte*>(base) + offset); }

// Whether the fused path runs a bidirectional layer's directions as two primitives side by
// side, one thread each: when one time step is too small for a team (below kParallelElements
// gate elements), i.e. up to largest_side_by_side_batch(c) sequences (which does not read c.N).
bool directions_side_by_side(const RnnConfig& c);
int64_t largest_side_by_side_batch(const RnnConfig& c);

// The fused oneDNN path (fused.cpp). `num_float_inputs` counts the inputs before the token ids.
// The workspace length in floats; throws dnnl::error when oneDNN rejects the layer.
int64_t fused_workspace_floats(const RnnConfig& c);
std::unique_ptr<Kernel> make_fused_kernel(const RnnConfig& c, int num_float_inputs);
std::unique_ptr<Kernel> make_fused_grad_kernel(const RnnConfig& c, int num_float_inputs);

// The step-wise path (stepwise.cpp); `node_seed` keys the dropout masks. Without
// `dx_read` (nothing reads the gradient of X) the Grad leaves dX unwritten and skips its matmuls.
std::unique_ptr<Kernel> make_stepwise_kernel(const RnnConfig& c, uint64_t node_seed, int num_float_inputs);
std::unique_ptr<Kernel> make_stepwise_grad_kernel(const RnnConfig& c, int num_float_inputs, bool dx_read);

}  // namespace graphrun::rnn
