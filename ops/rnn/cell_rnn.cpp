// Keras SimpleRNN's step (oneDNN vanilla_rnn with tanh): h' = tanh(x W + h R + b).
#include <algorithm>

#include "ops/rnn/gate_math.h"
#include "ops/rnn/step_cell.h"

namespace graphrun::rnn {
namespace {

class RnnCell final : public StepCell {
 public:
  void forward(const ForwardRow& row) const override {
    add_projections(row.H, row.h_proj, row.bias, row.act);
    tanh_in_place(row.act, row.H);  // over the row at once (gate_math.h)
    std::copy_n(row.act, row.H, row.h_new);
  }

  void backward(const BackwardRow& row) const override {
    for (int64_t j = 0; j < row.H; ++j) {
      row.da[j] = row.dh[j] * (1 - row.act[j] * row.act[j]);
      row.dh_prev[j] = 0.f;
    }
  }
};

}  // namespace

const StepCell& rnn_cell() {
  static const RnnCell cell;
  return cell;
}

}  // namespace graphrun::rnn
