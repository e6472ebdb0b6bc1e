// The fused path: one oneDNN RNN primitive per layer (vanilla_rnn, lstm, gru, lbr_gru and
// their *_backward), for layers without masking or dropout (see choose_recurrent_path).
//
// Layouts: Keras' W [C, G*H] is oneDNN's ldigo [1, D, C, G, H], R likewise, B is ldgo
// [1, D, G, H]: same bytes, no copy. oneDNN may pick other weight layouts (`any`; backward
// wants ldgoi), so kernels reorder into the scratchpad as the primitive desc asks. States
// are ldnc [1, D, N, H] in oneDNN; ours are [N, D*H], so they are copied (N*H floats).
// lbr_gru's bias has 4 gates u, r, o, u': u = b_z + rb_z, r = b_r + rb_r, o = b_h, u' = rb_h.
// Workspace: oneDNN's forward-training workspace (rounded up to whole floats), followed by
// the full [N, T, D*H] output sequence when return_sequences is false (backward needs it).
// oneDNN documents the workspace as invalid after the backward pass, so the Grad kernel
// may overwrite it: it must be the workspace's only reader.
#include <algorithm>
#include <cstring>
#include <optional>
#include <type_traits>

#include "graphrun/error.h"
#include "ops/dnnl_util.h"
#include "ops/rnn/rnn_config.h"

