// Shape ops: they move elements without computing on them, on float32 and int64
// alike (the output keeps the input's dtype). Semantics follow ONNX, except that
// Slice and Unsqueeze/Squeeze take their index lists as attributes, not inputs.
//
//   Reshape    same elements, new shape (`shape`: 0 copies a dim, one -1 is inferred)
//   Transpose  y[i_perm[0], ..., i_perm[r-1]] = x[i_0, ..., i_r-1] (`perm`, default reversed)
//   Concat     inputs joined along `axis`
//   Slice      x[start:end:step] on the `axes` (`starts`, `ends`, `steps`)
//   Squeeze    drops size-1 dims; Unsqueeze inserts them; Flatten makes rank 2
//   ReshapeLike  same elements, the shape of a second input (read at run time)
//   SliceGrad  zeros shaped like the sliced data, the slice's gradient scattered in
//
// Gradients: the view changes' is ReshapeLike(dY, X); Transpose's is the inverse
// transpose; Concat's is one Slice of dY per input; Slice's is SliceGrad.
//
// Kernels: a view change (Reshape, Squeeze, Unsqueeze, Flatten, ReshapeLike) is
// a memcpy, as the runtime gives every value its own buffer. Transpose and Slice
// are strided copies (a oneDNN reorder from a strided view for float32; a loop
// for int64, which oneDNN lacks), SliceGrad a strided copy into a zeroed output.
// Concat uses oneDNN's concat for float32, a loop for int64.
#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <numeric>

#include "ops/dnnl_util.h"
#include "ops/gradient.h"
#include "ops/registry.h"

namespace graphrun {
namespace {

using IntList = google::protobuf::RepeatedField<int64_t>;

// "[3,-1,-1]": an attribute list as written (dims_str would print -1 as ?).
std::string list_str(const IntList& values) { return fmt::format("[{}]", fmt::join(values, ",")); }

// Normalises `axes` (attribute `attr_name`) against `rank`; fails on an axis out
// of range or named twice.
std::vector<int> normalize_axes(const InferContext& ctx, const char* attr_name, const IntList& axes, int rank) {
  std::vector<int> result;
  for (int64_t axis : axes) {
    const int normalized = normalize_axis(axis, rank);
    if (normalized < 0) ctx.fail("{} {}: axis {} is out of range for rank {}", attr_name, list_str(axes), axis, rank);
    if (std::find(result.begin(), result.end(), normalized) != result.end())
      ctx.fail("{} {} names axis {} twice", attr_name, list_str(axes), normalized);
    result.push_back(normalized);
  }
  return result;
}

// ---- Strided copies: the kernels of Transpose, Slice and SliceGrad -----------

// Calls fn(dense_index, strided_offset) for every element of a view with `dims`
// and `strides`, in row-major order: element (i_0, ..., i_r-1) has offset
// sum_k i_k * strides[k]. Strides may be negative.
template <typename Fn>
void for_each_strided(const Dims& dims, const Dims& strides, Fn fn) {
  const int64_t total = num_elements(dims);
  if (total == 0) return;
  if (dims.empty()) {
    fn(int64_t{0}, int64_t{0});
    return;
  }
  const size_t last = dims.size() - 1;
  Dims coords(dims.size(), 0);
  int64_t offset = 0;  // of `coords` with the innermost coordinate 0
  for (int64_t dense = 0; dense < total;) {
    for (int64_t j = 0; j < dims[last]; ++j) fn(dense++, offset + j * strides[last]);
    // Advance the outer coordinates like an odometer.
    for (size_t k = last; k-- > 0;) {
      offset += strides[k];
      if (++coords[k] < dims[k]) break;
      offset -= coords[k] * strides[k];
      coords[k] = 0;
    }
  }
}

// Copies a strided view of `src` into dense row-major `dst`.
template <typename T>
void copy_strided(const T* src, const Dims& dims, const Dims& strides, T* dst) {
  for_each_strided(dims, strides, [&](int64_t dense, int64_t offset) { dst[dense] = src[offset]; });
}

// The inverse: writes dense row-major `src` into a strided view of `dst`.
template <typename T>
void scatter_strided(const T* src, const Dims& dims, const Dims& strides, T* dst) {
  for_each_strided(dims, strides, [&](int64_t dense, int64_t offset) { dst[offset] = src[dense]; });
}

// oneDNN handles float32 views with non-negative strides; the loops do the rest.
bool reorder_can_view(DType dtype, const Dims& dims, const Dims& strides) {
  return dtype == DType::f32 && std::all_of(strides.begin(), strides.end(), [](int64_t s) { return s >= 0; }) &&
         num_elements(dims) > 0 && dims.size() <= static_cast<size_t>(DNNL_MAX_NDIMS);
}

// Copies the view (dims, strides, first element at `offset` elements from the
// input's start) of input 0 into output 0.
class StridedCopyKernel final : public Kernel {
 public:
  StridedCopyKernel(DType dtype, Dims dims, Dims strides, int64_t offset)
      : dtype_(dtype), dims_(std::move(dims)), strides_(std::move(strides)), offset_(offset) {
    if (!reorder_can_view(dtype_, dims_, strides_)) return;  // the loop handles it
    src_md_ = strided_desc(dims_, strides_);
    dst_md_ = plain_desc(dims_);
    const dnnl::reorder::primitive_desc pd(cpu_engine(), src_md_, cpu_engine(), dst_md_, user_scratchpad_attr());
    scratchpad_md_ = pd.scratchpad_desc();
    reorder_ = dnnl::reorder(pd);
  }
  size_t scratchpad_bytes() const override { return scratchpad_md_.get_size(); }
  void run(const KernelIO& io) const override {
    if (reorder_) {
      const float* first = io.in<float>(0) + offset_;
      execute(reorder_, {{DNNL_ARG_FROM, wrap(src_md_, first)}, {DNNL_ARG_TO, wrap(dst_md_, io.outputs[0])}},
              scratchpad_md_, io.scratchpad);
    } else if (dtype_ == DType::f32) {
      copy_strided(io.in<float>(0) + offset_, dims_, strides_, io.out<float>(0));
    } else {
      copy_strided(io.in<int64_t>(0) + offset_, dims_, strides_, io.out<int64_t>(0));
    }
  }

