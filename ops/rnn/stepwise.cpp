// The step-wise path: masking and dropout, which oneDNN's fused RNN lacks. One time-loop
// driver for forward and backward, as Keras' step loop: the input projection of all steps
// as one oneDNN matmul, then per step a oneDNN matmul for the recurrent projection and the
// cell's element-wise unit per row (step_cell.h; one file per cell).
//
// Masking rule (Keras mask_zero), with m_t = (id_t != 0), in the direction's step order:
//   h_t = m_t ? cell(x_t, h_{t-1}) : h_{t-1}        (c likewise)
//   Y_t = seen_t ? h_t : 0    where seen_t = (some step up to t was real)
// which is Keras' "a masked step keeps the state and repeats the previous output, zeros
// before the first real step". Y_h, Y_c are the states after the last real step; without
// return_sequences Y is the last output (zeros for an all-padding row, as Keras).
// Dropout (training only, Keras implementation=1): gate g's pre-activation is
//   (x_t * dm_g) W_g + (h_{t-1} * rm_g) R_g + b_g
// with one inverted-dropout mask per sequence, gate and direction (dm_g [N, C], rm_g [N, H],
// kept elements scaled by 1/(1-p)) reused at every step; the classic GRU's candidate uses
// (r * h_{t-1} * rm_h) R_h, reset_after GRU's r * ((h_{t-1} * rm_h) R_h + rb_h).
// The masks are saved in the workspace (StepLayout), so backward uses exactly the forward's masks.
#include <algorithm>
#include <optional>

#include "graphrun/error.h"
#include "ops/dnnl_util.h"
#include "ops/parallel_for.h"
#include "ops/random.h"
#include "ops/rnn/rnn_config.h"
#include "ops/rnn/step_cell.h"
#include "ops/rnn/strided_matmul.h"

namespace graphrun::rnn {
namespace {

const StepCell& step_cell(Cell cell) {
  switch (cell) {
    case Cell::rnn:
      return rnn_cell();
    case Cell::lstm:
      return lstm_cell();
    case Cell::gru_reset_before:
      return gru_reset_before_cell();
    case Cell::gru_reset_after:
      return gru_reset_after_cell();
  }
  throw Error("unknown recurrent cell");
}

// What the step-wise forward and backward kernels share.
class StepwiseBase : public Kernel {
 protected:
  StepwiseBase(const RnnConfig& c, int num_float_inputs)
      : c_(c),
        cell_(step_cell(c.cell)),
        layout_(step_layout(c)),
        num_float_inputs_(num_float_inputs),
        has_c_(c.cell == Cell::lstm),
        has_rec_bias_(c.cell == Cell::gru_reset_after),
        G_(c.gates()),
        GH_(c.gates() * c.H),
        NT_(c.N * c.T),
        Gz_(cell_.recurrent_gates(c.gates())),
        parallel_(c.N * c.gates() * c.H >= kParallelElements) {}

  size_t scratchpad_bytes() const override { return plan_.total(); }
  std::optional<int64_t> parallel_work() const override { return c_.step_gate_elements(); }

  // Reserves the matmuls' shared scratchpad region (call after creating them all).
  void plan_matmul_pad(std::initializer_list<const std::optional<StridedMatmul>*> matmuls) {
    size_t bytes = 0;
    for (const std::optional<StridedMatmul>* m : matmuls)
      if (*m) bytes = std::max(bytes, (*m)->scratchpad_bytes());
    matmul_pad_ = plan_.add(bytes);
  }
  size_t floats(int64_t n) { return plan_.add(static_cast<size_t>(n) * sizeof(float)); }

