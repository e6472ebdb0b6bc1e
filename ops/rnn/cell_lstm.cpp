// Keras LSTM's step, gates i, f, c, o (= oneDNN's order):
//   i, f, o = sigma(x W + h R + b)   g = tanh(x W_c + h R_c + b_c)   c' = f c + i g   h' = o tanh(c')
// The transcendental functions run over whole gates (gate_math.h); every other operation is
// per element in the order above, so the results equal the one-element-at-a-time loop's.
#include <algorithm>

#include "ops/rnn/gate_math.h"
#include "ops/rnn/step_cell.h"

namespace graphrun::rnn {
namespace {

class LstmCell final : public StepCell {
 public:
  void forward(const ForwardRow& row) const override {
    const int64_t H = row.H;
    const float *x = row.x_proj, *hr = row.h_proj, *b = row.bias;
    float* a = row.act;
    for (int64_t k = 0; k < 4 * H; ++k) a[k] = x[k] + hr[k] + b[k];
    sigmoid_in_place(a, 2 * H);                                                                // i, f
    tanh_in_place(a + 2 * H, H);                                                               // g
    sigmoid_in_place(a + 3 * H, H);                                                            // o
    for (int64_t j = 0; j < H; ++j) row.c_new[j] = a[H + j] * row.c[j] + a[j] * a[2 * H + j];  // f c + i g
    std::copy_n(row.c_new, H, row.tanh_c);
    tanh_in_place(row.tanh_c, H);
    for (int64_t j = 0; j < H; ++j) row.h_new[j] = a[3 * H + j] * row.tanh_c[j];  // o tanh(c')
  }

  void backward(const BackwardRow& row) const override {
    gate_gradients(row.H, row.act, row.tanh_c_t, row.c, row.dh, row.dc, row.da);
    std::fill_n(row.dh_prev, row.H, 0.f);
  }

 private:
  // dA of one row and dc_{t-1} (in place of dc_t). The arrays never overlap: as restrict
  // parameters that lets the compiler vectorise the loop, which with possible aliasing
  // ran one element at a time. act and da hold the gates i, f, g, o, H floats each.
  static void gate_gradients(int64_t H, const float* __restrict act, const float* __restrict tanh_c,
                             const float* __restrict c, const float* __restrict dh, float* __restrict dc,
                             float* __restrict da) {
    for (int64_t j = 0; j < H; ++j) {
      const float i = act[j], f = act[H + j], g = act[2 * H + j], o = act[3 * H + j];
      const float tc = tanh_c[j];
      const float dct = dc[j] + dh[j] * o * (1 - tc * tc);  // dc_t, h' = o tanh(c')
      da[j] = dct * g * i * (1 - i);
      da[H + j] = dct * c[j] * f * (1 - f);
      da[2 * H + j] = dct * i * (1 - g * g);
      da[3 * H + j] = dh[j] * tc * o * (1 - o);
      dc[j] = dct * f;
    }
  }
};

}  // namespace

const StepCell& lstm_cell() {
  static const LstmCell cell;
  return cell;
}

}  // namespace graphrun::rnn
