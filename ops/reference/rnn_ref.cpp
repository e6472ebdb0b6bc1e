// Reference kernels for ops/rnn/ (RNN, LSTM, GRU): a plain step loop in
// double per direction, written from the Keras equations (see ops/rnn/rnn.cpp):
//   RNN:  h' = tanh(x W + h R + b)
//   LSTM: i, f, o = sigma(.), g = tanh(.), c' = f c + i g, h' = o tanh(c')
//   GRU:  z, r = sigma(.), n = tanh(x W_h + (r h) R_h + b_h)            (reset_after false)
//                          n = tanh(x W_h + b_h + r (h R_h + rb_h))     (reset_after true)
//         h' = z h + (1 - z) n
// W [C, G*H], R [H, G*H] with gates side by side (LSTM i,f,c,o; GRU z,r,h),
// B [G*H] or, for reset_after, [2*3H] (input biases, then recurrent biases);
// BIDIRECTIONAL stacks them on a leading dim of 2. The workspace output (oneDNN's
// private bytes) is returned as zeros: tests compare Y, Y_h and Y_c only.
//
// Masking (optional trailing int64 token ids [N, T], mask = id != 0, Keras
// mask_zero): a masked step keeps h and c; the output of step t is the state
// after t once some real step has run (in the direction's order), else zeros.
// Dropout (training only, Keras implementation 1): gate g sees x * dm_g and
// h * rm_g, with one mask per sequence and gate, reused at every step; vanilla
// GRU's candidate sees (r * h * rm_h) R_h. Masks come from rnn_dropout_stream
// (ops/random.h), as in the step-wise kernel (ops/rnn/stepwise.cpp).
#include <cmath>
#include <vector>

#include "ops/random.h"
#include "ops/reference/reference.h"

