// Recurrent layers (RNN, LSTM, GRU both reset_after variants): shape rules, the
// oneDNN kernels against the step-loop reference in every direction, a
// hand-checked step, Keras parameter counts and numeric gradient checks.
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <utility>

#include "graph/op_schema.h"
#include "ops/registry.h"
#include "ops/rnn/rnn_config.h"
#include "tests/ops/op_test_util.h"

namespace graphrun::testing {
namespace {

// One op variant: the op, its gate count and (GRU) reset_after.
struct Variant {
  const char* op;
  int64_t gates;
  bool reset_after;
  bool has_cell;
  std::string name() const { return std::string(op) + (reset_after ? "(reset_after)" : ""); }
};
const Variant kVariants[] = {
    {"LSTM", 4, false, true},
    {"GRU", 3, false, false},
    {"GRU", 3, true, false},
    {"RNN", 1, false, false},
};
const char* kDirections[] = {"FORWARD", "REVERSE", "BIDIRECTIONAL"};

pb::Node rnn_attrs(int64_t hidden, const std::string& direction = "FORWARD", bool return_sequences = true,
                   bool reset_after = false) {
  return make_attrs("recurrent { hidden_size: " + std::to_string(hidden) + " direction: " + direction +
                    " return_sequences: " + (return_sequences ? "true" : "false") +
                    " reset_after: " + (reset_after ? "true" : "false") + " }");
}

// Keras-layout parameter shapes for X [N, T, C] and hidden size H.
struct Shapes {
  Dims w, r, b;
};
Shapes param_shapes(const Variant& v, int64_t C, int64_t H, bool bidirectional) {
  const int64_t GH = v.gates * H, bias = v.reset_after ? 2 * GH : GH;
  if (bidirectional) return {{2, C, GH}, {2, H, GH}, {2, bias}};
  return {{C, GH}, {H, GH}, {bias}};
}

// X, W, R, B and optionally the initial states, random in [-1, 1] (weights smaller).
std::vector<Tensor> make_inputs(const Variant& v, int64_t N, int64_t T, int64_t C, int64_t H, bool bidirectional,
                                bool initial_states, std::mt19937& rng) {
  const Shapes s = param_shapes(v, C, H, bidirectional);
  std::vector<Tensor> in = {random_floats({N, T, C}, rng), random_floats(s.w, rng, -0.7f, 0.7f),
                            random_floats(s.r, rng, -0.7f, 0.7f), random_floats(s.b, rng, -0.5f, 0.5f)};
  const int64_t DH = (bidirectional ? 2 : 1) * H;
  if (initial_states) {
    in.push_back(random_floats({N, DH}, rng));
    if (v.has_cell) in.push_back(random_floats({N, DH}, rng));
  }
  return in;
}

// Kernel vs reference on every output but the workspace (oneDNN's private bytes),
// whose shape must still agree.
void expect_matches_reference_states(const std::string& op, const pb::Node& attrs, const std::vector<Tensor>& inputs,
                                     float tolerance) {
  const std::vector<Tensor> actual = run_kernel(op, attrs, inputs);
  const std::vector<Tensor> expected = run_reference(op, attrs, inputs);
  ASSERT_EQ(actual.size(), expected.size());
  ASSERT_EQ(actual.back().dims(), expected.back().dims()) << "workspace";
  for (size_t k = 0; k + 1 < actual.size(); ++k)
    expect_tensors_near(actual[k], expected[k], tolerance, op + " output " + std::to_string(k));
}

TEST(Recurrent, ShapeRule) {
  // LSTM(100) on 50-d input, unknown batch: the workspace size is unknown too.
  std::vector<TensorType> out = infer_op("LSTM", rnn_attrs(100, "FORWARD", true),
                                         {f32({-1, 7, 50}), f32({50, 400}), f32({100, 400}), f32({400})});
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0], f32({-1, 7, 100}));
  EXPECT_EQ(out[1], f32({-1, 100}));
  EXPECT_EQ(out[2], f32({-1, 100}));
  EXPECT_EQ(out[3], f32({-1}));
  // Concrete: the workspace holds at least the gates of every step.
  out =
      infer_op("LSTM", rnn_attrs(100, "FORWARD", true), {f32({8, 7, 50}), f32({50, 400}), f32({100, 400}), f32({400})});
  ASSERT_EQ(out[3].rank(), 1);
  EXPECT_GE(out[3].dims[0], 8 * 7 * 400);
  // Without return_sequences Y is the last state; the workspace also keeps the sequence.
  const std::vector<TensorType> last = infer_op("LSTM", rnn_attrs(100, "FORWARD", false),
                                                {f32({8, 7, 50}), f32({50, 400}), f32({100, 400}), f32({400})});
  EXPECT_EQ(last[0], f32({8, 100}));
  EXPECT_EQ(last[3].dims[0], out[3].dims[0] + 8 * 7 * 100);
  // Bidirectional GRU with an initial state: features double.
  out = infer_op("GRU", rnn_attrs(4, "BIDIRECTIONAL", true),
                 {f32({-1, 5, 3}), f32({2, 3, 12}), f32({2, 4, 12}), f32({2, 12}), f32({-1, 8})});
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0], f32({-1, 5, 8}));
  EXPECT_EQ(out[1], f32({-1, 8}));
  // reset_after GRU takes Keras' [2, 3H] bias flattened; SimpleRNN has one gate.
  out = infer_op("GRU", rnn_attrs(4, "REVERSE", false, true), {f32({2, 5, 3}), f32({3, 12}), f32({4, 12}), f32({24})});
  EXPECT_EQ(out[0], f32({2, 4}));
  out = infer_op("RNN", rnn_attrs(4), {f32({2, 5, 3}), f32({3, 4}), f32({4, 4}), f32({4})});
  EXPECT_EQ(out[0], f32({2, 5, 4}));
}

