// What the graph layer needs to know about an op: its signature and shape rule.
//
// The op registry (ops/) extends this with kernels and gradient rules; the graph
// builder sees ops only through OpCatalog, which keeps the dependency pointing
// one way (graph <- ops).
#pragma once

#include <fmt/format.h>

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "graph/graph.h"
#include "graphrun/error.h"

namespace graphrun {

// Builds an Error that names the phase, the node and the op:
// "model.pbtxt:12:3: shape inference failed for node 'fc1' (MatMul): ..."
Error node_error(std::string_view phase, const Node& node, const std::string& message);

// Passed to a shape rule: the node, its input types; the rule fills outputs.
struct InferContext {
  const Node& node;
  std::vector<TensorType> inputs;
  std::vector<TensorType> outputs;

  const pb::Node& attrs() const { return node.def; }
  int num_inputs() const { return static_cast<int>(inputs.size()); }
  const Dims& in_dims(int i) const { return inputs.at(static_cast<size_t>(i)).dims; }

  template <typename... Args>
  [[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) const {
    throw node_error("shape inference failed", node, fmt::format(format, std::forward<Args>(args)...));
  }
  // Checks the dtype of input i; fails with a message naming the input.
  void expect_dtype(int i, DType dtype) const;
  void expect_rank(int i, int rank) const;
};

using ShapeRule = std::function<void(InferContext&)>;

struct OpSchema {
  std::string name;                       // ONNX name where ONNX has the op
  std::string doc;                        // one paragraph: semantics and math
  std::vector<std::string> input_names;   // in order; trailing ones may be optional
  int min_inputs = 0;                     // required inputs (<= input_names.size())
  std::vector<std::string> output_names;  // every output the op produces
  std::vector<std::string> attrs;         // pb::Node attribute fields it takes
  ShapeRule infer;
  bool variadic_inputs = false;  // Concat: any number >= min_inputs
  // Optional: a short note `graphrun check` prints for a node of this op (e.g.
  // which kernel path a recurrent node takes and why).
  std::function<std::string(const Node& node, const std::vector<TensorType>& inputs)> note;
};

class OpCatalog {
 public:
  virtual ~OpCatalog() = default;
  virtual const OpSchema* find_schema(std::string_view op) const = 0;
  virtual std::vector<std::string> op_names() const = 0;
};

// Runs the node's shape rule on the given input types and returns its output
// types, checking the rule produced one type per output.
std::vector<TensorType> infer_node_types(const OpSchema& schema, const Node& node, std::vector<TensorType> input_types);

}  // namespace graphrun