namespace graphrun::rnn {
namespace {

using dnnl::memory;
using tag = dnnl::memory::format_tag;

// oneDNN primitive descs. Data is ntc (batch-major) / ldnc, weights `any`.

dnnl::rnn_direction dnnl_direction(const RnnConfig& c) {
  switch (c.direction) {
    case pb::RecurrentParams::REVERSE:
      return dnnl::rnn_direction::unidirectional_right2left;
    case pb::RecurrentParams::BIDIRECTIONAL:
      return dnnl::rnn_direction::bidirectional_concat;
    default:
      return dnnl::rnn_direction::unidirectional_left2right;
  }
}

struct RnnDescs {
  memory::desc layer_in, layer_out, iter, weights_layer, weights_iter, bias;
};

RnnDescs rnn_descs(const RnnConfig& c, tag weights_tag) {
  const auto f32 = memory::data_type::f32;
  RnnDescs d;
  d.layer_in = memory::desc({c.T, c.N, c.C}, f32, tag::ntc);
  d.layer_out = memory::desc({c.T, c.N, c.DH()}, f32, tag::ntc);
  d.iter = memory::desc({1, c.D, c.N, c.H}, f32, tag::ldnc);
  d.weights_layer = memory::desc({1, c.D, c.C, c.gates(), c.H}, f32, weights_tag);
  d.weights_iter = memory::desc({1, c.D, c.H, c.gates(), c.H}, f32, weights_tag);
  d.bias = memory::desc({1, c.D, c.bias_gates(), c.H}, f32, tag::ldgo);
  return d;
}

struct RnnPds {
  dnnl::primitive_desc forward;
  std::optional<dnnl::primitive_desc> backward;
};

// Builds the forward-training primitive desc and, when asked, the backward one
// with the forward one as hint. Weight descs are `any`: oneDNN picks the layouts.
template <typename Fwd, typename Bwd, typename... Extra>
RnnPds make_gates_pds(const RnnConfig& c, bool with_backward, Extra... extra) {
  const dnnl::prop_kind fwd_kind = dnnl::prop_kind::forward_training;
  const RnnDescs d = rnn_descs(c, tag::any);
  const dnnl::primitive_attr attr = user_scratchpad_attr();
  const auto dir = dnnl_direction(c);
  if constexpr (std::is_same_v<Fwd, dnnl::lstm_forward>) {
    const typename Fwd::desc fd(fwd_kind, dir, d.layer_in, d.iter, d.iter, d.weights_layer, d.weights_iter, d.bias,
                                d.layer_out, d.iter, d.iter);
    const typename Fwd::primitive_desc fpd(fd, attr, cpu_engine());
    if (!with_backward) return {fpd, std::nullopt};
    const typename Bwd::desc bd(dnnl::prop_kind::backward, dir, d.layer_in, d.iter, d.iter, d.weights_layer,
                                d.weights_iter, d.bias, d.layer_out, d.iter, d.iter, d.layer_in, d.iter, d.iter,
                                d.weights_layer, d.weights_iter, d.bias, d.layer_out, d.iter, d.iter);
    return {fpd, typename Bwd::primitive_desc(bd, attr, cpu_engine(), fpd)};
  } else {
    const typename Fwd::desc fd(fwd_kind, extra..., dir, d.layer_in, d.iter, d.weights_layer, d.weights_iter, d.bias,
                                d.layer_out, d.iter);
    const typename Fwd::primitive_desc fpd(fd, attr, cpu_engine());
    if (!with_backward) return {fpd, std::nullopt};
    const typename Bwd::desc bd(dnnl::prop_kind::backward, extra..., dir, d.layer_in, d.iter, d.weights_layer,
                                d.weights_iter, d.bias, d.layer_out, d.iter, d.layer_in, d.iter, d.weights_layer,
                                d.weights_iter, d.bias, d.layer_out, d.iter);
    return {fpd, typename Bwd::primitive_desc(bd, attr, cpu_engine(), fpd)};
  }
}

RnnPds make_pds(const RnnConfig& c, bool with_backward) {
  switch (c.cell) {
    case Cell::rnn:
      return make_gates_pds<dnnl::vanilla_rnn_forward, dnnl::vanilla_rnn_backward>(c, with_backward,
                                                                                   dnnl::algorithm::eltwise_tanh);
    case Cell::lstm:
      return make_gates_pds<dnnl::lstm_forward, dnnl::lstm_backward>(c, with_backward);
    case Cell::gru_reset_before:
      return make_gates_pds<dnnl::gru_forward, dnnl::gru_backward>(c, with_backward);
    case Cell::gru_reset_after:
      return make_gates_pds<dnnl::lbr_gru_forward, dnnl::lbr_gru_backward>(c, with_backward);
  }
  throw Error("unknown recurrent cell");
}

memory::desc arg_md(const dnnl::primitive_desc& pd, int arg) { return pd.query_md(dnnl::query::exec_arg_md, arg); }

// Workspace output length in floats: the oneDNN workspace, then (without
// return_sequences) the full output sequence.
int64_t workspace_floats(const RnnConfig& c, size_t ws_bytes) {
  const int64_t ws = static_cast<int64_t>((ws_bytes + sizeof(float) - 1) / sizeof(float));
  return ws + (c.return_sequences ? 0 : c.N * c.T * c.DH());
}

// States: ours [N, D*H] (directions side by side) <-> oneDNN ldnc [D, N, H].
void states_to_ldnc(const RnnConfig& c, const float* nh, float* ldnc) {
  for (int64_t d = 0; d < c.D; ++d)
    for (int64_t n = 0; n < c.N; ++n)
      std::memcpy(ldnc + (d * c.N + n) * c.H, nh + n * c.DH() + d * c.H, sizeof(float) * static_cast<size_t>(c.H));
}
void states_from_ldnc(const RnnConfig& c, const float* ldnc, float* nh) {
  for (int64_t d = 0; d < c.D; ++d)
    for (int64_t n = 0; n < c.N; ++n)
      std::memcpy(nh + n * c.DH() + d * c.H, ldnc + (d * c.N + n) * c.H, sizeof(float) * static_cast<size_t>(c.H));
}

// Keras' reset_after bias [D, 2, 3H] <-> lbr_gru's [D, 4, H] (u, r, o, u').
void lbr_bias_to_dnnl(const RnnConfig& c, const float* keras, float* dnnl_bias) {
  const int64_t H = c.H;
  for (int64_t d = 0; d < c.D; ++d) {
    const float* in = keras + d * 6 * H;
    const float* rec = in + 3 * H;
    float* out = dnnl_bias + d * 4 * H;
    for (int64_t j = 0; j < H; ++j) {
      out[j] = in[j] + rec[j];              // u
      out[H + j] = in[H + j] + rec[H + j];  // r
      out[2 * H + j] = in[2 * H + j];       // o: input part
      out[3 * H + j] = rec[2 * H + j];      // u': recurrent part, inside r * (.)
    }
  }
}
void lbr_bias_from_dnnl(const RnnConfig& c, const float* dnnl_bias, float* keras) {
  const int64_t H = c.H;
  for (int64_t d = 0; d < c.D; ++d) {
    float* in = keras + d * 6 * H;
    float* rec = in + 3 * H;
    const float* g = dnnl_bias + d * 4 * H;
    for (int64_t j = 0; j < H; ++j) {
      in[j] = rec[j] = g[j];
      in[H + j] = rec[H + j] = g[H + j];
      in[2 * H + j] = g[2 * H + j];
      rec[2 * H + j] = g[3 * H + j];
    }
  }
}

// Shared by the forward and backward kernels: the config, the primitive's own
// scratchpad (region 0, also used by reorders, which never run concurrently with it),
// the reorders of W and R into the primitive's layouts, the lbr bias and the states.
class RecurrentKernelBase : public Kernel {
 protected:
  RecurrentKernelBase(const RnnConfig& c, const dnnl::primitive_desc& pd) : c_(c) {
    const RnnDescs user = rnn_descs(c, tag::ldigo);
    w_ = std::make_unique<Reorder>(user.weights_layer, arg_md(pd, DNNL_ARG_WEIGHTS_LAYER));
    r_ = std::make_unique<Reorder>(user.weights_iter, arg_md(pd, DNNL_ARG_WEIGHTS_ITER));
    bias_md_ = user.bias;
    iter_md_ = user.iter;
    layer_in_md_ = user.layer_in;
    layer_out_md_ = user.layer_out;
    size_t pad = pd.scratchpad_desc().get_size();
    for (const Reorder* r : {w_.get(), r_.get()}) pad = std::max(pad, r->scratchpad_md.get_size());
    primitive_scratchpad_md_ = pd.scratchpad_desc();
    plan_.add(pad);
    if (w_->needed()) w_->offset = plan_.add(w_->to.get_size());
    if (r_->needed()) r_->offset = plan_.add(r_->to.get_size());
    if (c.cell == Cell::gru_reset_after) bias_offset_ = plan_.add(bias_md_.get_size());
  }

