// Recurrent layers (RNN = Keras SimpleRNN, LSTM, GRU) on oneDNN's RNN primitive,
// one layer per node, batch-major, with Keras semantics and ONNX op names.
//
// Inputs (float32), with G gates (RNN 1, LSTM 4, GRU 3), H = hidden_size and
// D directions (2 for BIDIRECTIONAL, else 1; for D = 2 every weight gets a
// leading dim of 2: index 0 is the forward direction, 1 the reverse one):
//   X          [N, T, C]            batch-major sequences
//   W          [C, G*H]             Keras `kernel`: input weights, gates concatenated on the last axis
//   R          [H, G*H]             Keras `recurrent_kernel`
//   B          [G*H]                Keras `bias`; GRU reset_after: [2*3*H] = Keras' [2, 3H] flattened
//                                   (first the 3H input biases, then the 3H recurrent biases)
//   initial_h  [N, D*H] (optional)  initial hidden state; D = 2: forward state, then reverse state
//   initial_c  [N, D*H] (optional, LSTM only, needs initial_h) initial cell state
//   token_ids  [N, T] int64 (optional, always last; told apart by its dtype): mask = id != 0,
//              Keras Embedding(mask_zero=True); see "The step-wise path" below
// Attributes: `recurrent` { hidden_size direction return_sequences reset_after dropout
// recurrent_dropout }, `seed` (dropout streams; default: a hash of the node name).
// Paths: the fused oneDNN primitive when there is no token_ids input and no (recurrent)
// dropout; else the step-wise kernels below (oneDNN's RNN has neither). The rule is
// static per node (the op and its Grad agree; `graphrun check` prints it as the note);
// outside training a step-wise node runs without dropout.
// Gate orders (Keras = oneDNN): LSTM i, f, c, o; GRU z, r, h (oneDNN u, r, o).
// Equations per step (x = X[:, t], h and c the previous state, sigma the logistic):
//   RNN:  h' = tanh(x W + h R + b)
//   LSTM: i = sigma(x W_i + h R_i + b_i)   f = sigma(x W_f + h R_f + b_f)
//         g = tanh(x W_c + h R_c + b_c)    o = sigma(x W_o + h R_o + b_o)
//         c' = f * c + i * g               h' = o * tanh(c')
//   GRU (reset_after false, Keras 2's default, oneDNN vanilla GRU):
//         z = sigma(x W_z + h R_z + b_z)   r = sigma(x W_r + h R_r + b_r)
//         n = tanh(x W_h + (r * h) R_h + b_h)          h' = z * h + (1 - z) * n
//   GRU (reset_after true, linear-before-reset, oneDNN lbr_gru), b = input bias, rb = recurrent bias:
//         z = sigma(x W_z + b_z + h R_z + rb_z)  r likewise
//         n = tanh(x W_h + b_h + r * (h R_h + rb_h))   h' = z * h + (1 - z) * n
// Directions: FORWARD runs t = 0..T-1; REVERSE runs t = T-1..0 (ONNX's reverse, not Keras'
// go_backwards): Y[:, t] is still the state after step t, in the original time order, and
// the final state is the one after t = 0; BIDIRECTIONAL runs both and concatenates their
// features (forward first), as Keras Bidirectional(merge_mode='concat').
// Outputs: Y [N, T, D*H] if return_sequences else [N, D*H] (= Y_h); Y_h [N, D*H] the final
// hidden state(s); Y_c [N, D*H] (LSTM) the final cell state(s); workspace [k] float32: the
// oneDNN forward-training workspace (rounded up to whole floats), followed by the full
// [N, T, D*H] output sequence when return_sequences is false (the backward pass needs it);
// on the step-wise path, the StepLayout below.
// Only the *Grad op reads the workspace; its size is known once N and T are.
//
// Layouts: Keras' W [C, G*H] is oneDNN's ldigo [1, D, C, G, H], R likewise, B is ldgo
// [1, D, G, H]: same bytes, no copy. oneDNN may pick other weight layouts (`any`; backward
// wants ldgoi), so kernels reorder into the scratchpad as the primitive desc asks. States
// are ldnc [1, D, N, H] in oneDNN; ours are [N, D*H], so they are copied (N*H floats).
// lbr_gru's bias has 4 gates u, r, o, u': u = b_z + rb_z, r = b_r + rb_r, o = b_h, u' = rb_h.
//
// Gradients: RNNGrad / LSTMGrad / GRUGrad on oneDNN's *_backward primitive (the forward
// training primitive desc as hint), inputs X, W, R, B, Y, Y_h, [Y_c], workspace, dY, dY_h,
// [dY_c], [initial_h, [initial_c]], [token_ids] (missing output gradients are zeros), outputs dX, dW,
// dR, dB, d initial_h, [d initial_c]. oneDNN documents the workspace as invalid after the
// backward pass, so the Grad op may overwrite it: it must be the workspace's only reader.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <optional>
#include <type_traits>

#include "ops/dnnl_util.h"
#include "ops/gradient.h"
#include "ops/random.h"
#include "ops/registry.h"

namespace graphrun {
namespace {

using dnnl::memory;
using tag = dnnl::memory::format_tag;

enum class Cell { rnn, lstm, gru, lbr_gru };

// One op of the family.
struct RecurrentSpec {
  const char* name;
  const char* grad_name;
  int gates;       // G
  bool has_cell;   // LSTM: a cell state (initial_c, Y_c)
  const char* doc;
  const char* grad_doc;
};

constexpr RecurrentSpec kRecurrentOps[] = {
    {"RNN", "RNNGrad", 1, false,
     "Keras SimpleRNN (tanh), batch-major: h_t = tanh(x_t W + h_{t-1} R + b). Inputs X [N,T,C], W [C,H] (Keras "
     "kernel), R [H,H] (recurrent_kernel), B [H], optional initial_h [N,D*H]. Attribute `recurrent` { hidden_size "
     "direction return_sequences }. FORWARD runs t=0..T-1, REVERSE runs t=T-1..0 with Y kept in the original time "
     "order (ONNX reverse, not Keras go_backwards), BIDIRECTIONAL runs both with W,R,B stacked on a leading dim of 2 "
     "and concatenates features (forward first, D=2), as Keras Bidirectional(merge_mode='concat'). Outputs Y "
     "([N,T,D*H] with return_sequences, else [N,D*H]), Y_h [N,D*H] (final states; reverse's is after t=0) and the "
     "workspace (oneDNN's forward-training workspace, then the output sequence when return_sequences is false; read "
     "only by RNNGrad). oneDNN vanilla_rnn.",
     "Backward of RNN on oneDNN vanilla_rnn_backward: inputs X, W, R, B, Y, Y_h, workspace, dY, dY_h, optional "
     "initial_h; outputs dX, dW, dR, dB, d initial_h (zeros initial state when absent). May overwrite the "
     "workspace."},
    {"LSTM", "LSTMGrad", 4, true,
     "Keras LSTM, batch-major, gates i,f,c,o (Keras = oneDNN order): i=sigma(xW_i+hR_i+b_i), "
     "f=sigma(xW_f+hR_f+b_f), g=tanh(xW_c+hR_c+b_c), o=sigma(xW_o+hR_o+b_o), c'=f*c+i*g, h'=o*tanh(c'). Inputs X "
     "[N,T,C], W [C,4H] (Keras kernel), R [H,4H] (recurrent_kernel), B [4H], optional initial_h and initial_c "
     "[N,D*H]. Attribute `recurrent` { hidden_size direction return_sequences }; directions as RNN (BIDIRECTIONAL: "
     "W,R,B get a leading dim of 2, features concatenated forward first). Outputs Y ([N,T,D*H] or [N,D*H]), Y_h "
     "and Y_c [N,D*H] (final hidden and cell states) and the workspace for LSTMGrad. oneDNN lstm.",
     "Backward of LSTM on oneDNN lstm_backward: inputs X, W, R, B, Y, Y_h, Y_c, workspace, dY, dY_h, dY_c, "
     "optional initial_h, initial_c; outputs dX, dW, dR, dB, d initial_h, d initial_c. May overwrite the "
     "workspace."},
    {"GRU", "GRUGrad", 3, false,
     "Keras GRU, batch-major, gates z,r,h (= oneDNN u,r,o). reset_after false (Keras 2 default, oneDNN vanilla "
     "GRU): z=sigma(xW_z+hR_z+b_z), r=sigma(xW_r+hR_r+b_r), n=tanh(xW_h+(r*h)R_h+b_h), h'=z*h+(1-z)*n, B [3H]. "
     "reset_after true (oneDNN lbr_gru): biases b (input) and rb (recurrent), z=sigma(xW_z+b_z+hR_z+rb_z), r "
     "likewise, n=tanh(xW_h+b_h+r*(hR_h+rb_h)), B [6H] = Keras' bias [2,3H] flattened. Inputs X [N,T,C], W "
     "[C,3H], R [H,3H], B, optional initial_h [N,D*H]. Attribute `recurrent` { hidden_size direction "
     "return_sequences reset_after }; directions as RNN. Outputs Y, Y_h and the workspace for GRUGrad.",
     "Backward of GRU on oneDNN gru_backward / lbr_gru_backward: inputs X, W, R, B, Y, Y_h, workspace, dY, dY_h, "
     "optional initial_h; outputs dX, dW, dR, dB, d initial_h. May overwrite the workspace."},
};

constexpr const char* kStepwiseDoc =
    " Masking and dropout (Keras semantics, step-wise kernel instead of the fused one): an optional last input "
    "token_ids int64 [N,T] masks steps whose id is 0 (Keras mask_zero: a masked step keeps h and c and repeats the "
    "previous output, zeros before the first real step; REVERSE/BIDIRECTIONAL skip them too; Y_h is the state "
    "after the last real step). `recurrent` { dropout recurrent_dropout } drop x_t and h_{t-1} when training, with "
    "one inverted-dropout mask per sequence, gate and direction reused at every step (Keras implementation=1), "
    "drawn from the node's `seed` (default: hash of its name) and the run's step seed.";

// Everything a kernel or shape rule needs to know about one recurrent layer.
struct RnnConfig {
  Cell cell = Cell::lstm;
  int64_t N = -1, T = -1, C = -1, H = 0;
  int64_t D = 1;                         // directions
  pb::RecurrentParams::Direction direction = pb::RecurrentParams::FORWARD;
  bool return_sequences = false;
  bool has_ids = false;          // a trailing int64 token-id input [N, T]: mask = id != 0
  float dropout = 0.f;           // on x_t, training only
  float recurrent_dropout = 0.f; // on h_{t-1}, training only