  bool reverse(int64_t d) const { return c_.D == 2 ? d == 1 : c_.direction == pb::RecurrentParams::REVERSE; }
  // Time index of step s of direction d.
  int64_t time_of(int64_t d, int64_t s) const { return reverse(d) ? c_.T - 1 - s : s; }
  const float* bias(const KernelIO& io, int64_t d) const { return io.in<float>(kB) + d * c_.keras_bias(); }
  // A direction's slice of an optional [N, D*H] state input, as [N, H] (zeros when absent).
  void load_state(const float* nh, int64_t d, float* out) const {
    for (int64_t n = 0; n < c_.N; ++n)
      for (int64_t j = 0; j < c_.H; ++j) out[n * c_.H + j] = nh ? nh[n * c_.DH() + d * c_.H + j] : 0.f;
  }
  // Gate g's input dropout multipliers for X's row `row` (= n * T + t): one per sequence n.
  const float* input_mask_row(const float* dm, int64_t g, int64_t row) const {
    return dm + (g * c_.N + row / c_.T) * c_.C;
  }
  // Direction d's recurrent dropout masks in the workspace.
  RecurrentMasks rec_masks(const float* ws, int64_t d) const {
    return {c_.recurrent_dropout > 0 ? ws + layout_.rec_masks + d * G_ * c_.N * c_.H : nullptr, c_.N, c_.H};
  }
  // Direction d's per-step arrays of H floats in the workspace (nullptr when the layout has none).
  template <typename Float>
  Float* saved_states(Float* ws, int64_t offset, bool present, int64_t d) const {
    return present ? ws + offset + d * NT_ * c_.H : nullptr;
  }

  RnnConfig c_;
  const StepCell& cell_;
  StepLayout layout_;
  int num_float_inputs_;
  bool has_c_;         // LSTM: a cell state
  bool has_rec_bias_;  // reset_after GRU: a recurrent bias inside r * (.): q saved per step, dAR apart from dA
  int64_t G_, GH_, NT_;
  int64_t Gz_;  // gates in the per-step recurrent matmul (classic GRU: z, r; the candidate follows r)
  // Rows (sequences) are independent within a step, so the per-row loops split over the
  // OpenMP team the executor gave this step; each element is computed exactly as serially.
  // A step's work is its gate pre-activations, N x G x H per direction.
  bool parallel_;
  ScratchPlan plan_;
  size_t matmul_pad_ = 0;
};

class StepwiseKernel final : public StepwiseBase {
 public:
  StepwiseKernel(const RnnConfig& c, uint64_t node_seed, int num_float_inputs)
      : StepwiseBase(c, num_float_inputs), node_seed_(node_seed) {
    const int64_t C = c.C, H = c.H, N = c.N;
    if (c.dropout > 0)  // per gate: (X * dm_g) [NT, C] x W_g [C, H] -> gate g of the saved activations
      x_proj_.emplace(View{NT_, C, C, 1}, View{C, H, GH_, 1}, View{NT_, H, GH_, 1});
    else  // X [NT, C] x W [C, G*H] -> the saved activations [NT, G*H]
      x_proj_.emplace(View{NT_, C, C, 1}, View{C, GH_, GH_, 1}, View{NT_, GH_, GH_, 1});
    // h [N, H] x R [H, Gz*H] -> HR (with recurrent dropout: outside training, where the masks are ones)
    h_proj_.emplace(View{N, H, H, 1}, View{H, Gz_ * H, GH_, 1}, View{N, Gz_ * H, GH_, 1});
    if (c.recurrent_dropout > 0 || cell_.reset_before())  // one gate: [N, H] x R_g [H, H] -> HR_g
      h_gate_proj_.emplace(View{N, H, H, 1}, View{H, H, GH_, 1}, View{N, H, GH_, 1});
    plan_matmul_pad({&x_proj_, &h_proj_, &h_gate_proj_});
    hr_ = floats(N * GH_);
    for (size_t* region : {&h0_, &c0_}) *region = floats(N * H);
    src_ = floats(G_ * N * H);
    seen_ = floats(N);
  }

