// Losses (ops/loss.cpp): shape rules, kernels against the reference,
// hand-computed values, stability, run-time errors, gradients.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>

#include "tests/ops/op_test_util.h"

namespace graphrun::testing {
namespace {

const TensorType kScalar{DType::f32, {}};

float scalar_of(const Tensor& t) { return t.data<float>()[0]; }

// Random rows of a probability distribution (positive, summing to 1).
Tensor random_distribution(int64_t rows, int64_t classes, std::mt19937& rng) {
  Tensor t = random_floats({rows, classes}, rng, 0.1f, 1.f);
  for (int64_t n = 0; n < rows; ++n) {
    float sum = 0;
    for (int64_t c = 0; c < classes; ++c) sum += t.data<float>()[n * classes + c];
    for (int64_t c = 0; c < classes; ++c) t.data<float>()[n * classes + c] /= sum;
  }
  return t;
}

// ---- Shape rules -----------------------------------------------------------------------

TEST(LossShape, SoftmaxCrossEntropyLoss) {
  const auto out = infer_op("SoftmaxCrossEntropyLoss", {}, {{DType::f32, {-1, 10}}, {DType::i64, {32}}});
  EXPECT_EQ(out[0], kScalar);
  EXPECT_EQ(out[1], (TensorType{DType::f32, {32, 10}}));  // N taken from the labels
  EXPECT_THROW(infer_op("SoftmaxCrossEntropyLoss", {}, {{DType::f32, {4, 3}}, {DType::i64, {4, 1}}}), Error);
  EXPECT_THROW(infer_op("SoftmaxCrossEntropyLoss", {}, {{DType::f32, {4, 3}}, {DType::f32, {4}}}), Error);
  EXPECT_THROW(infer_op("SoftmaxCrossEntropyLoss", {}, {{DType::f32, {12}}, {DType::i64, {4}}}), Error);
  try {
    infer_op("SoftmaxCrossEntropyLoss", {}, {{DType::f32, {4, 3}}, {DType::i64, {5}}});
    FAIL() << "batch mismatch accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("batch sizes differ"), std::string::npos) << e.what();
  }
  EXPECT_EQ(infer_op("SoftmaxCrossEntropyLossGrad", {}, {kScalar, {DType::f32, {4, 3}}, {DType::i64, {4}}})[0],
            (TensorType{DType::f32, {4, 3}}));
  EXPECT_THROW(
      infer_op("SoftmaxCrossEntropyLossGrad", {}, {{DType::f32, {1}}, {DType::f32, {4, 3}}, {DType::i64, {4}}}), Error);
}

TEST(LossShape, ProbsAndElementwiseLosses) {
  EXPECT_EQ(infer_op("SoftmaxCrossEntropyWithProbs", {}, {{DType::f32, {-1, 5}}, {DType::f32, {8, 5}}})[0], kScalar);
  // Class-count mismatch between scores and targets.
  EXPECT_THROW(infer_op("SoftmaxCrossEntropyWithProbs", {}, {{DType::f32, {8, 5}}, {DType::f32, {8, 4}}}), Error);
  EXPECT_THROW(infer_op("SoftmaxCrossEntropyWithProbs", {}, {{DType::f32, {5}}, {DType::f32, {5}}}), Error);
  const auto grads =
      infer_op("SoftmaxCrossEntropyWithProbsGrad", {}, {kScalar, {DType::f32, {-1, 5}}, {DType::f32, {8, 5}}});
  EXPECT_EQ(grads[0], (TensorType{DType::f32, {8, 5}}));
  EXPECT_EQ(grads[1], (TensorType{DType::f32, {8, 5}}));
  for (const char* op : {"SigmoidCrossEntropyWithLogits", "MeanSquaredError"}) {
    EXPECT_EQ(infer_op(op, {}, {{DType::f32, {-1, 2, 3}}, {DType::f32, {4, 2, 3}}})[0], kScalar) << op;
    EXPECT_EQ(infer_op(op, {}, {kScalar, kScalar})[0], kScalar) << op;
    EXPECT_THROW(infer_op(op, {}, {{DType::f32, {4, 3}}, {DType::f32, {4, 1}}}), Error) << op;  // no broadcasting
    EXPECT_THROW(infer_op(op, {}, {{DType::f32, {4}}, {DType::i64, {4}}}), Error) << op;
  }
}

// ---- Kernels against the reference --------------------------------------------------------

TEST(Loss, CrossEntropyMatchesReference) {
  std::mt19937 rng(1);
  for (const auto& [rows, classes] :
       std::vector<std::pair<int64_t, int64_t>>{{1, 1}, {1, 5}, {4, 7}, {16, 10}, {3, 2}}) {
    const Tensor scores = random_floats({rows, classes}, rng, -4.f, 4.f);
    const Tensor labels = random_ints({rows}, rng, 0, classes);
    const Tensor targets = random_distribution(rows, classes, rng);
    const Tensor dloss = Tensor::scalar(0.7f);
    expect_matches_reference("SoftmaxCrossEntropyLoss", {}, {scores, labels});
    expect_matches_reference("SoftmaxCrossEntropyLossGrad", {}, {dloss, scores, labels});
    expect_matches_reference("SoftmaxCrossEntropyWithProbs", {}, {scores, targets});
    // Unnormalised targets too: the gradient's rowsum(T) term matters then.
    const Tensor loose = random_floats({rows, classes}, rng, 0.f, 2.f);
    expect_matches_reference("SoftmaxCrossEntropyWithProbs", {}, {scores, loose});
    expect_matches_reference("SoftmaxCrossEntropyWithProbsGrad", {}, {dloss, scores, loose});
  }
}

TEST(Loss, ElementwiseLossesMatchReference) {
  std::mt19937 rng(2);
  for (const Dims& dims : {Dims{}, Dims{1}, Dims{7}, Dims{3, 5}, Dims{2, 3, 9}}) {
    const Tensor x = random_floats(dims, rng, -6.f, 6.f);
    const Tensor probs = random_floats(dims, rng, 0.f, 1.f);
    const Tensor dloss = Tensor::scalar(-1.3f);
    expect_matches_reference("SigmoidCrossEntropyWithLogits", {}, {x, probs});
    expect_matches_reference("SigmoidCrossEntropyWithLogitsGrad", {}, {dloss, x, probs});
    const Tensor t = random_floats(dims, rng, -2.f, 2.f);
    expect_matches_reference("MeanSquaredError", {}, {x, t});
    expect_matches_reference("MeanSquaredErrorGrad", {}, {dloss, x, t});
  }
}

// ---- Hand-computed values, stability, errors ---------------------------------------------------

TEST(Loss, HandComputedValues) {
  const float ln2 = std::log(2.f);
  const auto sce = run_kernel("SoftmaxCrossEntropyLoss", {}, {floats({1, 2}, {0, 0}), ints({1}, {1})});
  EXPECT_FLOAT_EQ(scalar_of(sce[0]), ln2);
  EXPECT_FLOAT_EQ(sce[1].data<float>()[0], -ln2);
  EXPECT_FLOAT_EQ(sce[1].data<float>()[1], -ln2);
  const auto grad =
      run_kernel("SoftmaxCrossEntropyLossGrad", {}, {Tensor::scalar(1.f), floats({1, 2}, {0, 0}), ints({1}, {1})})[0];
  EXPECT_FLOAT_EQ(grad.data<float>()[0], 0.5f);
  EXPECT_FLOAT_EQ(grad.data<float>()[1], -0.5f);
  // Mean over rows: row losses ln 2 and ln(1 + e) - 1.
  const auto two = run_kernel("SoftmaxCrossEntropyLoss", {}, {floats({2, 2}, {0, 0, 1, 0}), ints({2}, {0, 0})});
  EXPECT_NEAR(scalar_of(two[0]), (ln2 + std::log(1.f + std::exp(1.f)) - 1.f) / 2.f, 1e-6f);
  // One-hot targets give the same loss as the labels.
  EXPECT_FLOAT_EQ(
      scalar_of(run_kernel("SoftmaxCrossEntropyWithProbs", {}, {floats({1, 2}, {0, 0}), floats({1, 2}, {0, 1})})[0]),
      ln2);
  // Sigmoid CE at x = 0 is ln 2 whatever the target.
  EXPECT_FLOAT_EQ(
      scalar_of(run_kernel("SigmoidCrossEntropyWithLogits", {}, {floats({2}, {0, 0}), floats({2}, {0, 1})})[0]), ln2);
  EXPECT_FLOAT_EQ(scalar_of(run_kernel("MeanSquaredError", {}, {floats({2}, {1, 2}), floats({2}, {0, 0})})[0]), 2.5f);
}

TEST(Loss, LargeLogitsAreStable) {
  const auto big =
      run_kernel("SoftmaxCrossEntropyLoss", {}, {floats({2, 2}, {1000, 0, 1000, 1000}), ints({2}, {1, 0})});
  EXPECT_NEAR(scalar_of(big[0]), (1000.f + std::log(2.f)) / 2.f, 1e-3f);
  EXPECT_FLOAT_EQ(big[1].data<float>()[0], 0.f);
  EXPECT_FLOAT_EQ(big[1].data<float>()[1], -1000.f);
  const auto grad = run_kernel("SoftmaxCrossEntropyLossGrad", {},
                               {Tensor::scalar(1.f), floats({1, 2}, {1000, -1000}), ints({1}, {0})})[0];
  for (float g : grad.values<float>()) EXPECT_TRUE(std::isfinite(g));
  EXPECT_FLOAT_EQ(scalar_of(run_kernel("SoftmaxCrossEntropyWithProbs", {},
                                       {floats({1, 2}, {-1000, 1000}), floats({1, 2}, {1, 0})})[0]),
                  2000.f);
  EXPECT_FLOAT_EQ(
      scalar_of(run_kernel("SigmoidCrossEntropyWithLogits", {}, {floats({2}, {1000, -1000}), floats({2}, {0, 0})})[0]),
      500.f);
  const auto sig_grad = run_kernel("SigmoidCrossEntropyWithLogitsGrad", {},
                                   {Tensor::scalar(1.f), floats({2}, {1000, -1000}), floats({2}, {0, 1})})[0];
  EXPECT_FLOAT_EQ(sig_grad.data<float>()[0], 0.5f);   // (1 - 0) / 2
  EXPECT_FLOAT_EQ(sig_grad.data<float>()[1], -0.5f);  // (0 - 1) / 2
}

TEST(Loss, OutOfRangeLabelNamesNodeAndValue) {
  const Tensor scores = floats({2, 3}, {0, 1, 2, 3, 4, 5});
  for (int64_t bad : {3, -1}) {
    try {
      run_kernel("SoftmaxCrossEntropyLoss", {}, {scores, ints({2}, {0, bad})});
      FAIL() << "label " << bad << " accepted";
    } catch (const Error& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find("'node'"), std::string::npos) << message;
      EXPECT_NE(message.find(fmt::format("label {} ", bad)), std::string::npos) << message;
      EXPECT_NE(message.find("[0, 3)"), std::string::npos) << message;
    }
  }
  EXPECT_THROW(run_kernel("SoftmaxCrossEntropyLossGrad", {}, {Tensor::scalar(1.f), scores, ints({2}, {0, 7})}), Error);
}

// ---- Gradients -------------------------------------------------------------------------------

void loss_grad_matches_numeric_gradients() {
  std::mt19937 rng(8);
  for (const auto& [rows, classes] : std::vector<std::pair<int64_t, int64_t>>{{1, 3}, {4, 5}, {3, 2}}) {
    const Tensor scores = random_floats({rows, classes}, rng, -2.f, 2.f);
    // Both outputs carry loss weight here, so log_prob's LogSoftmaxGrad path is checked too.
    expect_gradients_match_numeric("SoftmaxCrossEntropyLoss", {}, {scores, random_ints({rows}, rng, 0, classes)});
    expect_gradients_match_numeric("SoftmaxCrossEntropyLoss", {}, {scores, random_ints({rows}, rng, 0, classes)}, 2e-3f,
                                   1e-3, {}, {1});
    expect_gradients_match_numeric("SoftmaxCrossEntropyWithProbs", {},
                                   {scores, random_floats({rows, classes}, rng, 0.f, 1.f)});
  }
  for (const Dims& dims : {Dims{}, Dims{5}, Dims{2, 3}}) {
    const Tensor x = random_floats(dims, rng, -3.f, 3.f);
    expect_gradients_match_numeric("SigmoidCrossEntropyWithLogits", {}, {x, random_floats(dims, rng, 0.f, 1.f)});
    expect_gradients_match_numeric("MeanSquaredError", {}, {x, random_floats(dims, rng, -3.f, 3.f)});
  }
}

}  // namespace

std::vector<GradientCase> loss_gradient_cases() {
  return {
      {"LossGrad_MatchesNumericGradients",
       {"SoftmaxCrossEntropyLoss", "SoftmaxCrossEntropyWithProbs", "SigmoidCrossEntropyWithLogits", "MeanSquaredError"},
       loss_grad_matches_numeric_gradients},
  };
}

}  // namespace graphrun::testing