  // The path rule: oneDNN's fused RNN has neither masking nor dropout.
  bool stepwise() const { return has_ids || dropout > 0.f || recurrent_dropout > 0.f; }
  int64_t gates() const { return cell == Cell::lstm ? 4 : cell == Cell::rnn ? 1 : 3; }
  int64_t bias_gates() const { return cell == Cell::lbr_gru ? 4 : gates(); }  // oneDNN's bias
  int64_t keras_bias() const { return cell == Cell::lbr_gru ? 6 * H : gates() * H; }  // per direction
  int64_t DH() const { return D * H; }
  bool concrete() const { return N >= 0 && T >= 0; }
};

Cell cell_of(const RecurrentSpec& spec, const pb::Node& attrs) {
  if (spec.gates == 1) return Cell::rnn;
  if (spec.gates == 4) return Cell::lstm;
  return attrs.recurrent().reset_after() ? Cell::lbr_gru : Cell::gru;
}

RnnConfig config_of(const RecurrentSpec& spec, const pb::Node& attrs, const Dims& x) {
  RnnConfig c;
  c.cell = cell_of(spec, attrs);
  c.H = attrs.recurrent().hidden_size();
  c.direction = attrs.recurrent().direction();
  c.D = c.direction == pb::RecurrentParams::BIDIRECTIONAL ? 2 : 1;
  c.return_sequences = attrs.recurrent().return_sequences();
  c.dropout = attrs.recurrent().dropout();
  c.recurrent_dropout = attrs.recurrent().recurrent_dropout();
  if (x.size() == 3) {
    c.N = x[0];
    c.T = x[1];
    c.C = x[2];
  }
  return c;
}

// ---------------------------------------------------------------------------
// oneDNN primitive descs. Data is ntc (batch-major) / ldnc, weights `any`.

dnnl::rnn_direction dnnl_direction(const RnnConfig& c) {
  switch (c.direction) {
    case pb::RecurrentParams::REVERSE: return dnnl::rnn_direction::unidirectional_right2left;
    case pb::RecurrentParams::BIDIRECTIONAL: return dnnl::rnn_direction::bidirectional_concat;
    default: return dnnl::rnn_direction::unidirectional_left2right;
  }
}

struct RnnDescs {
  memory::desc layer_in, layer_out, iter, weights_layer, weights_iter, bias;
  memory::desc none;  // a zero desc: "no such argument"
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
    case Cell::lstm: return make_gates_pds<dnnl::lstm_forward, dnnl::lstm_backward>(c, with_backward);
    case Cell::gru: return make_gates_pds<dnnl::gru_forward, dnnl::gru_backward>(c, with_backward);
    case Cell::lbr_gru: return make_gates_pds<dnnl::lbr_gru_forward, dnnl::lbr_gru_backward>(c, with_backward);
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

// The step-wise path's workspace (offsets in floats). Per-step arrays are per direction
// d and row n * T + t (t in time order, as X), so backward reads them like X and Y:
//   in_masks  [D, G, N, C]  input dropout multipliers (dropout > 0; ones outside training)
//   rec_masks [D, G, N, H]  recurrent dropout multipliers (recurrent_dropout > 0; ones likewise)
//   step_mask [N, T]        1 for a real step, 0 for padding
//   act       [D, N, T, G*H] gate activations (LSTM i,f,g,o; GRU z,r,n; RNN h')
//   hs, cs    [D, N, T, H]  h and (LSTM) c after step t
//   q         [D, N, T, H]  reset_after GRU: h R_h + rb_h, the recurrent part inside r * (.)
struct StepLayout {
  int64_t in_masks = 0, rec_masks = 0, step_mask = 0, act = 0, hs = 0, cs = 0, q = 0, total = 0;
};

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
  l.step_mask = take(NT);
  l.act = take(c.D * NT * c.gates() * c.H);
  l.hs = take(c.D * NT * c.H);
  l.cs = take(c.cell == Cell::lstm ? c.D * NT * c.H : 0);
  l.q = take(c.cell == Cell::lbr_gru ? c.D * NT * c.H : 0);
  return l;
}

// ---------------------------------------------------------------------------
// Shape rule.

// Input positions of the forward op.
constexpr int kX = 0, kW = 1, kR = 2, kB = 3, kInitH = 4, kInitC = 5;

void expect_dims(const InferContext& ctx, int i, const char* name, const Dims& expected, const char* what) {
  const Dims& got = ctx.in_dims(i);
  bool ok = got.size() == expected.size();
  for (size_t k = 0; ok && k < got.size(); ++k) ok = got[k] < 0 || expected[k] < 0 || got[k] == expected[k];
  if (!ok) ctx.fail("input {} ({}) has shape {}, expected {} = {}", i, name, dims_str(got), what, dims_str(expected));
}

// Checks the forward inputs (X, W, R, B, initial states) and returns the layer config.
RnnConfig check_forward_inputs(const RecurrentSpec& spec, const InferContext& ctx, int num_inputs) {
  const pb::Node& attrs = ctx.attrs();
  if (attrs.recurrent().hidden_size() <= 0)
    ctx.fail("recurrent.hidden_size must be positive, got {}", attrs.recurrent().hidden_size());
  // The optional token ids come last and are told apart by their dtype.
  const bool has_ids = num_inputs > kB + 1 && ctx.inputs[static_cast<size_t>(num_inputs - 1)].dtype == DType::i64;
  if (has_ids) --num_inputs;
  if (num_inputs > kInitC + 1)
    ctx.fail("{} takes at most {} float inputs (X, W, R, B, initial states), got {}", spec.name,
             spec.has_cell ? kInitC + 1 : kInitH + 1, num_inputs);
  for (int i = 0; i < num_inputs; ++i) ctx.expect_dtype(i, DType::f32);
  ctx.expect_rank(kX, 3);
  RnnConfig c = config_of(spec, attrs, ctx.in_dims(kX));
  c.has_ids = has_ids;
  for (const auto& [what, p] : {std::pair{"dropout", c.dropout}, std::pair{"recurrent_dropout", c.recurrent_dropout}})
    if (!(p >= 0.f && p < 1.f)) ctx.fail("recurrent.{} must be in [0, 1), got {}", what, p);
  if (c.C < 0) ctx.fail("input 0 (X) has shape {}: the feature dim C must be known", dims_str(ctx.in_dims(kX)));
  if (c.N == 0 || c.T == 0)
    ctx.fail("input 0 (X) has shape {}: empty batches and sequences are not supported", dims_str(ctx.in_dims(kX)));
  const int64_t GH = c.gates() * c.H;
  const bool bi = c.D == 2;
  expect_dims(ctx, kW, "W", bi ? Dims{2, c.C, GH} : Dims{c.C, GH}, bi ? "[2, C, G*H]" : "[C, G*H]");
  expect_dims(ctx, kR, "R", bi ? Dims{2, c.H, GH} : Dims{c.H, GH}, bi ? "[2, H, G*H]" : "[H, G*H]");
  const char* b_what = c.cell == Cell::lbr_gru ? (bi ? "[2, 2*3*H]" : "[2*3*H]") : (bi ? "[2, G*H]" : "[G*H]");
  expect_dims(ctx, kB, "B", bi ? Dims{2, c.keras_bias()} : Dims{c.keras_bias()}, b_what);
  if (num_inputs > kInitH) expect_dims(ctx, kInitH, "initial_h", {c.N, c.DH()}, "[N, D*H]");
  if (num_inputs > kInitC) {
    if (!spec.has_cell) ctx.fail("{} takes no initial_c (input 5)", spec.name);
    expect_dims(ctx, kInitC, "initial_c", {c.N, c.DH()}, "[N, D*H]");
  }
  if (has_ids) {
    ctx.expect_rank(num_inputs, 2);
    expect_dims(ctx, num_inputs, "token ids", {c.N, c.T}, "X's [N, T]");
  }
  return c;
}

// The forward op's inputs and outputs; LSTM adds its cell state to both.
std::vector<std::string> input_names(bool has_cell) {
  if (has_cell) return {"X", "W", "R", "B", "initial_h", "initial_c", "token_ids"};
  return {"X", "W", "R", "B", "initial_h", "token_ids"};
}

std::vector<std::string> output_names(bool has_cell) {
  if (has_cell) return {"Y", "Y_h", "Y_c", "workspace"};
  return {"Y", "Y_h", "workspace"};
}

void infer_recurrent(const RecurrentSpec& spec, InferContext& ctx) {
  const RnnConfig c = check_forward_inputs(spec, ctx, ctx.num_inputs());
  const TensorType state{DType::f32, {c.N, c.DH()}};
  ctx.outputs[0] = c.return_sequences ? TensorType{DType::f32, {c.N, c.T, c.DH()}} : state;
  ctx.outputs[1] = state;
  if (spec.has_cell) ctx.outputs[2] = state;
  int64_t ws = -1;
  if (c.concrete() && c.stepwise()) {
    ws = step_layout(c).total;
  } else if (c.concrete()) {
    try {
      ws = workspace_floats(c, make_pds(c, false).forward.workspace_desc().get_size());
    } catch (const dnnl::error& e) {
      ctx.fail("oneDNN rejected the layer: {}", e.what());
    }
  }
  ctx.outputs.back() = {DType::f32, {ws}};
}

// Input positions of the Grad op: X W R B Y Y_h [Y_c] workspace dY dY_h [dY_c] [initial_h [initial_c]].
struct GradInputs {
  int y = 4, y_h = 5, y_c = -1, ws, dy, dy_h, dy_c = -1, init_h, init_c = -1;
  explicit GradInputs(bool has_cell) {
    int k = 6;
    if (has_cell) y_c = k++;
    ws = k++;
    dy = k++;
    dy_h = k++;
    if (has_cell) dy_c = k++;
    init_h = k++;
    if (has_cell) init_c = k++;
  }
};

std::vector<std::string> grad_input_names(bool has_cell) {
  if (has_cell)
    return {"X",  "W",    "R",    "B",         "Y",         "Y_h",      "Y_c",
            "workspace", "dY", "dY_h", "dY_c", "initial_h", "initial_c", "token_ids"};
  return {"X", "W", "R", "B", "Y", "Y_h", "workspace", "dY", "dY_h", "initial_h", "token_ids"};
}

std::vector<std::string> grad_output_names(bool has_cell) {
  if (has_cell) return {"dX", "dW", "dR", "dB", "d_initial_h", "d_initial_c"};
  return {"dX", "dW", "dR", "dB", "d_initial_h"};
}

void infer_recurrent_grad(const RecurrentSpec& spec, InferContext& ctx) {
  const GradInputs at(spec.has_cell);
  // Validate the forward inputs as the forward op would.
  InferContext forward{ctx.node, {ctx.inputs.begin(), ctx.inputs.begin() + 4}, {}};
  for (int i = at.init_h; i < ctx.num_inputs(); ++i) forward.inputs.push_back(ctx.inputs[static_cast<size_t>(i)]);
  const RnnConfig c = check_forward_inputs(spec, forward, forward.num_inputs());
  for (int i = 4; i < at.init_h; ++i) ctx.expect_dtype(i, DType::f32);
  const Dims y = c.return_sequences ? Dims{c.N, c.T, c.DH()} : Dims{c.N, c.DH()};
  expect_dims(ctx, at.y, "Y", y, "Y");
  expect_dims(ctx, at.dy, "dY", y, "Y's shape");
  expect_dims(ctx, at.y_h, "Y_h", {c.N, c.DH()}, "[N, D*H]");
  expect_dims(ctx, at.dy_h, "dY_h", {c.N, c.DH()}, "[N, D*H]");
  if (spec.has_cell) {
    expect_dims(ctx, at.y_c, "Y_c", {c.N, c.DH()}, "[N, D*H]");
    expect_dims(ctx, at.dy_c, "dY_c", {c.N, c.DH()}, "[N, D*H]");
  }
  for (int i = 0; i < 4; ++i) ctx.outputs[static_cast<size_t>(i)] = ctx.inputs[static_cast<size_t>(i)];
  for (size_t k = 4; k < ctx.outputs.size(); ++k) ctx.outputs[k] = {DType::f32, {c.N, c.DH()}};
}

// ---------------------------------------------------------------------------
// Kernels.

float* at(void* base, size_t offset) { return reinterpret_cast<float*>(static_cast<std::byte*>(base) + offset); }

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
      out[j] = in[j] + rec[j];                  // u
      out[H + j] = in[H + j] + rec[H + j];      // r
      out[2 * H + j] = in[2 * H + j];           // o: input part
      out[3 * H + j] = rec[2 * H + j];          // u': recurrent part, inside r * (.)
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
    if (c.cell == Cell::lbr_gru) bias_offset_ = plan_.add(bias_md_.get_size());
  }

