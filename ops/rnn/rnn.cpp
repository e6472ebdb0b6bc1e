// Recurrent layers (RNN = Keras SimpleRNN, LSTM, GRU), one layer per node, batch-major, with
// Keras semantics and ONNX op names. This file: the ops' registration, shape and gradient
// rules and the path rule; the kernels are in the files named under "Paths".
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
//              Keras Embedding(mask_zero=True); see stepwise.cpp
// Attributes: `recurrent` { hidden_size direction return_sequences reset_after dropout
// recurrent_dropout }, `seed` (dropout streams; default: a hash of the node name).
// Paths (choose_recurrent_path, the one rule): the fused oneDNN primitive (fused.cpp) when
// there is no token_ids input and no (recurrent) dropout; else the step-wise kernels
// (stepwise.cpp, one time-loop driver, and per cell its step: cell_rnn.cpp, cell_lstm.cpp,
// cell_gru_reset_before.cpp, cell_gru_reset_after.cpp), as oneDNN's RNN has neither. The
// rule is static per node (the op and its Grad agree; `graphrun check` prints it as the
// note); outside training a step-wise node runs without dropout.
// Gate orders (Keras = oneDNN): LSTM i, f, c, o; GRU z, r, h (oneDNN u, r, o).
// Equations per step (x = X[:, t], h and c the previous state, sigma the logistic):
//   RNN:  h' = tanh(x W + h R + b)
//   LSTM: i = sigma(x W_i + h R_i + b_i)   f = sigma(x W_f + h R_f + b_f)
//         g = tanh(x W_c + h R_c + b_c)    o = sigma(x W_o + h R_o + b_o)
//         c' = f * c + i * g               h' = o * tanh(c')
//   GRU (reset_after false, the classic GRU, "reset_before" here: Keras 2's default, oneDNN vanilla GRU):
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
// on the step-wise path, its StepLayout (rnn_config.h).
// Only the *Grad op reads the workspace; its size is known once N and T are.
//
// Gradients: RNNGrad / LSTMGrad / GRUGrad on oneDNN's *_backward primitive (the forward
// training primitive desc as hint) or the step-wise backward, inputs X, W, R, B, Y, Y_h, [Y_c],
// workspace, dY, dY_h, [dY_c], [initial_h, [initial_c]], [token_ids] (missing output gradients
// are zeros), outputs dX, dW, dR, dB, d initial_h, [d initial_c]. The Grad op may overwrite
// the workspace (oneDNN's is invalid after its backward pass): it must be its only reader.
#include <fmt/format.h>

#include <oneapi/dnnl/dnnl.hpp>

#include <string>
#include <utility>
#include <vector>

#include "ops/gradient.h"
#include "ops/random.h"
#include "ops/registry.h"
#include "ops/rnn/rnn_config.h"

