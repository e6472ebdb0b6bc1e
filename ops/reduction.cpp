// Reductions over a set of axes on float32, backed by oneDNN's reduction
// primitive.
//
//   ReduceSum(x) = sum of x over `axes`    ReduceMean(x) = ReduceSum(x) / count
//   ReduceMax(x) = max of x over `axes`
// ONNX semantics with `axes` as an attribute: empty axes reduce every axis,
// negative axes count from the end, and `keepdims` (default true) keeps each
// reduced axis as a dim of 1 instead of removing it.
//
// oneDNN's dst has the src's rank with 1 in the reduced dims; keepdims only
// changes the output's shape, not its memory. oneDNN rejects reductions that
// reduce nothing (src dims == dst dims): those are a copy. Empty reductions
// give the op's identity (0, NaN for the mean of nothing, -inf) without oneDNN.
//
// ArgMax(x) = the index of the largest element along `axis` (int64; a plain
// loop): non-differentiable.
//
// Gradient support lives here too:
//   ReduceSumToShapeOf(X, like): sums away the dims broadcasting stretched (what
//     GradientBuilder::unbroadcast emits); a oneDNN reduction.
//   ExpandToShapeOf(X, like): NumPy-broadcasts X to like's shape; each is the
//     other's gradient.
//   ReduceMeanGrad(dY, X), ReduceMaxGrad(dY, X, Y): the backward ops.
// oneDNN has no broadcast primitive (binary wants src0 at full shape), so the
// expanding kernels are a strided loop.
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstring>
#include <limits>
#include <string_view>
#include <vector>

#include "ops/dnnl_util.h"
#include "ops/gradient.h"
#include "ops/nan.h"
#include "ops/registry.h"