  size_t scratchpad_bytes() const override { return plan_.total(); }

  // Adds the weight and bias arguments, reordering/converting into the scratchpad as needed.
  void add_weights(std::unordered_map<int, memory>& args, const KernelIO& io) const {
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
    args.emplace(DNNL_ARG_WEIGHTS_LAYER, wrap(w_->to, w));
    args.emplace(DNNL_ARG_WEIGHTS_ITER, wrap(r_->to, r));
    const void* b = io.inputs[kB];
    if (c_.cell == Cell::lbr_gru) {
      lbr_bias_to_dnnl(c_, io.in<float>(kB), at(io.scratchpad, bias_offset_));
      b = at(io.scratchpad, bias_offset_);
    }
    args.emplace(DNNL_ARG_BIAS, wrap(bias_md_, b));
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
  memory::desc bias_md_, iter_md_, layer_in_md_, layer_out_md_, primitive_scratchpad_md_;
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
    std::unordered_map<int, memory> args;
    args.emplace(DNNL_ARG_SRC_LAYER, wrap(layer_in_md_, io.inputs[kX]));
    load_state(num_inputs_ > kInitH ? io.in<float>(kInitH) : nullptr, at(pad, src_h_));
    args.emplace(DNNL_ARG_SRC_ITER, wrap(iter_md_, at(pad, src_h_)));
    args.emplace(DNNL_ARG_DST_ITER, wrap(iter_md_, at(pad, dst_h_)));
    if (has_cell_) {
      load_state(num_inputs_ > kInitC ? io.in<float>(kInitC) : nullptr, at(pad, src_c_));
      args.emplace(DNNL_ARG_SRC_ITER_C, wrap(iter_md_, at(pad, src_c_)));
      args.emplace(DNNL_ARG_DST_ITER_C, wrap(iter_md_, at(pad, dst_c_)));
    }
    add_weights(args, io);
    // The full sequence goes to Y, or (without return_sequences) behind the oneDNN workspace.
    float* ws = io.out<float>(ws_out);
    float* sequence = c_.return_sequences ? io.out<float>(0) : ws + workspace_floats(c_, workspace_md_.get_size()) -
                                                                    c_.N * c_.T * c_.DH();
    args.emplace(DNNL_ARG_DST_LAYER, wrap(layer_out_md_, sequence));
    args.emplace(DNNL_ARG_WORKSPACE, wrap(workspace_md_, ws));
    execute(primitive_, std::move(args), primitive_scratchpad_md_, io.scratchpad);

    states_from_ldnc(c_, at(pad, dst_h_), io.out<float>(1));
    if (!c_.return_sequences)
      std::copy_n(io.out<float>(1), c_.N * c_.DH(), io.out<float>(0));
    if (has_cell_) states_from_ldnc(c_, at(pad, dst_c_), io.out<float>(y_c));
  }

