// Running one op in isolation: through its registered kernel (oneDNN) or its
// reference kernel, so op tests can compare the two on many shapes.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <initializer_list>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "graphrun.pb.h"
#include "graphrun/tensor.h"
#include "ops/kernel.h"

namespace graphrun::testing {

TensorType f32(Dims dims);
TensorType i64(Dims dims);
Tensor floats(Dims dims, std::initializer_list<float> values);
Tensor ints(Dims dims, std::initializer_list<int64_t> values);

// A node of `op` with the given attributes (name/op/inputs are filled in).
pb::Node make_attrs(const std::string& pbtxt_attrs = "");

// Infers the output types of `op` on the inputs' types (throws Error like the loader).
std::vector<TensorType> infer_op(const std::string& op, const pb::Node& attrs, const std::vector<TensorType>& inputs);

// The message of the Error the shape rule of `op` throws on the inputs' types,
// or "no error".
std::string infer_error(const std::string& op, const pb::Node& attrs, const std::vector<TensorType>& inputs);
std::string infer_error(const std::string& op, const std::vector<TensorType>& inputs);
// Expects the shape rule to fail with a message containing `substring`.
void expect_infer_error(const std::string& op, const std::string& attrs, const std::vector<TensorType>& inputs,
                        const std::string& substring);

std::vector<Tensor> run_kernel(const std::string& op, const pb::Node& attrs, const std::vector<Tensor>& inputs,
                               const RunContext& run = {});
// The same with `outputs_read` as a plan would pass it (KernelInit::outputs_read). Outputs start as zeros.
std::vector<Tensor> run_kernel_reading(const std::string& op, const pb::Node& attrs, const std::vector<Tensor>& inputs,
                                       const RunContext& run, const std::vector<bool>& outputs_read);
std::vector<Tensor> run_reference(const std::string& op, const pb::Node& attrs, const std::vector<Tensor>& inputs,
                                  const RunContext& run = {});

// Runs both and expects equal shapes and values within `tolerance` (relative to max(1, |ref|)).
void expect_matches_reference(const std::string& op, const pb::Node& attrs, const std::vector<Tensor>& inputs,
                              float tolerance = 1e-5f, const RunContext& run = {});

Tensor random_floats(const Dims& dims, std::mt19937& rng, float low = -1.f, float high = 1.f);
Tensor random_ints(const Dims& dims, std::mt19937& rng, int64_t low, int64_t high);  // [low, high)
// Values 0.1 apart, shuffled: no ties, so max ops have one winner and numeric
// gradients stay away from their kinks.
Tensor distinct_floats(const Dims& dims, std::mt19937& rng);

// Numeric gradient check of one op (implemented with autodiff + the runtime):
// builds `loss = sum_k sum(output_k * R_k)` with fixed random R_k, so every
// output element matters with a different weight, takes the analytic gradient
// of every float32 input from the autodiff graph and compares it with central
// differences (x +- step) elementwise: |analytic - numeric| <= tolerance *
// max(1, |numeric|). Keep inputs away from kinks (Relu at 0, Abs at 0, ReduceMax
// ties). Inputs listed in `constant_inputs` get no gradient check (e.g. a
// Dropout run, integer indices are skipped automatically). Outputs listed in
// `ignored_outputs` get no loss weight (e.g. Dropout's mask).
void expect_gradients_match_numeric(const std::string& op, const pb::Node& attrs, const std::vector<Tensor>& inputs,
                                    float tolerance = 2e-3f, double step = 1e-3,
                                    const std::vector<size_t>& constant_inputs = {},
                                    const std::vector<size_t>& ignored_outputs = {}, const RunContext& run = {});

// The ops expect_gradients_match_numeric has been called on in this process.
const std::set<std::string>& numerically_checked_ops();

// Numeric gradient checks as data: each family's test file lists its cases in
// <family>_gradient_cases() (one per family in ops/families.inc, so the list
// cannot miss a family). ops_test runs every case as its own test, which fails
// unless the check really called expect_gradients_match_numeric on each op the
// case names, and a completeness test fails for a differentiable op no case
// names. The cases are known before any test runs, so this holds when ctest
// runs each test in its own process.
struct GradientCase {
  std::string name;              // the test's name: Cases/NumericGradient.Check/<name>
  std::vector<std::string> ops;  // the ops `check` checks
  std::function<void()> check;   // calls expect_gradients_match_numeric
};

#define GRAPHRUN_OP_FAMILY(family) std::vector<GradientCase> family##_gradient_cases();
#include "ops/families.inc"
#undef GRAPHRUN_OP_FAMILY

// Every family's cases.
std::vector<GradientCase> all_gradient_cases();

// Expects equal dims and elementwise closeness.
void expect_tensors_near(const Tensor& actual, const Tensor& expected, float tolerance, const std::string& what = "");

}  // namespace graphrun::testing
