// Gather: picks slices of `data` along `axis` by int64 indices (ONNX Gather).
//
//   out[i_0..i_a-1, j_0..j_q-1, i_a+1..] = data[i_0..i_a-1, indices[j_0..j_q-1], i_a+1..]
//
// With axis 0 and a 2-D table this is the embedding lookup, so the kernel copies
// whole contiguous rows (memcpy) rather than elements; oneDNN has no gather
// primitive. An index outside the axis is a run-time Error naming the node and
// the index, never an out-of-bounds read.
//
// GatherGrad is Gather's gradient: dData starts at zero and each dOutput slice
// is added to the data slice it was gathered from, so repeated indices
// accumulate. It is dense (a full table of zeros). Training does not run it for
// a table whose whole gradient it is: the trainer fetches its inputs and the
// optimizer adds the rows up the same way, without the table of zeros.
#include <fmt/format.h>

#include <cstring>

#include "ops/gradient.h"
#include "ops/parallel_for.h"
#include "ops/registry.h"

namespace graphrun {
namespace {

// The normalised `axis` of a Gather or GatherGrad node, whose data is input
// `data_input` (0 for Gather, 2 for GatherGrad).
int gather_axis(const InferContext& ctx, int data_input = 0) {
  const TensorType& data = ctx.inputs.at(static_cast<size_t>(data_input));
  const int64_t axis = ctx.attrs().has_axis() ? ctx.attrs().axis() : 0;
  const int normalized = normalize_axis(axis, data.rank());
  if (normalized < 0) ctx.fail("axis {} is out of range for data {}", axis, type_str(data));
  return normalized;
}

// Gather's output dims for data input `data_input` and indices input 1:
// data.shape[:axis] + indices.shape + data.shape[axis+1:].
Dims gathered_dims(const InferContext& ctx, int data_input) {
  ctx.expect_dtype(1, DType::i64);
  const TensorType& data = ctx.inputs.at(static_cast<size_t>(data_input));
  if (data.rank() == 0) ctx.fail("data {} is a scalar; Gather needs rank >= 1", type_str(data));
  const auto axis = static_cast<std::ptrdiff_t>(gather_axis(ctx, data_input));
  Dims out(data.dims.begin(), data.dims.begin() + axis);
  out.insert(out.end(), ctx.in_dims(1).begin(), ctx.in_dims(1).end());
  out.insert(out.end(), data.dims.begin() + axis + 1, data.dims.end());
  return out;
}

void infer_gather(InferContext& ctx) { ctx.outputs[0] = {ctx.inputs[0].dtype, gathered_dims(ctx, 0)}; }

// GatherGrad(output_grad, indices, data): data's shape; output_grad must have
// the shape Gather gives (data, indices).
void infer_gather_grad(InferContext& ctx) {
  ctx.expect_dtype(0, DType::f32);
  const Dims expected = gathered_dims(ctx, 2);
  const Dims& grad = ctx.in_dims(0);
  bool matches = grad.size() == expected.size();
  for (size_t d = 0; matches && d < grad.size(); ++d)
    matches = grad[d] < 0 || expected[d] < 0 || grad[d] == expected[d];
  if (!matches)
    ctx.fail("output_grad {} does not have the shape {} that Gather gives for data {} and indices {}",
             type_str(ctx.inputs[0]), dims_str(expected), type_str(ctx.inputs[2]), type_str(ctx.inputs[1]));
  ctx.outputs[0] = {DType::f32, ctx.in_dims(2)};
}

// Gather and GatherGrad view data as [outer, axis_size, inner] and the gathered
// tensor as [outer, num_indices, inner]: each (outer, index) pair is one
// contiguous run of `inner` elements.
struct GatherLayout {
  int axis = 0;
  int64_t outer = 0;  // product of the dims before the axis
  int64_t axis_size = 0;
  int64_t inner = 0;  // product of the dims after the axis
  int64_t num_indices = 0;

  GatherLayout(const KernelInit& init, size_t data_input) {
    const Dims& data = init.in_dims(data_input);
    axis = gather_axis(InferContext{init.node, init.inputs, {}}, static_cast<int>(data_input));
    const auto split = static_cast<std::ptrdiff_t>(axis);
    outer = num_elements(Dims(data.begin(), data.begin() + split));
    axis_size = data[static_cast<size_t>(axis)];
    inner = num_elements(Dims(data.begin() + split + 1, data.end()));
    num_indices = init.inputs[1].num_elements();
  }

  // Checks every index before anything is read or written through one: a bad
  // one must throw, not touch memory past the table. `node` names the node.
  void check_indices(const int64_t* indices, const std::string& node) const {
    for (int64_t j = 0; j < num_indices; ++j) {
      if (indices[j] < -axis_size || indices[j] >= axis_size)
        throw Error(
            fmt::format("{}: index {} is out of range for axis {} of size {}", node, indices[j], axis, axis_size));
    }
  }
  int64_t row(int64_t index) const { return index < 0 ? index + axis_size : index; }
};

class GatherKernel final : public Kernel {
 public:
  explicit GatherKernel(const KernelInit& init)
      : node_(init.node.location.str() + describe(init.node)),
        layout_(init, 0),
        row_bytes_(dtype_size(init.inputs[0].dtype) * static_cast<size_t>(layout_.inner)) {}