 private:
  DType dtype_;
  Dims dims_;
  Dims strides_;
  int64_t offset_;
  KernelDesc src_md_, dst_md_, scratchpad_md_;
  dnnl::reorder reorder_;  // empty when the loop runs instead
};

// SliceGrad: zeroes float32 output 0 (`out_elems` elements), then writes dense
// input 0 into its view (dims, strides, offset): the mirror of StridedCopyKernel.
class StridedScatterKernel final : public Kernel {
 public:
  StridedScatterKernel(int64_t out_elems, Dims dims, Dims strides, int64_t offset)
      : out_bytes_(static_cast<size_t>(out_elems) * sizeof(float)),
        dims_(std::move(dims)),
        strides_(std::move(strides)),
        offset_(offset) {
    if (!reorder_can_view(DType::f32, dims_, strides_)) return;  // the loop handles it
    src_md_ = plain_desc(dims_);
    dst_md_ = strided_desc(dims_, strides_);
    const dnnl::reorder::primitive_desc pd(cpu_engine(), src_md_, cpu_engine(), dst_md_, user_scratchpad_attr());
    scratchpad_md_ = pd.scratchpad_desc();
    reorder_ = dnnl::reorder(pd);
  }
  size_t scratchpad_bytes() const override { return scratchpad_md_.get_size(); }
  void run(const KernelIO& io) const override {
    if (out_bytes_ > 0) std::memset(io.outputs[0], 0, out_bytes_);  // all-zero float32 is 0.0f
    float* first = io.out<float>(0) + offset_;
    if (reorder_) {
      execute(reorder_, {{DNNL_ARG_FROM, wrap(src_md_, io.inputs[0])}, {DNNL_ARG_TO, wrap(dst_md_, first)}},
              scratchpad_md_, io.scratchpad);
    } else {
      scatter_strided(io.in<float>(0), dims_, strides_, first);
    }
  }