  void run(const KernelIO& io) const override {
    const int64_t N = c_.N, T = c_.T, C = c_.C, H = c_.H, DH = c_.DH();
    void* pad = io.scratchpad;
    void* mm_pad = at(pad, matmul_pad_);
    const bool training = io.run != nullptr && io.run->training;
    // Recurrent dropout's per-gate masks matter only in training: outside it they are ones.
    const bool per_gate_sources = c_.recurrent_dropout > 0 && training;
    float* ws = io.out<float>(has_c_ ? 3 : 2);
    float* y = io.out<float>(0);
    const float* X = io.in<float>(kX);
    float* step_mask = ws + layout_.step_mask;
    for (int64_t i = 0; i < NT_; ++i)
      step_mask[i] = c_.has_ids ? (io.in<int64_t>(io.inputs.size() - 1)[i] != 0 ? 1.f : 0.f) : 1.f;
    float *hr = at(pad, hr_), *h0 = at(pad, h0_), *c0 = at(pad, c0_);
    float *src = at(pad, src_), *seen = at(pad, seen_);

    for (int64_t d = 0; d < c_.D; ++d) {
      const float* W = io.in<float>(kW) + d * C * GH_;
      const float* R = io.in<float>(kR) + d * H * GH_;
      const float* b = bias(io, d);
      // Dropout masks of this direction (ones outside training).
      float* dm = ws + layout_.in_masks + d * G_ * N * C;
      float* rm = ws + layout_.rec_masks + d * G_ * N * H;
      auto draw_masks = [&](float ratio, int64_t kind, int64_t size, float* masks) {
        for (int64_t g = 0; g < G_; ++g) {
          float* mask = masks + g * size;
          if (!training) {
            std::fill_n(mask, size, 1.f);
            continue;
          }
          const DropoutMask m = rnn_dropout_stream(io.run->step_seed, node_seed_, ratio, d, kind, g, G_);
          for_each_range(parallel_, size, [&](int64_t begin, int64_t end) {
            m.fill(static_cast<uint64_t>(begin), end - begin, mask + begin);
          });
        }
      };
      if (c_.dropout > 0) draw_masks(c_.dropout, 0, N * C, dm);
      if (c_.recurrent_dropout > 0) draw_masks(c_.recurrent_dropout, 1, N * H, rm);
      // 1. The input projection of every step, X W (per gate on X * dm_g with dropout), into
      // the saved activations' rows: each step's cell adds its recurrent projection and bias
      // there and applies the gates' functions in place, one pass over those rows.
      float* act_d = ws + layout_.act + d * NT_ * GH_;
      if (c_.dropout > 0) {
        // Every gate's X * dm_g in one pass over X (saved: dW's sources), then a matmul per gate.
        float* xd = ws + layout_.xd + d * G_ * NT_ * C;
        for_each_index(parallel_, NT_, [&](int64_t row) {
          const float* x = X + row * C;
          for (int64_t g = 0; g < G_; ++g) {
            const float* dm_row = input_mask_row(dm, g, row);
            float* xd_row = xd + (g * NT_ + row) * C;
            for (int64_t i = 0; i < C; ++i) xd_row[i] = x[i] * dm_row[i];
          }
        });
        for (int64_t g = 0; g < G_; ++g) x_proj_->run(xd + g * NT_ * C, W + g * H, act_d + g * H, mm_pad);
      } else {
        x_proj_->run(X, W, act_d, mm_pad);
      }
      // 2. The step loop. The cell writes each step's states straight into the workspace
      // (hs, cs: the states after step t, which backward reads); the state a step starts
      // from is the previous step's there, or the initial state.
      load_state(num_float_inputs_ > kInitH ? io.in<float>(kInitH) : nullptr, d, h0);
      load_state(num_float_inputs_ > kInitC ? io.in<float>(kInitC) : nullptr, d, c0);
      std::fill_n(seen, N, 0.f);
      float* hs = ws + layout_.hs + d * NT_ * H;
      float* cs = saved_states(ws, layout_.cs, has_c_, d);
      float* tanh_cs = saved_states(ws, layout_.tanh_cs, has_c_, d);
      float* q_d = saved_states(ws, layout_.q, has_rec_bias_, d);
      const RecurrentMasks masks = rec_masks(ws, d);
      auto prev = [&](float* saved, float* initial, int64_t n, int64_t s) {
        return s == 0 ? initial + n * H : saved + (n * T + time_of(d, s - 1)) * H;
      };
      auto step_row = [&](int64_t n, int64_t s) {
        const int64_t row = n * T + time_of(d, s);
        return ForwardRow{.n = n,
                          .H = H,
                          .h_proj = hr + n * GH_,
                          .bias = b,
                          .h = prev(hs, h0, n, s),
                          .c = cs ? prev(cs, c0, n, s) : nullptr,
                          .act = act_d + row * GH_,
                          .h_new = hs + row * H,
                          .c_new = cs ? cs + row * H : nullptr,
                          .tanh_c = tanh_cs ? tanh_cs + row * H : nullptr,
                          .q = q_d ? q_d + row * H : nullptr,
                          .reset_h = src + Gz_ * N * H + n * H,
                          .rec_masks = masks};
      };
      // The sources of the next step's recurrent matmuls from row n's state h: h * rm_g per
      // gate with recurrent dropout in training, else h itself (slot 0).
      auto write_sources = [&](int64_t n, const float* h) {
        if (!per_gate_sources) {
          std::copy_n(h, H, src + n * H);
          return;
        }
        for (int64_t g = 0; g < Gz_; ++g) {
          const float* rm_g = masks.row(g, n);
          float* src_g = src + (g * N + n) * H;
          for (int64_t j = 0; j < H; ++j) src_g[j] = h[j] * rm_g[j];
        }
      };
      auto zero_saved_activations = [&](const ForwardRow& row) {
        std::fill_n(row.act, GH_, 0.f);
        for (float* saved : {row.tanh_c, row.q})
          if (saved) std::fill_n(saved, H, 0.f);
      };
      // A masked step keeps the state; outputs are written for every step.
      auto commit = [&](int64_t n, int64_t s) {
        const int64_t row = n * T + time_of(d, s);
        if (step_mask[row] != 0.f) {
          seen[n] = 1.f;
        } else {
          std::copy_n(prev(hs, h0, n, s), H, hs + row * H);
          if (has_c_) std::copy_n(prev(cs, c0, n, s), H, cs + row * H);
        }
        const float* h = hs + row * H;
        if (c_.return_sequences)
          for (int64_t j = 0; j < H; ++j) y[row * DH + d * H + j] = seen[n] != 0.f ? h[j] : 0.f;
        write_sources(n, h);
      };
      for_each_index(parallel_, N, [&](int64_t n) { write_sources(n, h0 + n * H); });
      for (int64_t s = 0; s < T; ++s) {
        // HR = h R for the first Gz gates ((h * rm_g) R_g with recurrent dropout in training;
        // outside it the masks are ones, and one matmul over the gates gives the same bits
        // as one per gate: oneDNN sums each output over H alike either way, which
        // tests/ops/strided_matmul_test.cpp pins).
        if (per_gate_sources)
          for (int64_t g = 0; g < Gz_; ++g) h_gate_proj_->run(src + g * N * H, R + g * H, hr + g * H, mm_pad);
        else
          h_proj_->run(src, R, hr, mm_pad);
        if (cell_.reset_before()) {  // the candidate's HR from r * h * rm_h (in its source slot)
          for_each_index(parallel_, N, [&](int64_t n) { cell_.forward(step_row(n, s)); });
          h_gate_proj_->run(src + Gz_ * N * H, R + Gz_ * H, hr + Gz_ * H, mm_pad);
          for_each_index(parallel_, N, [&](int64_t n) {
            cell_.forward_candidate(step_row(n, s));
            commit(n, s);
          });
        } else {
          // The cell runs on real steps only: a masked step's activations are never read
          // (backward passes dh and dc through it), and padding is often half the steps.
          // Its saved rows are zeroed instead, a fraction of the cell's cost: the workspace
          // stays fully written, and the pages a step touches do not follow each batch's
          // padding (untouched arena pages would fault in later steps). The classic GRU
          // above runs its cell everywhere: backward scales every step's recurrent source
          // by its saved r.
          for_each_index(parallel_, N, [&](int64_t n) {
            if (step_mask[n * T + time_of(d, s)] != 0.f)
              cell_.forward(step_row(n, s));
            else
              zero_saved_activations(step_row(n, s));
            commit(n, s);
          });
        }
      }
      const int64_t t_last = time_of(d, T - 1);
      for (int64_t n = 0; n < N; ++n)
        for (int64_t j = 0; j < H; ++j) {
          const int64_t k = n * DH + d * H + j;
          const float h = hs[(n * T + t_last) * H + j];
          io.out<float>(1)[k] = h;
          if (has_c_) io.out<float>(2)[k] = cs[(n * T + t_last) * H + j];
          if (!c_.return_sequences) y[k] = seen[n] != 0.f ? h : 0.f;
        }
    }
  }

