#include "graph/op_schema.h"

#include <fmt/format.h>

namespace graphrun {

Error node_error(std::string_view phase, const Node& node, const std::string& message) {
  return Error(fmt::format("{}{} for {}: {}", node.location.str(), phase, describe(node), message));
}

void InferContext::expect_dtype(int i, DType dtype) const {
  const TensorType& t = inputs.at(static_cast<size_t>(i));
  if (t.dtype != dtype)
    fail("input {} ('{}') has type {}, expected {}", i,
         i < static_cast<int>(node.inputs.size()) ? std::to_string(i) : "?", type_str(t), dtype_name(dtype));
}

void InferContext::expect_rank(int i, int rank) const {
  const TensorType& t = inputs.at(static_cast<size_t>(i));
  if (t.rank() != rank) fail("input {} has shape {}, expected rank {}", i, dims_str(t.dims), rank);
}

std::vector<TensorType> infer_node_types(const OpSchema& schema, const Node& node,
                                         std::vector<TensorType> input_types) {
  InferContext ctx{node, std::move(input_types), {}};
  ctx.outputs.resize(schema.output_names.size());
  schema.infer(ctx);
  if (ctx.outputs.size() != schema.output_names.size())
    throw node_error("shape inference failed", node, "rule produced the wrong number of outputs");
  return std::move(ctx.outputs);
}

}  // namespace graphrun