 private:
  size_t out_bytes_;
  Dims dims_;
  Dims strides_;
  int64_t offset_;
  KernelDesc src_md_, dst_md_, scratchpad_md_;
  dnnl::reorder reorder_;  // empty when the loop runs instead
};

// Reshape, Squeeze, Unsqueeze, Flatten, and the identity cases: the bytes are unchanged.
std::unique_ptr<Kernel> make_copy_kernel(const KernelInit& init) {
  const size_t bytes = init.outputs.at(0).num_bytes();
  return make_lambda_kernel([bytes](const KernelIO& io) {
    if (bytes > 0) std::memcpy(io.outputs[0], io.inputs[0], bytes);
  });
}

// ---- Reshape -----------------------------------------------------------------

// count * dim, a shape rule error when the element count of `what` overflows int64.
int64_t times(InferContext& ctx, int64_t count, int64_t dim, const std::string& what) {
  if (__builtin_mul_overflow(count, dim, &count)) ctx.fail("{} has more elements than int64 can count", what);
  return count;
}

void infer_reshape(InferContext& ctx) {
  const Dims& in = ctx.in_dims(0);
  const IntList& shape = ctx.attrs().shape();
  const std::string input = type_str(ctx.inputs[0]);
  Dims out(static_cast<size_t>(shape.size()));
  std::vector<bool> copied(in.size(), false);  // input dims copied through by a 0
  int inferred_at = -1;
  int64_t known_out = 1;  // product of the output dims known so far
  for (int i = 0; i < shape.size(); ++i) {
    const int64_t target = shape[i];
    const size_t at = static_cast<size_t>(i);
    if (target == 0) {
      if (at >= in.size())
        ctx.fail("shape {} copies dim {} with 0, but input {} has rank {}", list_str(shape), i, input, in.size());
      out[at] = in[at];
      copied[at] = true;
      // An unknown dim copied through cancels itself; only known ones count.
      if (in[at] >= 0) known_out = times(ctx, known_out, in[at], "shape " + list_str(shape));
    } else if (target == -1) {
      if (inferred_at >= 0) ctx.fail("shape {} has more than one -1", list_str(shape));
      inferred_at = i;
    } else if (target < -1) {
      ctx.fail("shape {} has invalid dim {}", list_str(shape), target);
    } else {
      out[at] = target;
      if (__builtin_mul_overflow(known_out, target, &known_out))
        ctx.fail("shape {} has too many elements", list_str(shape));
    }
  }
  int64_t known_in = 1;
  bool in_unknown = false;  // an unknown input dim not copied through
  for (size_t j = 0; j < in.size(); ++j) {
    if (in[j] >= 0)
      known_in = times(ctx, known_in, in[j], "input " + input);
    else if (!copied[j])
      in_unknown = true;
  }
  // Remaining equation: known_in * (uncopied unknown dims) = known_out * (the -1 dim).
  if (inferred_at >= 0) {
    int64_t& inferred = out[static_cast<size_t>(inferred_at)];
    if (in_unknown) {
      inferred = kUnknownDim;
    } else {
      if (known_out == 0) ctx.fail("cannot infer the -1 in shape {}: the other dims multiply to 0", list_str(shape));
      if (known_in % known_out != 0)
        ctx.fail("cannot reshape input {} to shape {}: {} elements do not divide into rows of {}", input,
                 list_str(shape), known_in, known_out);
      inferred = known_in / known_out;
    }
  } else if (!in_unknown) {
    if (known_in != known_out)
      ctx.fail("cannot reshape input {} to shape {}: the sizes differ ({} vs {} elements{})", input, list_str(shape),
               known_in, known_out, ctx.inputs[0].is_concrete() ? "" : " besides the dims copied by 0");
  } else if (known_in > 0 && known_out % known_in != 0) {
    ctx.fail("cannot reshape input {} to shape {}: {} elements are not a multiple of {}", input, list_str(shape),
             known_out, known_in);
  }
  ctx.outputs[0] = {ctx.inputs[0].dtype, out};
}

// ---- Transpose ---------------------------------------------------------------

// The permutation of a Transpose node on an input of `rank` (default: reversed).
std::vector<int> transpose_perm(const InferContext& ctx, int rank) {
  const IntList& perm = ctx.attrs().perm();
  std::vector<int> result(static_cast<size_t>(rank));
  if (perm.empty()) {
    std::iota(result.rbegin(), result.rend(), 0);
    return result;
  }
  std::vector<bool> seen(static_cast<size_t>(rank), false);
  bool valid = perm.size() == rank;
  for (int i = 0; valid && i < rank; ++i) {
    valid = perm[i] >= 0 && perm[i] < rank && !seen[static_cast<size_t>(perm[i])];
    if (valid) {
      seen[static_cast<size_t>(perm[i])] = true;
      result[static_cast<size_t>(i)] = static_cast<int>(perm[i]);
    }
  }
  if (!valid)
    ctx.fail("perm {} is not a permutation of the {} axes of input {}", list_str(perm), rank, type_str(ctx.inputs[0]));
  return result;
}

void infer_transpose(InferContext& ctx) {
  const Dims& in = ctx.in_dims(0);
  Dims out;
  for (int axis : transpose_perm(ctx, ctx.inputs[0].rank())) out.push_back(in[static_cast<size_t>(axis)]);
  ctx.outputs[0] = {ctx.inputs[0].dtype, out};
}

std::unique_ptr<Kernel> make_transpose_kernel(const KernelInit& init) {
  const InferContext ctx{init.node, init.inputs, {}};
  const Dims in_strides = strides_of(init.in_dims(0));
  // Output element (i_0, ...) is input element i_k on axis perm[k]: read the input
  // in output order by permuting its strides.
  Dims strides;
  for (int axis : transpose_perm(ctx, init.inputs[0].rank())) strides.push_back(in_strides[static_cast<size_t>(axis)]);
  return std::make_unique<StridedCopyKernel>(init.inputs[0].dtype, init.out_dims(0), std::move(strides), 0);
}

// ---- Concat ------------------------------------------------------------------

void infer_concat(InferContext& ctx) {
  if (ctx.num_inputs() < 1) ctx.fail("Concat needs at least one input");
  if (!ctx.attrs().has_axis()) ctx.fail("Concat needs the axis attribute");
  const TensorType& first = ctx.inputs[0];
  const int axis = normalize_axis(ctx.attrs().axis(), first.rank());
  if (axis < 0) ctx.fail("axis {} is out of range for input 0 {}", ctx.attrs().axis(), type_str(first));
  Dims out = first.dims;
  for (int i = 1; i < ctx.num_inputs(); ++i) {
    const TensorType& in = ctx.inputs[static_cast<size_t>(i)];
    if (in.dtype != first.dtype || in.rank() != first.rank())
      ctx.fail("input {} is {}, but input 0 is {} (inputs need the same dtype and rank)", i, type_str(in),
               type_str(first));
    for (size_t d = 0; d < out.size(); ++d) {
      const int64_t size = in.dims[d];
      if (static_cast<int>(d) == axis) {
        out[d] = out[d] < 0 || size < 0 ? kUnknownDim : out[d] + size;
      } else if (out[d] < 0) {
        out[d] = size;  // a known size settles an unknown one
      } else if (size >= 0 && size != out[d]) {
        ctx.fail("input {} is {}, but input 0 is {}: dims other than axis {} must match", i, type_str(in),
                 type_str(first), axis);
      }
    }
  }
  ctx.outputs[0] = {first.dtype, out};
}

class ConcatKernel final : public Kernel {
 public:
  explicit ConcatKernel(const KernelInit& init) : elem_size_(dtype_size(init.outputs[0].dtype)) {
    const Dims& out = init.out_dims(0);
    axis_ = normalize_axis(init.attrs().axis(), static_cast<int>(out.size()));
    outer_ = num_elements(Dims(out.begin(), out.begin() + axis_));
    // Inputs with no elements add nothing (and oneDNN rejects empty sources).
    for (size_t i = 0; i < init.inputs.size(); ++i)
      if (init.inputs[i].num_elements() > 0) parts_.push_back(i);
    std::vector<dnnl::memory::desc> src_mds;
    for (size_t i : parts_) {
      const Dims& dims = init.in_dims(i);
      block_elems_.push_back(num_elements(Dims(dims.begin() + axis_, dims.end())));
      src_mds.push_back(plain_desc(dims));
    }
    if (init.outputs[0].dtype != DType::f32 || parts_.empty() || out.size() > static_cast<size_t>(DNNL_MAX_NDIMS))
      return;  // the loop handles it
    dst_md_ = plain_desc(out);
    const dnnl::concat::primitive_desc pd(dst_md_, axis_, src_mds, cpu_engine(), user_scratchpad_attr());
    src_mds_.assign(src_mds.begin(), src_mds.end());
    scratchpad_md_ = pd.scratchpad_desc();
    concat_ = dnnl::concat(pd);
  }
  size_t scratchpad_bytes() const override { return scratchpad_md_.get_size(); }
  void run(const KernelIO& io) const override {
    if (concat_) {
      PrimitiveArgs args{{DNNL_ARG_DST, wrap(dst_md_, io.outputs[0])}};
      for (size_t k = 0; k < parts_.size(); ++k)
        args.push_back({DNNL_ARG_MULTIPLE_SRC + static_cast<int>(k), wrap(src_mds_[k], io.inputs[parts_[k]])});
      execute(concat_, args, scratchpad_md_, io.scratchpad);
      return;
    }
    // Each outer index takes one contiguous block from every input in turn.
    auto* dst = static_cast<std::byte*>(io.outputs[0]);
    for (int64_t o = 0; o < outer_; ++o) {
      for (size_t k = 0; k < parts_.size(); ++k) {
        const size_t block_bytes = static_cast<size_t>(block_elems_[k]) * elem_size_;
        const auto* src = static_cast<const std::byte*>(io.inputs[parts_[k]]) + static_cast<size_t>(o) * block_bytes;
        std::memcpy(dst, src, block_bytes);
        dst += block_bytes;
      }
    }
  }