  size_t scratchpad_bytes() const override { return plan_.total(); }
  std::optional<int64_t> parallel_work() const override { return c_.step_gate_elements(); }

  // Adds the weight and bias arguments, reordering/converting into the scratchpad as needed.
  void add_weights(PrimitiveArgs& args, const KernelIO& io) const {
    const void* w = io.inputs[kW];
    const void* r = io.inputs[kR];
    if (w_->needed()) {
      w_->run(w, at(io.scratchpad, w_->offset), io.scratchpad);
      w = at(io.scratchpad, w_->offset);
    }
    if (r_->needed()) {
      r_->run(r, at(io.scratchpad, r_->offset), io.scratchpad);
      r = at(io.scratchpad, r_->offset);
    }
    args.push_back({DNNL_ARG_WEIGHTS_LAYER, wrap(w_->to, w)});
    args.push_back({DNNL_ARG_WEIGHTS_ITER, wrap(r_->to, r)});
    const void* b = io.inputs[kB];
    if (c_.cell == Cell::gru_reset_after) {
      lbr_bias_to_dnnl(c_, io.in<float>(kB), at(io.scratchpad, bias_offset_));
      b = at(io.scratchpad, bias_offset_);
    }
    args.push_back({DNNL_ARG_BIAS, wrap(bias_md_, b)});
  }

  // An ldnc state from an optional [N, D*H] input (zeros when absent).
  void load_state(const float* input, float* ldnc) const {
    if (input)
      states_to_ldnc(c_, input, ldnc);
    else
      std::fill_n(ldnc, c_.N * c_.DH(), 0.f);
  }