TEST(Recurrent, ShapeRuleErrors) {
  std::string message =
      infer_error("LSTM", rnn_attrs(100), {f32({-1, 7, 50}), f32({50, 300}), f32({100, 400}), f32({400})});
  EXPECT_NE(message.find("input 1 (W) has shape [50,300], expected [C, G*H] = [50,400]"), std::string::npos) << message;
  message = infer_error("GRU", rnn_attrs(4), {f32({2, 5, 3}), f32({3, 12}), f32({4, 12}), f32({24})});
  EXPECT_NE(message.find("input 3 (B) has shape [24], expected [G*H] = [12]"), std::string::npos) << message;
  message =
      infer_error("GRU", rnn_attrs(4, "FORWARD", true, true), {f32({2, 5, 3}), f32({3, 12}), f32({4, 12}), f32({12})});
  EXPECT_NE(message.find("expected [2*3*H] = [24]"), std::string::npos) << message;
  message = infer_error("RNN", rnn_attrs(4, "BIDIRECTIONAL"), {f32({2, 5, 3}), f32({3, 4}), f32({4, 4}), f32({4})});
  EXPECT_NE(message.find("input 1 (W) has shape [3,4], expected [2, C, G*H] = [2,3,4]"), std::string::npos) << message;
  message = infer_error("LSTM", rnn_attrs(2), {f32({2, 5, 3}), f32({3, 8}), f32({2, 8}), f32({8}), f32({3, 2})});
  EXPECT_NE(message.find("input 4 (initial_h) has shape [3,2], expected [N, D*H] = [2,2]"), std::string::npos)
      << message;
  message = infer_error("RNN", rnn_attrs(0), {f32({2, 5, 3}), f32({3, 4}), f32({4, 4}), f32({4})});
  EXPECT_NE(message.find("hidden_size must be positive"), std::string::npos) << message;
  EXPECT_THROW(infer_op("RNN", rnn_attrs(4), {f32({2, 3}), f32({3, 4}), f32({4, 4}), f32({4})}), Error);
  EXPECT_THROW(infer_op("RNN", rnn_attrs(4), {f32({2, 0, 3}), f32({3, 4}), f32({4, 4}), f32({4})}), Error);
  EXPECT_THROW(infer_op("RNN", rnn_attrs(4), {{DType::i64, {2, 5, 3}}, f32({3, 4}), f32({4, 4}), f32({4})}), Error);
}

// W, R and B have Keras' shapes, so parameter counts match the notebooks.
TEST(Recurrent, KerasParameterCounts) {
  auto count = [](const Variant& v, int64_t C, int64_t H) {
    const Shapes s = param_shapes(v, C, H, false);
    const pb::Node attrs = rnn_attrs(H, "FORWARD", false, v.reset_after);
    EXPECT_NO_THROW(infer_op(v.op, attrs, {f32({-1, 40, C}), f32(s.w), f32(s.r), f32(s.b)}));
    return num_elements(s.w) + num_elements(s.r) + num_elements(s.b);
  };
  EXPECT_EQ(count(kVariants[0], 50, 100), 60400);
  EXPECT_EQ(count(kVariants[0], 50, 100) + 100 + 1, 60501);  // + Dense(1) head
  EXPECT_EQ(count(kVariants[1], 50, 100), 45300);            // Keras 2 GRU (reset_after=False)
  EXPECT_EQ(count(kVariants[2], 50, 100), 45600);            // tf.keras GRU (reset_after=True)
  EXPECT_EQ(count(kVariants[3], 50, 100), 15100);            // SimpleRNN
}

TEST(Recurrent, MatchesReference) {
  struct Case {
    int64_t N, T, C, H;
  };
  const Case cases[] = {{1, 1, 3, 2}, {2, 7, 5, 3}, {3, 4, 2, 6}, {1, 7, 4, 4}};
  std::mt19937 rng(21);
  for (const Variant& v : kVariants)
    for (const char* direction : kDirections)
      for (bool return_sequences : {true, false})
        for (bool initial_states : {false, true})
          for (const Case& c : cases) {
            SCOPED_TRACE(v.name() + " " + direction + (return_sequences ? " sequences" : " last") +
                         (initial_states ? " initial states" : "") + " N=" + std::to_string(c.N) +
                         " T=" + std::to_string(c.T) + " C=" + std::to_string(c.C) + " H=" + std::to_string(c.H));
            const bool bi = std::string(direction) == "BIDIRECTIONAL";
            expect_matches_reference_states(v.op, rnn_attrs(c.H, direction, return_sequences, v.reset_after),
                                            make_inputs(v, c.N, c.T, c.C, c.H, bi, initial_states, rng), 2e-5f);
          }
}

// One step from zero states with zero weights: only the biases act.
TEST(Recurrent, HandCheckedStep) {
  const float x[] = {0.3f, -0.8f};
  const Tensor X = Tensor::from_floats({1, 1, 2}, x);
  auto sig = [](double a) { return 1.0 / (1.0 + std::exp(-a)); };
  // LSTM, H=1, gates i, f, c, o: c = sigma(b_i) tanh(b_c), h = sigma(b_o) tanh(c).
  {
    const float b[] = {0.5f, 2.f, -0.7f, 1.2f};
    const double c = sig(0.5) * std::tanh(-0.7), h = sig(1.2) * std::tanh(c);
    const std::vector<Tensor> in = {X, Tensor(DType::f32, {2, 4}), Tensor(DType::f32, {1, 4}),
                                    Tensor::from_floats({4}, b)};
    for (const auto& run : {run_kernel, run_reference}) {
      const std::vector<Tensor> out = run("LSTM", rnn_attrs(1), in, {});
      expect_tensors_near(out[0], Tensor::from_floats({1, 1, 1}, std::vector<float>{float(h)}), 1e-6f, "Y");
      expect_tensors_near(out[2], Tensor::from_floats({1, 1}, std::vector<float>{float(c)}), 1e-6f, "Y_c");
    }
  }
  // GRU, H=1, from h0 = 0.6: h = z h0 + (1 - z) tanh(b_h) with z = sigma(b_z) (classic: r h0 meets R = 0).
  {
    const float b[] = {0.4f, -1.f, 0.9f};
    const double z = sig(0.4), h = z * 0.6 + (1 - z) * std::tanh(0.9);
    const std::vector<Tensor> in = {X, Tensor(DType::f32, {2, 3}), Tensor(DType::f32, {1, 3}),
                                    Tensor::from_floats({3}, b), Tensor::from_floats({1, 1}, std::vector<float>{0.6f})};
    for (const auto& run : {run_kernel, run_reference})
      expect_tensors_near(run("GRU", rnn_attrs(1, "FORWARD", false), in, {})[1],
                          Tensor::from_floats({1, 1}, std::vector<float>{float(h)}), 1e-6f, "GRU Y_h");
  }
  // reset_after GRU: n = tanh(b_h + r * rb_h), z from b_z + rb_z.
  {
    const float b[] = {0.4f, -1.f, 0.9f, 0.1f, 0.3f, -0.5f};
    const double z = sig(0.5), r = sig(-0.7), h = z * 0.6 + (1 - z) * std::tanh(0.9 + r * -0.5);
    const std::vector<Tensor> in = {X, Tensor(DType::f32, {2, 3}), Tensor(DType::f32, {1, 3}),
                                    Tensor::from_floats({6}, b), Tensor::from_floats({1, 1}, std::vector<float>{0.6f})};
    for (const auto& run : {run_kernel, run_reference})
      expect_tensors_near(run("GRU", rnn_attrs(1, "FORWARD", false, true), in, {})[1],
                          Tensor::from_floats({1, 1}, std::vector<float>{float(h)}), 1e-6f, "GRU reset_after Y_h");
  }
  // SimpleRNN: h = tanh(b).
  {
    const std::vector<Tensor> in = {X, Tensor(DType::f32, {2, 1}), Tensor(DType::f32, {1, 1}),
                                    Tensor::from_floats({1}, std::vector<float>{0.8f})};
    for (const auto& run : {run_kernel, run_reference})
      expect_tensors_near(run("RNN", rnn_attrs(1), in, {})[1],
                          Tensor::from_floats({1, 1}, std::vector<float>{float(std::tanh(0.8))}), 1e-6f, "RNN Y_h");
  }
}