 private:
  uint64_t node_seed_;
  std::optional<StridedMatmul> x_proj_, h_proj_, h_gate_proj_;
  size_t hr_ = 0, h0_ = 0, c0_ = 0, src_ = 0, seen_ = 0;
};

// Backpropagation through time over the saved workspace. Per direction, steps in reverse
// order carry dh (and dc); a masked step passes them through unchanged; Y_t's gradient
// joins dh_t when seen_t. Gate pre-activation gradients dA [N, T, G*H] (zeros at masked
// steps) then give dW, dX, dB in one matmul each and dR from the saved recurrent
// sources; dAR is dA's recurrent side (reset_after GRU: dq = da_n * r for the candidate).
class StepwiseGradKernel final : public StepwiseBase {
 public:
  StepwiseGradKernel(const RnnConfig& c, int num_float_inputs, bool dx_read)
      : StepwiseBase(c, num_float_inputs),
        at_(c.cell == Cell::lstm),
        dx_read_(dx_read),
        Gs_(c.recurrent_dropout > 0 || cell_.reset_before() ? c.gates() : 1) {
    const int64_t C = c.C, H = c.H, N = c.N, T = c.T;
    const int64_t step_rows = T * GH_;  // dA's row stride within one step
    if (c.recurrent_dropout <= 0)       // dAR_t [N, Gz*H] x R^T [Gz*H, H] -> [N, H]
      dh_proj_.emplace(View{N, Gz_ * H, step_rows, 1}, View{Gz_ * H, H, 1, GH_}, View{N, H, H, 1});
    if (c.recurrent_dropout > 0 || cell_.reset_before())  // one gate: dAR_t,g [N, H] x R_g^T [H, H]
      dh_gate_proj_.emplace(View{N, H, step_rows, 1}, View{H, H, 1, GH_}, View{N, H, H, 1});
    if (c.dropout > 0) {
      if (dx_read_) dx_.emplace(View{NT_, H, GH_, 1}, View{H, C, 1, GH_}, View{NT_, C, C, 1});  // dA_g W_g^T
      dw_.emplace(View{C, NT_, 1, C}, View{NT_, H, GH_, 1}, View{C, H, GH_, 1});                // (X dm_g)^T dA_g
    } else {
      if (dx_read_)
        dx_.emplace(View{NT_, GH_, GH_, 1}, View{GH_, C, 1, GH_}, View{NT_, C, C, 1}, true);  // dX += dA W^T
      dw_.emplace(View{C, NT_, 1, C}, View{NT_, GH_, GH_, 1}, View{C, GH_, GH_, 1});          // X^T dA
    }
    if (Gs_ == 1)  // HS^T dAR, HS [NT, H] the previous states
      dr_.emplace(View{H, NT_, 1, H}, View{NT_, GH_, GH_, 1}, View{H, GH_, GH_, 1});
    else  // per gate HS_g^T dAR_g
      dr_.emplace(View{H, NT_, 1, H}, View{NT_, H, GH_, 1}, View{H, H, GH_, 1});
    plan_matmul_pad({&dh_proj_, &dh_gate_proj_, &dx_, &dw_, &dr_});
    da_ = floats(NT_ * GH_);
    if (has_rec_bias_) dar_ = floats(NT_ * GH_);
    hs_src_ = floats(Gs_ * NT_ * H);
    if (c.dropout > 0 && dx_read_) dxg_ = floats(NT_ * C);
    for (size_t* region : {&h0_, &c0_, &dh_, &dc_, &dh_new_, &reset_grad_}) *region = floats(N * H);
    rec_grad_ = floats((c.recurrent_dropout > 0 ? Gz_ : 1) * N * H);
    first_ = floats(N);
    db_blocks_ = floats(bias_blocks_ * bias_row_);
  }

