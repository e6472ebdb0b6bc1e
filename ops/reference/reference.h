// Naive reference kernels: plain loops written for obviousness, not speed. The
// oneDNN kernels in ops/ are tested against these. Each family file in
// ops/reference/ registers its ops' reference kernels.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "graph/shape.h"
#include "graphrun.pb.h"
#include "graphrun/tensor.h"
#include "ops/kernel.h"

namespace graphrun::reference {

// Computes a node's outputs. `outputs` are the concrete output types the shape
// rule inferred (the reference kernel may rely on them).
using ReferenceKernel = std::function<std::vector<Tensor>(
    const pb::Node& attrs, const std::vector<Tensor>& inputs, const std::vector<TensorType>& outputs,
    const RunContext& run)>;

using ReferenceTable = std::map<std::string, ReferenceKernel, std::less<>>;

const ReferenceKernel* find(std::string_view op);

void register_eltwise(ReferenceTable& table);
void register_binary(ReferenceTable& table);
void register_matmul(ReferenceTable& table);
void register_softmax(ReferenceTable& table);
void register_reduction(ReferenceTable& table);
void register_shape(ReferenceTable& table);
void register_gather(ReferenceTable& table);
void register_misc(ReferenceTable& table);
void register_loss(ReferenceTable& table);
void register_rnn(ReferenceTable& table);
void register_pooling(ReferenceTable& table);
void register_masked(ReferenceTable& table);
void register_conv(ReferenceTable& table);

// Helpers shared by reference kernels.
// Row-major index of `coords` in a tensor of shape `dims`, where dims of size 1
// broadcast (their coordinate is ignored); dims align from the right.
int64_t broadcast_index(const Dims& dims, const Dims& coords);
// Advances row-major coordinates within `dims`; returns false after the last.
bool next_coords(const Dims& dims, Dims& coords);

}  // namespace graphrun::reference