 private:
  bool has_cell_;
  int num_inputs_;
  memory::desc workspace_md_;
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
    if (c.cell == Cell::lbr_gru) diff_bias_ = plan_.add(bias_md_.get_size());
    const size_t state = iter_md_.get_size();
    for (size_t* region : {&src_h_, &dst_h_, &diff_dst_h_, &diff_src_h_}) *region = plan_.add(state);
    if (has_cell_)
      for (size_t* region : {&src_c_, &dst_c_, &diff_dst_c_, &diff_src_c_}) *region = plan_.add(state);
    if (!c.return_sequences) diff_sequence_ = plan_.add(layer_out_md_.get_size());
    primitive_ = dnnl::primitive(pd);
  }

  void run(const KernelIO& io) const override {
    void* pad = io.scratchpad;
    std::unordered_map<int, memory> args;
    auto state_arg = [&](int arg, size_t region) { args.emplace(arg, wrap(iter_md_, at(pad, region))); };
    // Forward values.
    args.emplace(DNNL_ARG_SRC_LAYER, wrap(layer_in_md_, io.inputs[kX]));
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
    const float* sequence = c_.return_sequences ? io.in<float>(static_cast<size_t>(at_.y))
                                                : ws + workspace_floats(c_, workspace_md_.get_size()) -
                                                      c_.N * c_.T * c_.DH();
    args.emplace(DNNL_ARG_DST_LAYER, wrap(layer_out_md_, sequence));
    args.emplace(DNNL_ARG_WORKSPACE, wrap(workspace_md_, ws));

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
    args.emplace(DNNL_ARG_DIFF_DST_LAYER, wrap(layer_out_md_, diff_sequence));
    state_arg(DNNL_ARG_DIFF_DST_ITER, diff_dst_h_);
    if (has_cell_) {
      states_to_ldnc(c_, io.in<float>(static_cast<size_t>(at_.dy_c)), at(pad, diff_dst_c_));
      state_arg(DNNL_ARG_DIFF_DST_ITER_C, diff_dst_c_);
    }

    // Input gradients. oneDNN accumulates weight gradients: start from zeros.
    args.emplace(DNNL_ARG_DIFF_SRC_LAYER, wrap(layer_in_md_, io.outputs[0]));
    state_arg(DNNL_ARG_DIFF_SRC_ITER, diff_src_h_);
    if (has_cell_) state_arg(DNNL_ARG_DIFF_SRC_ITER_C, diff_src_c_);
    void* dw = dw_->needed() ? at(pad, dw_->offset) : io.outputs[1];
    void* dr = dr_->needed() ? at(pad, dr_->offset) : io.outputs[2];
    void* db = c_.cell == Cell::lbr_gru ? at(pad, diff_bias_) : io.outputs[3];
    std::memset(dw, 0, dw_->from.get_size());
    std::memset(dr, 0, dr_->from.get_size());
    std::memset(db, 0, bias_md_.get_size());
    args.emplace(DNNL_ARG_DIFF_WEIGHTS_LAYER, wrap(dw_->from, dw));
    args.emplace(DNNL_ARG_DIFF_WEIGHTS_ITER, wrap(dr_->from, dr));
    args.emplace(DNNL_ARG_DIFF_BIAS, wrap(bias_md_, db));
    execute(primitive_, std::move(args), primitive_scratchpad_md_, io.scratchpad);

    if (dw_->needed()) dw_->run(dw, io.outputs[1], at(pad, reorder_pad_));
    if (dr_->needed()) dr_->run(dr, io.outputs[2], at(pad, reorder_pad_));
    if (c_.cell == Cell::lbr_gru) lbr_bias_from_dnnl(c_, at(pad, diff_bias_), io.out<float>(3));
    states_from_ldnc(c_, at(pad, diff_src_h_), io.out<float>(4));
    if (has_cell_) states_from_ldnc(c_, at(pad, diff_src_c_), io.out<float>(5));
  }

 private:
  bool has_cell_;
  int num_inputs_;
  GradInputs at_;
  memory::desc workspace_md_;
  std::unique_ptr<Reorder> dw_, dr_;
  size_t reorder_pad_ = 0, diff_bias_ = 0, diff_sequence_ = 0;
  size_t src_h_ = 0, dst_h_ = 0, diff_dst_h_ = 0, diff_src_h_ = 0;
  size_t src_c_ = 0, dst_c_ = 0, diff_dst_c_ = 0, diff_src_c_ = 0;
  dnnl::primitive primitive_;
};

// ---------------------------------------------------------------------------
// The step-wise path: masking and dropout, which oneDNN's fused RNN lacks. Keras' step
// loop: the input projection of all steps as one oneDNN matmul, then per step a oneDNN
// matmul for the recurrent projection and the gates in plain loops.
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
// kept elements scaled by 1/(1-p)) reused at every step; vanilla GRU's candidate uses
// (r * h_{t-1} * rm_h) R_h, reset_after GRU's r * ((h_{t-1} * rm_h) R_h + rb_h).
// The masks are saved in the workspace, so backward uses exactly the forward's masks.


// A 2-D strided view: rows x cols with the given strides (in floats).
struct View {
  int64_t rows, cols, row_stride, col_stride;
};

// dst = src x weights (+ dst when accumulating) on strided views: a oneDNN matmul created once.
class Matmul {
 public:
  Matmul(View a, View b, View c, bool accumulate = false)
      : a_(strided_desc({a.rows, a.cols}, {a.row_stride, a.col_stride})),
        b_(strided_desc({b.rows, b.cols}, {b.row_stride, b.col_stride})),
        c_(strided_desc({c.rows, c.cols}, {c.row_stride, c.col_stride})) {
    dnnl::primitive_attr attr = user_scratchpad_attr();
    if (accumulate) {
      dnnl::post_ops ops;
      ops.append_sum(1.f);
      attr.set_post_ops(ops);
    }
    const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a_, b_, c_), attr, cpu_engine());
    pad_ = pd.scratchpad_desc();
    primitive_ = dnnl::matmul(pd);
  }
  size_t scratchpad_bytes() const { return pad_.get_size(); }
  void run(const float* a, const float* b, float* c, void* scratchpad) const {
    execute(primitive_, {{DNNL_ARG_SRC, wrap(a_, a)}, {DNNL_ARG_WEIGHTS, wrap(b_, b)}, {DNNL_ARG_DST, wrap(c_, c)}},
            pad_, scratchpad);
  }

 private:
  memory::desc a_, b_, c_, pad_;
  dnnl::matmul primitive_;
};

float sigmoid(float x) { return 1.f / (1.f + std::exp(-x)); }

// What the step-wise forward and backward kernels share.
class StepwiseBase : public Kernel {
 protected:
  StepwiseBase(const RnnConfig& c, int num_float_inputs)
      : c_(c), layout_(step_layout(c)), num_float_inputs_(num_float_inputs),
        G_(c.gates()), GH_(c.gates() * c.H), NT_(c.N * c.T), Gz_(c.cell == Cell::gru ? 2 : c.gates()),
        parallel_(c.N * c.H >= 16 * 1024) {}

  size_t scratchpad_bytes() const override { return plan_.total(); }

  // Reserves the matmuls' shared scratchpad region (call after creating them all).
  void plan_matmul_pad(std::initializer_list<const std::optional<Matmul>*> matmuls) {
    size_t bytes = 0;
    for (const std::optional<Matmul>* m : matmuls)
      if (*m) bytes = std::max(bytes, (*m)->scratchpad_bytes());
    matmul_pad_ = plan_.add(bytes);
  }
  size_t floats(int64_t n) { return plan_.add(static_cast<size_t>(n) * sizeof(float)); }