  void run(const KernelIO& io) const override {
    const int64_t N = c_.N, T = c_.T, C = c_.C, H = c_.H, DH = c_.DH();
    void* pad = io.scratchpad;
    void* mm_pad = at(pad, matmul_pad_);
    const float* ws = io.in<float>(static_cast<size_t>(at_.ws));
    const float* X = io.in<float>(kX);
    const float* dY = io.in<float>(static_cast<size_t>(at_.dy));
    const float* step_mask = ws + layout_.step_mask;
    const float* init_h = num_float_inputs_ > at_.init_h ? io.in<float>(static_cast<size_t>(at_.init_h)) : nullptr;
    const float* init_c =
        has_c_ && num_float_inputs_ > at_.init_c ? io.in<float>(static_cast<size_t>(at_.init_c)) : nullptr;
    float *dA = at(pad, da_), *dAR = has_rec_bias_ ? at(pad, dar_) : dA, *hs_src = at(pad, hs_src_);
    float *h0 = at(pad, h0_), *c0 = at(pad, c0_), *dh = at(pad, dh_), *dc = at(pad, dc_);
    float *dh_new = at(pad, dh_new_), *first = at(pad, first_);
    float *rec_grad = at(pad, rec_grad_), *reset_grad = at(pad, reset_grad_);
    float* db_blocks = at(pad, db_blocks_);
    float* dX = io.out<float>(0);
    if (dx_read_) std::fill_n(dX, NT_ * C, 0.f);

    for (int64_t d = 0; d < c_.D; ++d) {
      const float* W = io.in<float>(kW) + d * C * GH_;
      const float* R = io.in<float>(kR) + d * H * GH_;
      const float* dm = ws + layout_.in_masks + d * G_ * N * C;
      const RecurrentMasks masks = rec_masks(ws, d);
      const float* act = ws + layout_.act + d * NT_ * GH_;
      const float* hs = ws + layout_.hs + d * NT_ * H;
      const float* cs = saved_states(ws, layout_.cs, has_c_, d);
      const float* tanh_cs = saved_states(ws, layout_.tanh_cs, has_c_, d);
      const float* qs = saved_states(ws, layout_.q, has_rec_bias_, d);
      load_state(init_h, d, h0);
      load_state(init_c, d, c0);
      // The state before step s of row n: after step s - 1, or the initial state.
      auto prev = [&](const float* saved, const float* initial, int64_t n, int64_t s) {
        return s == 0 ? initial + n * H : saved + (n * T + time_of(d, s - 1)) * H;
      };
      auto step_row = [&](int64_t n, int64_t s) {
        const int64_t row = n * T + time_of(d, s);
        return BackwardRow{.n = n,
                           .H = H,
                           .act = act + row * GH_,
                           .h = prev(hs, h0, n, s),
                           .c = cs ? prev(cs, c0, n, s) : nullptr,
                           .tanh_c_t = tanh_cs ? tanh_cs + row * H : nullptr,
                           .q = qs ? qs + row * H : nullptr,
                           .dh = dh + n * H,
                           .dc = dc + n * H,
                           .da = dA + row * GH_,
                           .da_rec = dAR + row * GH_,
                           .dh_prev = dh_new + n * H,
                           .reset_grad = reset_grad + n * H,
                           .rec_masks = masks};
      };
      // first[n]: the first real step (T when none): Y_t = h_t exactly from there on.
      for_each_index(parallel_, N, [&](int64_t n) {
        first[n] = static_cast<float>(T);
        for (int64_t s = T - 1; s >= 0; --s)
          if (step_mask[n * T + time_of(d, s)] != 0.f) first[n] = static_cast<float>(s);
      });
      // Gradients of the final states (and, without return_sequences, of the last output).
      const float* dY_h = io.in<float>(static_cast<size_t>(at_.dy_h));
      const float* dY_c = has_c_ ? io.in<float>(static_cast<size_t>(at_.dy_c)) : nullptr;
      for_each_index(parallel_, N, [&](int64_t n) {
        for (int64_t j = 0; j < H; ++j) {
          const int64_t k = n * DH + d * H + j;
          dh[n * H + j] = dY_h[k] + (!c_.return_sequences && first[n] < static_cast<float>(T) ? dY[k] : 0.f);
          dc[n * H + j] = dY_c ? dY_c[k] : 0.f;
        }
      });
      // Step s in two halves, each one pass over the rows: begin(s) takes dY_t into dh and
      // runs the cell's backward (a masked step's dA rows are zeros, its dh and dc pass
      // through); after the recurrent matmuls, end(s) adds their part to dh_{t-1}.
      auto begin_step = [&](int64_t n, int64_t s) {
        const int64_t row = n * T + time_of(d, s);
        if (c_.return_sequences && static_cast<float>(s) >= first[n])
          for (int64_t j = 0; j < H; ++j) dh[n * H + j] += dY[row * DH + d * H + j];
        if (step_mask[row] == 0.f) {
          std::fill_n(dA + row * GH_, GH_, 0.f);
          if (has_rec_bias_) std::fill_n(dAR + row * GH_, GH_, 0.f);
          return;
        }
        cell_.backward(step_row(n, s));  // dA_t, dc_{t-1} and dh_{t-1} apart from the recurrent matmuls
      };
      // dh_{t-1} += sum_g (dAR_g R_g^T) * rm_g over the first Gz gates, in gate order.
      auto end_step = [&](int64_t n, int64_t s) {
        if (step_mask[n * T + time_of(d, s)] == 0.f) return;
        float* dh_prev = dh_new + n * H;
        for (int64_t g = 0; g < (c_.recurrent_dropout > 0 ? Gz_ : 1); ++g) {
          const float* rec = rec_grad + (g * N + n) * H;
          if (const float* rm_g = masks.row(g, n))
            for (int64_t j = 0; j < H; ++j) dh_prev[j] += rec[j] * rm_g[j];
          else
            for (int64_t j = 0; j < H; ++j) dh_prev[j] += rec[j];
        }
        std::copy_n(dh_prev, H, dh + n * H);
      };
      // dB's partial sums, one per block of rows: a real row's dA (and dAR) is added while
      // the cell has just written it, instead of in a pass over all of dA afterwards.
      std::fill_n(db_blocks, bias_blocks_ * bias_row_, 0.f);
      auto add_to_bias_block = [&](int64_t block, int64_t n, int64_t s) {
        const int64_t row = n * T + time_of(d, s);
        if (step_mask[row] == 0.f) return;  // dA rows of zeros
        float* partial = db_blocks + block * bias_row_;
        const float* da = dA + row * GH_;
        for (int64_t k = 0; k < GH_; ++k) partial[k] += da[k];
        if (!has_rec_bias_) return;
        const float* dar = dAR + row * GH_;
        for (int64_t k = 0; k < GH_; ++k) partial[GH_ + k] += dar[k];
      };
      for (int64_t s = T - 1; s >= 0; --s) {
        const int64_t t = time_of(d, s);
        // A row joins its block's dB once its dA is final: after the cell's backward, or
        // for the classic GRU after backward_reset.
        for_each_block_row([&](int64_t block, int64_t n) {
          if (s + 1 < T) end_step(n, s + 1);
          begin_step(n, s);
          if (!cell_.reset_before()) add_to_bias_block(block, n, s);
        });
        if (cell_.reset_before()) {  // the candidate's da_n R_h^T gives dr and part of dh_{t-1}
          dh_gate_proj_->run(dA + t * GH_ + Gz_ * H, R + Gz_ * H, reset_grad, mm_pad);
          for_each_block_row([&](int64_t block, int64_t n) {
            if (step_mask[n * T + t] != 0.f) cell_.backward_reset(step_row(n, s));
            add_to_bias_block(block, n, s);
          });
        }
        if (c_.recurrent_dropout > 0)
          for (int64_t g = 0; g < Gz_; ++g)
            dh_gate_proj_->run(dAR + t * GH_ + g * H, R + g * H, rec_grad + g * N * H, mm_pad);
        else
          dh_proj_->run(dAR + t * GH_, R, rec_grad, mm_pad);
      }
      for_each_index(parallel_, N, [&](int64_t n) { end_step(n, 0); });
      for (int64_t n = 0; n < N; ++n)
        for (int64_t j = 0; j < H; ++j) {
          io.out<float>(4)[n * DH + d * H + j] = dh[n * H + j];
          if (has_c_) io.out<float>(5)[n * DH + d * H + j] = dc[n * H + j];
        }

      // dR = sum over steps of (recurrent source)^T dAR: h_{t-1} * rm_g, scaled further by the cell
      // (the classic GRU's candidate: r h_{t-1} rm_h). The sources are written in time order
      // whichever the direction, so in memory order (the reverse direction's step order wrote
      // them backwards, about three times slower).
      for_each_index(parallel_, N, [&](int64_t n) {
        for (int64_t t = 0; t < T; ++t) {
          const int64_t row = n * T + t;
          const float* hp = prev(hs, h0, n, time_of(d, t));  // step s of time t is time_of(d, t)
          for (int64_t g = 0; g < Gs_; ++g) {
            float* src = hs_src + (g * NT_ + row) * H;
            if (const float* rm_g = masks.row(g, n))
              for (int64_t j = 0; j < H; ++j) src[j] = hp[j] * rm_g[j];
            else
              std::copy_n(hp, H, src);
            cell_.scale_recurrent_source(g, act + row * GH_, src, H);
          }
        }
      });
      float* dR = io.out<float>(2) + d * H * GH_;
      if (Gs_ == 1)
        dr_->run(hs_src, dAR, dR, mm_pad);
      else
        for (int64_t g = 0; g < G_; ++g) dr_->run(hs_src + g * NT_ * H, dAR + g * H, dR + g * H, mm_pad);
      // dW = (X dm_g)^T dA_g and dX = sum_g (dA_g W_g^T) dm_g.
      float* dW = io.out<float>(1) + d * C * GH_;
      if (c_.dropout > 0) {
        for (int64_t g = 0; g < G_; ++g) {
          dw_->run(ws + layout_.xd + (d * G_ + g) * NT_ * C, dA + g * H, dW + g * H, mm_pad);
          if (!dx_read_) continue;
          float* dxg = at(pad, dxg_);
          dx_->run(dA + g * H, W + g * H, dxg, mm_pad);
          for_each_index(parallel_, NT_, [&](int64_t row) {
            const float* dm_row = input_mask_row(dm, g, row);
            for (int64_t i = 0; i < C; ++i) dX[row * C + i] += dxg[row * C + i] * dm_row[i];
          });
        }
      } else {
        dw_->run(X, dA, dW, mm_pad);
        if (dx_read_) dx_->run(dA, W, dX, mm_pad);
      }
      // dB: the input bias sums dA; reset_after GRU's recurrent bias sums dAR. The blocks'
      // partial sums are added in block order, so the result does not depend on the team.
      float* dB = io.out<float>(3) + d * c_.keras_bias();
      std::fill_n(dB, bias_row_, 0.f);
      for (int64_t block = 0; block < bias_blocks_; ++block)
        for (int64_t k = 0; k < bias_row_; ++k) dB[k] += db_blocks[block * bias_row_ + k];
    }
  }