// REVERSE keeps the original time order: a reverse run equals a forward run on the
// time-flipped input, flipped back.
TEST(Recurrent, ReverseIsForwardOnFlippedInput) {
  std::mt19937 rng(5);
  const int64_t N = 2, T = 5, C = 3, H = 2;
  std::vector<Tensor> in = make_inputs(kVariants[0], N, T, C, H, false, false, rng);
  Tensor flipped(DType::f32, {N, T, C});
  for (int64_t n = 0; n < N; ++n)
    for (int64_t t = 0; t < T; ++t)
      for (int64_t c = 0; c < C; ++c)
        flipped.data<float>()[(n * T + t) * C + c] = in[0].data<float>()[(n * T + (T - 1 - t)) * C + c];
  const Tensor reverse = run_kernel("LSTM", rnn_attrs(H, "REVERSE"), in)[0];
  std::vector<Tensor> flipped_in = in;
  flipped_in[0] = flipped;
  const Tensor forward = run_kernel("LSTM", rnn_attrs(H, "FORWARD"), flipped_in)[0];
  for (int64_t n = 0; n < N; ++n)
    for (int64_t t = 0; t < T; ++t)
      for (int64_t h = 0; h < H; ++h)
        EXPECT_NEAR(reverse.data<float>()[(n * T + t) * H + h], forward.data<float>()[(n * T + (T - 1 - t)) * H + h],
                    1e-6f);
}

TEST(RecurrentGrad, ShapeRule) {
  const std::vector<TensorType> out =
      infer_op("LSTMGrad", rnn_attrs(2),
               {f32({-1, 3, 3}), f32({3, 8}), f32({2, 8}), f32({8}), f32({-1, 3, 2}), f32({-1, 2}), f32({-1, 2}),
                f32({-1}), f32({-1, 3, 2}), f32({-1, 2}), f32({-1, 2})});
  ASSERT_EQ(out.size(), 6u);
  EXPECT_EQ(out[0], f32({-1, 3, 3}));
  EXPECT_EQ(out[1], f32({3, 8}));
  EXPECT_EQ(out[3], f32({8}));
  EXPECT_EQ(out[5], f32({-1, 2}));
  EXPECT_THROW(infer_op("GRUGrad", rnn_attrs(2),
                        {f32({2, 3, 3}), f32({3, 6}), f32({2, 6}), f32({6}), f32({2, 3, 2}), f32({2, 2}), f32({9}),
                         f32({2, 2}), f32({2, 2})}),
               Error);  // dY is [N, H] but return_sequences wants [N, T, H]
}

// Central differences through autodiff: every op, direction and return_sequences,
// with initial states (their gradients are checked too), the workspace unweighted.
void recurrent_gradients_match_numeric() {
  std::mt19937 rng(31);
  for (const Variant& v : kVariants)
    for (const char* direction : kDirections)
      for (bool return_sequences : {true, false}) {
        SCOPED_TRACE(v.name() + " " + direction + (return_sequences ? " sequences" : " last"));
        const bool bi = std::string(direction) == "BIDIRECTIONAL";
        const size_t workspace = v.has_cell ? 3 : 2;
        expect_gradients_match_numeric(v.op, rnn_attrs(2, direction, return_sequences, v.reset_after),
                                       make_inputs(v, 2, 3, 3, 2, bi, true, rng), 2e-3f, 1e-2, {}, {workspace});
      }
}

// Only Y carries loss (Y_h, Y_c unused: the rule feeds zeros), and no initial states.
void recurrent_gradients_with_unused_outputs() {
  std::mt19937 rng(32);
  for (const Variant& v : kVariants)
    for (const char* direction : kDirections) {
      SCOPED_TRACE(v.name() + " " + direction);
      const bool bi = std::string(direction) == "BIDIRECTIONAL";
      std::vector<size_t> ignored = {1, 2};
      if (v.has_cell) ignored.push_back(3);
      expect_gradients_match_numeric(v.op, rnn_attrs(2, direction, true, v.reset_after),
                                     make_inputs(v, 2, 3, 3, 2, bi, false, rng), 2e-3f, 1e-2, {}, ignored);
    }
}

// ---------------------------------------------------------------------------
// A bidirectional fused layer runs as oneDNN's bidirectional primitive, or, when a time step
// is too small for a team, as two one-direction primitives side by side. Either way it is
// two one-direction layers to the bit: Y, Y_h, Y_c are theirs side by side (forward first)
// and its gradients theirs (dX their sum). So the rule can move a layer between the two
// without changing a result.

// Direction d's half of a tensor whose last dim is 2H ([N, 2H], [N, T, 2H]).
Tensor direction_columns(const Tensor& t, int64_t d) {
  Dims dims = t.dims();
  const int64_t width = dims.back(), H = width / 2, rows = t.num_elements() / width;
  dims.back() = H;
  Tensor out(DType::f32, dims);
  for (int64_t i = 0; i < rows; ++i)
    std::memcpy(out.data<float>() + i * H, t.data<float>() + i * width + d * H, sizeof(float) * static_cast<size_t>(H));
  return out;
}