namespace graphrun {
namespace {

struct ReductionSpec {
  const char* name;
  dnnl::algorithm algorithm;
  float empty_value;  // the result of reducing zero elements
  const char* doc;
};

constexpr ReductionSpec kReductionOps[] = {
    {"ReduceSum", dnnl::algorithm::reduction_sum, 0.f,
     "y = sum of x over `axes` on float32 (ONNX ReduceSum with axes as an attribute). Empty axes reduce all "
     "axes; negative axes count from the end; keepdims (default true) keeps reduced axes as dims of 1, "
     "otherwise they are removed. The sum of no elements is 0."},
    {"ReduceMean", dnnl::algorithm::reduction_mean, std::numeric_limits<float>::quiet_NaN(),
     "y = (sum of x over `axes`) / (number of elements summed) on float32 (ONNX ReduceMean). Empty axes "
     "reduce all axes; negative axes count from the end; keepdims (default true) keeps reduced axes as "
     "dims of 1, otherwise they are removed. The mean of no elements is NaN."},
    {"ReduceMax", dnnl::algorithm::reduction_max, -std::numeric_limits<float>::infinity(),
     "y = max of x over `axes` on float32 (ONNX ReduceMax). Empty axes reduce all axes; negative axes count "
     "from the end; keepdims (default true) keeps reduced axes as dims of 1, otherwise they are removed. "
     "The max of no elements is -inf; a NaN makes its max NaN (as NumPy's max)."},
};

bool keepdims_attr(const pb::Node& node) { return !node.has_keepdims() || node.keepdims(); }

// Which axes the node reduces (the shape rule has checked `axes`).
std::vector<bool> reduced_axes(const pb::Node& node, int rank) {
  std::vector<bool> reduced(static_cast<size_t>(rank), node.axes().empty());
  for (int64_t axis : node.axes()) reduced[static_cast<size_t>(normalize_axis(axis, rank))] = true;
  return reduced;
}

void infer_reduction(InferContext& ctx) {
  ctx.expect_dtype(0, DType::f32);
  const Dims& x = ctx.in_dims(0);
  const int rank = static_cast<int>(x.size());
  if (rank > DNNL_MAX_NDIMS)
    ctx.fail("input 0 has shape {}: rank {} is more than the {} oneDNN supports", dims_str(x), rank, DNNL_MAX_NDIMS);
  const auto& axes = ctx.attrs().axes();
  std::vector<bool> seen(x.size(), false);
  for (int64_t axis : axes) {
    const int normalized = normalize_axis(axis, rank);
    if (normalized < 0)
      ctx.fail("axis {} in axes [{}] is out of range for input 0 of shape {} (rank {})", axis,
               fmt::join(axes.begin(), axes.end(), ","), dims_str(x), rank);
    if (seen[static_cast<size_t>(normalized)])
      ctx.fail("axes [{}] name axis {} of input 0 (shape {}) twice", fmt::join(axes.begin(), axes.end(), ","),
               normalized, dims_str(x));
    seen[static_cast<size_t>(normalized)] = true;
  }
  const std::vector<bool> reduced = reduced_axes(ctx.attrs(), rank);
  const bool keepdims = keepdims_attr(ctx.attrs());
  Dims out;
  for (size_t i = 0; i < x.size(); ++i) {
    if (!reduced[i])
      out.push_back(x[i]);
    else if (keepdims)
      out.push_back(1);
  }
  ctx.outputs[0] = {DType::f32, out};
}

class ReductionKernel final : public Kernel {
 public:
  ReductionKernel(const ReductionSpec& spec, const Dims& src_dims, const std::vector<bool>& reduced)
      : empty_value_(spec.empty_value),
        max_(spec.algorithm == dnnl::algorithm::reduction_max),
        src_dims_(src_dims),
        reduced_(reduced) {
    Dims dst_dims = src_dims;
    for (size_t i = 0; i < reduced.size(); ++i)
      if (reduced[i]) dst_dims[i] = 1;
    dst_elements_ = num_elements(dst_dims);
    if (dst_elements_ == 0)
      mode_ = Mode::nothing;
    else if (num_elements(src_dims) == 0)
      mode_ = Mode::fill_empty_value;
    else if (dst_dims == src_dims)
      mode_ = Mode::copy;
    else {
      mode_ = Mode::primitive;
      src_md_ = plain_desc(src_dims);
      dst_md_ = plain_desc(dst_dims);
      const dnnl::reduction::desc desc(spec.algorithm, src_md_, dst_md_, 0.f, 0.f);
      const dnnl::reduction::primitive_desc pd(desc, user_scratchpad_attr(), cpu_engine());
      // Without a JIT kernel for the shape oneDNN falls back to its reference loop,
      // which costs ~20 us a call in its per-element index arithmetic (Emojifier V1's
      // word-vector sum, [1, 20, 100] -> [1, 1, 100], was 60% of its step). The same
      // sum in the same order, a float accumulator per output over the reduced
      // elements in row-major order, is a plain loop (tests pin the equality).
      const bool sum_or_mean =
          spec.algorithm == dnnl::algorithm::reduction_sum || spec.algorithm == dnnl::algorithm::reduction_mean;
      // The offset tables stay small: dst elements + reduced elements, at most 1M.
      const bool small = dst_elements_ + num_elements(src_dims) / dst_elements_ <= (int64_t{1} << 20);
      if (sum_or_mean && small && std::string_view(pd.impl_info_str()).starts_with("ref")) {
        mode_ = Mode::sequential_sum;
        mean_ = spec.algorithm == dnnl::algorithm::reduction_mean;
        plan_sequential_sum(src_dims, reduced);
      } else {
        scratchpad_md_ = pd.scratchpad_desc();
        primitive_ = dnnl::reduction(pd);
      }
    }
  }

  size_t scratchpad_bytes() const override { return mode_ == Mode::primitive ? scratchpad_md_.get_size() : 0; }

  void run(const KernelIO& io) const override {
    float* y = io.out<float>(0);
    switch (mode_) {
      case Mode::nothing:
        return;
      case Mode::fill_empty_value:
        std::fill(y, y + dst_elements_, empty_value_);
        return;
      case Mode::copy:  // every reduced axis has size 1: each output is its one input
        std::memcpy(y, io.inputs[0], static_cast<size_t>(dst_elements_) * sizeof(float));
        return;
      case Mode::sequential_sum:
        sequential_sum(io.in<float>(0), y);
        return;
      case Mode::primitive:
        execute(primitive_, {{DNNL_ARG_SRC, wrap(src_md_, io.inputs[0])}, {DNNL_ARG_DST, wrap(dst_md_, y)}},
                scratchpad_md_, io.scratchpad);
        if (max_) write_nan_through(io.in<float>(0), y);
        return;
    }
  }