  void run(const KernelIO& io) const override {
    const int64_t* indices = io.in<int64_t>(1);
    layout_.check_indices(indices, node_);
    if (row_bytes_ == 0) return;
    const auto* data = static_cast<const std::byte*>(io.inputs[0]);
    auto* out = static_cast<std::byte*>(io.outputs[0]);
    // Output slice k = (o, j) copies data slice (o, indices[j]); the slices are independent,
    // so a large lookup (a batch of sequences' embeddings) splits over the team.
    const int64_t slices = layout_.outer * layout_.num_indices;
    if (slices == 0) return;
    for_each_range(slices * layout_.inner >= kParallelElements, slices, [&](int64_t begin, int64_t end) {
      // (o, j) of slice k, stepped along with k: one division per range, not two per slice.
      int64_t o = begin / layout_.num_indices, j = begin % layout_.num_indices;
      for (int64_t k = begin; k < end; ++k) {
        const int64_t from = o * layout_.axis_size + layout_.row(indices[j]);
        std::memcpy(out + static_cast<size_t>(k) * row_bytes_, data + static_cast<size_t>(from) * row_bytes_,
                    row_bytes_);
        if (++j == layout_.num_indices) {
          j = 0;
          ++o;
        }
      }
    });
  }

 private:
  std::string node_;  // for errors: "model.pbtxt:7:3: node 'embed' (Gather)"
  GatherLayout layout_;
  size_t row_bytes_;  // bytes of one slice: the dims after the axis
};

// Zeroes dData, then adds each output_grad row into the data row it came from,
// in index order. With axis 0 on a [vocab, dim] table (the embedding gradient)
// that is one memset and one vectorisable add per index.
class GatherGradKernel final : public Kernel {
 public:
  explicit GatherGradKernel(const KernelInit& init)
      : node_(init.node.location.str() + describe(init.node)),
        layout_(init, 2),
        out_bytes_(init.outputs[0].num_bytes()) {}

  void run(const KernelIO& io) const override {
    const int64_t* indices = io.in<int64_t>(1);
    layout_.check_indices(indices, node_);
    if (out_bytes_ > 0) std::memset(io.outputs[0], 0, out_bytes_);  // all-zero float32 is 0.0f
    const int64_t inner = layout_.inner;
    const float* grad = io.in<float>(0);
    float* data_grad = io.out<float>(0);
    for (int64_t o = 0; o < layout_.outer; ++o) {
      float* block = data_grad + o * layout_.axis_size * inner;
      for (int64_t j = 0; j < layout_.num_indices; ++j, grad += inner) {
        float* row = block + layout_.row(indices[j]) * inner;
        for (int64_t k = 0; k < inner; ++k) row[k] += grad[k];
      }
    }
  }

 private:
  std::string node_;  // for errors
  GatherLayout layout_;
  size_t out_bytes_;
};

// dData = GatherGrad(dY, indices, data); the int64 indices get no gradient.
void gather_gradient(GradientBuilder& g) {
  if (!g.needs_grad(0)) return;
  pb::Node attrs;
  if (g.node().def.has_axis()) attrs.set_axis(g.node().def.axis());
  g.set_input_grad(0, g.emit1("GatherGrad", {g.output_grad(0), g.input(1), g.input(0)}, attrs));
}

}  // namespace

void register_gather_ops(OpRegistry& registry) {
  registry.op("Gather")
      .inputs({"data", "indices"})
      .outputs({"output"})
      .attrs({"axis"})
      .shape(infer_gather)
      .kernel([](const KernelInit& init) -> std::unique_ptr<Kernel> { return std::make_unique<GatherKernel>(init); })
      .gradient(gather_gradient)
      .doc(
          "Selects slices of `data` (float32 or int64) along `axis` (default 0; negative counts from the end) at "
          "the int64 `indices`: the output shape is data.shape[:axis] + indices.shape + data.shape[axis+1:], and "
          "out[a..., j..., b...] = data[a..., indices[j...], b...]. A negative index counts from the end of the "
          "axis; an index outside [-size, size) is a run-time error. With axis 0 on a [vocab, dim] table this is an "
          "embedding lookup. Gradient: d data = GatherGrad(d output, indices, data); indices get none.");

  registry.grad_op("GatherGrad")
      .inputs({"output_grad", "indices", "data"})
      .outputs({"data_grad"})
      .attrs({"axis"})
      .shape(infer_gather_grad)
      .kernel(
          [](const KernelInit& init) -> std::unique_ptr<Kernel> { return std::make_unique<GatherGradKernel>(init); })
      .doc(
          "The gradient of Gather with respect to its data: a float32 tensor of zeros with the shape of `data` "
          "(only its shape is read) into which each slice of `output_grad` is added at the slice of data that Gather "
          "took it from: data_grad[a..., i, b...] = sum over j with indices[j...] = i of output_grad[a..., j..., "
          "b...]. Repeated indices accumulate; negative ones count from the end of the axis; `axis` (default 0) and "
          "the range check are as in Gather. With axis 0 on a [vocab, dim] table this is the (dense) embedding "
          "gradient.");
}

}  // namespace graphrun