  bool reverse(int64_t d) const {
    return c_.D == 2 ? d == 1 : c_.direction == pb::RecurrentParams::REVERSE;
  }
  // Time index of step s of direction d.
  int64_t time_of(int64_t d, int64_t s) const { return reverse(d) ? c_.T - 1 - s : s; }
  const float* bias(const KernelIO& io, int64_t d) const { return io.in<float>(kB) + d * c_.keras_bias(); }
  // A direction's slice of an optional [N, D*H] state input, as [N, H] (zeros when absent).
  void load_state(const float* nh, int64_t d, float* out) const {
    for (int64_t n = 0; n < c_.N; ++n)
      for (int64_t j = 0; j < c_.H; ++j) out[n * c_.H + j] = nh ? nh[n * c_.DH() + d * c_.H + j] : 0.f;
  }

  RnnConfig c_;
  StepLayout layout_;
  int num_float_inputs_;
  int64_t G_, GH_, NT_;
  int64_t Gz_;  // gates in the per-step recurrent matmul (vanilla GRU: z, r; the candidate follows r)
  // Rows (sequences) are independent within a step, so the per-row loops split over the
  // OpenMP team the executor gave this step; each element is computed exactly as serially.
  // Below ~16K state elements a parallel region costs more than it saves.
  bool parallel_;
  ScratchPlan plan_;
  size_t matmul_pad_ = 0;
};

class StepwiseKernel final : public StepwiseBase {
 public:
  StepwiseKernel(const RnnConfig& c, uint64_t node_seed, int num_float_inputs)
      : StepwiseBase(c, num_float_inputs), node_seed_(node_seed) {
    const int64_t C = c.C, H = c.H, N = c.N;
    if (c.dropout > 0)  // per gate: (X * dm_g) [NT, C] x W_g [C, H] -> XP_g
      x_proj_.emplace(View{NT_, C, C, 1}, View{C, H, GH_, 1}, View{NT_, H, GH_, 1});
    else  // X [NT, C] x W [C, G*H] -> XP [NT, G*H]
      x_proj_.emplace(View{NT_, C, C, 1}, View{C, GH_, GH_, 1}, View{NT_, GH_, GH_, 1});
    if (c.recurrent_dropout <= 0)  // h [N, H] x R [H, Gz*H] -> HR
      h_proj_.emplace(View{N, H, H, 1}, View{H, Gz_ * H, GH_, 1}, View{N, Gz_ * H, GH_, 1});
    if (c.recurrent_dropout > 0 || c.cell == Cell::gru)  // one gate: [N, H] x R_g [H, H] -> HR_g
      h_gate_proj_.emplace(View{N, H, H, 1}, View{H, H, GH_, 1}, View{N, H, GH_, 1});
    plan_matmul_pad({&x_proj_, &h_proj_, &h_gate_proj_});
    xp_ = floats(NT_ * GH_);
    if (c.dropout > 0) xd_ = floats(NT_ * C);
    hr_ = floats(N * GH_);
    for (size_t* region : {&h_, &c_state_, &h_new_, &c_new_, &h_src_}) *region = floats(N * H);
    seen_ = floats(N);
  }

  void run(const KernelIO& io) const override {
    const int64_t N = c_.N, T = c_.T, C = c_.C, H = c_.H, DH = c_.DH();
    void* pad = io.scratchpad;
    void* mm_pad = at(pad, matmul_pad_);
    const bool training = io.run != nullptr && io.run->training;
    const bool has_c = c_.cell == Cell::lstm;
    float* ws = io.out<float>(has_c ? 3 : 2);
    float* y = io.out<float>(0);
    const float* X = io.in<float>(kX);
    float* step_mask = ws + layout_.step_mask;
    for (int64_t i = 0; i < NT_; ++i)
      step_mask[i] = c_.has_ids ? (io.in<int64_t>(io.inputs.size() - 1)[i] != 0 ? 1.f : 0.f) : 1.f;
    float *xp = at(pad, xp_), *hr = at(pad, hr_), *h = at(pad, h_), *cs = at(pad, c_state_);
    float *h_new = at(pad, h_new_), *c_new = at(pad, c_new_), *h_src = at(pad, h_src_), *seen = at(pad, seen_);

    for (int64_t d = 0; d < c_.D; ++d) {
      const float* W = io.in<float>(kW) + d * C * GH_;
      const float* R = io.in<float>(kR) + d * H * GH_;
      const float* b = bias(io, d);
      const float* rb = b + 3 * H;  // reset_after GRU's recurrent bias
      // Dropout masks of this direction (ones outside training).
      float* dm = ws + layout_.in_masks + d * G_ * N * C;
      float* rm = ws + layout_.rec_masks + d * G_ * N * H;
      for (int64_t g = 0; g < G_; ++g) {
        if (c_.dropout > 0) {
          const DropoutMask m = rnn_dropout_stream(training ? io.run->step_seed : 0, node_seed_, c_.dropout, d, 0, g, G_);
          #pragma omp parallel for if (parallel_)
          for (int64_t i = 0; i < N * C; ++i) dm[g * N * C + i] = training ? m.value(static_cast<uint64_t>(i)) : 1.f;
        }
        if (c_.recurrent_dropout > 0) {
          const DropoutMask m =
              rnn_dropout_stream(training ? io.run->step_seed : 0, node_seed_, c_.recurrent_dropout, d, 1, g, G_);
          #pragma omp parallel for if (parallel_)
          for (int64_t i = 0; i < N * H; ++i) rm[g * N * H + i] = training ? m.value(static_cast<uint64_t>(i)) : 1.f;
        }
      }
      // 1. The input projection of every step: XP = X W (per gate on X * dm_g with dropout).
      if (c_.dropout > 0) {
        float* xd = at(pad, xd_);
        for (int64_t g = 0; g < G_; ++g) {
#pragma omp parallel for if (parallel_)
          for (int64_t row = 0; row < NT_; ++row)
            for (int64_t i = 0; i < C; ++i) xd[row * C + i] = X[row * C + i] * dm[(g * N + row / T) * C + i];
          x_proj_->run(xd, W + g * H, xp + g * H, mm_pad);
        }
      } else {
        x_proj_->run(X, W, xp, mm_pad);
      }
      // 2. The step loop.
      load_state(num_float_inputs_ > kInitH ? io.in<float>(kInitH) : nullptr, d, h);
      load_state(num_float_inputs_ > kInitC ? io.in<float>(kInitC) : nullptr, d, cs);
      std::fill_n(seen, N, 0.f);
      float* act_d = ws + layout_.act + d * NT_ * GH_;
      for (int64_t s = 0; s < T; ++s) {
        const int64_t t = time_of(d, s);
        // HR = h R for the first Gz gates ((h * rm_g) R_g with recurrent dropout).
        if (c_.recurrent_dropout > 0) {
          for (int64_t g = 0; g < Gz_; ++g) {
            #pragma omp parallel for if (parallel_)
            for (int64_t i = 0; i < N * H; ++i) h_src[i] = h[i] * rm[g * N * H + i];
            h_gate_proj_->run(h_src, R + g * H, hr + g * H, mm_pad);
          }
        } else {
          h_proj_->run(h, R, hr, mm_pad);
        }
#pragma omp parallel for if (parallel_)
        for (int64_t n = 0; n < N; ++n) {
          const int64_t row = n * T + t;
          const float* x_row = xp + row * GH_;
          const float* hr_row = hr + n * GH_;
          float* a = act_d + row * GH_;
          const float* hp = h + n * H;
          float* hn = h_new + n * H;
          switch (c_.cell) {
            case Cell::rnn:  // h' = tanh(x W + h R + b)
              for (int64_t j = 0; j < H; ++j) hn[j] = a[j] = std::tanh(x_row[j] + hr_row[j] + b[j]);
              break;
            case Cell::lstm:  // i, f, o = sigma(.), g = tanh(.), c' = f c + i g, h' = o tanh(c')
              for (int64_t j = 0; j < H; ++j) {
                const float i = a[j] = sigmoid(x_row[j] + hr_row[j] + b[j]);
                const float f = a[H + j] = sigmoid(x_row[H + j] + hr_row[H + j] + b[H + j]);
                const float g = a[2 * H + j] = std::tanh(x_row[2 * H + j] + hr_row[2 * H + j] + b[2 * H + j]);
                const float o = a[3 * H + j] = sigmoid(x_row[3 * H + j] + hr_row[3 * H + j] + b[3 * H + j]);
                c_new[n * H + j] = f * cs[n * H + j] + i * g;
                hn[j] = o * std::tanh(c_new[n * H + j]);
              }
              break;
            case Cell::gru:  // z, r = sigma(.); the candidate needs (r * h * rm_h) R_h: after this loop
              for (int64_t j = 0; j < H; ++j) {
                a[j] = sigmoid(x_row[j] + hr_row[j] + b[j]);
                const float r = a[H + j] = sigmoid(x_row[H + j] + hr_row[H + j] + b[H + j]);
                const float rm_h = c_.recurrent_dropout > 0 ? rm[(2 * N + n) * H + j] : 1.f;
                h_src[n * H + j] = r * hp[j] * rm_h;
              }
              break;
            case Cell::lbr_gru: {  // z, r = sigma(x W + b + h R + rb), n = tanh(x W_h + b_h + r q), q = h R_h + rb_h
              float* q = ws + layout_.q + (d * NT_ + row) * H;
              for (int64_t j = 0; j < H; ++j) {
                const float z = a[j] = sigmoid(x_row[j] + b[j] + hr_row[j] + rb[j]);
                const float r = a[H + j] = sigmoid(x_row[H + j] + b[H + j] + hr_row[H + j] + rb[H + j]);
                q[j] = hr_row[2 * H + j] + rb[2 * H + j];
                const float cand = a[2 * H + j] = std::tanh(x_row[2 * H + j] + b[2 * H + j] + r * q[j]);
                hn[j] = z * hp[j] + (1 - z) * cand;  // h' = z h + (1 - z) n
              }
              break;
            }
          }
        }
        if (c_.cell == Cell::gru) {  // n = tanh(x W_h + (r * h * rm_h) R_h + b_h), h' = z h + (1 - z) n
          h_gate_proj_->run(h_src, R + 2 * H, hr + 2 * H, mm_pad);
#pragma omp parallel for if (parallel_)
          for (int64_t n = 0; n < N; ++n) {
            float* a = act_d + (n * T + t) * GH_;
            const float* x_row = xp + (n * T + t) * GH_;
            for (int64_t j = 0; j < H; ++j) {
              const float cand = a[2 * H + j] = std::tanh(x_row[2 * H + j] + hr[n * GH_ + 2 * H + j] + b[2 * H + j]);
              h_new[n * H + j] = a[j] * h[n * H + j] + (1 - a[j]) * cand;
            }
          }
        }
        // Commit real steps (a masked step keeps h and c), save the states, write outputs.
#pragma omp parallel for if (parallel_)
        for (int64_t n = 0; n < N; ++n) {
          const int64_t row = n * T + t;
          if (step_mask[row] != 0.f) {
            seen[n] = 1.f;
            std::copy_n(h_new + n * H, H, h + n * H);
            if (has_c) std::copy_n(c_new + n * H, H, cs + n * H);
          }
          std::copy_n(h + n * H, H, ws + layout_.hs + (d * NT_ + row) * H);
          if (has_c) std::copy_n(cs + n * H, H, ws + layout_.cs + (d * NT_ + row) * H);
          if (c_.return_sequences)
            for (int64_t j = 0; j < H; ++j) y[row * DH + d * H + j] = seen[n] != 0.f ? h[n * H + j] : 0.f;
        }
      }
      for (int64_t n = 0; n < N; ++n)
        for (int64_t j = 0; j < H; ++j) {
          io.out<float>(1)[n * DH + d * H + j] = h[n * H + j];
          if (has_c) io.out<float>(2)[n * DH + d * H + j] = cs[n * H + j];
          if (!c_.return_sequences) y[n * DH + d * H + j] = seen[n] != 0.f ? h[n * H + j] : 0.f;
        }
    }
  }