 private:
  // oneDNN's max reduction skips NaN: each NaN of x makes its output cell NaN.
  void write_nan_through(const float* x, float* y) const {
    const int64_t n = num_elements(src_dims_);
    if (!has_nan(x, n)) return;
    const size_t rank = src_dims_.size();
    std::vector<int64_t> dst_stride(rank, 0);  // 0 along reduced axes
    for (int64_t stride = 1, i = static_cast<int64_t>(rank) - 1; i >= 0; --i) {
      if (reduced_[static_cast<size_t>(i)]) continue;
      dst_stride[static_cast<size_t>(i)] = stride;
      stride *= src_dims_[static_cast<size_t>(i)];
    }
    for (int64_t i = 0; i < n; ++i) {
      if (!std::isnan(x[i])) continue;
      int64_t dst = 0;
      for (int64_t rest = i, axis = static_cast<int64_t>(rank) - 1; axis >= 0; --axis) {
        const int64_t size = src_dims_[static_cast<size_t>(axis)];
        dst += (rest % size) * dst_stride[static_cast<size_t>(axis)];
        rest /= size;
      }
      y[dst] = x[i];
    }
  }

  // The source offsets of the first element of each output (kept axes) and of each
  // reduced element relative to it, both in row-major order, as oneDNN's reference
  // loop visits them.
  void plan_sequential_sum(const Dims& src_dims, const std::vector<bool>& reduced) {
    const Dims strides = strides_of(src_dims);
    output_offsets_ = {0};
    reduced_offsets_ = {0};
    for (size_t axis = 0; axis < src_dims.size(); ++axis) {
      std::vector<int64_t>& offsets = reduced[axis] ? reduced_offsets_ : output_offsets_;
      std::vector<int64_t> grown;
      grown.reserve(offsets.size() * static_cast<size_t>(src_dims[axis]));
      for (int64_t base : offsets)
        for (int64_t i = 0; i < src_dims[axis]; ++i) grown.push_back(base + i * strides[axis]);
      offsets = std::move(grown);
    }
    // Offsets ascend, so a full block spanning kSumBlock - 1 holds adjacent outputs: rows of
    // a fixed length, which the compiler keeps in vector registers, instead of a gather per
    // element.
    adjacent_blocks_.clear();
    for (size_t begin = 0; begin + kSumBlock <= output_offsets_.size(); begin += kSumBlock)
      adjacent_blocks_.push_back(output_offsets_[begin + kSumBlock - 1] - output_offsets_[begin] ==
                                 static_cast<int64_t>(kSumBlock) - 1);
  }

  // Each output sums its elements in row-major order into a float; a block of outputs is
  // summed side by side (independent additions in flight instead of one chain), which
  // changes no output's order.
  void sequential_sum(const float* x, float* y) const {
    const auto count = static_cast<float>(reduced_offsets_.size());
    const size_t outputs = output_offsets_.size();
    for (size_t begin = 0; begin < outputs; begin += kSumBlock) {
      const size_t n = std::min(kSumBlock, outputs - begin);
      const int64_t* first = output_offsets_.data() + begin;
      std::array<float, kSumBlock> sums{};
      if (n == kSumBlock && adjacent_blocks_[begin / kSumBlock])
        for (int64_t offset : reduced_offsets_) {
          const float* row = x + first[0] + offset;
          for (size_t k = 0; k < kSumBlock; ++k) sums[k] += row[k];
        }
      else
        for (int64_t offset : reduced_offsets_)
          for (size_t k = 0; k < n; ++k) sums[k] += x[first[k] + offset];
      for (size_t k = 0; k < n; ++k) y[begin + k] = mean_ ? sums[k] / count : sums[k];
    }
  }