// Direction d's slice of a bidirectional weight [2, ...].
Tensor direction_weights(const Tensor& t, int64_t d) {
  const Dims dims(t.dims().begin() + 1, t.dims().end());
  Tensor out(DType::f32, dims);
  const int64_t n = out.num_elements();
  std::memcpy(out.data<float>(), t.data<float>() + d * n, sizeof(float) * static_cast<size_t>(n));
  return out;
}

void expect_bitwise_equal(const Tensor& actual, const Tensor& expected, const std::string& what) {
  ASSERT_EQ(actual.dims(), expected.dims()) << what;
  EXPECT_EQ(std::memcmp(actual.raw_data(), expected.raw_data(), actual.num_bytes()), 0) << what;
}

// Runs the bidirectional layer with `threads` OpenMP threads and each direction as its own
// layer on one thread (as the executor runs a layer below a team's size), forward and backward.
void expect_bidirectional_is_two_directions(const Variant& v, int64_t N, bool return_sequences, int threads,
                                            std::mt19937& rng) {
  const int64_t T = 3, C = 4, H = 64;
  const std::string grad_op = std::string(v.op) + "Grad";
  const size_t states = v.has_cell ? 2 : 1;  // Y_h [, Y_c]: also the initial states' count
  const std::vector<Tensor> in = make_inputs(v, N, T, C, H, true, true, rng);
  const pb::Node bi_attrs = rnn_attrs(H, "BIDIRECTIONAL", return_sequences, v.reset_after);
  const int saved_threads = omp_get_max_threads();
  omp_set_num_threads(threads);
  const std::vector<Tensor> bi = run_kernel(v.op, bi_attrs, in);
  // Gradients of Y and the final states, random.
  std::vector<Tensor> diffs;
  for (size_t k = 0; k <= states; ++k) diffs.push_back(random_floats(bi[k].dims(), rng));
  auto grad_inputs = [&](const std::vector<Tensor>& x_w_r_b, const std::vector<Tensor>& forward,
                         const std::vector<Tensor>& output_diffs, const std::vector<Tensor>& initial) {
    std::vector<Tensor> g = x_w_r_b;
    g.insert(g.end(), forward.begin(), forward.end());  // Y, Y_h [, Y_c], workspace
    g.insert(g.end(), output_diffs.begin(), output_diffs.end());
    g.insert(g.end(), initial.begin(), initial.end());
    return g;
  };
  const std::vector<Tensor> bi_initial(in.begin() + 4, in.end());
  const std::vector<Tensor> bi_grads =
      run_kernel(grad_op, bi_attrs, grad_inputs({in.begin(), in.begin() + 4}, bi, diffs, bi_initial));

  omp_set_num_threads(1);
  Tensor dx_sum(DType::f32, in[0].dims());
  for (int64_t d = 0; d < 2; ++d) {
    SCOPED_TRACE(d == 0 ? "forward direction" : "reverse direction");
    const pb::Node attrs = rnn_attrs(H, d == 0 ? "FORWARD" : "REVERSE", return_sequences, v.reset_after);
    std::vector<Tensor> x_w_r_b = {in[0], direction_weights(in[1], d), direction_weights(in[2], d),
                                   direction_weights(in[3], d)};
    std::vector<Tensor> initial, output_diffs;
    for (size_t k = 4; k < in.size(); ++k) initial.push_back(direction_columns(in[k], d));
    for (const Tensor& diff : diffs) output_diffs.push_back(direction_columns(diff, d));
    std::vector<Tensor> one_in = x_w_r_b;
    one_in.insert(one_in.end(), initial.begin(), initial.end());
    const std::vector<Tensor> one = run_kernel(v.op, attrs, one_in);
    for (size_t k = 0; k <= states; ++k) expect_bitwise_equal(direction_columns(bi[k], d), one[k], "output " + std::to_string(k));
    const std::vector<Tensor> grads = run_kernel(grad_op, attrs, grad_inputs(x_w_r_b, one, output_diffs, initial));
    for (size_t k = 1; k <= 3; ++k)
      expect_bitwise_equal(direction_weights(bi_grads[k], d), grads[k], "gradient " + std::to_string(k));
    for (size_t k = 4; k < grads.size(); ++k)
      expect_bitwise_equal(direction_columns(bi_grads[k], d), grads[k], "initial state gradient " + std::to_string(k));
    for (int64_t i = 0; i < dx_sum.num_elements(); ++i)
      dx_sum.data<float>()[i] = d == 0 ? grads[0].data<float>()[i] : dx_sum.data<float>()[i] + grads[0].data<float>()[i];
  }
  expect_bitwise_equal(bi_grads[0], dx_sum, "dX");
  omp_set_num_threads(saved_threads);
}

rnn::RnnConfig bidirectional_config(const Variant& v, int64_t N, int64_t H) {
  rnn::RnnConfig c;
  c.cell = v.has_cell ? rnn::Cell::lstm : v.gates == 1 ? rnn::Cell::rnn : rnn::Cell::gru_reset_before;
  c.N = N;
  c.T = 3;
  c.C = 4;
  c.H = H;
  c.D = 2;
  return c;
}

TEST(RecurrentFused, DirectionsSideBySideAreTwoOneDirectionLayers) {
  std::mt19937 rng(47);
  for (const Variant& v : kVariants)
    for (bool return_sequences : {true, false})
      for (int threads : {2, 1}) {  // at once, and one after the other
        SCOPED_TRACE(v.name() + (return_sequences ? " sequences" : " last") + " threads " + std::to_string(threads));
        ASSERT_TRUE(rnn::directions_side_by_side(bidirectional_config(v, 5, 64)));
        expect_bidirectional_is_two_directions(v, 5, return_sequences, threads, rng);
      }
}

TEST(RecurrentFused, BidirectionalPrimitiveIsTwoOneDirectionLayers) {
  std::mt19937 rng(48);
  for (const Variant& v : kVariants)
    for (bool return_sequences : {true, false}) {
      SCOPED_TRACE(v.name() + (return_sequences ? " sequences" : " last"));
      const int64_t N = 512;  // 512 x 2 x G x 64 >= 64K: one primitive
      ASSERT_FALSE(rnn::directions_side_by_side(bidirectional_config(v, N, 64)));
      expect_bidirectional_is_two_directions(v, N, return_sequences, 1, rng);
    }
}