 private:
  uint64_t node_seed_;
  std::optional<Matmul> x_proj_, h_proj_, h_gate_proj_;
  size_t xp_ = 0, xd_ = 0, hr_ = 0, h_ = 0, c_state_ = 0, h_new_ = 0, c_new_ = 0, h_src_ = 0, seen_ = 0;
};

// Backpropagation through time over the saved workspace. Per direction, steps in reverse
// order carry dh (and dc); a masked step passes them through unchanged; Y_t's gradient
// joins dh_t when seen_t. Gate pre-activation gradients dA [N, T, G*H] (zeros at masked
// steps) then give dW, dX, dB in one matmul each and dR from the saved recurrent
// sources; dAR is dA's recurrent side (reset_after GRU: dq = da_n * r for the candidate).
class StepwiseGradKernel final : public StepwiseBase {
 public:
  StepwiseGradKernel(const RnnConfig& c, int num_float_inputs)
      : StepwiseBase(c, num_float_inputs), at_(c.cell == Cell::lstm),
        Gs_(c.recurrent_dropout > 0 || c.cell == Cell::gru ? c.gates() : 1) {
    const int64_t C = c.C, H = c.H, N = c.N, T = c.T;
    const int64_t step_rows = T * GH_;  // dA's row stride within one step
    if (c.recurrent_dropout <= 0)  // dAR_t [N, Gz*H] x R^T [Gz*H, H] -> [N, H]
      dh_proj_.emplace(View{N, Gz_ * H, step_rows, 1}, View{Gz_ * H, H, 1, GH_}, View{N, H, H, 1});
    if (c.recurrent_dropout > 0 || c.cell == Cell::gru)  // one gate: dAR_t,g [N, H] x R_g^T [H, H]
      dh_gate_proj_.emplace(View{N, H, step_rows, 1}, View{H, H, 1, GH_}, View{N, H, H, 1});
    if (c.dropout > 0) {
      dx_.emplace(View{NT_, H, GH_, 1}, View{H, C, 1, GH_}, View{NT_, C, C, 1});          // dA_g W_g^T
      dw_.emplace(View{C, NT_, 1, C}, View{NT_, H, GH_, 1}, View{C, H, GH_, 1});          // (X dm_g)^T dA_g
    } else {
      dx_.emplace(View{NT_, GH_, GH_, 1}, View{GH_, C, 1, GH_}, View{NT_, C, C, 1}, true);  // dX += dA W^T
      dw_.emplace(View{C, NT_, 1, C}, View{NT_, GH_, GH_, 1}, View{C, GH_, GH_, 1});       // X^T dA
    }
    if (Gs_ == 1)  // HS^T dAR, HS [NT, H] the previous states
      dr_.emplace(View{H, NT_, 1, H}, View{NT_, GH_, GH_, 1}, View{H, GH_, GH_, 1});
    else  // per gate HS_g^T dAR_g
      dr_.emplace(View{H, NT_, 1, H}, View{NT_, H, GH_, 1}, View{H, H, GH_, 1});
    plan_matmul_pad({&dh_proj_, &dh_gate_proj_, &dx_, &dw_, &dr_});
    da_ = floats(NT_ * GH_);
    if (c.cell == Cell::lbr_gru) dar_ = floats(NT_ * GH_);
    hs_src_ = floats(Gs_ * NT_ * H);
    if (c.dropout > 0) {
      xd_ = floats(NT_ * C);
      dxg_ = floats(NT_ * C);
    }
    for (size_t* region : {&h0_, &c0_, &dh_, &dc_, &dh_new_, &tmp_}) *region = floats(N * H);
    first_ = floats(N);
  }

