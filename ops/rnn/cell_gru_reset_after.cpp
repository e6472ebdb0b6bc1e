// The GRU step with reset_after true (oneDNN's linear-before-reset lbr_gru), gates z, r, h,
// input bias b and recurrent bias rb (Keras' bias [2, 3H]):
//   z = sigma(x W_z + b_z + h R_z + rb_z)   r likewise   q = h R_h + rb_h
//   n = tanh(x W_h + b_h + r * q)           h' = z h + (1 - z) n
// q is saved: backward needs it for dr, and r for the recurrent side dq = da_n * r.
// The transcendental functions run over whole gates (gate_math.h), the rest per element in
// the order above.
#include "ops/rnn/gate_math.h"
#include "ops/rnn/step_cell.h"

namespace graphrun::rnn {
namespace {

class GruResetAfterCell final : public StepCell {
 public:
  void forward(const ForwardRow& row) const override {
    const int64_t H = row.H;
    const float *hr = row.h_proj, *b = row.bias, *rb = row.bias + 3 * H;
    float *a = row.act, *q = row.q;  // a holds x W on entry
    for (int64_t k = 0; k < 2 * H; ++k) a[k] = a[k] + b[k] + hr[k] + rb[k];
    sigmoid_in_place(a, 2 * H);  // z, r
    for (int64_t j = 0; j < H; ++j) {
      q[j] = hr[2 * H + j] + rb[2 * H + j];
      a[2 * H + j] = a[2 * H + j] + b[2 * H + j] + a[H + j] * q[j];  // x W_h + b_h + r q
    }
    tanh_in_place(a + 2 * H, H);
    interpolate_state(H, a, row.h, a + 2 * H, row.h_new);  // h' = z h + (1 - z) n
  }

  void backward(const BackwardRow& row) const override {
    const int64_t H = row.H;
    const float* a = row.act;
    float *da = row.da, *dar = row.da_rec;
    for (int64_t j = 0; j < H; ++j) {
      const float z = a[j], r = a[H + j], cand = a[2 * H + j];
      const float da_n = row.dh[j] * (1 - z) * (1 - cand * cand);
      dar[j] = da[j] = row.dh[j] * (row.h[j] - cand) * z * (1 - z);
      dar[H + j] = da[H + j] = da_n * row.q[j] * r * (1 - r);
      da[2 * H + j] = da_n;
      dar[2 * H + j] = da_n * r;  // dq
      row.dh_prev[j] = row.dh[j] * z;
    }
  }
};

}  // namespace

const StepCell& gru_reset_after_cell() {
  static const GruResetAfterCell cell;
  return cell;
}

}  // namespace graphrun::rnn
