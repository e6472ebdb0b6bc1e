// Keras LSTM's step, gates i, f, c, o (= oneDNN's order):
//   i, f, o = sigma(x W + h R + b)   g = tanh(x W_c + h R_c + b_c)   c' = f c + i g   h' = o tanh(c')
#include "ops/rnn/step_cell.h"

namespace graphrun::rnn {
namespace {

class LstmCell final : public StepCell {
 public:
  void forward(const ForwardRow& row) const override {
    const int64_t H = row.H;
    const float *x = row.x_proj, *hr = row.h_proj, *b = row.bias;
    float* a = row.act;
    for (int64_t j = 0; j < H; ++j) {
      const float i = a[j] = sigmoid(x[j] + hr[j] + b[j]);
      const float f = a[H + j] = sigmoid(x[H + j] + hr[H + j] + b[H + j]);
      const float g = a[2 * H + j] = std::tanh(x[2 * H + j] + hr[2 * H + j] + b[2 * H + j]);
      const float o = a[3 * H + j] = sigmoid(x[3 * H + j] + hr[3 * H + j] + b[3 * H + j]);
      row.c_new[j] = f * row.c[j] + i * g;
      row.h_new[j] = o * std::tanh(row.c_new[j]);
    }
  }

  void backward(const BackwardRow& row) const override {
    const int64_t H = row.H;
    const float* a = row.act;
    float* da = row.da;
    for (int64_t j = 0; j < H; ++j) {
      const float i = a[j], f = a[H + j], g = a[2 * H + j], o = a[3 * H + j];
      const float tc = std::tanh(row.c_t[j]);
      const float dct = row.dc[j] + row.dh[j] * o * (1 - tc * tc);  // dc_t, h' = o tanh(c')
      da[j] = dct * g * i * (1 - i);
      da[H + j] = dct * row.c[j] * f * (1 - f);
      da[2 * H + j] = dct * i * (1 - g * g);
      da[3 * H + j] = row.dh[j] * tc * o * (1 - o);
      row.dc[j] = dct * f;
      row.dh_prev[j] = 0.f;
    }
  }
};

}  // namespace

const StepCell& lstm_cell() {
  static const LstmCell cell;
  return cell;
}

}  // namespace graphrun::rnn