  RnnConfig c_;
  ScratchPlan plan_;
  std::unique_ptr<Reorder> w_, r_;
  KernelDesc bias_md_, iter_md_, layer_in_md_, layer_out_md_, primitive_scratchpad_md_;
  size_t bias_offset_ = 0;
};

class RecurrentKernel final : public RecurrentKernelBase {
 public:
  RecurrentKernel(const RnnConfig& c, bool has_cell, int num_inputs)
      : RecurrentKernel(c, make_pds(c, false).forward, has_cell, num_inputs) {}

  RecurrentKernel(const RnnConfig& c, const dnnl::primitive_desc& pd, bool has_cell, int num_inputs)
      : RecurrentKernelBase(c, pd), has_cell_(has_cell), num_inputs_(num_inputs) {
    workspace_md_ = pd.workspace_desc();
    const size_t state = iter_md_.get_size();
    src_h_ = plan_.add(state);
    dst_h_ = plan_.add(state);
    if (has_cell_) {
      src_c_ = plan_.add(state);
      dst_c_ = plan_.add(state);
    }
    primitive_ = dnnl::primitive(pd);
  }

  void run(const KernelIO& io) const override {
    float* pad = static_cast<float*>(io.scratchpad);
    const size_t y_c = 2, ws_out = has_cell_ ? 3 : 2;
    PrimitiveArgs args;
    args.push_back({DNNL_ARG_SRC_LAYER, wrap(layer_in_md_, io.inputs[kX])});
    load_state(num_inputs_ > kInitH ? io.in<float>(kInitH) : nullptr, at(pad, src_h_));
    args.push_back({DNNL_ARG_SRC_ITER, wrap(iter_md_, at(pad, src_h_))});
    args.push_back({DNNL_ARG_DST_ITER, wrap(iter_md_, at(pad, dst_h_))});
    if (has_cell_) {
      load_state(num_inputs_ > kInitC ? io.in<float>(kInitC) : nullptr, at(pad, src_c_));
      args.push_back({DNNL_ARG_SRC_ITER_C, wrap(iter_md_, at(pad, src_c_))});
      args.push_back({DNNL_ARG_DST_ITER_C, wrap(iter_md_, at(pad, dst_c_))});
    }
    add_weights(args, io);
    // The full sequence goes to Y, or (without return_sequences) behind the oneDNN workspace.
    float* ws = io.out<float>(ws_out);
    float* sequence = c_.return_sequences ? io.out<float>(0)
                                          : ws + workspace_floats(c_, workspace_md_.get_size()) - c_.N * c_.T * c_.DH();
    args.push_back({DNNL_ARG_DST_LAYER, wrap(layer_out_md_, sequence)});
    args.push_back({DNNL_ARG_WORKSPACE, wrap(workspace_md_, ws)});
    execute(primitive_, args, primitive_scratchpad_md_, io.scratchpad);

    states_from_ldnc(c_, at(pad, dst_h_), io.out<float>(1));
    if (!c_.return_sequences) std::copy_n(io.out<float>(1), c_.N * c_.DH(), io.out<float>(0));
    if (has_cell_) states_from_ldnc(c_, at(pad, dst_c_), io.out<float>(y_c));
  }

 private:
  bool has_cell_;
  int num_inputs_;
  KernelDesc workspace_md_;
  size_t src_h_ = 0, dst_h_ = 0, src_c_ = 0, dst_c_ = 0;
  dnnl::primitive primitive_;
};

class RecurrentGradKernel final : public RecurrentKernelBase {
 public:
  RecurrentGradKernel(const RnnConfig& c, bool has_cell, int num_inputs)
      : RecurrentGradKernel(c, *make_pds(c, true).backward, has_cell, num_inputs) {}