// ---------------------------------------------------------------------------
// The step-wise path: masking (a trailing int64 token-id input, mask = id != 0) and
// dropout / recurrent_dropout in training, against the reference in every variant.

pb::Node dropout_attrs(int64_t hidden, const std::string& direction, bool return_sequences, bool reset_after,
                       float dropout, float recurrent_dropout) {
  pb::Node attrs = rnn_attrs(hidden, direction, return_sequences, reset_after);
  attrs.mutable_recurrent()->set_dropout(dropout);
  attrs.mutable_recurrent()->set_recurrent_dropout(recurrent_dropout);
  attrs.set_seed(17);
  return attrs;
}

RunContext training(uint64_t step_seed) { return RunContext{true, step_seed}; }

// Token ids [N, T]: row n has lengths[n] real (non-zero) ids, padded with zeros after
// them (post) or before them (pre).
Tensor token_ids(int64_t T, const std::vector<int64_t>& lengths, bool pre) {
  const auto N = static_cast<int64_t>(lengths.size());
  Tensor ids(DType::i64, {N, T});
  for (int64_t n = 0; n < N; ++n)
    for (int64_t t = 0; t < T; ++t) {
      const bool real = pre ? t >= T - lengths[static_cast<size_t>(n)] : t < lengths[static_cast<size_t>(n)];
      ids.data<int64_t>()[n * T + t] = real ? 1 + (n * 7 + t) % 5 : 0;
    }
  return ids;
}

// Kernel vs reference on Y, Y_h, [Y_c] under the given run context.
void expect_states_match(const std::string& op, const pb::Node& attrs, const std::vector<Tensor>& inputs,
                         const RunContext& run, float tolerance = 2e-5f) {
  const std::vector<Tensor> actual = run_kernel(op, attrs, inputs, run);
  const std::vector<Tensor> expected = run_reference(op, attrs, inputs, run);
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t k = 0; k + 1 < actual.size(); ++k)
    expect_tensors_near(actual[k], expected[k], tolerance, op + " output " + std::to_string(k));
}

TEST(RecurrentStepwise, MatchesReference) {
  const int64_t N = 3, T = 5, C = 4, H = 3;
  std::mt19937 rng(41);
  const std::vector<int64_t> lengths = {5, 2, 0};  // full, short and all-padding rows
  for (const Variant& v : kVariants)
    for (const char* direction : kDirections)
      for (bool return_sequences : {true, false})
        for (int mode = 0; mode < 5; ++mode) {
          // 0 post-padded mask, 1 pre-padded mask, 2 dropout, 3 recurrent_dropout, 4 all together
          const bool bi = std::string(direction) == "BIDIRECTIONAL";
          const float dropout = mode == 2 || mode == 4 ? 0.3f : 0.f;
          const float recurrent_dropout = mode == 3 || mode == 4 ? 0.4f : 0.f;
          SCOPED_TRACE(v.name() + " " + direction + (return_sequences ? " sequences" : " last") + " mode " +
                       std::to_string(mode));
          std::vector<Tensor> in = make_inputs(v, N, T, C, H, bi, mode % 2 == 1, rng);
          if (mode < 2 || mode == 4) in.push_back(token_ids(T, lengths, mode == 1));
          const pb::Node attrs =
              dropout_attrs(H, direction, return_sequences, v.reset_after, dropout, recurrent_dropout);
          expect_states_match(v.op, attrs, in, training(1234));
          expect_states_match(v.op, attrs, in, RunContext{});  // inference: no dropout
        }
}

// Forced onto the step-wise path by a mask of all ones (or by dropout outside
// training), the kernel equals the fused oneDNN path.
TEST(RecurrentStepwise, EqualsFusedPath) {
  const int64_t N = 2, T = 6, C = 3, H = 4;
  std::mt19937 rng(42);
  for (const Variant& v : kVariants)
    for (const char* direction : kDirections)
      for (bool return_sequences : {true, false})
        for (bool initial_states : {false, true}) {
          SCOPED_TRACE(v.name() + " " + direction + (return_sequences ? " sequences" : " last"));
          const bool bi = std::string(direction) == "BIDIRECTIONAL";
          const std::vector<Tensor> in = make_inputs(v, N, T, C, H, bi, initial_states, rng);
          const pb::Node attrs = rnn_attrs(H, direction, return_sequences, v.reset_after);
          const std::vector<Tensor> fused = run_kernel(v.op, attrs, in);
          std::vector<Tensor> masked_in = in;
          masked_in.push_back(token_ids(T, {T, T}, false));
          const std::vector<Tensor> masked = run_kernel(v.op, attrs, masked_in);
          const std::vector<Tensor> dropout_off =
              run_kernel(v.op, dropout_attrs(H, direction, return_sequences, v.reset_after, 0.5f, 0.5f), in);
          for (size_t k = 0; k + 1 < fused.size(); ++k) {
            expect_tensors_near(masked[k], fused[k], 1e-5f, "all-ones mask, output " + std::to_string(k));
            expect_tensors_near(dropout_off[k], fused[k], 1e-5f, "dropout at inference, output " + std::to_string(k));
          }
        }
}