  enum class Mode { primitive, sequential_sum, copy, fill_empty_value, nothing };
  Mode mode_ = Mode::nothing;
  float empty_value_;
  bool max_;
  bool mean_ = false;
  static constexpr size_t kSumBlock = 16;  // outputs summed side by side
  std::vector<int64_t> output_offsets_, reduced_offsets_;
  std::vector<bool> adjacent_blocks_;  // per full block: its outputs are adjacent in x
  Dims src_dims_;
  std::vector<bool> reduced_;
  int64_t dst_elements_ = 0;
  KernelDesc src_md_, dst_md_;
  KernelDesc scratchpad_md_;
  dnnl::reduction primitive_;
};

// --- Gradient helpers ---------------------------------------------------------

// `x` with the reduced axes as dims of 1: the memory layout of a reduction's
// output whatever keepdims says.
Dims kept_dims(const Dims& x, const std::vector<bool>& reduced) {
  Dims kept = x;
  for (size_t i = 0; i < kept.size(); ++i)
    if (reduced[i]) kept[i] = 1;
  return kept;
}

// Whether a dim of `small` (aligned from the right) can stretch to `big`'s;
// unknown dims are taken to match.
bool stretches_to(int64_t small, int64_t big) { return small == 1 || small < 0 || big < 0 || small == big; }

// Checks that `big` is `small` broadcast one way (small's rank <= big's, its
// dims 1 or equal), naming the inputs on failure.
void expect_broadcasts_to(InferContext& ctx, int small_input, int big_input) {
  const Dims& small = ctx.in_dims(small_input);
  const Dims& big = ctx.in_dims(big_input);
  bool ok = small.size() <= big.size();
  for (size_t i = 1; ok && i <= small.size(); ++i) ok = stretches_to(small[small.size() - i], big[big.size() - i]);
  if (!ok)
    ctx.fail("input {} has shape {}, which does not broadcast to the shape {} of input {}", small_input,
             dims_str(small), dims_str(big), big_input);
}

// out[i] = scale * src[the cell of i in src_dims], where src_dims (the output's
// rank, dims 1 or equal) broadcast to out_dims.
void expand(const float* src, const Dims& src_dims, const Dims& out_dims, float scale, float* out) {
  Dims strides = strides_of(src_dims);
  for (size_t i = 0; i < src_dims.size(); ++i)
    if (src_dims[i] == 1) strides[i] = 0;  // a stretched dim reads the same cell
  const int64_t n = num_elements(out_dims);
  Dims coords(out_dims.size(), 0);
  int64_t offset = 0;
  for (int64_t i = 0; i < n; ++i) {
    out[i] = scale * src[offset];
    // Odometer over the output coords, keeping the source offset in step.
    for (size_t d = out_dims.size(); d-- > 0;) {
      offset += strides[d];
      if (++coords[d] < out_dims[d]) break;
      offset -= strides[d] * coords[d];
      coords[d] = 0;
    }
  }
}

// ExpandToShapeOf and ReduceMeanGrad: out = scale * (input 0 broadcast to out_dims).
class ExpandKernel final : public Kernel {
 public:
  ExpandKernel(const Dims& src_dims, const Dims& out_dims, float scale)
      : src_dims_(pad_leading_ones(src_dims, out_dims.size())), out_dims_(out_dims), scale_(scale) {}
  void run(const KernelIO& io) const override {
    expand(io.in<float>(0), src_dims_, out_dims_, scale_, io.out<float>(0));
  }