namespace graphrun::reference {
namespace {

enum class Cell { rnn, lstm, gru, lbr_gru };

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

ReferenceKernel recurrent(int gates) {
  return [gates](const pb::Node& attrs, const std::vector<Tensor>& in, const std::vector<TensorType>& out_types,
                 const RunContext& run) {
    const pb::RecurrentParams& p = attrs.recurrent();
    const Cell cell = gates == 1 ? Cell::rnn : gates == 4 ? Cell::lstm : p.reset_after() ? Cell::lbr_gru : Cell::gru;
    const int64_t N = in[0].dims()[0], T = in[0].dims()[1], C = in[0].dims()[2], H = p.hidden_size();
    const int64_t G = gates, GH = G * H;
    const bool bidirectional = p.direction() == pb::RecurrentParams::BIDIRECTIONAL;
    const int64_t D = bidirectional ? 2 : 1, DH = D * H;
    const int64_t bias_size = cell == Cell::lbr_gru ? 6 * H : GH;
    const bool has_ids = in.back().dtype() == DType::i64;
    const size_t floats = in.size() - (has_ids ? 1 : 0);
    const bool has_h0 = floats > 4, has_c0 = floats > 5;
    const float dropout = run.training ? p.dropout() : 0.f;
    const float rec_dropout = run.training ? p.recurrent_dropout() : 0.f;
    const uint64_t node_seed = random_node_seed(attrs);

    std::vector<Tensor> out;
    for (const TensorType& t : out_types) out.emplace_back(t.dtype, t.dims);  // zeros
    std::vector<double> seq(static_cast<size_t>(N * T * DH));                 // [N, T, D*H]
    std::vector<double> last(static_cast<size_t>(N * DH));                    // the last output
    float* y_h = out[1].data<float>();
    float* y_c = cell == Cell::lstm ? out[2].data<float>() : nullptr;

    for (int64_t d = 0; d < D; ++d) {
      const bool reverse = bidirectional ? d == 1 : p.direction() == pb::RecurrentParams::REVERSE;
      const float* W = in[1].data<float>() + d * C * GH;
      const float* R = in[2].data<float>() + d * H * GH;
      const float* B = in[3].data<float>() + d * bias_size;
      for (int64_t n = 0; n < N; ++n) {
        // Dropout multipliers of this sequence: dm[g][i], rm[g][j] (1 without dropout).
        std::vector<std::vector<double>> dm(static_cast<size_t>(G), std::vector<double>(static_cast<size_t>(C), 1.0));
        std::vector<std::vector<double>> rm(static_cast<size_t>(G), std::vector<double>(static_cast<size_t>(H), 1.0));
        for (int64_t g = 0; g < G; ++g) {
          if (dropout > 0) {
            const DropoutMask m = rnn_dropout_stream(run.step_seed, node_seed, dropout, d, 0, g, G);
            for (int64_t i = 0; i < C; ++i) dm[g][i] = m.value(static_cast<uint64_t>(n * C + i));
          }
          if (rec_dropout > 0) {
            const DropoutMask m = rnn_dropout_stream(run.step_seed, node_seed, rec_dropout, d, 1, g, G);
            for (int64_t j = 0; j < H; ++j) rm[g][j] = m.value(static_cast<uint64_t>(n * H + j));
          }
        }
        std::vector<double> h(static_cast<size_t>(H)), c(static_cast<size_t>(H));
        for (int64_t j = 0; j < H; ++j) {
          h[j] = has_h0 ? in[4].data<float>()[n * DH + d * H + j] : 0.0;
          c[j] = has_c0 ? in[5].data<float>()[n * DH + d * H + j] : 0.0;
        }
        bool seen = false;  // has a real step run yet?
        for (int64_t s = 0; s < T; ++s) {
          const int64_t t = reverse ? T - 1 - s : s;
          const bool real = !has_ids || in.back().data<int64_t>()[n * T + t] != 0;
          seen = seen || real;
          if (real) {
            const float* x = in[0].data<float>() + (n * T + t) * C;
            // xw = (x dm_g) W + b (input bias), hr = (h rm_g) R (+ recurrent bias for reset_after).
            std::vector<double> xw(static_cast<size_t>(GH)), hr(static_cast<size_t>(GH));
            for (int64_t k = 0; k < GH; ++k) {
              const size_t g = static_cast<size_t>(k / H);
              double a = B[k], r = cell == Cell::lbr_gru ? B[3 * H + k] : 0.0;
              for (int64_t i = 0; i < C; ++i) a += double(x[i]) * dm[g][i] * W[i * GH + k];
              for (int64_t i = 0; i < H; ++i) r += h[i] * rm[g][i] * R[i * GH + k];
              xw[k] = a;
              hr[k] = r;
            }
            std::vector<double> next(static_cast<size_t>(H));
            for (int64_t j = 0; j < H; ++j) {
              switch (cell) {
                case Cell::rnn:
                  next[j] = std::tanh(xw[j] + hr[j]);
                  break;
                case Cell::lstm: {
                  const double i = sigmoid(xw[j] + hr[j]), f = sigmoid(xw[H + j] + hr[H + j]);
                  const double g = std::tanh(xw[2 * H + j] + hr[2 * H + j]), o = sigmoid(xw[3 * H + j] + hr[3 * H + j]);
                  c[j] = f * c[j] + i * g;
                  next[j] = o * std::tanh(c[j]);
                  break;
                }
                case Cell::gru: {
                  const double z = sigmoid(xw[j] + hr[j]);
                  double rh = 0;  // ((r * h * rm_h) R_h)[j]
                  for (int64_t i = 0; i < H; ++i)
                    rh += sigmoid(xw[H + i] + hr[H + i]) * h[i] * rm[2][i] * R[i * GH + 2 * H + j];
                  next[j] = z * h[j] + (1 - z) * std::tanh(xw[2 * H + j] + rh);
                  break;
                }
                case Cell::lbr_gru: {
                  const double z = sigmoid(xw[j] + hr[j]), r = sigmoid(xw[H + j] + hr[H + j]);
                  next[j] = z * h[j] + (1 - z) * std::tanh(xw[2 * H + j] + r * hr[2 * H + j]);
                  break;
                }
              }
            }
            h = next;
          }
          for (int64_t j = 0; j < H; ++j) seq[static_cast<size_t>((n * T + t) * DH + d * H + j)] = seen ? h[j] : 0.0;
        }
        for (int64_t j = 0; j < H; ++j) {
          y_h[n * DH + d * H + j] = static_cast<float>(h[j]);
          if (y_c) y_c[n * DH + d * H + j] = static_cast<float>(c[j]);
          last[static_cast<size_t>(n * DH + d * H + j)] = seen ? h[j] : 0.0;
        }
      }
    }
    float* y = out[0].data<float>();
    if (p.return_sequences())
      for (size_t i = 0; i < seq.size(); ++i) y[i] = static_cast<float>(seq[i]);
    else
      for (size_t i = 0; i < last.size(); ++i) y[i] = static_cast<float>(last[i]);
    return out;
  };
}

}  // namespace

void register_rnn(ReferenceTable& table) {
  table["RNN"] = recurrent(1);
  table["LSTM"] = recurrent(4);
  table["GRU"] = recurrent(3);
}

}  // namespace graphrun::reference
