#include "tests/ops/op_test_util.h"

#include <google/protobuf/text_format.h>

#include <algorithm>
#include <cmath>

#include "autodiff/autodiff.h"
#include "graph/loader.h"
#include "graph/op_schema.h"
#include "ops/reference/reference.h"
#include "ops/registry.h"
#include "runtime/exec/graph_runner.h"

namespace graphrun::testing {
namespace {

// A one-node graph: inputs x0..xn feeding `op`.
Graph one_node_graph(const std::string& op, const pb::Node& attrs, const std::vector<TensorType>& input_types) {
  Graph g;
  std::vector<ValueId> inputs;
  for (size_t i = 0; i < input_types.size(); ++i)
    inputs.push_back(g.add_value("x" + std::to_string(i), ValueKind::input, input_types[i]));
  const OpSchema& schema = builtin_ops().get(op).schema;
  std::vector<ValueId> outputs;
  for (size_t k = 0; k < schema.output_names.size(); ++k)
    outputs.push_back(g.add_value("y" + std::to_string(k), ValueKind::node_output, {}));
  pb::Node def = attrs;
  def.set_name("node");
  def.set_op(op);
  g.add_node(def, inputs, outputs);
  return g;
}

std::vector<TensorType> types_of(const std::vector<Tensor>& tensors) {
  std::vector<TensorType> types;
  for (const Tensor& t : tensors) types.push_back({t.dtype(), t.dims()});
  return types;
}

}  // namespace

TensorType f32(Dims dims) { return {DType::f32, std::move(dims)}; }
TensorType i64(Dims dims) { return {DType::i64, std::move(dims)}; }

Tensor floats(Dims dims, std::initializer_list<float> values) {
  return Tensor::from_floats(std::move(dims), std::span<const float>(values.begin(), values.size()));
}

Tensor ints(Dims dims, std::initializer_list<int64_t> values) {
  return Tensor::from_ints(std::move(dims), std::span<const int64_t>(values.begin(), values.size()));
}

pb::Node make_attrs(const std::string& pbtxt_attrs) {
  pb::Node node;
  if (!google::protobuf::TextFormat::ParseFromString(pbtxt_attrs, &node))
    throw Error("bad attributes in test: " + pbtxt_attrs);
  return node;
}

std::vector<TensorType> infer_op(const std::string& op, const pb::Node& attrs, const std::vector<TensorType>& inputs) {
  Graph g = one_node_graph(op, attrs, inputs);
  return infer_node_types(builtin_ops().get(op).schema, g.node(0), inputs);
}

std::string infer_error(const std::string& op, const pb::Node& attrs, const std::vector<TensorType>& inputs) {
  try {
    infer_op(op, attrs, inputs);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

std::string infer_error(const std::string& op, const std::vector<TensorType>& inputs) {
  return infer_error(op, {}, inputs);
}

void expect_infer_error(const std::string& op, const std::string& attrs, const std::vector<TensorType>& inputs,
                        const std::string& substring) {
  const std::string message = infer_error(op, make_attrs(attrs), inputs);
  EXPECT_NE(message.find(substring), std::string::npos)
      << op << " {" << attrs << "}: expected an error containing '" << substring << "', got: " << message;
}

std::vector<Tensor> run_kernel(const std::string& op, const pb::Node& attrs, const std::vector<Tensor>& inputs,
                               const RunContext& run) {
  return run_kernel_reading(op, attrs, inputs, run, {});
}

std::vector<Tensor> run_kernel_reading(const std::string& op, const pb::Node& attrs, const std::vector<Tensor>& inputs,
                                       const RunContext& run, const std::vector<bool>& outputs_read) {
  const std::vector<TensorType> in_types = types_of(inputs);
  Graph g = one_node_graph(op, attrs, in_types);
  const OpDef& def = builtin_ops().get(op);
  std::vector<TensorType> out_types = infer_node_types(def.schema, g.node(0), in_types);
  std::unique_ptr<Kernel> kernel = def.kernel(KernelInit{g.node(0), in_types, out_types, outputs_read});
  std::vector<Tensor> outputs;
  for (const TensorType& t : out_types) outputs.emplace_back(t.dtype, t.dims);
  std::vector<const void*> in_ptrs;
  for (const Tensor& t : inputs) in_ptrs.push_back(t.raw_data());
  std::vector<void*> out_ptrs;
  for (Tensor& t : outputs) out_ptrs.push_back(t.raw_data());
  auto scratch = allocate_aligned(kernel->scratchpad_bytes());
  kernel->run(KernelIO{in_ptrs, out_ptrs, scratch.get(), &run});
  return outputs;
}

std::vector<Tensor> run_reference(const std::string& op, const pb::Node& attrs, const std::vector<Tensor>& inputs,
                                  const RunContext& run) {
  const reference::ReferenceKernel* ref = reference::find(op);
  if (!ref) throw Error("no reference kernel for " + op);
  return (*ref)(attrs, inputs, infer_op(op, attrs, types_of(inputs)), run);
}

void expect_tensors_near(const Tensor& actual, const Tensor& expected, float tolerance, const std::string& what) {
  ASSERT_EQ(actual.dims(), expected.dims()) << what;
  ASSERT_EQ(actual.dtype(), expected.dtype()) << what;
  if (actual.dtype() == DType::i64) {
    for (int64_t i = 0; i < actual.num_elements(); ++i)
      ASSERT_EQ(actual.data<int64_t>()[i], expected.data<int64_t>()[i]) << what << " at flat index " << i;
    return;
  }
  for (int64_t i = 0; i < actual.num_elements(); ++i) {
    const float a = actual.data<float>()[i], e = expected.data<float>()[i];
    if (std::isnan(e)) {
      ASSERT_TRUE(std::isnan(a)) << what << " at flat index " << i;
      continue;
    }
    if (std::isinf(e)) {
      ASSERT_EQ(a, e) << what << " at flat index " << i;
      continue;
    }
    ASSERT_NEAR(a, e, tolerance * std::max(1.f, std::fabs(e))) << what << " at flat index " << i;
  }
}

void expect_matches_reference(const std::string& op, const pb::Node& attrs, const std::vector<Tensor>& inputs,
                              float tolerance, const RunContext& run) {
  std::vector<Tensor> actual = run_kernel(op, attrs, inputs, run);
  std::vector<Tensor> expected = run_reference(op, attrs, inputs, run);
  ASSERT_EQ(actual.size(), expected.size());
  std::string shapes;
  for (const Tensor& t : inputs) shapes += t.type_string() + " ";
  for (size_t k = 0; k < actual.size(); ++k)
    expect_tensors_near(actual[k], expected[k], tolerance, op + " output " + std::to_string(k) + " on " + shapes);
}

namespace {

// Appends a node to a hand-built graph; types are inferred later.
std::vector<ValueId> add_test_node(Graph& g, const std::string& name, const std::string& op,
                                   const std::vector<ValueId>& inputs, pb::Node attrs = {}) {
  attrs.set_name(name);
  attrs.set_op(op);
  std::vector<ValueId> outputs;
  for (size_t k = 0; k < builtin_ops().get(op).schema.output_names.size(); ++k)
    outputs.push_back(g.add_value(k == 0 ? name : name + ":" + std::to_string(k), ValueKind::node_output, {}));
  g.add_node(attrs, inputs, outputs);
  return outputs;
}

std::set<std::string>& checked_ops() {
  static std::set<std::string> ops;
  return ops;
}

}  // namespace

const std::set<std::string>& numerically_checked_ops() { return checked_ops(); }

std::vector<GradientCase> all_gradient_cases() {
  std::vector<GradientCase> cases;
#define GRAPHRUN_OP_FAMILY(family) \
  for (GradientCase & c : family##_gradient_cases()) cases.push_back(std::move(c));
#include "ops/families.inc"
#undef GRAPHRUN_OP_FAMILY
  return cases;
}

void expect_gradients_match_numeric(const std::string& op, const pb::Node& attrs, const std::vector<Tensor>& inputs,
                                    float tolerance, double step, const std::vector<size_t>& constant_inputs,
                                    const std::vector<size_t>& ignored_outputs, const RunContext& run) {
  checked_ops().insert(op);
  // The op's inputs are parameters, so autodiff differentiates with respect to them.
  Graph g;
  g.name = op + "_gradcheck";
  std::vector<ValueId> in_ids, wrt;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const std::string name = "x" + std::to_string(i);
    ParameterDef p;
    p.value = g.add_value(name, ValueKind::parameter, {inputs[i].dtype(), inputs[i].dims()});
    p.def.set_name(name);
    const bool checked = inputs[i].dtype() == DType::f32 &&
                         std::find(constant_inputs.begin(), constant_inputs.end(), i) == constant_inputs.end();
    p.def.set_trainable(checked);
    if (checked) wrt.push_back(p.value);
    g.parameters.push_back(p);
    in_ids.push_back(p.value);
  }
  const std::vector<ValueId> outs = add_test_node(g, "node", op, in_ids, attrs);
  infer_types(g, builtin_ops());

  // loss = sum_k sum(out_k * R_k), R_k fixed random weights.
  std::mt19937 rng(12345);
  std::vector<ValueId> terms;
  for (size_t k = 0; k < outs.size(); ++k) {
    const TensorType& t = g.value(outs[k]).type;
    if (t.dtype != DType::f32 || std::find(ignored_outputs.begin(), ignored_outputs.end(), k) != ignored_outputs.end())
      continue;
    pb::Node weights;
    for (int64_t d : t.dims) weights.mutable_value()->add_dims(d);
    std::uniform_real_distribution<float> dist(-1.f, 1.f);
    for (int64_t e = 0; e < t.num_elements(); ++e) weights.mutable_value()->add_float_data(dist(rng));
    const std::string k_str = std::to_string(k);
    const ValueId r = add_test_node(g, "r" + k_str, "Constant", {}, weights)[0];
    const ValueId m = add_test_node(g, "m" + k_str, "Mul", {outs[k], r})[0];
    pb::Node all;
    all.set_keepdims(false);
    terms.push_back(add_test_node(g, "s" + k_str, "ReduceSum", {m}, all)[0]);
  }
  ValueId loss = terms.at(0);
  for (size_t k = 1; k < terms.size(); ++k)
    loss = add_test_node(g, "sum" + std::to_string(k), "Add", {loss, terms[k]})[0];
  infer_types(g, builtin_ops());
  g.loss_terms.push_back({loss, 1.0f});

  const GradientResult grads = add_gradients(g, builtin_ops(), wrt);
  const GraphRunner runner(std::make_shared<const Graph>(g), ExecutionPolicy{1, 0});
  std::vector<Tensor> params;
  for (const Tensor& t : inputs) params.push_back(t.clone());
  std::vector<ValueId> fetches = {grads.loss};
  for (ValueId p : wrt)
    if (grads.gradients.count(p)) fetches.push_back(grads.gradients.at(p));
  const std::vector<Tensor> analytic = runner.run({}, params, fetches, run);

  auto loss_at = [&](size_t param, int64_t element, double delta) {
    float* v = params[param].data<float>() + element;
    const float saved = *v;
    *v = static_cast<float>(saved + delta);
    const double value = runner.run({}, params, {grads.loss}, run)[0].data<float>()[0];
    *v = saved;
    return value;
  };
  size_t fetched = 1;
  for (ValueId p : wrt) {
    const size_t index = static_cast<size_t>(p);  // parameters were added first: value id == parameter index
    const bool has_grad = grads.gradients.count(p) > 0;
    const Tensor* grad = has_grad ? &analytic[fetched++] : nullptr;
    if (grad) {
      ASSERT_EQ(grad->dims(), inputs[index].dims()) << op << ": gradient of input " << index;
    }
    for (int64_t e = 0; e < inputs[index].num_elements(); ++e) {
      const double numeric = (loss_at(index, e, step) - loss_at(index, e, -step)) / (2 * step);
      const double got = grad ? grad->data<float>()[e] : 0.0;
      ASSERT_NEAR(got, numeric, tolerance * std::max(1.0, std::fabs(numeric)))
          << op << ": d loss / d input " << index << " at flat index " << e << " (input " << inputs[index].type_string()
          << ")";
    }
  }
}

Tensor random_floats(const Dims& dims, std::mt19937& rng, float low, float high) {
  Tensor t(DType::f32, dims);
  std::uniform_real_distribution<float> dist(low, high);
  for (float& v : t.values<float>()) v = dist(rng);
  return t;
}

Tensor distinct_floats(const Dims& dims, std::mt19937& rng) {
  std::vector<float> values(static_cast<size_t>(num_elements(dims)));
  for (size_t i = 0; i < values.size(); ++i) values[i] = 0.1f * static_cast<float>(i) - 1.f;
  std::shuffle(values.begin(), values.end(), rng);
  return Tensor::from_floats(dims, values);
}

Tensor random_ints(const Dims& dims, std::mt19937& rng, int64_t low, int64_t high) {
  Tensor t(DType::i64, dims);
  std::uniform_int_distribution<int64_t> dist(low, high - 1);
  for (int64_t& v : t.values<int64_t>()) v = dist(rng);
  return t;
}

}  // namespace graphrun::testing
