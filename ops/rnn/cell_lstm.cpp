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
    float* a = row.act;
    add_projections(4 * H, row.h_proj, row.bias, a);
    sigmoid_in_place(a, 2 * H);      // i, f
    tanh_in_place(a + 2 * H, H);     // g
    sigmoid_in_place(a + 3 * H, H);  // o
    new_cell_state(H, a, row.c, row.c_new);
    std::copy_n(row.c_new, H, row.tanh_c);
    tanh_in_place(row.tanh_c, H);
    for_each_product(H, a + 3 * H, row.tanh_c, row.h_new);  // h' = o tanh(c')
  }

  void backward(const BackwardRow& row) const override {
    gate_gradients(row.H, row.act, row.tanh_c_t, row.c, row.dh, row.dc, row.da);
    std::fill_n(row.dh_prev, row.H, 0.f);
  }

 private:
  // c' = f c + i g from the activations i, f, g, o (H floats each).
  static void new_cell_state(int64_t H, const float* __restrict act, const float* __restrict c,
                             float* __restrict c_new) {
    for (int64_t j = 0; j < H; ++j) c_new[j] = act[H + j] * c[j] + act[j] * act[2 * H + j];
  }

  static void for_each_product(int64_t H, const float* __restrict a, const float* __restrict b,
                               float* __restrict product) {
    for (int64_t j = 0; j < H; ++j) product[j] = a[j] * b[j];
  }

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