  // `pd` is the backward primitive desc (built with the forward-training one as hint).
  RecurrentGradKernel(const RnnConfig& c, const dnnl::primitive_desc& pd, bool has_cell, int num_inputs)
      : RecurrentKernelBase(c, pd), has_cell_(has_cell), num_inputs_(num_inputs), at_(has_cell) {
    workspace_md_ = pd.workspace_desc();
    const RnnDescs user = rnn_descs(c, tag::ldigo);
    dw_ = std::make_unique<Reorder>(arg_md(pd, DNNL_ARG_DIFF_WEIGHTS_LAYER), user.weights_layer);
    dr_ = std::make_unique<Reorder>(arg_md(pd, DNNL_ARG_DIFF_WEIGHTS_ITER), user.weights_iter);
    reorder_pad_ = plan_.add(std::max(dw_->scratchpad_md.get_size(), dr_->scratchpad_md.get_size()));
    if (dw_->needed()) dw_->offset = plan_.add(dw_->from.get_size());
    if (dr_->needed()) dr_->offset = plan_.add(dr_->from.get_size());
    if (c.cell == Cell::gru_reset_after) diff_bias_ = plan_.add(bias_md_.get_size());
    const size_t state = iter_md_.get_size();
    for (size_t* region : {&src_h_, &dst_h_, &diff_dst_h_, &diff_src_h_}) *region = plan_.add(state);
    if (has_cell_)
      for (size_t* region : {&src_c_, &dst_c_, &diff_dst_c_, &diff_src_c_}) *region = plan_.add(state);
    if (!c.return_sequences) diff_sequence_ = plan_.add(layer_out_md_.get_size());
    primitive_ = dnnl::primitive(pd);
  }

