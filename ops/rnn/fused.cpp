// The fused path: oneDNN RNN primitives (vanilla_rnn, lstm, gru, lbr_gru and their
// *_backward), for layers without masking or dropout (see choose_recurrent_path).
//
// A layer runs as one primitive, or, when it is bidirectional and a time step is too small
// for a team of its own, as two one-direction primitives side by side, one thread each
// (directions_side_by_side): the bidirectional primitive runs its directions one after the
// other with a barrier per step. oneDNN computes each direction of a bidirectional primitive
// exactly as a one-direction primitive does, so the two give the same bits (rnn_test pins it).
// Each primitive's share of the layer is a Part, driven by the layer kernels below.
//
// Layouts: Keras' W [C, G*H] is oneDNN's ldigo [1, D, C, G, H], R likewise, B is ldgo
// [1, D, G, H]: same bytes, no copy; a part of one direction takes its direction's slice.
// oneDNN may pick other weight layouts (`any`; backward wants ldgoi), so kernels reorder into
// the scratchpad as the primitive desc asks. States are ldnc [1, D, N, H] in oneDNN; ours
// are [N, D*H], so they are copied (N*H floats). Sequences [N, T, D*H] are the primitive's
// ntc with the layer's row D*H as stride, so a part reads and writes its columns in place.
// lbr_gru's bias has 4 gates u, r, o, u': u = b_z + rb_z, r = b_r + rb_r, o = b_h, u' = rb_h.
// Workspace: each part's oneDNN forward-training workspace (rounded up to whole floats, a
// second part's starting on 64 bytes), followed by the full [N, T, D*H] output sequence when
// return_sequences is false (backward needs it). oneDNN documents the workspace as invalid
// after the backward pass, so the Grad kernel may overwrite it: it must be its only reader.
#include <algorithm>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <type_traits>
#include <vector>

#include "graphrun/error.h"
#include "ops/dnnl_util.h"
#include "ops/rnn/rnn_config.h"

namespace graphrun::rnn {

int64_t largest_side_by_side_batch(const RnnConfig& c) {
  const int64_t per_row = c.D * c.gates() * c.H;  // one time step's gate elements per sequence
  return per_row > 0 ? (kParallelElements - 1) / per_row : std::numeric_limits<int64_t>::max();
}

bool directions_side_by_side(const RnnConfig& c) { return c.D == 2 && c.N <= largest_side_by_side_batch(c); }

namespace {

using dnnl::memory;
using tag = dnnl::memory::format_tag;

// One primitive's share of a layer `L`: all its directions (c = L), or direction
// `direction` alone (c.D = 1) when the directions run side by side.
struct PartShape {
  RnnConfig L, c;
  int64_t direction = 0;