// Large batches split the step-wise kernels' per-row loops over OpenMP threads; every
// element is computed as in a serial run, so outputs (the workspace included) and
// gradients are bit-identical with one thread and with two.
TEST(RecurrentStepwise, ParallelRowsEqualOneThread) {
  const int64_t N = 180, T = 4, C = 5, H = 96;  // N * H >= 16K: the parallel path
  std::mt19937 rng(43);
  std::vector<int64_t> lengths;
  for (int64_t n = 0; n < N; ++n) lengths.push_back(n % (T + 1));
  auto bitwise_equal = [](const std::vector<Tensor>& a, const std::vector<Tensor>& b, const std::string& what) {
    ASSERT_EQ(a.size(), b.size());
    for (size_t k = 0; k < a.size(); ++k) {
      ASSERT_EQ(a[k].num_bytes(), b[k].num_bytes());
      EXPECT_EQ(std::memcmp(a[k].raw_data(), b[k].raw_data(), a[k].num_bytes()), 0) << what << " output " << k;
    }
  };
  const int threads = omp_get_max_threads();
  for (const Variant& v : kVariants) {
    SCOPED_TRACE(v.name());
    std::vector<Tensor> in = make_inputs(v, N, T, C, H, /*bidirectional=*/true, false, rng);
    in.push_back(token_ids(T, lengths, /*pre=*/true));
    const pb::Node attrs = dropout_attrs(H, "BIDIRECTIONAL", true, v.reset_after, 0.2f, 0.3f);
    omp_set_num_threads(2);
    const std::vector<Tensor> two = run_kernel(v.op, attrs, in, training(99));
    omp_set_num_threads(1);
    const std::vector<Tensor> one = run_kernel(v.op, attrs, in, training(99));
    bitwise_equal(two, one, "forward");
    // The backward op: X, W, R, B, the forward outputs, their gradients, the token ids.
    std::vector<Tensor> grad_in(in.begin(), in.begin() + 4);
    grad_in.insert(grad_in.end(), one.begin(), one.end());
    for (size_t k = 0; k + 1 < one.size(); ++k) grad_in.push_back(random_floats(one[k].dims(), rng));
    grad_in.push_back(in.back());
    const std::string grad_op = std::string(v.op) + "Grad";
    const std::vector<Tensor> grad_one = run_kernel(grad_op, attrs, grad_in, training(99));
    omp_set_num_threads(2);
    const std::vector<Tensor> grad_two = run_kernel(grad_op, attrs, grad_in, training(99));
    bitwise_equal(grad_two, grad_one, "backward");
  }
  omp_set_num_threads(threads);
}

// When nothing reads dX (the input is a frozen embedding's rows), the backward op leaves
// it unwritten and skips its matmuls; dW, dR, dB and the initial states' gradients keep
// their bits.
TEST(RecurrentStepwise, UnreadInputGradientIsSkipped) {
  const int64_t N = 3, T = 5, C = 4, H = 3;
  std::mt19937 rng(45);
  for (const Variant& v : kVariants)
    for (float dropout : {0.f, 0.3f}) {
      SCOPED_TRACE(v.name() + " dropout " + std::to_string(dropout));
      std::vector<Tensor> in = make_inputs(v, N, T, C, H, /*bidirectional=*/true, /*initial_states=*/true, rng);
      in.push_back(token_ids(T, {5, 2, 0}, /*pre=*/false));
      const pb::Node attrs = dropout_attrs(H, "BIDIRECTIONAL", true, v.reset_after, dropout, 0.4f);
      const std::vector<Tensor> out = run_kernel(v.op, attrs, in, training(7));
      // The backward op: X, W, R, B, the forward outputs, their gradients, the initial states, the token ids.
      std::vector<Tensor> grad_in(in.begin(), in.begin() + 4);
      grad_in.insert(grad_in.end(), out.begin(), out.end());
      for (size_t k = 0; k + 1 < out.size(); ++k) grad_in.push_back(random_floats(out[k].dims(), rng));
      grad_in.insert(grad_in.end(), in.begin() + 4, in.end());
      const std::string grad_op = std::string(v.op) + "Grad";
      const std::vector<Tensor> all = run_kernel(grad_op, attrs, grad_in, training(7));
      std::vector<bool> read(all.size(), true);
      read[0] = false;
      const std::vector<Tensor> without_dx = run_kernel_reading(grad_op, attrs, grad_in, training(7), read);
      for (int64_t i = 0; i < without_dx[0].num_elements(); ++i)
        ASSERT_EQ(without_dx[0].data<float>()[i], 0.f) << "dX written at " << i;
      for (size_t k = 1; k < all.size(); ++k) {
        ASSERT_EQ(all[k].num_bytes(), without_dx[k].num_bytes());
        EXPECT_EQ(std::memcmp(all[k].raw_data(), without_dx[k].raw_data(), all[k].num_bytes()), 0) << "output " << k;
      }
    }
}

// Outside training recurrent dropout is the identity: a masked layer configured with it
// gives the very bits of the same layer without it (the kernel then multiplies h by R for
// all gates at once instead of gate by gate), at batch 1 and at a parallel batch.
TEST(RecurrentStepwise, RecurrentDropoutIsTheIdentityOutsideTraining) {
  const int64_t T = 6, C = 7, H = 100;
  std::mt19937 rng(44);
  for (int64_t N : {1, 256})
    for (const Variant& v : kVariants) {
      SCOPED_TRACE(v.name() + " batch " + std::to_string(N));
      std::vector<Tensor> in = make_inputs(v, N, T, C, H, /*bidirectional=*/true, false, rng);
      std::vector<int64_t> lengths;
      for (int64_t n = 0; n < N; ++n) lengths.push_back(1 + n % T);
      in.push_back(token_ids(T, lengths, /*pre=*/false));
      const std::vector<Tensor> plain =
          run_kernel(v.op, dropout_attrs(H, "BIDIRECTIONAL", true, v.reset_after, 0.f, 0.f), in);
      const std::vector<Tensor> with_dropout =
          run_kernel(v.op, dropout_attrs(H, "BIDIRECTIONAL", true, v.reset_after, 0.f, 0.5f), in);
      for (size_t k = 0; k + 1 < plain.size(); ++k) {  // the workspace's layout differs
        ASSERT_EQ(plain[k].num_bytes(), with_dropout[k].num_bytes());
        EXPECT_EQ(std::memcmp(plain[k].raw_data(), with_dropout[k].raw_data(), plain[k].num_bytes()), 0)
            << "output " << k;
      }
    }
}