 private:
  // The rows of a backward step go in fixed blocks (at most 16, whichever threads run them),
  // each with its own partial dB: the sums do not depend on the team's size.
  static constexpr int64_t kMaxBiasBlocks = 16;
  int64_t bias_blocks_ = std::min(c_.N, kMaxBiasBlocks);
  int64_t block_rows_ = (c_.N + bias_blocks_ - 1) / bias_blocks_;
  int64_t bias_row_ = has_rec_bias_ ? 2 * GH_ : GH_;  // dB's floats per direction summed here

  // fn(block, n) for every row n, the blocks split over the step's team.
  template <typename Fn>
  void for_each_block_row(const Fn& fn) const {
    for_each_index(parallel_, bias_blocks_, [&](int64_t block) {
      for (int64_t n = block * block_rows_; n < std::min(c_.N, (block + 1) * block_rows_); ++n) fn(block, n);
    });
  }

  GradInputs at_;
  bool dx_read_;  // whether anything reads dX (not when X is a frozen embedding's rows)
  int64_t Gs_;    // recurrent sources for dR: one (h_{t-1}) or one per gate
  std::optional<StridedMatmul> dh_proj_, dh_gate_proj_, dx_, dw_, dr_;
  size_t da_ = 0, dar_ = 0, hs_src_ = 0, dxg_ = 0;
  size_t h0_ = 0, c0_ = 0, dh_ = 0, dc_ = 0, dh_new_ = 0, first_ = 0;
  size_t db_blocks_ = 0;   // [bias_blocks, bias_row] partial sums of dB
  size_t rec_grad_ = 0;    // this step's dAR_g R_g^T, one [N, H] per gate with recurrent dropout
  size_t reset_grad_ = 0;  // classic GRU: da_n R_h^T
};

}  // namespace

StepLayout step_layout(const RnnConfig& c) {
  StepLayout l;
  auto take = [&](int64_t floats) {
    const int64_t at = l.total;
    l.total += floats;
    return at;
  };
  const int64_t NT = c.N * c.T;
  l.in_masks = take(c.dropout > 0 ? c.D * c.gates() * c.N * c.C : 0);
  l.rec_masks = take(c.recurrent_dropout > 0 ? c.D * c.gates() * c.N * c.H : 0);
  l.xd = take(c.dropout > 0 ? c.D * c.gates() * NT * c.C : 0);
  l.step_mask = take(NT);
  l.act = take(c.D * NT * c.gates() * c.H);
  l.hs = take(c.D * NT * c.H);
  l.cs = take(c.cell == Cell::lstm ? c.D * NT * c.H : 0);
  l.tanh_cs = take(c.cell == Cell::lstm ? c.D * NT * c.H : 0);
  l.q = take(c.cell == Cell::gru_reset_after ? c.D * NT * c.H : 0);
  return l;
}

std::unique_ptr<Kernel> make_stepwise_kernel(const RnnConfig& c, uint64_t node_seed, int num_float_inputs) {
  return std::make_unique<StepwiseKernel>(c, node_seed, num_float_inputs);
}

std::unique_ptr<Kernel> make_stepwise_grad_kernel(const RnnConfig& c, int num_float_inputs, bool dx_read) {
  return std::make_unique<StepwiseGradKernel>(c, num_float_inputs, dx_read);
}

}  // namespace graphrun::rnn