namespace graphrun {
namespace rnn {

// Each feature oneDNN's fused RNN lacks is a reason for the step-wise path; with none, the fused one.
PathChoice choose_recurrent_path(const RnnConfig& c) {
  std::string why;
  auto add = [&why](const std::string& part) { why += (why.empty() ? "" : ", ") + part; };
  if (c.has_ids) add("mask_zero");
  if (c.dropout > 0.f) add(fmt::format("dropout {}", c.dropout));
  if (c.recurrent_dropout > 0.f) add(fmt::format("recurrent_dropout {}", c.recurrent_dropout));
  return {why.empty() ? RecurrentPath::fused : RecurrentPath::stepwise, why};
}

namespace {

// One op of the family.
struct RecurrentSpec {
  const char* name;
  const char* grad_name;
  int gates;      // G
  bool has_cell;  // LSTM: a cell state (initial_c, Y_c)
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
     "only by RNNGrad). oneDNN vanilla_rnn. A bidirectional layer (of any of the three ops) whose time step, N x 2 x "
     "gates x H, is below 64K elements runs as two one-direction primitives side by side, one thread each, with the "
     "same result to the bit (the workspace then holds both primitives' workspaces).",
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

Cell cell_of(const RecurrentSpec& spec, const pb::Node& attrs) {
  if (spec.gates == 1) return Cell::rnn;
  if (spec.gates == 4) return Cell::lstm;
  return attrs.recurrent().reset_after() ? Cell::gru_reset_after : Cell::gru_reset_before;
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

// Shape rule.

void expect_dims(const InferContext& ctx, int i, const char* name, const Dims& expected, const char* what) {
  const Dims& got = ctx.in_dims(i);
  bool ok = got.size() == expected.size();
  for (size_t k = 0; ok && k < got.size(); ++k) ok = got[k] < 0 || expected[k] < 0 || got[k] == expected[k];
  if (!ok) ctx.fail("input {} ({}) has shape {}, expected {} = {}", i, name, dims_str(got), what, dims_str(expected));
}

// Checks the forward inputs (X, W, R, B, initial states) and returns the layer config.
RnnConfig check_forward_inputs(const RecurrentSpec& spec, const InferContext& ctx) {
  int num_inputs = ctx.num_inputs();
  const pb::Node& attrs = ctx.attrs();
  if (attrs.recurrent().hidden_size() <= 0)
    ctx.fail("recurrent.hidden_size must be positive, got {}", attrs.recurrent().hidden_size());
  const bool has_ids = has_token_ids(ctx.inputs);
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
  const char* b_what = c.cell == Cell::gru_reset_after ? (bi ? "[2, 2*3*H]" : "[2*3*H]") : (bi ? "[2, G*H]" : "[G*H]");
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
// X, W, R, B are required; the initial states and token_ids are optional.
std::vector<std::string> optional_input_names(bool has_cell) {
  if (has_cell) return {"initial_h", "initial_c", "token_ids"};
  return {"initial_h", "token_ids"};
}

std::vector<std::string> output_names(bool has_cell) {
  if (has_cell) return {"Y", "Y_h", "Y_c", "workspace"};
  return {"Y", "Y_h", "workspace"};
}

void infer_recurrent(const RecurrentSpec& spec, InferContext& ctx) {
  const RnnConfig c = check_forward_inputs(spec, ctx);
  const TensorType state{DType::f32, {c.N, c.DH()}};
  ctx.outputs[0] = c.return_sequences ? TensorType{DType::f32, {c.N, c.T, c.DH()}} : state;
  ctx.outputs[1] = state;
  if (spec.has_cell) ctx.outputs[2] = state;
  int64_t ws = -1;
  if (c.concrete() && choose_recurrent_path(c).path == RecurrentPath::stepwise) {
    ws = step_layout(c).total;
  } else if (c.concrete()) {
    try {
      ws = fused_workspace_floats(c);
    } catch (const dnnl::error& e) {
      ctx.fail("oneDNN rejected the layer: {}", e.what());
    }
  }
  ctx.outputs.back() = {DType::f32, {ws}};
}

// Everything up to dY_h / dY_c is required; the initial states and token_ids are optional.
std::vector<std::string> grad_input_names(bool has_cell) {
  if (has_cell) return {"X", "W", "R", "B", "Y", "Y_h", "Y_c", "workspace", "dY", "dY_h", "dY_c"};
  return {"X", "W", "R", "B", "Y", "Y_h", "workspace", "dY", "dY_h"};
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
  const RnnConfig c = check_forward_inputs(spec, forward);
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

// The config of a node with these inputs (of the op or its Grad: the token ids come last in both),
// so its kernels, the shape rule and the note take the same path.
RnnConfig node_config(const RecurrentSpec& spec, const pb::Node& attrs, const std::vector<TensorType>& inputs) {
  RnnConfig c = config_of(spec, attrs, inputs.empty() ? Dims{} : inputs[kX].dims);
  c.has_ids = has_token_ids(inputs);
  return c;
}

// Whether a fused bidirectional layer runs its directions side by side: at this batch size
// when it is known, else the batch sizes that do (the rule depends on N).
std::string side_by_side_note(const RnnConfig& c) {
  if (c.D != 2) return "";
  if (c.N >= 0) return directions_side_by_side(c) ? ", directions side by side" : "";
  const int64_t largest = largest_side_by_side_batch(c);
  return largest >= 1 ? fmt::format(", directions side by side up to batch {}", largest) : "";
}

// The note `graphrun check` prints: which path a node takes and why.
std::string recurrent_note(const RecurrentSpec& spec, const Node& node, const std::vector<TensorType>& inputs) {
  const RnnConfig c = node_config(spec, node.def, inputs);
  const PathChoice choice = choose_recurrent_path(c);
  if (choice.path == RecurrentPath::fused)
    return std::string("fused oneDNN ") + (c.cell == Cell::gru_reset_after ? "GRU (linear-before-reset)" : spec.name) +
           side_by_side_note(c);
  return "step-wise: " + choice.reason + " (oneDNN's fused RNN has neither masking nor dropout)";
}

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
}  // namespace rnn

void register_rnn_ops(OpRegistry& registry) {
  using namespace rnn;
  for (const RecurrentSpec& spec : kRecurrentOps) {
    registry.op(spec.name)
        .inputs({"X", "W", "R", "B"})
        .optional_inputs(optional_input_names(spec.has_cell))
        .outputs(output_names(spec.has_cell))
        .attrs({"recurrent", "seed"})
        .shape([&spec](InferContext& ctx) { infer_recurrent(spec, ctx); })
        .kernel([&spec](const KernelInit& init) -> std::unique_ptr<Kernel> {
          const RnnConfig c = node_config(spec, init.attrs(), init.inputs);
          const int floats = static_cast<int>(init.inputs.size()) - (c.has_ids ? 1 : 0);
          if (choose_recurrent_path(c).path == RecurrentPath::stepwise)
            return make_stepwise_kernel(c, random_node_seed(init.node.def), floats);
          return make_fused_kernel(c, floats);
        })
        .gradient([&spec](GradientBuilder& g) { recurrent_gradient(spec, g); })
        .note([&spec](const Node& node, const std::vector<TensorType>& inputs) {
          return recurrent_note(spec, node, inputs);
        })
        .doc(std::string(spec.doc) + kStepwiseDoc);

    registry.grad_op(spec.grad_name)
        .inputs(grad_input_names(spec.has_cell))
        .optional_inputs(optional_input_names(spec.has_cell))
        .outputs(grad_output_names(spec.has_cell))
        .attrs({"recurrent", "seed"})
        .shape([&spec](InferContext& ctx) { infer_recurrent_grad(spec, ctx); })
        .kernel([&spec](const KernelInit& init) -> std::unique_ptr<Kernel> {
          const RnnConfig c = node_config(spec, init.attrs(), init.inputs);
          const int inputs = static_cast<int>(init.inputs.size()) - (c.has_ids ? 1 : 0);
          if (choose_recurrent_path(c).path == RecurrentPath::stepwise)
            return make_stepwise_grad_kernel(c, inputs, init.output_read(kX));
          return make_fused_grad_kernel(c, inputs);
        })
        .note([&spec](const Node& node, const std::vector<TensorType>& inputs) {  // the forward node's path
          return recurrent_note(spec, node, inputs);
        })
        .doc(std::string(spec.grad_doc) +
             " With token_ids or (recurrent) dropout: backpropagation through time over the step-wise "
             "workspace (dropout masks saved there), masked steps passing gradients through.");
  }
}

}  // namespace graphrun