// Keras mask_zero: a pre-padded masked run equals the unpadded run in both directions
// (on the real steps, and the final states); post-padding likewise.
TEST(RecurrentStepwise, PaddedMaskedRunEqualsUnpadded) {
  const int64_t N = 2, T = 4, P = 3, C = 3, H = 2;
  std::mt19937 rng(43);
  for (const Variant& v : kVariants)
    for (const char* direction : kDirections)
      for (bool pre : {true, false}) {
        SCOPED_TRACE(v.name() + " " + direction + (pre ? " pre" : " post"));
        const bool bi = std::string(direction) == "BIDIRECTIONAL";
        const std::vector<Tensor> in = make_inputs(v, N, T, C, H, bi, true, rng);
        const int64_t DH = (bi ? 2 : 1) * H;
        // Padding steps hold junk inputs: the mask must hide them.
        Tensor padded = random_floats({N, T + P, C}, rng, -3.f, 3.f);
        const int64_t offset = pre ? P : 0;
        for (int64_t n = 0; n < N; ++n)
          for (int64_t t = 0; t < T; ++t)
            for (int64_t c = 0; c < C; ++c)
              padded.data<float>()[(n * (T + P) + t + offset) * C + c] = in[0].data<float>()[(n * T + t) * C + c];
        std::vector<Tensor> padded_in = in;
        padded_in[0] = padded;
        padded_in.push_back(token_ids(T + P, {T, T}, pre));
        const pb::Node attrs = rnn_attrs(H, direction, true, v.reset_after);
        const std::vector<Tensor> plain = run_kernel(v.op, attrs, in);
        const std::vector<Tensor> masked = run_kernel(v.op, attrs, padded_in);
        for (int64_t n = 0; n < N; ++n)
          for (int64_t t = 0; t < T; ++t)
            for (int64_t j = 0; j < DH; ++j)
              EXPECT_NEAR(masked[0].data<float>()[(n * (T + P) + t + offset) * DH + j],
                          plain[0].data<float>()[(n * T + t) * DH + j], 1e-5f)
                  << "Y at n=" << n << " t=" << t << " j=" << j;
        for (size_t k = 1; k + 1 < plain.size(); ++k)
          expect_tensors_near(masked[k], plain[k], 1e-5f, "final state " + std::to_string(k));
        // Forward-direction padding before the first real step outputs zeros.
        if (pre && std::string(direction) == "FORWARD") {
          for (int64_t n = 0; n < N; ++n)
            for (int64_t i = 0; i < P * DH; ++i) {
              EXPECT_EQ(masked[0].data<float>()[n * (T + P) * DH + i], 0.f);
            }
        }
      }
}

// Dropout masks are a pure function of (step_seed, node seed): the same seed gives the
// same output, another step seed another output, and the input mask acts per sequence.
TEST(RecurrentStepwise, DropoutDependsOnStepSeed) {
  std::mt19937 rng(44);
  const std::vector<Tensor> in = make_inputs(kVariants[0], 2, 4, 8, 8, false, false, rng);
  const pb::Node attrs = dropout_attrs(8, "FORWARD", true, false, 0.5f, 0.5f);
  const Tensor a = run_kernel("LSTM", attrs, in, training(5))[0];
  const Tensor again = run_kernel("LSTM", attrs, in, training(5))[0];
  const Tensor other = run_kernel("LSTM", attrs, in, training(6))[0];
  const Tensor inference = run_kernel("LSTM", attrs, in)[0];
  expect_tensors_near(again, a, 0.f, "same step seed");
  float diff = 0.f, diff_inference = 0.f;
  for (int64_t i = 0; i < a.num_elements(); ++i) {
    diff = std::max(diff, std::fabs(a.data<float>()[i] - other.data<float>()[i]));
    diff_inference = std::max(diff_inference, std::fabs(a.data<float>()[i] - inference.data<float>()[i]));
  }
  EXPECT_GT(diff, 1e-3f);
  EXPECT_GT(diff_inference, 1e-3f);
}

TEST(RecurrentStepwise, ShapeRule) {
  const std::vector<TensorType> lstm = {f32({8, 7, 5}), f32({5, 8}), f32({2, 8}), f32({8})};
  std::vector<TensorType> in = lstm;
  in.push_back({DType::i64, {8, 7}});
  std::vector<TensorType> out = infer_op("LSTM", rnn_attrs(2), in);
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0], f32({8, 7, 2}));
  // Workspace: step mask [N, T], gates [N, T, 4H], h, c and tanh(c) [N, T, H].
  EXPECT_EQ(out[3], f32({8 * 7 + 8 * 7 * 8 + 3 * 8 * 7 * 2}));
  // Initial states and ids together; the ids' shape must be X's [N, T].
  in = lstm;
  in.push_back(f32({8, 2}));
  in.push_back(f32({8, 2}));
  in.push_back({DType::i64, {8, 6}});
  std::string message = infer_error("LSTM", rnn_attrs(2), in);
  EXPECT_NE(message.find("node 'node'"), std::string::npos) << message;
  EXPECT_NE(message.find("input 6 (token ids) has shape [8,6], expected X's [N, T] = [8,7]"), std::string::npos)
      << message;
  message = infer_error("LSTM", dropout_attrs(2, "FORWARD", true, false, 1.f, 0.f), lstm);
  EXPECT_NE(message.find("recurrent.dropout must be in [0, 1), got 1"), std::string::npos) << message;
  message = infer_error("GRU", dropout_attrs(2, "FORWARD", true, false, 0.f, -0.5f),
                        {f32({8, 7, 5}), f32({5, 6}), f32({2, 6}), f32({6})});
  EXPECT_NE(message.find("recurrent.recurrent_dropout must be in [0, 1)"), std::string::npos) << message;
  // Dropout alone (no mask) also takes the step-wise path: its workspace holds the masks and X * dm.
  out = infer_op("RNN", dropout_attrs(2, "BIDIRECTIONAL", false, false, 0.1f, 0.2f),
                 {f32({3, 4, 5}), f32({2, 5, 2}), f32({2, 2, 2}), f32({2, 2})});
  EXPECT_EQ(out[0], f32({3, 4}));
  EXPECT_EQ(out[2], f32({2 * 3 * 5 + 2 * 3 * 2 + 2 * 3 * 4 * 5 + 3 * 4 + 2 * 3 * 4 * 2 * 2}));
}

