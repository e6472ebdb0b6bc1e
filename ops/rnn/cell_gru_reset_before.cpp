// The classic GRU's step: Keras GRU with reset_after false (Keras 2's default, oneDNN's
// vanilla gru), gates z, r, h (= oneDNN u, r, o). The reset gate scales h_{t-1} before
// the candidate's recurrent matmul, so the step has two parts around that matmul:
//   z = sigma(x W_z + h R_z + b_z)   r = sigma(x W_r + h R_r + b_r)        (forward)
//   n = tanh(x W_h + (r * h * rm_h) R_h + b_h)   h' = z h + (1 - z) n      (forward_candidate)
// The transcendental functions run over whole gates (gate_math.h), the rest per element in
// the order above.
#include "ops/rnn/gate_math.h"
#include "ops/rnn/step_cell.h"

namespace graphrun::rnn {
namespace {

constexpr int64_t kCandidate = 2;  // the candidate gate, whose recurrent source is r * h

class GruResetBeforeCell final : public StepCell {
 public:
  bool reset_before() const override { return true; }

  void forward(const ForwardRow& row) const override {
    const int64_t H = row.H;
    float* a = row.act;
    add_projections(2 * H, row.h_proj, row.bias, a);
    sigmoid_in_place(a, 2 * H);  // z, r
    for (int64_t j = 0; j < H; ++j) row.reset_h[j] = a[H + j] * row.h[j] * row.rec_masks.at(kCandidate, row.n, j);
  }

  // h_proj's candidate gate now holds (r * h * rm_h) R_h.
  void forward_candidate(const ForwardRow& row) const override {
    const int64_t H = row.H;
    float* a = row.act;
    add_projections(H, row.h_proj + 2 * H, row.bias + 2 * H, a + 2 * H);
    tanh_in_place(a + 2 * H, H);
    interpolate_state(H, a, row.h, a + 2 * H, row.h_new);  // h' = z h + (1 - z) n
  }

  // z and the candidate; r needs the candidate's gradient through R_h (backward_reset).
  void backward(const BackwardRow& row) const override {
    const int64_t H = row.H;
    const float* a = row.act;
    for (int64_t j = 0; j < H; ++j) {
      const float z = a[j], cand = a[2 * H + j];
      row.da[j] = row.dh[j] * (row.h[j] - cand) * z * (1 - z);
      row.da[2 * H + j] = row.dh[j] * (1 - z) * (1 - cand * cand);
      row.dh_prev[j] = row.dh[j] * z;
    }
  }

  // reset_grad = da_n R_h^T, the gradient of r * h * rm_h: gives dr and part of dh_{t-1}.
  void backward_reset(const BackwardRow& row) const override {
    const int64_t H = row.H;
    for (int64_t j = 0; j < H; ++j) {
      const float r = row.act[H + j], drh = row.reset_grad[j] * row.rec_masks.at(kCandidate, row.n, j);
      row.da[H + j] = drh * row.h[j] * r * (1 - r);
      row.dh_prev[j] += drh * r;
    }
  }

  void scale_recurrent_source(int64_t g, const float* act, float* source, int64_t H) const override {
    if (g == kCandidate)
      for (int64_t j = 0; j < H; ++j) source[j] *= act[H + j];
  }
};

}  // namespace

const StepCell& gru_reset_before_cell() {
  static const GruResetBeforeCell cell;
  return cell;
}

}  // namespace graphrun::rnn
