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
using ReferenceKernel =
    std::function<std::vector<Tensor>(const pb::Node& attrs, const std::vector<Tensor>& inputs,
                                      const std::vector<TensorType>& outputs, const RunContext& run)>;

// A reference kernel's parameter lists.
using Inputs = std::vector<Tensor>;
using Types = std::vector<TensorType>;

using ReferenceTable = std::map<std::string, ReferenceKernel, std::less<>>;

const ReferenceKernel* find(std::string_view op);

// Why op has no reference kernel, for the few ops exempt from having one;
// nullptr for every other op. tests/ops/completeness_test.cpp fails for an op
// with neither.
const std::string* exemption(std::string_view op);

// The family registration functions: register_<family>, one per family in
// ops/families.inc, each in ops/reference/<family>_ref.cpp.
#define GRAPHRUN_OP_FAMILY(family) void register_##family(ReferenceTable& table);
#include "ops/families.inc"
#undef GRAPHRUN_OP_FAMILY

// Helpers shared by reference kernels.
// Row-major index of `coords` in a tensor of shape `dims`, where dims of size 1
// broadcast (their coordinate is ignored); dims align from the right.
int64_t broadcast_index(const Dims& dims, const Dims& coords);
// Element i of a float32 or int64 tensor, as double (exact for the small test ints).
double element(const Tensor& t, int64_t i);
// Advances row-major coordinates within `dims`; returns false after the last.
bool next_coords(const Dims& dims, Dims& coords);

}  // namespace graphrun::reference