// The one path rule, for every cell: fused unless a feature oneDNN's fused RNN lacks
// (token-id masking, dropout, recurrent dropout) is asked for; the reason names each.
TEST(RecurrentStepwise, PathChoiceAndReason) {
  for (const rnn::Cell cell :
       {rnn::Cell::rnn, rnn::Cell::lstm, rnn::Cell::gru_reset_before, rnn::Cell::gru_reset_after}) {
    SCOPED_TRACE(static_cast<int>(cell));
    auto choose = [cell](bool has_ids, float dropout, float recurrent_dropout) {
      rnn::RnnConfig c;
      c.cell = cell;
      c.has_ids = has_ids;
      c.dropout = dropout;
      c.recurrent_dropout = recurrent_dropout;
      return rnn::choose_recurrent_path(c);
    };
    rnn::PathChoice choice = choose(false, 0.f, 0.f);
    EXPECT_EQ(choice.path, rnn::RecurrentPath::fused);
    EXPECT_EQ(choice.reason, "");
    choice = choose(true, 0.f, 0.f);
    EXPECT_EQ(choice.path, rnn::RecurrentPath::stepwise);
    EXPECT_EQ(choice.reason, "mask_zero");
    choice = choose(false, 0.25f, 0.f);
    EXPECT_EQ(choice.path, rnn::RecurrentPath::stepwise);
    EXPECT_EQ(choice.reason, "dropout 0.25");
    choice = choose(false, 0.f, 0.1f);
    EXPECT_EQ(choice.path, rnn::RecurrentPath::stepwise);
    EXPECT_EQ(choice.reason, "recurrent_dropout 0.1");
    choice = choose(true, 0.25f, 0.1f);
    EXPECT_EQ(choice.path, rnn::RecurrentPath::stepwise);
    EXPECT_EQ(choice.reason, "mask_zero, dropout 0.25, recurrent_dropout 0.1");
  }
}

TEST(RecurrentStepwise, Note) {
  auto note = [](const std::string& op, const pb::Node& attrs, const std::vector<TensorType>& inputs) {
    const OpSchema& schema = builtin_ops().get(op).schema;
    Node node;
    node.def = attrs;
    node.def.set_name("rnn");
    node.def.set_op(op);
    return schema.note(node, inputs);
  };
  const std::vector<TensorType> lstm = {f32({8, 7, 5}), f32({5, 8}), f32({2, 8}), f32({8})};
  EXPECT_EQ(note("LSTM", rnn_attrs(2), lstm), "fused oneDNN LSTM");
  EXPECT_EQ(note("GRU", rnn_attrs(2, "FORWARD", true, true), {}), "fused oneDNN GRU (linear-before-reset)");
  // Bidirectional: whether the directions run side by side depends on the batch.
  const std::vector<TensorType> bi = {f32({-1, 7, 5}), f32({2, 5, 400}), f32({2, 100, 400}), f32({2, 400})};
  EXPECT_EQ(note("LSTM", rnn_attrs(100, "BIDIRECTIONAL"), bi), "fused oneDNN LSTM, directions side by side up to batch 81");
  std::vector<TensorType> batch = bi;
  batch[0] = f32({81, 7, 5});
  EXPECT_EQ(note("LSTM", rnn_attrs(100, "BIDIRECTIONAL"), batch), "fused oneDNN LSTM, directions side by side");
  batch[0] = f32({82, 7, 5});
  EXPECT_EQ(note("LSTM", rnn_attrs(100, "BIDIRECTIONAL"), batch), "fused oneDNN LSTM");
  const std::vector<TensorType> wide = {f32({-1, 7, 5}), f32({2, 5, 40000}), f32({2, 10000, 40000}), f32({2, 40000})};
  EXPECT_EQ(note("LSTM", rnn_attrs(10000, "BIDIRECTIONAL"), wide), "fused oneDNN LSTM");
  std::vector<TensorType> masked = lstm;
  masked.push_back({DType::i64, {8, 7}});
  EXPECT_EQ(note("LSTM", dropout_attrs(2, "FORWARD", true, false, 0.f, 0.1f), masked),
            "step-wise: mask_zero, recurrent_dropout 0.1 (oneDNN's fused RNN has neither masking nor dropout)");
  EXPECT_EQ(note("RNN", dropout_attrs(2, "FORWARD", true, false, 0.25f, 0.f), lstm),
            "step-wise: dropout 0.25 (oneDNN's fused RNN has neither masking nor dropout)");
}

// Central differences through the step-wise path: masks (post- and pre-padded, an
// all-padding row, initial states) and dropout in training with a fixed step seed.
void recurrent_stepwise_gradients_match_numeric() {
  std::mt19937 rng(45);
  for (const Variant& v : kVariants)
    for (const char* direction : kDirections)
      for (bool return_sequences : {true, false})
        for (int mode = 0; mode < 3; ++mode) {  // 0 post-padded mask, 1 pre-padded mask, 2 dropout + mask
          SCOPED_TRACE(v.name() + " " + direction + (return_sequences ? " sequences" : " last") + " mode " +
                       std::to_string(mode));
          const bool bi = std::string(direction) == "BIDIRECTIONAL";
          std::vector<Tensor> in = make_inputs(v, 3, 4, 3, 2, bi, true, rng);
          in.push_back(
              token_ids(4, mode == 2 ? std::vector<int64_t>{4, 3, 4} : std::vector<int64_t>{4, 2, 0}, mode == 1));
          const float p = mode == 2 ? 0.3f : 0.f;
          const size_t workspace = v.has_cell ? 3 : 2;
          expect_gradients_match_numeric(v.op, dropout_attrs(2, direction, return_sequences, v.reset_after, p, p), in,
                                         2e-3f, 1e-2, {}, {workspace}, training(99));
        }
}

// Dropout alone (no mask input), only Y carrying loss.
void recurrent_stepwise_gradients_with_dropout_only() {
  std::mt19937 rng(46);
  for (const Variant& v : kVariants)
    for (const char* direction : kDirections) {
      SCOPED_TRACE(v.name() + " " + direction);
      const bool bi = std::string(direction) == "BIDIRECTIONAL";
      std::vector<size_t> ignored = {1, 2};
      if (v.has_cell) ignored.push_back(3);
      expect_gradients_match_numeric(v.op, dropout_attrs(2, direction, true, v.reset_after, 0.4f, 0.2f),
                                     make_inputs(v, 2, 3, 3, 2, bi, false, rng), 2e-3f, 1e-2, {}, ignored, training(7));
    }
}

}  // namespace

std::vector<GradientCase> rnn_gradient_cases() {
  return {
      {"Recurrent_GradientsMatchNumeric", {"LSTM", "GRU", "RNN"}, recurrent_gradients_match_numeric},
      {"Recurrent_GradientsWithUnusedOutputs", {"LSTM", "GRU", "RNN"}, recurrent_gradients_with_unused_outputs},
      {"RecurrentStepwise_GradientsMatchNumeric", {"LSTM", "GRU", "RNN"}, recurrent_stepwise_gradients_match_numeric},
      {"RecurrentStepwise_GradientsWithDropoutOnly",
       {"LSTM", "GRU", "RNN"},
       recurrent_stepwise_gradients_with_dropout_only},
  };
}

}  // namespace graphrun::testing