  void run(const KernelIO& io) const override {
    const int64_t N = c_.N, T = c_.T, C = c_.C, H = c_.H, DH = c_.DH();
    void* pad = io.scratchpad;
    void* mm_pad = at(pad, matmul_pad_);
    const bool has_c = c_.cell == Cell::lstm, lbr = c_.cell == Cell::lbr_gru;
    const float* ws = io.in<float>(static_cast<size_t>(at_.ws));
    const float* X = io.in<float>(kX);
    const float* dY = io.in<float>(static_cast<size_t>(at_.dy));
    const float* step_mask = ws + layout_.step_mask;
    const float* init_h = num_float_inputs_ > at_.init_h ? io.in<float>(static_cast<size_t>(at_.init_h)) : nullptr;
    const float* init_c = has_c && num_float_inputs_ > at_.init_c ? io.in<float>(static_cast<size_t>(at_.init_c))
                                                                   : nullptr;
    float *dA = at(pad, da_), *dAR = lbr ? at(pad, dar_) : dA, *hs_src = at(pad, hs_src_);
    float *h0 = at(pad, h0_), *c0 = at(pad, c0_), *dh = at(pad, dh_), *dc = at(pad, dc_);
    float *dh_new = at(pad, dh_new_), *tmp = at(pad, tmp_), *first = at(pad, first_);
    float* dX = io.out<float>(0);
    std::fill_n(dX, NT_ * C, 0.f);

    for (int64_t d = 0; d < c_.D; ++d) {
      const float* W = io.in<float>(kW) + d * C * GH_;
      const float* R = io.in<float>(kR) + d * H * GH_;
      const float* dm = ws + layout_.in_masks + d * G_ * N * C;
      const float* rm = ws + layout_.rec_masks + d * G_ * N * H;
      const float* act = ws + layout_.act + d * NT_ * GH_;
      const float* hs = ws + layout_.hs + d * NT_ * H;
      const float* cs = ws + layout_.cs + d * NT_ * H;
      const float* qs = ws + layout_.q + d * NT_ * H;
      auto rec_mask = [&](int64_t g, int64_t n, int64_t j) {
        return c_.recurrent_dropout > 0 ? rm[(g * N + n) * H + j] : 1.f;
      };
      load_state(init_h, d, h0);
      load_state(init_c, d, c0);
      // The state before step s of row n: after step s - 1, or the initial state.
      auto prev = [&](const float* saved, const float* initial, int64_t n, int64_t s) {
        return s == 0 ? initial + n * H : saved + (n * T + time_of(d, s - 1)) * H;
      };
      // first[n]: the first real step (T when none): Y_t = h_t exactly from there on.
#pragma omp parallel for if (parallel_)
      for (int64_t n = 0; n < N; ++n) {
        first[n] = static_cast<float>(T);
        for (int64_t s = T - 1; s >= 0; --s)
          if (step_mask[n * T + time_of(d, s)] != 0.f) first[n] = static_cast<float>(s);
      }
      // Gradients of the final states (and, without return_sequences, of the last output).
      const float* dY_h = io.in<float>(static_cast<size_t>(at_.dy_h));
      const float* dY_c = has_c ? io.in<float>(static_cast<size_t>(at_.dy_c)) : nullptr;
#pragma omp parallel for if (parallel_)
      for (int64_t n = 0; n < N; ++n)
        for (int64_t j = 0; j < H; ++j) {
          const int64_t k = n * DH + d * H + j;
          dh[n * H + j] = dY_h[k] + (!c_.return_sequences && first[n] < static_cast<float>(T) ? dY[k] : 0.f);
          dc[n * H + j] = dY_c ? dY_c[k] : 0.f;
        }
      std::fill_n(dA, NT_ * GH_, 0.f);
      if (lbr) std::fill_n(dAR, NT_ * GH_, 0.f);

      for (int64_t s = T - 1; s >= 0; --s) {
        const int64_t t = time_of(d, s);
#pragma omp parallel for if (parallel_)
        for (int64_t n = 0; n < N; ++n) {
          const int64_t row = n * T + t;
          if (c_.return_sequences && static_cast<float>(s) >= first[n])
            for (int64_t j = 0; j < H; ++j) dh[n * H + j] += dY[row * DH + d * H + j];
          if (step_mask[row] == 0.f) continue;  // dh, dc pass through a masked step
          const float* a = act + row * GH_;
          const float* hp = prev(hs, h0, n, s);
          float* da = dA + row * GH_;
          float* dhn = dh_new + n * H;  // dh_{t-1} apart from the recurrent matmuls
          const float* dhr = dh + n * H;
          switch (c_.cell) {
            case Cell::rnn:
              for (int64_t j = 0; j < H; ++j) {
                da[j] = dhr[j] * (1 - a[j] * a[j]);
                dhn[j] = 0.f;
              }
              break;
            case Cell::lstm: {
              const float* cp = prev(cs, c0, n, s);
              for (int64_t j = 0; j < H; ++j) {
                const float i = a[j], f = a[H + j], g = a[2 * H + j], o = a[3 * H + j];
                const float tc = std::tanh(cs[row * H + j]);
                const float dct = dc[n * H + j] + dhr[j] * o * (1 - tc * tc);  // dc_t, h' = o tanh(c')
                da[j] = dct * g * i * (1 - i);
                da[H + j] = dct * cp[j] * f * (1 - f);
                da[2 * H + j] = dct * i * (1 - g * g);
                da[3 * H + j] = dhr[j] * tc * o * (1 - o);
                dc[n * H + j] = dct * f;
                dhn[j] = 0.f;
              }
              break;
            }
            case Cell::gru:  // z and the candidate here; r after (r * h * rm_h) R_h's gradient below
              for (int64_t j = 0; j < H; ++j) {
                const float z = a[j], cand = a[2 * H + j];
                da[j] = dhr[j] * (hp[j] - cand) * z * (1 - z);
                da[2 * H + j] = dhr[j] * (1 - z) * (1 - cand * cand);
                dhn[j] = dhr[j] * z;
              }
              break;
            case Cell::lbr_gru: {
              const float* q = qs + row * H;
              float* dar = dAR + row * GH_;
              for (int64_t j = 0; j < H; ++j) {
                const float z = a[j], r = a[H + j], cand = a[2 * H + j];
                const float da_n = dhr[j] * (1 - z) * (1 - cand * cand);
                dar[j] = da[j] = dhr[j] * (hp[j] - cand) * z * (1 - z);
                dar[H + j] = da[H + j] = da_n * q[j] * r * (1 - r);
                da[2 * H + j] = da_n;
                dar[2 * H + j] = da_n * r;  // dq
                dhn[j] = dhr[j] * z;
              }
              break;
            }
          }
        }
        if (c_.cell == Cell::gru) {  // d(r h rm_h) = da_n R_h^T gives dr and part of dh_{t-1}
          dh_gate_proj_->run(dA + t * GH_ + 2 * H, R + 2 * H, tmp, mm_pad);
#pragma omp parallel for if (parallel_)
          for (int64_t n = 0; n < N; ++n) {
            const int64_t row = n * T + t;
            if (step_mask[row] == 0.f) continue;
            const float* hp = prev(hs, h0, n, s);
            const float* a = act + row * GH_;
            for (int64_t j = 0; j < H; ++j) {
              const float r = a[H + j], drh = tmp[n * H + j] * rec_mask(2, n, j);
              dA[row * GH_ + H + j] = drh * hp[j] * r * (1 - r);
              dh_new[n * H + j] += drh * r;
            }
          }
        }
        // dh_{t-1} += sum_g (dAR_g R_g^T) * rm_g over the first Gz gates.
        if (c_.recurrent_dropout > 0) {
          for (int64_t g = 0; g < Gz_; ++g) {
            dh_gate_proj_->run(dAR + t * GH_ + g * H, R + g * H, tmp, mm_pad);
#pragma omp parallel for if (parallel_)
            for (int64_t n = 0; n < N; ++n)
              for (int64_t j = 0; j < H; ++j) dh_new[n * H + j] += tmp[n * H + j] * rec_mask(g, n, j);
          }
        } else {
          dh_proj_->run(dAR + t * GH_, R, tmp, mm_pad);
#pragma omp parallel for if (parallel_)
          for (int64_t i = 0; i < N * H; ++i) dh_new[i] += tmp[i];
        }
#pragma omp parallel for if (parallel_)
        for (int64_t n = 0; n < N; ++n)
          if (step_mask[n * T + t] != 0.f) std::copy_n(dh_new + n * H, H, dh + n * H);
      }
      for (int64_t n = 0; n < N; ++n)
        for (int64_t j = 0; j < H; ++j) {
          io.out<float>(4)[n * DH + d * H + j] = dh[n * H + j];
          if (has_c) io.out<float>(5)[n * DH + d * H + j] = dc[n * H + j];
        }

      // dR = sum over steps of (recurrent source)^T dAR: h_{t-1} * rm_g, vanilla GRU's candidate r h_{t-1} rm_h.
#pragma omp parallel for if (parallel_)
      for (int64_t n = 0; n < N; ++n)
        for (int64_t s = 0; s < T; ++s) {
          const int64_t row = n * T + time_of(d, s);
          const float* hp = prev(hs, h0, n, s);
          for (int64_t g = 0; g < Gs_; ++g) {
            float* src = hs_src + (g * NT_ + row) * H;
            for (int64_t j = 0; j < H; ++j) src[j] = hp[j] * rec_mask(g, n, j);
            if (c_.cell == Cell::gru && g == 2)
              for (int64_t j = 0; j < H; ++j) src[j] *= act[row * GH_ + H + j];
          }
        }
      float* dR = io.out<float>(2) + d * H * GH_;
      if (Gs_ == 1)
        dr_->run(hs_src, dAR, dR, mm_pad);
      else
        for (int64_t g = 0; g < G_; ++g) dr_->run(hs_src + g * NT_ * H, dAR + g * H, dR + g * H, mm_pad);
      // dW = (X dm_g)^T dA_g and dX = sum_g (dA_g W_g^T) dm_g.
      float* dW = io.out<float>(1) + d * C * GH_;
      if (c_.dropout > 0) {
        float *xd = at(pad, xd_), *dxg = at(pad, dxg_);
        for (int64_t g = 0; g < G_; ++g) {
#pragma omp parallel for if (parallel_)
          for (int64_t row = 0; row < NT_; ++row)
            for (int64_t i = 0; i < C; ++i) xd[row * C + i] = X[row * C + i] * dm[(g * N + row / T) * C + i];
          dw_->run(xd, dA + g * H, dW + g * H, mm_pad);
          dx_->run(dA + g * H, W + g * H, dxg, mm_pad);
#pragma omp parallel for if (parallel_)
          for (int64_t row = 0; row < NT_; ++row)
            for (int64_t i = 0; i < C; ++i) dX[row * C + i] += dxg[row * C + i] * dm[(g * N + row / T) * C + i];
        }
      } else {
        dw_->run(X, dA, dW, mm_pad);
        dx_->run(dA, W, dX, mm_pad);
      }
      // dB: the input bias sums dA; reset_after GRU's recurrent bias sums dAR.
      float* dB = io.out<float>(3) + d * c_.keras_bias();
      std::fill_n(dB, c_.keras_bias(), 0.f);
      for (int64_t row = 0; row < NT_; ++row)
        for (int64_t k = 0; k < GH_; ++k) {
          dB[k] += dA[row * GH_ + k];
          if (lbr) dB[GH_ + k] += dAR[row * GH_ + k];
        }
    }
  }