  void run(const KernelIO& io) const override {
    void* pad = io.scratchpad;
    PrimitiveArgs args;
    auto state_arg = [&](int arg, size_t region) { args.push_back({arg, wrap(iter_md_, at(pad, region))}); };
    // Forward values.
    args.push_back({DNNL_ARG_SRC_LAYER, wrap(layer_in_md_, io.inputs[kX])});
    load_state(num_inputs_ > at_.init_h ? io.in<float>(static_cast<size_t>(at_.init_h)) : nullptr, at(pad, src_h_));
    state_arg(DNNL_ARG_SRC_ITER, src_h_);
    states_to_ldnc(c_, io.in<float>(static_cast<size_t>(at_.y_h)), at(pad, dst_h_));
    state_arg(DNNL_ARG_DST_ITER, dst_h_);
    if (has_cell_) {
      load_state(num_inputs_ > at_.init_c ? io.in<float>(static_cast<size_t>(at_.init_c)) : nullptr, at(pad, src_c_));
      state_arg(DNNL_ARG_SRC_ITER_C, src_c_);
      states_to_ldnc(c_, io.in<float>(static_cast<size_t>(at_.y_c)), at(pad, dst_c_));
      state_arg(DNNL_ARG_DST_ITER_C, dst_c_);
    }
    add_weights(args, io);
    // oneDNN may overwrite the workspace (it is invalid after backward): see the file comment.
    float* ws = const_cast<float*>(io.in<float>(static_cast<size_t>(at_.ws)));
    const float* sequence = c_.return_sequences
                                ? io.in<float>(static_cast<size_t>(at_.y))
                                : ws + workspace_floats(c_, workspace_md_.get_size()) - c_.N * c_.T * c_.DH();
    args.push_back({DNNL_ARG_DST_LAYER, wrap(layer_out_md_, sequence)});
    args.push_back({DNNL_ARG_WORKSPACE, wrap(workspace_md_, ws)});

    // Output gradients. Without return_sequences dY is a gradient of the final state.
    const float* dy = io.in<float>(static_cast<size_t>(at_.dy));
    const void* diff_sequence = dy;
    states_to_ldnc(c_, io.in<float>(static_cast<size_t>(at_.dy_h)), at(pad, diff_dst_h_));
    if (!c_.return_sequences) {
      std::fill_n(at(pad, diff_sequence_), c_.N * c_.T * c_.DH(), 0.f);
      diff_sequence = at(pad, diff_sequence_);
      float* tmp = at(pad, diff_src_h_);  // free until the primitive runs
      states_to_ldnc(c_, dy, tmp);
      float* acc = at(pad, diff_dst_h_);
      for (int64_t i = 0; i < c_.N * c_.DH(); ++i) acc[i] += tmp[i];
    }
    args.push_back({DNNL_ARG_DIFF_DST_LAYER, wrap(layer_out_md_, diff_sequence)});
    state_arg(DNNL_ARG_DIFF_DST_ITER, diff_dst_h_);
    if (has_cell_) {
      states_to_ldnc(c_, io.in<float>(static_cast<size_t>(at_.dy_c)), at(pad, diff_dst_c_));
      state_arg(DNNL_ARG_DIFF_DST_ITER_C, diff_dst_c_);
    }

    // Input gradients. oneDNN accumulates weight gradients: start from zeros.
    args.push_back({DNNL_ARG_DIFF_SRC_LAYER, wrap(layer_in_md_, io.outputs[0])});
    state_arg(DNNL_ARG_DIFF_SRC_ITER, diff_src_h_);
    if (has_cell_) state_arg(DNNL_ARG_DIFF_SRC_ITER_C, diff_src_c_);
    void* dw = dw_->needed() ? at(pad, dw_->offset) : io.outputs[1];
    void* dr = dr_->needed() ? at(pad, dr_->offset) : io.outputs[2];
    void* db = c_.cell == Cell::gru_reset_after ? at(pad, diff_bias_) : io.outputs[3];
    std::memset(dw, 0, dw_->from.get_size());
    std::memset(dr, 0, dr_->from.get_size());
    std::memset(db, 0, bias_md_.get_size());
    args.push_back({DNNL_ARG_DIFF_WEIGHTS_LAYER, wrap(dw_->from, dw)});
    args.push_back({DNNL_ARG_DIFF_WEIGHTS_ITER, wrap(dr_->from, dr)});
    args.push_back({DNNL_ARG_DIFF_BIAS, wrap(bias_md_, db)});
    execute(primitive_, args, primitive_scratchpad_md_, io.scratchpad);

    if (dw_->needed()) dw_->run(dw, io.outputs[1], at(pad, reorder_pad_));
    if (dr_->needed()) dr_->run(dr, io.outputs[2], at(pad, reorder_pad_));
    if (c_.cell == Cell::gru_reset_after) lbr_bias_from_dnnl(c_, at(pad, diff_bias_), io.out<float>(3));
    states_from_ldnc(c_, at(pad, diff_src_h_), io.out<float>(4));
    if (has_cell_) states_from_ldnc(c_, at(pad, diff_src_c_), io.out<float>(5));
  }

 private:
  bool has_cell_;
  int num_inputs_;
  GradInputs at_;
  KernelDesc workspace_md_;
  std::unique_ptr<Reorder> dw_, dr_;
  size_t reorder_pad_ = 0, diff_bias_ = 0, diff_sequence_ = 0;
  size_t src_h_ = 0, dst_h_ = 0, diff_dst_h_ = 0, diff_src_h_ = 0;
  size_t src_c_ = 0, dst_c_ = 0, diff_dst_c_ = 0, diff_src_c_ = 0;
  dnnl::primitive primitive_;
};

}  // namespace

int64_t fused_workspace_floats(const RnnConfig& c) {
  return workspace_floats(c, make_pds(c, false).forward.workspace_desc().get_size());
}

std::unique_ptr<Kernel> make_fused_kernel(const RnnConfig& c, int num_float_inputs) {
  return std::make_unique<RecurrentKernel>(c, c.cell == Cell::lstm, num_float_inputs);
}

std::unique_ptr<Kernel> make_fused_grad_kernel(const RnnConfig& c, int num_float_inputs) {
  return std::make_unique<RecurrentGradKernel>(c, c.cell == Cell::lstm, num_float_inputs);
}

}  // namespace graphrun::rnn