 private:
  Dims src_dims_, out_dims_;
  float scale_;
};

// The axes/keepdims node attributes of a reduction, checked against the forward
// input x (input `x_input` of the gradient op); returns the reduction's output.
Dims infer_forward_reduction(InferContext& ctx, int x_input) {
  InferContext forward{ctx.node, {ctx.inputs[static_cast<size_t>(x_input)]}, {TensorType{}}};
  infer_reduction(forward);
  return forward.outputs[0].dims;
}

// Expects input i to have `expected` dims, taking unknown dims on either side as matching.
void expect_dims(InferContext& ctx, int i, const Dims& expected, const char* what) {
  const Dims& dims = ctx.in_dims(i);
  bool ok = dims.size() == expected.size();
  for (size_t d = 0; ok && d < dims.size(); ++d) ok = dims[d] < 0 || expected[d] < 0 || dims[d] == expected[d];
  if (!ok)
    ctx.fail("input {} ({}) has shape {} but the forward reduction's output has shape {}", i, what, dims_str(dims),
             dims_str(expected));
}

// ReduceMeanGrad(dY, X) and ReduceMaxGrad(dY, X, Y): dX has X's type.
void infer_reduction_grad(InferContext& ctx) {
  ctx.expect_dtype(0, DType::f32);
  const Dims y = infer_forward_reduction(ctx, 1);
  expect_dims(ctx, 0, y, "dY");
  if (ctx.num_inputs() == 3) {
    ctx.expect_dtype(2, DType::f32);
    expect_dims(ctx, 2, y, "Y");
  }
  ctx.outputs[0] = ctx.inputs[1];
}

// dX = dY * (X == Y) / (number of X equal to Y in the cell): three oneDNN
// primitives, with the 0/1 mask and the per-cell counts in the scratchpad.
class ReduceMaxGradKernel final : public Kernel {
 public:
  ReduceMaxGradKernel(const Dims& x_dims, const Dims& kept) : elements_(num_elements(x_dims)), copy_(kept == x_dims) {
    if (elements_ == 0 || copy_) return;
    const dnnl::memory::desc full_md = plain_desc(x_dims);
    kept_md_ = plain_desc(kept);
    full_md_ = full_md;
    const dnnl::binary::primitive_desc eq_pd(dnnl::binary::desc(dnnl::algorithm::binary_eq, full_md, kept_md_, full_md),
                                             user_scratchpad_attr(), cpu_engine());
    const dnnl::reduction::primitive_desc count_pd(
        dnnl::reduction::desc(dnnl::algorithm::reduction_sum, full_md, kept_md_, 0.f, 0.f), user_scratchpad_attr(),
        cpu_engine());
    dnnl::post_ops divide;
    divide.append_binary(dnnl::algorithm::binary_div, kept_md_);
    dnnl::primitive_attr attr = user_scratchpad_attr();
    attr.set_post_ops(divide);
    const dnnl::binary::primitive_desc route_pd(
        dnnl::binary::desc(dnnl::algorithm::binary_mul, full_md, kept_md_, full_md), attr, cpu_engine());
    eq_scratch_md_ = eq_pd.scratchpad_desc();
    count_scratch_md_ = count_pd.scratchpad_desc();
    route_scratch_md_ = route_pd.scratchpad_desc();
    eq_ = dnnl::binary(eq_pd);
    count_ = dnnl::reduction(count_pd);
    route_ = dnnl::binary(route_pd);
    // Scratchpad: [oneDNN's (one primitive at a time)] [mask] [counts].
    mask_offset_ =
        align_up(std::max({eq_scratch_md_.get_size(), count_scratch_md_.get_size(), route_scratch_md_.get_size()}),
                 kScratchAlignment);
    count_offset_ = align_up(mask_offset_ + full_md.get_size(), kScratchAlignment);
    scratch_bytes_ = count_offset_ + kept_md_.get_size();
  }

  size_t scratchpad_bytes() const override { return scratch_bytes_; }

  void run(const KernelIO& io) const override {
    if (elements_ == 0) return;
    if (copy_) {  // nothing reduced: every X is its own max
      std::memcpy(io.outputs[0], io.inputs[0], static_cast<size_t>(elements_) * sizeof(float));
      return;
    }
    std::byte* scratch = static_cast<std::byte*>(io.scratchpad);
    void* mask = scratch + mask_offset_;
    void* count = scratch + count_offset_;
    execute(eq_,
            {{DNNL_ARG_SRC_0, wrap(full_md_, io.inputs[1])},
             {DNNL_ARG_SRC_1, wrap(kept_md_, io.inputs[2])},
             {DNNL_ARG_DST, wrap(full_md_, mask)}},
            eq_scratch_md_, scratch);
    execute(count_, {{DNNL_ARG_SRC, wrap(full_md_, mask)}, {DNNL_ARG_DST, wrap(kept_md_, count)}}, count_scratch_md_,
            scratch);
    execute(route_,
            {{DNNL_ARG_SRC_0, wrap(full_md_, mask)},
             {DNNL_ARG_SRC_1, wrap(kept_md_, io.inputs[0])},
             {DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1, wrap(kept_md_, count)},
             {DNNL_ARG_DST, wrap(full_md_, io.outputs[0])}},
            route_scratch_md_, scratch);
  }