 private:
  GradInputs at_;
  int64_t Gs_;  // recurrent sources for dR: one (h_{t-1}) or one per gate
  std::optional<Matmul> dh_proj_, dh_gate_proj_, dx_, dw_, dr_;
  size_t da_ = 0, dar_ = 0, hs_src_ = 0, xd_ = 0, dxg_ = 0;
  size_t h0_ = 0, c0_ = 0, dh_ = 0, dc_ = 0, dh_new_ = 0, tmp_ = 0, first_ = 0;
};

// A kernel's config; the path rule (RnnConfig::stepwise) is the same for the op and its Grad.
RnnConfig kernel_config(const RecurrentSpec& spec, const KernelInit& init) {
  RnnConfig c = config_of(spec, init.attrs(), init.in_dims(kX));
  c.has_ids = init.inputs.size() > kB + 1 && init.inputs.back().dtype == DType::i64;
  return c;
}

// The note `graphrun check` prints: which path a node takes and why.
std::string recurrent_note(const RecurrentSpec& spec, const Node& node, const std::vector<TensorType>& inputs) {
  const pb::RecurrentParams& p = node.def.recurrent();
  const bool has_ids = inputs.size() > kB + 1 && inputs.back().dtype == DType::i64;
  const std::string fused = spec.gates == 3 && p.reset_after() ? "GRU (linear-before-reset)" : spec.name;
  if (!has_ids && p.dropout() <= 0.f && p.recurrent_dropout() <= 0.f) return "fused oneDNN " + fused;
  std::string why;
  auto add = [&why](const std::string& part) { why += (why.empty() ? "" : ", ") + part; };
  if (has_ids) add("mask_zero");
  if (p.dropout() > 0.f) add(fmt::format("dropout {}", p.dropout()));
  if (p.recurrent_dropout() > 0.f) add(fmt::format("recurrent_dropout {}", p.recurrent_dropout()));
  return "step-wise: " + why + " (oneDNN's fused RNN has neither masking nor dropout)";
}

// ---------------------------------------------------------------------------
// Gradient rule: one Grad node; absent output gradients become zeros.

void recurrent_gradient(const RecurrentSpec& spec, GradientBuilder& g) {
  const size_t num_inputs = g.node().inputs.size();
  bool wanted = false;
  for (size_t i = 0; i < num_inputs; ++i) wanted = wanted || g.needs_grad(i);
  const size_t num_states = spec.has_cell ? 3 : 2;  // Y, Y_h, [Y_c]
  bool any_grad = false;
  for (size_t k = 0; k < num_states; ++k) any_grad = any_grad || g.output_grad(k) != kNoValue;
  if (!wanted || !any_grad) return;

  ValueId zero = kNoValue;
  auto grad_or_zeros = [&](size_t k) {
    if (g.output_grad(k) != kNoValue) return g.output_grad(k);
    if (zero == kNoValue) {
      pb::Node value;
      value.mutable_value()->add_float_data(0.f);
      zero = g.emit1("Constant", {}, value);
    }
    return g.emit1("ExpandToShapeOf", {zero, g.output(k)});
  };
  std::vector<ValueId> inputs = {g.input(kX), g.input(kW), g.input(kR), g.input(kB)};
  for (size_t k = 0; k < num_states; ++k) inputs.push_back(g.output(k));
  inputs.push_back(g.output(num_states));  // the workspace
  for (size_t k = 0; k < num_states; ++k) inputs.push_back(grad_or_zeros(k));
  for (size_t i = kInitH; i < num_inputs; ++i) inputs.push_back(g.input(i));

  pb::Node attrs;
  *attrs.mutable_recurrent() = g.node().def.recurrent();
  const std::vector<ValueId> grads = g.emit(spec.grad_name, inputs, attrs);
  // Grad output i is the gradient of forward input i (X, W, R, B, initial_h, initial_c).
  for (size_t i = 0; i < num_inputs; ++i)
    if (g.needs_grad(i)) g.set_input_grad(i, grads.at(i));
}

}  // namespace

void register_rnn_ops(OpRegistry& registry) {
  for (const RecurrentSpec& spec : kRecurrentOps) {
    OpDef def = make_op_def(
        spec.name, input_names(spec.has_cell), output_names(spec.has_cell),
        [&spec](InferContext& ctx) { infer_recurrent(spec, ctx); },
        [&spec](const KernelInit& init) -> std::unique_ptr<Kernel> {
          const RnnConfig c = kernel_config(spec, init);
          const int floats = static_cast<int>(init.inputs.size()) - (c.has_ids ? 1 : 0);
          if (c.stepwise()) return std::make_unique<StepwiseKernel>(c, random_node_seed(init.node.def), floats);
          return std::make_unique<RecurrentKernel>(c, spec.has_cell, floats);
        },
        std::string(spec.doc) + kStepwiseDoc);
    def.schema.min_inputs = kInitH;  // X, W, R, B; the initial states and token_ids are optional
    def.schema.attrs = {"recurrent", "seed"};
    def.schema.note = [&spec](const Node& node, const std::vector<TensorType>& inputs) {
      return recurrent_note(spec, node, inputs);
    };
    def.gradient = [&spec](GradientBuilder& g) { recurrent_gradient(spec, g); };
    registry.add(std::move(def));

    OpDef grad = make_grad_op_def(
        spec.grad_name, grad_input_names(spec.has_cell), grad_output_names(spec.has_cell),
        [&spec](InferContext& ctx) { infer_recurrent_grad(spec, ctx); },
        [&spec](const KernelInit& init) -> std::unique_ptr<Kernel> {
          const RnnConfig c = kernel_config(spec, init);
          const int inputs = static_cast<int>(init.inputs.size()) - (c.has_ids ? 1 : 0);
          if (c.stepwise()) return std::make_unique<StepwiseGradKernel>(c, inputs);
          return std::make_unique<RecurrentGradKernel>(c, spec.has_cell, inputs);
        },
        std::string(spec.grad_doc) +
            " With token_ids or (recurrent) dropout: backpropagation through time over the step-wise "
            "workspace (dropout masks saved there), masked steps passing gradients through.");
    grad.schema.min_inputs = GradInputs(spec.has_cell).init_h;  // the initial states and token_ids are optional
    grad.schema.attrs = {"recurrent", "seed"};
    registry.add(std::move(grad));
  }
}

}  // namespace graphrun