  // The part's first column in our [N, D*H] states and [N, T, D*H] sequences.
  int64_t column() const { return direction * L.H; }
  // Its first element in W, R and Keras' B.
  int64_t w_offset() const { return direction * L.C * L.gates() * L.H; }
  int64_t r_offset() const { return direction * L.H * L.gates() * L.H; }
  int64_t b_offset() const { return direction * L.keras_bias(); }
};

std::vector<PartShape> parts_of(const RnnConfig& L) {
  if (!directions_side_by_side(L)) return {{L, L, 0}};
  std::vector<PartShape> parts;
  for (int64_t d = 0; d < 2; ++d) {
    RnnConfig c = L;
    c.D = 1;
    c.direction = d == 0 ? pb::RecurrentParams::FORWARD : pb::RecurrentParams::REVERSE;
    parts.push_back({L, c, d});
  }
  return parts;
}

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

RnnDescs rnn_descs(const PartShape& p, tag weights_tag) {
  const auto f32 = memory::data_type::f32;
  const RnnConfig& c = p.c;
  const int64_t row = p.L.DH();
  RnnDescs d;
  d.layer_in = memory::desc({c.T, c.N, c.C}, f32, tag::ntc);
  d.layer_out = memory::desc({c.T, c.N, c.DH()}, f32, memory::dims{row, c.T * row, 1});  // ntc, row apart
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
RnnPds make_gates_pds(const PartShape& p, bool with_backward, Extra... extra) {
  const dnnl::prop_kind fwd_kind = dnnl::prop_kind::forward_training;
  const RnnDescs d = rnn_descs(p, tag::any);
  const dnnl::primitive_attr attr = user_scratchpad_attr();
  const auto dir = dnnl_direction(p.c);
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

RnnPds make_pds(const PartShape& p, bool with_backward) {
  switch (p.c.cell) {
    case Cell::rnn:
      return make_gates_pds<dnnl::vanilla_rnn_forward, dnnl::vanilla_rnn_backward>(p, with_backward,
                                                                                   dnnl::algorithm::eltwise_tanh);
    case Cell::lstm:
      return make_gates_pds<dnnl::lstm_forward, dnnl::lstm_backward>(p, with_backward);
    case Cell::gru_reset_before:
      return make_gates_pds<dnnl::gru_forward, dnnl::gru_backward>(p, with_backward);
    case Cell::gru_reset_after:
      return make_gates_pds<dnnl::lbr_gru_forward, dnnl::lbr_gru_backward>(p, with_backward);
  }
  throw Error("unknown recurrent cell");
}

memory::desc arg_md(const dnnl::primitive_desc& pd, int arg) { return pd.query_md(dnnl::query::exec_arg_md, arg); }

// The workspace output: where each part's oneDNN workspace starts, and the length in
// floats (with the output sequence behind the parts' workspaces without return_sequences).
struct WorkspaceLayout {
  std::vector<int64_t> part_offsets;
  int64_t sequence = 0;  // where the output sequence starts (without return_sequences)
  int64_t total = 0;
};

WorkspaceLayout workspace_layout(const RnnConfig& L, const std::vector<size_t>& part_bytes) {
  WorkspaceLayout w;
  for (size_t bytes : part_bytes) {
    w.total = (w.total + 15) / 16 * 16;  // a second part's workspace on a 64-byte boundary
    w.part_offsets.push_back(w.total);
    w.total += static_cast<int64_t>((bytes + sizeof(float) - 1) / sizeof(float));
  }
  w.sequence = w.total;
  if (!L.return_sequences) w.total += L.N * L.T * L.DH();
  return w;
}

WorkspaceLayout workspace_layout(const RnnConfig& L) {
  std::vector<size_t> bytes;
  for (const PartShape& p : parts_of(L)) bytes.push_back(make_pds(p, false).forward.workspace_desc().get_size());
  return workspace_layout(L, bytes);
}

// States: ours [N, D*H] (the layer's directions side by side) <-> oneDNN ldnc [D, N, H] of
// the part's directions.
void states_to_ldnc(const PartShape& p, const float* nh, float* ldnc) {
  const RnnConfig& c = p.c;
  for (int64_t d = 0; d < c.D; ++d)
    for (int64_t n = 0; n < c.N; ++n)
      std::memcpy(ldnc + (d * c.N + n) * c.H, nh + n * p.L.DH() + p.column() + d * c.H,
                  sizeof(float) * static_cast<size_t>(c.H));
}
void states_from_ldnc(const PartShape& p, const float* ldnc, float* nh) {
  const RnnConfig& c = p.c;
  for (int64_t d = 0; d < c.D; ++d)
    for (int64_t n = 0; n < c.N; ++n)
      std::memcpy(nh + n * p.L.DH() + p.column() + d * c.H, ldnc + (d * c.N + n) * c.H,
                  sizeof(float) * static_cast<size_t>(c.H));
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

// Shared by the forward and backward parts: the shape, the primitive's own scratchpad
// (also used by reorders, which never run concurrently with it), the reorders of W and R
// into the primitive's layouts, the lbr bias and the layout descs. Regions come from the
// layer kernel's plan, each part its own, as the parts of a layer run at once.
class PartBase {
 protected:
  PartBase(const PartShape& p, const dnnl::primitive_desc& pd, ScratchPlan& plan) : p_(p) {
    const RnnDescs user = rnn_descs(p, tag::ldigo);
    w_ = std::make_unique<Reorder>(user.weights_layer, arg_md(pd, DNNL_ARG_WEIGHTS_LAYER));
    r_ = std::make_unique<Reorder>(user.weights_iter, arg_md(pd, DNNL_ARG_WEIGHTS_ITER));
    bias_md_ = user.bias;
    iter_md_ = user.iter;
    layer_in_md_ = user.layer_in;
    layer_out_md_ = user.layer_out;
    size_t pad = pd.scratchpad_desc().get_size();
    for (const Reorder* r : {w_.get(), r_.get()}) pad = std::max(pad, r->scratchpad_md.get_size());
    primitive_scratchpad_md_ = pd.scratchpad_desc();
    pad_ = plan.add(pad);
    if (w_->needed()) w_->offset = plan.add(w_->to.get_size());
    if (r_->needed()) r_->offset = plan.add(r_->to.get_size());
    if (p.c.cell == Cell::gru_reset_after) bias_offset_ = plan.add(bias_md_.get_size());
  }

  // Adds the weight and bias arguments, reordering/converting into the scratchpad as needed.
  void add_weights(PrimitiveArgs& args, const KernelIO& io) const {
    const void* w = io.in<float>(kW) + p_.w_offset();
    const void* r = io.in<float>(kR) + p_.r_offset();
    if (w_->needed()) {
      w_->run(w, at(io.scratchpad, w_->offset), at(io.scratchpad, pad_));
      w = at(io.scratchpad, w_->offset);
    }
    if (r_->needed()) {
      r_->run(r, at(io.scratchpad, r_->offset), at(io.scratchpad, pad_));
      r = at(io.scratchpad, r_->offset);
    }
    args.push_back({DNNL_ARG_WEIGHTS_LAYER, wrap(w_->to, w)});
    args.push_back({DNNL_ARG_WEIGHTS_ITER, wrap(r_->to, r)});
    const float* b = io.in<float>(kB) + p_.b_offset();
    if (p_.c.cell == Cell::gru_reset_after) {
      lbr_bias_to_dnnl(p_.c, b, at(io.scratchpad, bias_offset_));
      b = at(io.scratchpad, bias_offset_);
    }
    args.push_back({DNNL_ARG_BIAS, wrap(bias_md_, b)});
  }

  // An ldnc state from an optional [N, D*H] input (zeros when absent).
  void load_state(const float* input, float* ldnc) const {
    if (input)
      states_to_ldnc(p_, input, ldnc);
    else
      std::fill_n(ldnc, p_.c.N * p_.c.DH(), 0.f);
  }

  void execute_primitive(const PrimitiveArgs& args, void* scratchpad) const {
    execute(primitive_, args, primitive_scratchpad_md_, at(scratchpad, pad_));
  }

  PartShape p_;
  std::unique_ptr<Reorder> w_, r_;
  KernelDesc bias_md_, iter_md_, layer_in_md_, layer_out_md_, primitive_scratchpad_md_;
  size_t pad_ = 0, bias_offset_ = 0;
  dnnl::primitive primitive_;
};

class ForwardPart final : public PartBase {
 public:
  ForwardPart(const PartShape& p, const dnnl::primitive_desc& pd, ScratchPlan& plan, int num_inputs)
      : PartBase(p, pd, plan), has_cell_(p.c.cell == Cell::lstm), num_inputs_(num_inputs) {
    workspace_md_ = pd.workspace_desc();
    const size_t state = iter_md_.get_size();
    src_h_ = plan.add(state);
    dst_h_ = plan.add(state);
    if (has_cell_) {
      src_c_ = plan.add(state);
      dst_c_ = plan.add(state);
    }
    primitive_ = dnnl::primitive(pd);
  }

  // `workspace`: the part's oneDNN workspace; `sequence`: the layer's output sequence.
  void run(const KernelIO& io, float* workspace, float* sequence) const {
    void* pad = io.scratchpad;
    const size_t y_c = 2;
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
    args.push_back({DNNL_ARG_DST_LAYER, wrap(layer_out_md_, sequence + p_.column())});
    args.push_back({DNNL_ARG_WORKSPACE, wrap(workspace_md_, workspace)});
    execute_primitive(args, pad);

    states_from_ldnc(p_, at(pad, dst_h_), io.out<float>(1));
    if (!p_.L.return_sequences) states_from_ldnc(p_, at(pad, dst_h_), io.out<float>(0));  // Y is the last h
    if (has_cell_) states_from_ldnc(p_, at(pad, dst_c_), io.out<float>(y_c));
  }

 private:
  bool has_cell_;
  int num_inputs_;
  KernelDesc workspace_md_;
  size_t src_h_ = 0, dst_h_ = 0, src_c_ = 0, dst_c_ = 0;
};

class GradPart final : public PartBase {
 public:
  // `pd` is the backward primitive desc (built with the forward-training one as hint).
  GradPart(const PartShape& p, const dnnl::primitive_desc& pd, ScratchPlan& plan, int num_inputs)
      : PartBase(p, pd, plan), has_cell_(p.c.cell == Cell::lstm), num_inputs_(num_inputs), at_(has_cell_) {
    workspace_md_ = pd.workspace_desc();
    const RnnDescs user = rnn_descs(p, tag::ldigo);
    dw_ = std::make_unique<Reorder>(arg_md(pd, DNNL_ARG_DIFF_WEIGHTS_LAYER), user.weights_layer);
    dr_ = std::make_unique<Reorder>(arg_md(pd, DNNL_ARG_DIFF_WEIGHTS_ITER), user.weights_iter);
    reorder_pad_ = plan.add(std::max(dw_->scratchpad_md.get_size(), dr_->scratchpad_md.get_size()));
    if (dw_->needed()) dw_->offset = plan.add(dw_->from.get_size());
    if (dr_->needed()) dr_->offset = plan.add(dr_->from.get_size());
    if (p.c.cell == Cell::gru_reset_after) diff_bias_ = plan.add(bias_md_.get_size());
    const size_t state = iter_md_.get_size();
    for (size_t* region : {&src_h_, &dst_h_, &diff_dst_h_, &diff_src_h_}) *region = plan.add(state);
    if (has_cell_)
      for (size_t* region : {&src_c_, &dst_c_, &diff_dst_c_, &diff_src_c_}) *region = plan.add(state);
    primitive_ = dnnl::primitive(pd);
  }

  // `workspace`: the part's oneDNN workspace; `sequence`: the layer's output sequence;
  // `diff_sequence`: its gradient; `dx`: where the part's gradient of X goes.
  void run(const KernelIO& io, float* workspace, const float* sequence, const float* diff_sequence, float* dx) const {
    void* pad = io.scratchpad;
    const RnnConfig& c = p_.c;
    PrimitiveArgs args;
    auto state_arg = [&](int arg, size_t region) { args.push_back({arg, wrap(iter_md_, at(pad, region))}); };
    auto input = [&](int k) { return io.in<float>(static_cast<size_t>(k)); };
    // Forward values.
    args.push_back({DNNL_ARG_SRC_LAYER, wrap(layer_in_md_, io.inputs[kX])});
    load_state(num_inputs_ > at_.init_h ? input(at_.init_h) : nullptr, at(pad, src_h_));
    state_arg(DNNL_ARG_SRC_ITER, src_h_);
    states_to_ldnc(p_, input(at_.y_h), at(pad, dst_h_));
    state_arg(DNNL_ARG_DST_ITER, dst_h_);
    if (has_cell_) {
      load_state(num_inputs_ > at_.init_c ? input(at_.init_c) : nullptr, at(pad, src_c_));
      state_arg(DNNL_ARG_SRC_ITER_C, src_c_);
      states_to_ldnc(p_, input(at_.y_c), at(pad, dst_c_));
      state_arg(DNNL_ARG_DST_ITER_C, dst_c_);
    }
    add_weights(args, io);
    args.push_back({DNNL_ARG_DST_LAYER, wrap(layer_out_md_, sequence + p_.column())});
    args.push_back({DNNL_ARG_WORKSPACE, wrap(workspace_md_, workspace)});

    // Output gradients. Without return_sequences dY is a gradient of the final state.
    states_to_ldnc(p_, input(at_.dy_h), at(pad, diff_dst_h_));
    if (!p_.L.return_sequences) {
      float* tmp = at(pad, diff_src_h_);  // free until the primitive runs
      states_to_ldnc(p_, input(at_.dy), tmp);
      float* acc = at(pad, diff_dst_h_);
      for (int64_t i = 0; i < c.N * c.DH(); ++i) acc[i] += tmp[i];
    }
    args.push_back({DNNL_ARG_DIFF_DST_LAYER, wrap(layer_out_md_, diff_sequence + p_.column())});
    state_arg(DNNL_ARG_DIFF_DST_ITER, diff_dst_h_);
    if (has_cell_) {
      states_to_ldnc(p_, input(at_.dy_c), at(pad, diff_dst_c_));
      state_arg(DNNL_ARG_DIFF_DST_ITER_C, diff_dst_c_);
    }

    // Input gradients. oneDNN accumulates weight gradients: start from zeros.
    args.push_back({DNNL_ARG_DIFF_SRC_LAYER, wrap(layer_in_md_, dx)});
    state_arg(DNNL_ARG_DIFF_SRC_ITER, diff_src_h_);
    if (has_cell_) state_arg(DNNL_ARG_DIFF_SRC_ITER_C, diff_src_c_);
    float* dw_out = io.out<float>(1) + p_.w_offset();
    float* dr_out = io.out<float>(2) + p_.r_offset();
    float* db_out = io.out<float>(3) + p_.b_offset();
    void* dw = dw_->needed() ? at(pad, dw_->offset) : dw_out;
    void* dr = dr_->needed() ? at(pad, dr_->offset) : dr_out;
    void* db = c.cell == Cell::gru_reset_after ? at(pad, diff_bias_) : db_out;
    std::memset(dw, 0, dw_->from.get_size());
    std::memset(dr, 0, dr_->from.get_size());
    std::memset(db, 0, bias_md_.get_size());
    args.push_back({DNNL_ARG_DIFF_WEIGHTS_LAYER, wrap(dw_->from, dw)});
    args.push_back({DNNL_ARG_DIFF_WEIGHTS_ITER, wrap(dr_->from, dr)});
    args.push_back({DNNL_ARG_DIFF_BIAS, wrap(bias_md_, db)});
    execute_primitive(args, pad);

    if (dw_->needed()) dw_->run(dw, dw_out, at(pad, reorder_pad_));
    if (dr_->needed()) dr_->run(dr, dr_out, at(pad, reorder_pad_));
    if (c.cell == Cell::gru_reset_after) lbr_bias_from_dnnl(c, at(pad, diff_bias_), db_out);
    states_from_ldnc(p_, at(pad, diff_src_h_), io.out<float>(4));
    if (has_cell_) states_from_ldnc(p_, at(pad, diff_src_c_), io.out<float>(5));
  }

 private:
  bool has_cell_;
  int num_inputs_;
  GradInputs at_;
  KernelDesc workspace_md_;
  std::unique_ptr<Reorder> dw_, dr_;
  size_t reorder_pad_ = 0, diff_bias_ = 0;
  size_t src_h_ = 0, dst_h_ = 0, diff_dst_h_ = 0, diff_src_h_ = 0;
  size_t src_c_ = 0, dst_c_ = 0, diff_dst_c_ = 0, diff_src_c_ = 0;
};

// Runs fn(i) for every part i: at once when there are two (run_side_by_side), else fn(0).
template <typename Fn>
void run_parts(size_t parts, const Fn& fn) {
  if (parts == 1)
    fn(0);
  else
    run_side_by_side([&](int i) { fn(static_cast<size_t>(i)); });
}

// A primitive's time step is worth an OpenMP team from this many multiply-adds in its
// recurrent matmul (N x H x G*H), although its gate elements are fewer than the executor's
// 64K: a one-direction LSTM forward + backward, team kept warm, two cores, length 10, took
// 0.60x-0.84x the one-thread time from 256K (widths 32-256, batch 1-64) and 0.94x-1.33x
// below it, 160K and less (Emojifier V2's two LSTMs, 2M, went 6.1 -> 3.5 ms a step).
constexpr int64_t kTeamStepMultiplyAdds = 256 * 1024;

// The work the executor weighs (Kernel::parallel_work, against kParallelElements): one
// primitive synchronises its team at every time step, so one step's gate elements, reported
// as large enough when its recurrent matmul is; two directions side by side have no barrier
// between them, so their whole sequences.
int64_t layer_parallel_work(const RnnConfig& L) {
  if (directions_side_by_side(L)) return L.N * L.T * L.DH() * L.gates();
  const int64_t step = L.step_gate_elements();
  return step * L.H >= kTeamStepMultiplyAdds ? std::max(step, kParallelElements) : step;
}

class RecurrentKernel final : public Kernel {
 public:
  RecurrentKernel(const RnnConfig& L, int num_inputs) : L_(L) {
    std::vector<size_t> ws_bytes;
    for (const PartShape& p : parts_of(L)) {
      const dnnl::primitive_desc pd = make_pds(p, false).forward;
      ws_bytes.push_back(pd.workspace_desc().get_size());
      parts_.push_back(std::make_unique<ForwardPart>(p, pd, plan_, num_inputs));
    }
    workspace_ = workspace_layout(L, ws_bytes);
  }

  size_t scratchpad_bytes() const override { return plan_.total(); }
  std::optional<int64_t> parallel_work() const override { return layer_parallel_work(L_); }

  void run(const KernelIO& io) const override {
    // The full sequence goes to Y, or (without return_sequences) behind the workspaces.
    float* ws = io.out<float>(L_.cell == Cell::lstm ? 3 : 2);
    float* sequence = L_.return_sequences ? io.out<float>(0) : ws + workspace_.sequence;
    run_parts(parts_.size(), [&](size_t i) { parts_[i]->run(io, ws + workspace_.part_offsets[i], sequence); });
  }

 private:
  RnnConfig L_;
  ScratchPlan plan_;
  std::vector<std::unique_ptr<ForwardPart>> parts_;
  WorkspaceLayout workspace_;
};

class RecurrentGradKernel final : public Kernel {
 public:
  RecurrentGradKernel(const RnnConfig& L, int num_inputs) : L_(L), at_(L.cell == Cell::lstm) {
    std::vector<size_t> ws_bytes;
    for (const PartShape& p : parts_of(L)) {
      const RnnPds pds = make_pds(p, true);
      ws_bytes.push_back(pds.forward.workspace_desc().get_size());
      parts_.push_back(std::make_unique<GradPart>(p, *pds.backward, plan_, num_inputs));
    }
    workspace_ = workspace_layout(L, ws_bytes);
    const size_t floats = sizeof(float);
    if (!L.return_sequences) diff_sequence_ = plan_.add(floats * static_cast<size_t>(L.N * L.T * L.DH()));
    if (parts_.size() > 1) second_dx_ = plan_.add(floats * static_cast<size_t>(L.N * L.T * L.C));
  }

  size_t scratchpad_bytes() const override { return plan_.total(); }
  std::optional<int64_t> parallel_work() const override { return layer_parallel_work(L_); }

  void run(const KernelIO& io) const override {
    // oneDNN may overwrite the workspace (it is invalid after backward): see the file comment.
    float* ws = const_cast<float*>(io.in<float>(static_cast<size_t>(at_.ws)));
    const float* sequence = L_.return_sequences ? io.in<float>(static_cast<size_t>(at_.y)) : ws + workspace_.sequence;
    // Without return_sequences no step but the last has an output gradient (dY goes to the final state).
    const float* diff_sequence = io.in<float>(static_cast<size_t>(at_.dy));
    if (!L_.return_sequences) {
      std::fill_n(at(io.scratchpad, diff_sequence_), L_.N * L_.T * L_.DH(), 0.f);
      diff_sequence = at(io.scratchpad, diff_sequence_);
    }
    float* dx = io.out<float>(0);
    run_parts(parts_.size(), [&](size_t i) {
      parts_[i]->run(io, ws + workspace_.part_offsets[i], sequence, diff_sequence,
                     i == 0 ? dx : at(io.scratchpad, second_dx_));
    });
    // Side by side: dX sums the directions' gradients, as oneDNN's bidirectional primitive does.
    if (parts_.size() > 1) {
      const float* second = at(io.scratchpad, second_dx_);
      for (int64_t i = 0; i < L_.N * L_.T * L_.C; ++i) dx[i] += second[i];
    }
  }

 private:
  RnnConfig L_;
  GradInputs at_;
  ScratchPlan plan_;
  std::vector<std::unique_ptr<GradPart>> parts_;
  WorkspaceLayout workspace_;
  size_t diff_sequence_ = 0, second_dx_ = 0;
};

}  // namespace

int64_t fused_workspace_floats(const RnnConfig& c) { return workspace_layout(c).total; }

std::unique_ptr<Kernel> make_fused_kernel(const RnnConfig& c, int num_float_inputs) {
  return std::make_unique<RecurrentKernel>(c, num_float_inputs);
}

std::unique_ptr<Kernel> make_fused_grad_kernel(const RnnConfig& c, int num_float_inputs) {
  return std::make_unique<RecurrentGradKernel>(c, num_float_inputs);
}

}  // namespace graphrun::rnn