 private:
  int64_t elements_;
  bool copy_;
  size_t mask_offset_ = 0, count_offset_ = 0, scratch_bytes_ = 0;
  KernelDesc full_md_, kept_md_;
  KernelDesc eq_scratch_md_, count_scratch_md_, route_scratch_md_;
  dnnl::binary eq_, route_;
  dnnl::reduction count_;
};

// dX = ExpandToShapeOf(dY with the reduced axes restored as dims of 1, X).
void reduce_sum_gradient(GradientBuilder& g) {
  const ValueId dy = g.output_grad(0);
  if (dy == kNoValue || !g.needs_grad(0)) return;
  const pb::Node& attrs = g.node().def;
  const int rank = g.type(g.input(0)).rank();
  ValueId dy_kept = dy;
  if (!keepdims_attr(attrs)) {
    pb::Node unsqueeze;
    const std::vector<bool> reduced = reduced_axes(attrs, rank);
    for (int i = 0; i < rank; ++i)
      if (reduced[static_cast<size_t>(i)]) unsqueeze.add_axes(i);
    if (!unsqueeze.axes().empty()) dy_kept = g.emit1("Unsqueeze", {dy}, unsqueeze);
  }
  g.set_input_grad(0, g.emit1("ExpandToShapeOf", {dy_kept, g.input(0)}));
}

// ReduceMean and ReduceMax: a backward op with the forward node's axes/keepdims.
GradientRule reduction_grad_op(const char* grad_op, bool needs_output) {
  return [grad_op, needs_output](GradientBuilder& g) {
    const ValueId dy = g.output_grad(0);
    if (dy == kNoValue || !g.needs_grad(0)) return;
    const pb::Node& forward = g.node().def;
    pb::Node attrs;
    attrs.mutable_axes()->CopyFrom(forward.axes());
    if (forward.has_keepdims()) attrs.set_keepdims(forward.keepdims());
    std::vector<ValueId> inputs{dy, g.input(0)};
    if (needs_output) inputs.push_back(g.output(0));
    g.set_input_grad(0, g.emit1(grad_op, inputs, attrs));
  };
}

// ReduceSumToShapeOf(X, like) -> like's shape: X must be like broadcast one way.
void infer_reduce_sum_to_shape_of(InferContext& ctx) {
  ctx.expect_dtype(0, DType::f32);
  expect_broadcasts_to(ctx, 1, 0);
  if (ctx.in_dims(0).size() > DNNL_MAX_NDIMS)
    ctx.fail("input 0 has shape {}: rank {} is more than the {} oneDNN supports", dims_str(ctx.in_dims(0)),
             ctx.in_dims(0).size(), DNNL_MAX_NDIMS);
  ctx.outputs[0] = {DType::f32, ctx.in_dims(1)};
}

// ExpandToShapeOf(X, like) -> like's shape: X must broadcast to like one way.
void infer_expand_to_shape_of(InferContext& ctx) {
  ctx.expect_dtype(0, DType::f32);
  expect_broadcasts_to(ctx, 0, 1);
  ctx.outputs[0] = {DType::f32, ctx.in_dims(1)};
}

GradientRule reduction_gradient(std::string_view op) {
  if (op == "ReduceSum") return reduce_sum_gradient;
  if (op == "ReduceMean") return reduction_grad_op("ReduceMeanGrad", /*needs_output=*/false);
  return reduction_grad_op("ReduceMaxGrad", /*needs_output=*/true);
}

void register_gradient_ops(OpRegistry& registry) {
  registry.op("ReduceSumToShapeOf")
      .inputs({"X", "like"})
      .outputs({"Y"})
      .shape(infer_reduce_sum_to_shape_of)
      .kernel([](const KernelInit& init) -> std::unique_ptr<Kernel> {
        const Dims& x = init.in_dims(0);
        const Dims like = pad_leading_ones(init.out_dims(0), x.size());
        std::vector<bool> reduced(x.size());
        for (size_t i = 0; i < x.size(); ++i) reduced[i] = like[i] != x[i];
        return std::make_unique<ReductionKernel>(kReductionOps[0], x, reduced);  // ReduceSum's spec
      })
      .gradient([](GradientBuilder& g) {
        const ValueId dy = g.output_grad(0);
        if (dy != kNoValue && g.needs_grad(0)) g.set_input_grad(0, g.emit1("ExpandToShapeOf", {dy, g.input(0)}));
      })
      .doc(
          "Y = X summed over the dims that NumPy broadcasting stretched from `like`'s shape to X's, so Y has like's "
          "shape (float32): shapes align from the right, X's leading dims beyond like's rank are summed away, and a "
          "dim where like has 1 and X has n sums n elements. Only like's shape is read. The gradient of a "
          "broadcasting op with respect to an input of like's shape; its own gradient is ExpandToShapeOf.");

  registry.op("ExpandToShapeOf")
      .inputs({"X", "like"})
      .outputs({"Y"})
      .shape(infer_expand_to_shape_of)
      .kernel([](const KernelInit& init) -> std::unique_ptr<Kernel> {
        return std::make_unique<ExpandKernel>(init.in_dims(0), init.out_dims(0), 1.f);
      })
      .gradient([](GradientBuilder& g) {
        const ValueId dy = g.output_grad(0);
        if (dy != kNoValue && g.needs_grad(0)) g.set_input_grad(0, g.emit1("ReduceSumToShapeOf", {dy, g.input(0)}));
      })
      .doc(
          "Y = X broadcast to `like`'s shape by NumPy rules (float32): shapes align from the right, missing leading "
          "dims count as 1 and a dim of 1 repeats to like's size; X must broadcast to like one way. Only like's "
          "shape is read. Its gradient is ReduceSumToShapeOf.");

  registry.grad_op("ReduceMeanGrad")
      .inputs({"dY", "X"})
      .outputs({"dX"})
      .attrs({"axes", "keepdims"})
      .shape(infer_reduction_grad)
      .kernel([](const KernelInit& init) -> std::unique_ptr<Kernel> {
        const Dims& x = init.in_dims(1);
        const std::vector<bool> reduced = reduced_axes(init.attrs(), static_cast<int>(x.size()));
        int64_t count = 1;  // elements per mean
        for (size_t i = 0; i < x.size(); ++i)
          if (reduced[i]) count *= x[i];
        // count == 0 only when X is empty, and then there is nothing to write.
        return std::make_unique<ExpandKernel>(kept_dims(x, reduced), x,
                                              1.f / static_cast<float>(std::max<int64_t>(count, 1)));
      })
      .doc(
          "dX = dY broadcast back over the reduced axes / n, where n is the number of elements each mean averaged: "
          "the gradient of ReduceMean(X) with the same `axes` and `keepdims` (float32). dY has ReduceMean's output "
          "shape; dX has X's.");

  registry.grad_op("ReduceMaxGrad")
      .inputs({"dY", "X", "Y"})
      .outputs({"dX"})
      .attrs({"axes", "keepdims"})
      .shape(infer_reduction_grad)
      .kernel([](const KernelInit& init) -> std::unique_ptr<Kernel> {
        const Dims& x = init.in_dims(1);
        return std::make_unique<ReduceMaxGradKernel>(
            x, kept_dims(x, reduced_axes(init.attrs(), static_cast<int>(x.size()))));
      })
      .doc(
          "dX = dY * (X == Y) / (number of elements equal to Y in X's reduced cell): the gradient of Y = "
          "ReduceMax(X) with the same `axes` and `keepdims` (float32), routing each output gradient to the maximal "
          "elements and splitting it evenly among ties, as TensorFlow's reduce_max gradient. dY and Y have "
          "ReduceMax's output shape; dX has X's.");
}

// ---- ArgMax -------------------------------------------------------------------------

int64_t argmax_axis_attr(const pb::Node& attrs) { return attrs.has_axis() ? attrs.axis() : 0; }  // ONNX default

void infer_argmax(InferContext& ctx) {
  const TensorType& x = ctx.inputs[0];
  const int64_t axis = argmax_axis_attr(ctx.attrs());
  const int a = normalize_axis(axis, x.rank());
  if (a < 0) ctx.fail("axis {} is out of range for input 0 of shape {} (rank {})", axis, dims_str(x.dims), x.rank());
  if (x.dims[static_cast<size_t>(a)] == 0)
    ctx.fail("axis {} of input 0 {} is empty; it has no maximum", axis, dims_str(x.dims));
  Dims out = x.dims;
  if (keepdims_attr(ctx.attrs()))
    out[static_cast<size_t>(a)] = 1;
  else
    out.erase(out.begin() + a);
  ctx.outputs[0] = {DType::i64, out};
}

// Data viewed as [outer, axis, inner]: element (o, k, i) is at (o * axis + k) * inner + i.
struct AxisView {
  int64_t outer, axis, inner;
  AxisView(const Dims& dims, int a)
      : outer(num_elements(Dims(dims.begin(), dims.begin() + a))),
        axis(dims[static_cast<size_t>(a)]),
        inner(num_elements(Dims(dims.begin() + a + 1, dims.end()))) {}
};

template <typename T>
void argmax_loop(const AxisView& v, const T* x, int64_t* out) {
  for (int64_t o = 0; o < v.outer; ++o)
    for (int64_t i = 0; i < v.inner; ++i) {
      const T* column = x + o * v.axis * v.inner + i;
      int64_t best = 0;
      // Strictly greater: the first maximum wins a tie (ONNX select_last_index = 0);
      // the first NaN wins over any number (NumPy), so a NaN is never hidden.
      for (int64_t k = 1; k < v.axis; ++k)
        if (argmax_beats(column[k * v.inner], column[best * v.inner])) best = k;
      out[o * v.inner + i] = best;
    }
}

std::unique_ptr<Kernel> make_argmax_kernel(const KernelInit& init) {
  const Dims& dims = init.in_dims(0);
  const AxisView view(dims, normalize_axis(argmax_axis_attr(init.attrs()), static_cast<int>(dims.size())));
  if (init.inputs[0].dtype == DType::i64)
    return make_lambda_kernel([view](const KernelIO& io) { argmax_loop(view, io.in<int64_t>(0), io.out<int64_t>(0)); });
  return make_lambda_kernel([view](const KernelIO& io) { argmax_loop(view, io.in<float>(0), io.out<int64_t>(0)); });
}

}  // namespace

void register_reduction_ops(OpRegistry& registry) {
  for (const ReductionSpec& spec : kReductionOps)
    registry.op(spec.name)
        .inputs({"X"})
        .outputs({"Y"})
        .attrs({"axes", "keepdims"})
        .shape(infer_reduction)
        .kernel([&spec](const KernelInit& init) -> std::unique_ptr<Kernel> {
          const Dims& dims = init.in_dims(0);
          return std::make_unique<ReductionKernel>(spec, dims,
                                                   reduced_axes(init.attrs(), static_cast<int>(dims.size())));
        })
        .gradient(reduction_gradient(spec.name))
        .doc(spec.doc);
  registry.op("ArgMax")
      .inputs({"data"})
      .outputs({"reduced"})
      .attrs({"axis", "keepdims"})
      .shape(infer_argmax)
      .kernel(make_argmax_kernel)
      .non_differentiable("an integer output")
      .doc(
          "Index of the largest element along `axis` (default 0 as ONNX; Keras argmax uses the last axis, so write "
          "`axis: -1` for class scores; negative counts from the end) of a float32 or int64 input, as an int64 "
          "tensor. keepdims (default true, as ONNX) keeps the axis as a dim of 1, otherwise it is removed. On ties "
          "the first index wins (ONNX select_last_index = 0); a NaN counts as the largest value, so the first NaN's "
          "index is returned (NumPy). The axis must not be empty.");
  register_gradient_ops(registry);
}

}  // namespace graphrun
