// The reverse-mode autodiff pass.
//
// Given a graph with loss terms, appends to the same graph the nodes that
// compute the total loss and dLoss/dp for each requested float parameter p.
// Like TensorFlow's symbolic gradient builder it works on the graph, never on
// tensors:
//   1. the nodes on a path from a requested parameter to a loss term are found
//      (values downstream of the parameters, nodes upstream of the loss);
//   2. they are visited in reverse topological order, which guarantees that every
//      consumer of a value has contributed its gradient before the value's
//      producer is visited (the role of TF's pending counts and ready queue);
//   3. each value's gradient contributions (fan-out) are summed with Add nodes,
//      and the node's gradient rule (ops/gradient.h) emits its input gradients.
// Integer values, non-trainable parameters and values the loss does not reach
// get no gradient. A node on such a path whose op has no rule is an Error.
#pragma once

#include <map>
#include <vector>

#include "graph/graph.h"
#include "ops/registry.h"

namespace graphrun {

struct GradientResult {
  ValueId loss = kNoValue;               // the weighted sum of the loss terms
  std::map<ValueId, ValueId> gradients;  // parameter value -> dLoss/dparameter
};

// `wrt` empty means every trainable float32 parameter. Parameters the loss does
// not depend on are absent from the result.
GradientResult add_gradients(Graph& graph, const OpRegistry& ops, std::vector<ValueId> wrt = {});

}  // namespace graphrun