 private:
  size_t elem_size_;
  int axis_ = 0;
  int64_t outer_ = 0;                 // product of the dims before the axis
  std::vector<size_t> parts_;         // indices of the non-empty inputs
  std::vector<int64_t> block_elems_;  // per part: product of its dims from the axis on
  std::vector<KernelDesc> src_mds_;
  KernelDesc dst_md_, scratchpad_md_;
  dnnl::concat concat_;  // empty when the loop runs instead
};

// ---- Slice -------------------------------------------------------------------

// What Slice takes from one input dim: `size` elements starting at `start`,
// `step` apart. size is unknown (-1) when the dim is.
struct SliceRange {
  int64_t start = 0;
  int64_t step = 1;
  int64_t size = 0;
};

// Resolves Slice's attributes against the input dims with ONNX's rules: negative
// starts/ends count from the end, then both are clamped into the dim (so
// ends: [9223372036854775807] means "to the end"). The sliced tensor is input
// `data_input` (0 for Slice, 1 for SliceGrad).
std::vector<SliceRange> slice_ranges(const InferContext& ctx, int data_input = 0) {
  const pb::Node& attrs = ctx.attrs();
  const TensorType& data = ctx.inputs.at(static_cast<size_t>(data_input));
  const Dims& in = data.dims;
  const int rank = data.rank();
  const int n = attrs.starts_size();
  if (n == 0) ctx.fail("Slice needs starts and ends");
  if (attrs.ends_size() != n)
    ctx.fail("starts {} and ends {} differ in length", list_str(attrs.starts()), list_str(attrs.ends()));
  if (!attrs.axes().empty() && attrs.axes_size() != n)
    ctx.fail("axes {} and starts {} differ in length", list_str(attrs.axes()), list_str(attrs.starts()));
  if (!attrs.steps().empty() && attrs.steps_size() != n)
    ctx.fail("steps {} and starts {} differ in length", list_str(attrs.steps()), list_str(attrs.starts()));
  std::vector<int> axes;
  if (attrs.axes().empty()) {
    if (n > rank)
      ctx.fail("starts {} has more entries than input {} has dims", list_str(attrs.starts()), type_str(data));
    for (int k = 0; k < n; ++k) axes.push_back(k);
  } else {
    axes = normalize_axes(ctx, "axes", attrs.axes(), rank);
  }

  std::vector<SliceRange> ranges;
  for (int64_t dim : in) ranges.push_back({0, 1, dim});  // unsliced dims: everything
  for (int k = 0; k < n; ++k) {
    const int64_t step = attrs.steps().empty() ? 1 : attrs.steps(k);
    if (step == 0) ctx.fail("steps {} has a 0", list_str(attrs.steps()));
    const int64_t dim = in[static_cast<size_t>(axes[static_cast<size_t>(k)])];
    SliceRange& range = ranges[static_cast<size_t>(axes[static_cast<size_t>(k)])];
    range.step = step;
    if (dim <= 0) {
      range.size = dim;  // unknown stays unknown; an empty dim stays empty
      continue;
    }
    int64_t start = attrs.starts(k), end = attrs.ends(k);
    if (start < 0) start += dim;
    if (end < 0) end += dim;
    // Walking backwards, start is at most the last element and end at least one
    // before the first.
    start = step > 0 ? std::clamp<int64_t>(start, 0, dim) : std::clamp<int64_t>(start, 0, dim - 1);
    end = step > 0 ? std::clamp<int64_t>(end, 0, dim) : std::clamp<int64_t>(end, -1, dim - 1);
    const int64_t span = step > 0 ? end - start : start - end;  // positions walked over
    const int64_t stride =
        step == std::numeric_limits<int64_t>::min() ? std::numeric_limits<int64_t>::max() : std::abs(step);
    range.size = span > 0 ? (span - 1) / stride + 1 : 0;
    range.start = range.size > 0 ? start : 0;
    // With at most one element the step is irrelevant; 1 keeps the kernel's
    // stride (step * input stride) from overflowing on huge steps.
    if (range.size <= 1) range.step = 1;
  }
  return ranges;
}

void infer_slice(InferContext& ctx) {
  Dims out;
  for (const SliceRange& range : slice_ranges(ctx)) out.push_back(range.size);
  ctx.outputs[0] = {ctx.inputs[0].dtype, out};
}

// Where the slice sits inside the dense data tensor (input `data_input`): the
// offset of its first element and its strides, in elements.
void slice_view(const KernelInit& init, int data_input, Dims* strides, int64_t* offset) {
  const InferContext ctx{init.node, init.inputs, {}};
  const Dims data_strides = strides_of(init.in_dims(static_cast<size_t>(data_input)));
  const std::vector<SliceRange> ranges = slice_ranges(ctx, data_input);
  *offset = 0;
  for (size_t d = 0; d < ranges.size(); ++d) {
    *offset += ranges[d].start * data_strides[d];
    strides->push_back(ranges[d].step * data_strides[d]);
  }
}

std::unique_ptr<Kernel> make_slice_kernel(const KernelInit& init) {
  Dims strides;
  int64_t offset = 0;
  slice_view(init, 0, &strides, &offset);
  return std::make_unique<StridedCopyKernel>(init.inputs[0].dtype, init.out_dims(0), std::move(strides), offset);
}

// ---- SliceGrad -----------------------------------------------------------------

// SliceGrad(output_grad, data): the data's shape, with output_grad's shape being
// what Slice makes of data.
void infer_slice_grad(InferContext& ctx) {
  ctx.expect_dtype(0, DType::f32);
  const std::vector<SliceRange> ranges = slice_ranges(ctx, 1);
  const Dims& grad = ctx.in_dims(0);
  bool matches = grad.size() == ranges.size();
  for (size_t d = 0; matches && d < grad.size(); ++d)
    matches = grad[d] < 0 || ranges[d].size < 0 || grad[d] == ranges[d].size;
  if (!matches) {
    Dims sliced;
    for (const SliceRange& range : ranges) sliced.push_back(range.size);
    ctx.fail("output_grad {} does not have the shape {} of the slice of data {}", type_str(ctx.inputs[0]),
             dims_str(sliced), type_str(ctx.inputs[1]));
  }
  ctx.outputs[0] = {DType::f32, ctx.in_dims(1)};
}

std::unique_ptr<Kernel> make_slice_grad_kernel(const KernelInit& init) {
  Dims strides;
  int64_t offset = 0;
  slice_view(init, 1, &strides, &offset);
  return std::make_unique<StridedScatterKernel>(init.outputs[0].num_elements(), init.in_dims(0), std::move(strides),
                                                offset);
}

// ---- Squeeze, Unsqueeze, Flatten ---------------------------------------------

void infer_squeeze(InferContext& ctx) {
  const TensorType& in = ctx.inputs[0];
  std::vector<bool> drop(in.dims.size(), false);
  if (ctx.attrs().axes().empty()) {
    // Without axes, an unknown dim may or may not be 1: the output rank would
    // depend on the feed, so the model must say which axes go.
    if (!in.is_concrete())
      ctx.fail("Squeeze without axes on input {}: its unknown dims may or may not be 1; give axes", type_str(in));
    for (size_t d = 0; d < drop.size(); ++d) drop[d] = in.dims[d] == 1;
  } else {
    for (int axis : normalize_axes(ctx, "axes", ctx.attrs().axes(), in.rank())) {
      const int64_t size = in.dims[static_cast<size_t>(axis)];
      if (size >= 0 && size != 1)
        ctx.fail("cannot squeeze axis {} of input {}: its size is {}, not 1", axis, type_str(in), size);
      drop[static_cast<size_t>(axis)] = true;
    }
  }
  Dims out;
  for (size_t d = 0; d < drop.size(); ++d)
    if (!drop[d]) out.push_back(in.dims[d]);
  ctx.outputs[0] = {in.dtype, out};
}

void infer_unsqueeze(InferContext& ctx) {
  const TensorType& in = ctx.inputs[0];
  const IntList& axes = ctx.attrs().axes();
  if (axes.empty()) ctx.fail("Unsqueeze needs the axes attribute");
  // Axes index the output, whose rank counts the inserted dims.
  const int out_rank = in.rank() + axes.size();
  std::vector<bool> inserted(static_cast<size_t>(out_rank), false);
  for (int axis : normalize_axes(ctx, "axes", axes, out_rank)) inserted[static_cast<size_t>(axis)] = true;
  Dims out;
  auto next_in = in.dims.begin();
  for (bool is_new : inserted) out.push_back(is_new ? 1 : *next_in++);
  ctx.outputs[0] = {in.dtype, out};
}

void infer_flatten(InferContext& ctx) {
  const TensorType& in = ctx.inputs[0];
  const int64_t axis_attr = ctx.attrs().has_axis() ? ctx.attrs().axis() : 1;
  // The split point may be rank itself (everything in the first dim), so this
  // is not normalize_axis.
  if (axis_attr < -in.rank() || axis_attr > in.rank())
    ctx.fail("axis {} is out of range for input {} (allowed: {} to {})", axis_attr, type_str(in), -in.rank(),
             in.rank());
  const auto split = in.dims.begin() + (axis_attr < 0 ? axis_attr + in.rank() : axis_attr);
  auto product = [&](Dims::const_iterator begin, Dims::const_iterator end) {
    int64_t p = 1;
    for (auto it = begin; it != end; ++it) {
      if (*it < 0) return kUnknownDim;
      p = times(ctx, p, *it, "input " + type_str(in));
    }
    return p;
  };
  ctx.outputs[0] = {in.dtype, {product(in.dims.begin(), split), product(split, in.dims.end())}};
}

// ---- ReshapeLike -----------------------------------------------------------------

void infer_reshape_like(InferContext& ctx) {
  const TensorType& data = ctx.inputs[0];
  const TensorType& like = ctx.inputs[1];
  // With unknown dims the counts are checked when the runtime re-infers on the
  // concrete shapes.
  if (data.is_concrete() && like.is_concrete()) {
    int64_t data_count = 1, like_count = 1;
    for (int64_t d : data.dims) data_count = times(ctx, data_count, d, "data " + type_str(data));
    for (int64_t d : like.dims) like_count = times(ctx, like_count, d, "like " + type_str(like));
    if (data_count != like_count)
      ctx.fail("cannot reshape data {} like {}: the sizes differ ({} vs {} elements)", type_str(data), type_str(like),
               data_count, like_count);
  }
  ctx.outputs[0] = {data.dtype, like.dims};
}

// ---- Gradient rules ----------------------------------------------------------------

// Reshape, Squeeze, Unsqueeze, Flatten and ReshapeLike only relabel the shape,
// so dX is dY relabelled with X's shape. ReshapeLike reads that shape at run
// time, which keeps unknown batch dims working.
void reshape_gradient(GradientBuilder& g) {
  if (g.needs_grad(0)) g.set_input_grad(0, g.emit1("ReshapeLike", {g.output_grad(0), g.input(0)}));
}

// Y = Transpose(X, perm) puts X's axis perm[i] at position i; dX puts it back
// with the inverse permutation. The default (reversing the axes) is its own inverse.
void transpose_gradient(GradientBuilder& g) {
  if (!g.needs_grad(0)) return;
  const IntList& perm = g.node().def.perm();
  pb::Node attrs;
  if (!perm.empty()) {
    std::vector<int64_t> inverse(static_cast<size_t>(perm.size()));
    for (int i = 0; i < perm.size(); ++i) inverse[static_cast<size_t>(perm[i])] = i;
    for (int64_t axis : inverse) attrs.add_perm(axis);
  }
  g.set_input_grad(0, g.emit1("Transpose", {g.output_grad(0)}, attrs));
}

// dX_i is the block of dY that input i filled: a Slice along the axis at the
// sum of the sizes of the inputs before it. Those offsets become attributes, so
// they must be known when the rule runs.
void concat_gradient(GradientBuilder& g) {
  const Node& node = g.node();
  bool any_needed = false;
  for (size_t i = 0; i < node.inputs.size(); ++i) any_needed = any_needed || g.needs_grad(i);
  if (!any_needed) return;
  const int axis = normalize_axis(node.def.axis(), g.type(g.input(0)).rank());
  std::vector<int64_t> sizes;
  for (size_t i = 0; i < node.inputs.size(); ++i) {
    const TensorType& type = g.type(g.input(i));
    sizes.push_back(type.dims[static_cast<size_t>(axis)]);
    if (sizes.back() < 0)
      throw node_error("gradient failed", node,
                       fmt::format("concat gradients need static sizes along the axis, but input {} is {} with an "
                                   "unknown size on axis {}",
                                   i, type_str(type), axis));
  }
  int64_t offset = 0;
  for (size_t i = 0; i < node.inputs.size(); ++i) {
    if (g.needs_grad(i)) {
      pb::Node attrs;
      attrs.add_starts(offset);
      attrs.add_ends(offset + sizes[i]);
      attrs.add_axes(axis);
      g.set_input_grad(i, g.emit1("Slice", {g.output_grad(0)}, attrs));
    }
    offset += sizes[i];
  }
}

// dX scatters dY back into the sliced positions of a zero tensor shaped like X.
void slice_gradient(GradientBuilder& g) {
  if (!g.needs_grad(0)) return;
  const pb::Node& def = g.node().def;
  pb::Node attrs;
  *attrs.mutable_starts() = def.starts();
  *attrs.mutable_ends() = def.ends();
  *attrs.mutable_axes() = def.axes();
  *attrs.mutable_steps() = def.steps();
  g.set_input_grad(0, g.emit1("SliceGrad", {g.output_grad(0), g.input(0)}, attrs));
}

}  // namespace

void register_shape_ops(OpRegistry& registry) {
  registry.op("Reshape")
      .inputs({"data"})
      .outputs({"reshaped"})
      .attrs({"shape"})
      .shape(infer_reshape)
      .kernel(make_copy_kernel)
      .gradient(reshape_gradient)
      .doc(
          "Returns the input's elements (float32 or int64, row-major order unchanged) with the shape given by the "
          "`shape` attribute. As in ONNX, a 0 in `shape` copies the input dim at the same position and one -1 is "
          "inferred from the element count; an unknown input dim copied by 0 stays unknown, and a -1 that absorbs an "
          "unknown dim is unknown until run time. Gradient: dX = ReshapeLike(dY, X).");

  registry.op("Transpose")
      .inputs({"data"})
      .outputs({"transposed"})
      .attrs({"perm"})
      .shape(infer_transpose)
      .kernel(make_transpose_kernel)
      .gradient(transpose_gradient)
      .doc(
          "Permutes the axes of the input (float32 or int64): output dim i is input dim perm[i], and y[i_0, ..., "
          "i_r-1] = x[j] with j[perm[k]] = i_k. `perm` defaults to reversing the axes. Gradient: dX = Transpose(dY) "
          "with the inverse permutation.");

  registry.op("Concat")
      .variadic_inputs("inputs", 1)
      .outputs({"concat_result"})
      .attrs({"axis"})
      .shape(infer_concat)
      .kernel([](const KernelInit& init) { return std::make_unique<ConcatKernel>(init); })
      .gradient(concat_gradient)
      .doc(
          "Joins one or more inputs (all float32 or all int64, same rank) along `axis` (required; negative counts "
          "from the end), in input order. All other dims must match; the output's axis dim is the sum of the "
          "inputs'. Gradient: dX_i = Slice(dY) along the axis at input i's offset, which needs every input's size on "
          "the axis known when gradients are built.");

  registry.op("Slice")
      .inputs({"data"})
      .outputs({"output"})
      .attrs({"starts", "ends", "axes", "steps"})
      .shape(infer_slice)
      .kernel(make_slice_kernel)
      .gradient(slice_gradient)
      .doc(
          "Takes x[start:end:step] along each axis in `axes` (default: the first len(starts) axes), like ONNX Slice "
          "but with `starts`, `ends`, `axes` and `steps` (default all 1) as attributes. Negative starts/ends count "
          "from the end of the dim; then, for step > 0, start and end are clamped to [0, dim], and for step < 0 "
          "start to [0, dim-1] and end to [-1, dim-1]. A step of 0 is an error. Works on float32 and int64. "
          "Gradient: dX = SliceGrad(dY, X) with the same attributes.");

  registry.op("Squeeze")
      .inputs({"data"})
      .outputs({"squeezed"})
      .attrs({"axes"})
      .shape(infer_squeeze)
      .kernel(make_copy_kernel)
      .gradient(reshape_gradient)
      .doc(
          "Removes the size-1 dims listed in `axes` (negative counts from the end); with no axes, removes every "
          "size-1 dim, which requires an input with no unknown dims. Elements are unchanged. Works on float32 and "
          "int64. Gradient: dX = ReshapeLike(dY, X).");

  registry.op("Unsqueeze")
      .inputs({"data"})
      .outputs({"expanded"})
      .attrs({"axes"})
      .shape(infer_unsqueeze)
      .kernel(make_copy_kernel)
      .gradient(reshape_gradient)
      .doc(
          "Inserts size-1 dims at the positions `axes` (required) of the output, whose rank is the input's plus "
          "len(axes); negative axes count from the end of the output. Elements are unchanged. Works on float32 and "
          "int64. Gradient: dX = ReshapeLike(dY, X).");

  registry.op("Flatten")
      .inputs({"input"})
      .outputs({"output"})
      .attrs({"axis"})
      .shape(infer_flatten)
      .kernel(make_copy_kernel)
      .gradient(reshape_gradient)
      .doc(
          "Reshapes the input to rank 2: [d_0 * ... * d_axis-1, d_axis * ... * d_r-1] with `axis` (default 1) in "
          "[-r, r]; an empty product is 1. Elements are unchanged. Works on float32 and int64. Gradient: dX = "
          "ReshapeLike(dY, X).");

  registry.op("ReshapeLike")
      .inputs({"data", "like"})
      .outputs({"reshaped"})
      .shape(infer_reshape_like)
      .kernel(make_copy_kernel)
      .gradient(reshape_gradient)
      .doc(
          "Returns the elements of `data` (float32 or int64, row-major order unchanged) with the shape of `like` "
          "(any dtype; only its shape is read): reshaped[i] = data[i] in flat order. Both must have the same number "
          "of elements. Because the target shape is read at run time, it works with unknown batch dims; it is the "
          "gradient of Reshape, Squeeze, Unsqueeze and Flatten (dX = ReshapeLike(dY, X)). `like` gets no gradient.");

  registry.grad_op("SliceGrad")
      .inputs({"output_grad", "data"})
      .outputs({"data_grad"})
      .attrs({"starts", "ends", "axes", "steps"})
      .shape(infer_slice_grad)
      .kernel(make_slice_grad_kernel)
      .doc(
          "The gradient of Slice: a float32 tensor of zeros with the shape of `data`, into which `output_grad` is "
          "written at the positions Slice (with the same `starts`, `ends`, `axes` and `steps`, resolved against "
          "data's shape) takes from data: data_grad[start + i * step] = output_grad[i] on each sliced axis, 0 "
          "elsewhere. `output_grad` must have the slice's shape; only data's shape is read.");
}

}  // namespace graphrun
