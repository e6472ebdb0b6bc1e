// The step-wise path's cell units (private to ops/rnn/), laid out as oneDNN's own RNN
// code: one time-loop driver (stepwise.cpp: matmuls, masking, dropout masks, state carry,
// the per-row OpenMP split) and per cell the element-wise work after the matmuls of one
// row (one sequence at one step), forward and backward (cell_*.cpp).
#pragma once

#include <cstdint>

#include "ops/rnn/rnn_config.h"

namespace graphrun::rnn {

// This direction's recurrent dropout masks [G, N, H] (nullptr without recurrent dropout).
struct RecurrentMasks {
  const float* masks;
  int64_t N, H;
  // rm_g of row n, element j; 1 without recurrent dropout.
  float at(int64_t g, int64_t n, int64_t j) const { return masks ? masks[(g * N + n) * H + j] : 1.f; }
  // rm_g of row n, [H]; nullptr without recurrent dropout. (A loop over a row takes the
  // branch once: the compiler vectorises it.)
  const float* row(int64_t g, int64_t n) const { return masks ? masks + (g * N + n) * H : nullptr; }
};

// One row of a forward step: sequence n at step t. Arrays hold H floats unless noted;
// gates are concatenated (G*H) in Keras' order.
struct ForwardRow {
  int64_t n, H;
  const float* h_proj;  // h_{t-1} R, [G*H] (per gate (h_{t-1} * rm_g) R_g with recurrent dropout)
  const float* bias;    // the direction's Keras bias (reset_after GRU: [2, 3H], input then recurrent)
  const float* h;       // h_{t-1}
  const float* c;       // c_{t-1} (LSTM)
  // [G*H] in: the input projection x_t W (per gate (x_t * dm_g) W_g with dropout); out: the
  // gate activations, saved for backward. A gate's element is read before it is written.
  float* act;
  float* h_new;         // out: h_t
  float* c_new;         // out: c_t (LSTM)
  float* tanh_c;        // out: tanh(c_t) (LSTM), saved for backward
  float* q;             // out: reset_after GRU's h_{t-1} R_h + rb_h, saved for backward
  float* reset_h;       // out: classic GRU's r * h_{t-1} * rm_h, the candidate's matmul source
  RecurrentMasks rec_masks;
};

// One row of a backward step (only real steps: a masked one passes dh, dc through).
struct BackwardRow {
  int64_t n, H;
  const float* act;         // the step's gate activations [G*H]
  const float* h;           // h_{t-1}
  const float* c;           // c_{t-1} (LSTM)
  const float* tanh_c_t;    // tanh(c_t) (LSTM), saved by forward
  const float* q;           // reset_after GRU's saved q
  const float* dh;          // dh_t
  float* dc;                // in: dc_t, out: dc_{t-1} (LSTM)
  float* da;                // out: gradients of the gate pre-activations [G*H]
  float* da_rec;            // out: reset_after GRU: their recurrent side [G*H] (the candidate's: dq)
  float* dh_prev;           // out: dh_{t-1} apart from the recurrent matmuls
  const float* reset_grad;  // classic GRU: d(r * h_{t-1} * rm_h) before the mask, da_n R_h^T
  RecurrentMasks rec_masks;
};

// The element-wise loops shared by the cells. Their arrays never overlap: as restrict
// parameters that lets the compiler vectorise them without run-time overlap checks.

// a = a + hr + b: a gate's pre-activation, the input projection a plus the recurrent one and
// the bias.
inline void add_projections(int64_t n, const float* __restrict hr, const float* __restrict b, float* __restrict a) {
  for (int64_t k = 0; k < n; ++k) a[k] = a[k] + hr[k] + b[k];
}

// The GRU's new state h' = z h + (1 - z) n.
inline void interpolate_state(int64_t H, const float* __restrict z, const float* __restrict h,
                              const float* __restrict candidate, float* __restrict h_new) {
  for (int64_t j = 0; j < H; ++j) h_new[j] = z[j] * h[j] + (1 - z[j]) * candidate[j];
}

// A cell's post-matmul unit. The driver calls forward() per row after h_{t-1} R of the
// first recurrent_gates() gates, backward() per row before the recurrent matmuls of dh.
class StepCell {
 public:
  virtual ~StepCell() = default;

  // Classic GRU (reset_before): the candidate's recurrent matmul takes r * h_{t-1}, which
  // forward() yields; the driver then multiplies it by R_h into h_proj's candidate gate and
  // calls forward_candidate(). Backward mirrors it: backward(), da_n R_h^T into
  // reset_grad, backward_reset().
  virtual bool reset_before() const { return false; }
  // Gates whose h_{t-1} R the driver multiplies before forward().
  int64_t recurrent_gates(int64_t gates) const { return reset_before() ? gates - 1 : gates; }

  virtual void forward(const ForwardRow& row) const = 0;
  virtual void forward_candidate(const ForwardRow&) const {}
  virtual void backward(const BackwardRow& row) const = 0;
  virtual void backward_reset(const BackwardRow&) const {}
  // dR's source of gate g is h_{t-1} * rm_g; a cell may scale it further (classic GRU's
  // candidate: by r). `act` is the step's gate activations.
  virtual void scale_recurrent_source(int64_t /*g*/, const float* /*act*/, float* /*source*/, int64_t /*H*/) const {}
};

const StepCell& rnn_cell();               // cell_rnn.cpp
const StepCell& lstm_cell();              // cell_lstm.cpp
const StepCell& gru_reset_before_cell();  // cell_gru_reset_before.cpp
const StepCell& gru_reset_after_cell();   // cell_gru_reset_after.cpp

}  // namespace graphrun::rnn
