// Elementwise binary ops on float32 with NumPy broadcasting, backed by oneDNN's
// binary primitive.
//
//   Add(a, b) = a + b     Sub(a, b) = a - b     Mul(a, b) = a * b     Div(a, b) = a / b
// Shape rule: ONNX multidirectional broadcasting (graph/shape.h broadcast_dims).
//
// oneDNN's binary primitive requires src0 to have the output's dims and lets only
// src1 broadcast (dims of 1). So the kernel pads both ranks with leading 1s and
// then, in order of preference: uses the inputs as they are when input 0 already
// has the output shape; swaps them for Add/Mul when only input 1 has it; else
// expands input 0 to the output shape in the scratchpad before running.
//
// Gradients (each summed back to its input's shape by unbroadcast):
//   Add: dA = dC, dB = dC           Sub: dA = dC, dB = -dC
//   Mul: dA = dC * B, dB = dC * A   Div: dA = dC / B, dB = -(dC * C) / B  (C = A / B)
//
// The comparisons and selections, with the same broadcasting:
//   Equal(A, B) = (A == B) as float32 1/0, on float32 or int64: a broadcasting loop;
//     non-differentiable (0/1 outputs).
//   Max(A, B), Min(A, B) on float32: oneDNN's binary primitive when one input
//     already has the output shape, else a broadcasting loop. Gradient: dC goes to
//     the input that was selected (A on ties), then unbroadcast.
#include <fmt/format.h>

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>

#include "ops/dnnl_util.h"
#include "ops/gradient.h"
#include "ops/nan.h"
#include "ops/registry.h"

namespace graphrun {
namespace {

struct BinarySpec {
  const char* name;
  dnnl::algorithm algorithm;
  bool commutative;  // operands may be swapped to put the full-shape one first
  const char* doc;
};

constexpr BinarySpec kBinaryOps[] = {
    {"Add", dnnl::algorithm::binary_add, true,
     "C = A + B elementwise on float32. A and B broadcast as in NumPy/ONNX: shapes align from the right, "
     "missing leading dims count as 1, and a dim of 1 stretches to the other input's size."},
    {"Sub", dnnl::algorithm::binary_sub, false,
     "C = A - B elementwise on float32, with NumPy/ONNX broadcasting of A and B (shapes align from the "
     "right; dims of 1 stretch)."},
    {"Mul", dnnl::algorithm::binary_mul, true,
     "C = A * B elementwise on float32, with NumPy/ONNX broadcasting of A and B (shapes align from the "
     "right; dims of 1 stretch)."},
    {"Div", dnnl::algorithm::binary_div, false,
     "C = A / B elementwise on float32 (IEEE division: x / 0 is +-inf or NaN), with NumPy/ONNX "
     "broadcasting of A and B (shapes align from the right; dims of 1 stretch)."},
};

constexpr size_t kMaxRank = DNNL_MAX_NDIMS;  // the most dims a oneDNN memory desc holds

// Advances row-major coordinates over the leading coords.size() dims of `dims`;
// returns false after the last.
bool next_outer_coords(Dims& coords, const Dims& dims) {
  for (size_t i = coords.size(); i-- > 0;) {
    if (++coords[i] < dims[i]) return true;
    coords[i] = 0;
  }
  return false;
}

void infer_broadcast(InferContext& ctx) {
  ctx.expect_dtype(0, DType::f32);
  ctx.expect_dtype(1, DType::f32);
  const Dims& a = ctx.in_dims(0);
  const Dims& b = ctx.in_dims(1);
  Dims out;
  if (!broadcast_dims(a, b, &out)) {
    // Name the first clashing pair, counting axes from the right as NumPy aligns them.
    for (size_t i = 1; i <= std::min(a.size(), b.size()); ++i) {
      const int64_t da = a[a.size() - i], db = b[b.size() - i];
      if (da != db && da != 1 && db != 1 && da >= 0 && db >= 0)
        ctx.fail("input 0 has shape {} and input 1 has shape {}: dimensions {} and {} at axis -{} do not broadcast",
                 dims_str(a), dims_str(b), da, db, i);
    }
    ctx.fail("input 0 has shape {} and input 1 has shape {} do not broadcast", dims_str(a), dims_str(b));
  }
  if (out.size() > kMaxRank)
    ctx.fail("input 0 has shape {} and input 1 has shape {}: output rank {} is more than the {} oneDNN supports",
             dims_str(a), dims_str(b), out.size(), kMaxRank);
  ctx.outputs[0] = {DType::f32, out};
}

class BinaryKernel final : public Kernel {
 public:
  BinaryKernel(const BinarySpec& spec, const Dims& a_dims, const Dims& b_dims, const Dims& out_dims)
      : out_dims_(out_dims), out_elements_(num_elements(out_dims)) {
    if (out_elements_ == 0) return;  // nothing to compute; oneDNN is never asked about empty shapes
    const size_t rank = out_dims.size();
    Dims src0 = pad_leading_ones(a_dims, rank);
    Dims src1 = pad_leading_ones(b_dims, rank);
    if (src0 != out_dims && spec.commutative && src1 == out_dims) {
      swap_inputs_ = true;
      std::swap(src0, src1);
    }
    if (src0 != out_dims) {
      // Strides that read src0 as if it had the output shape: 0 along broadcast dims.
      expand_strides_ = strides_of(src0);
      for (size_t i = 0; i < rank; ++i)
        if (src0[i] == 1) expand_strides_[i] = 0;
      expand_src0_ = true;
      src0 = out_dims;
    }
    src0_md_ = plain_desc(src0);
    src1_md_ = plain_desc(src1);
    dst_md_ = plain_desc(out_dims);
    const dnnl::binary::desc desc(spec.algorithm, src0_md_, src1_md_, dst_md_);
    const dnnl::binary::primitive_desc pd(desc, user_scratchpad_attr(), cpu_engine());
    scratchpad_md_ = pd.scratchpad_desc();
    primitive_ = dnnl::binary(pd);
    // The expanded src0 lives after oneDNN's own scratchpad.
    expand_offset_ = align_up(scratchpad_md_.get_size(), kScratchAlignment);
  }

  size_t scratchpad_bytes() const override {
    if (out_elements_ == 0) return 0;
    if (!expand_src0_) return scratchpad_md_.get_size();
    return expand_offset_ + static_cast<size_t>(out_elements_) * sizeof(float);
  }

  void run(const KernelIO& io) const override {
    if (out_elements_ == 0) return;
    const void* src0 = io.inputs[swap_inputs_ ? 1 : 0];
    const void* src1 = io.inputs[swap_inputs_ ? 0 : 1];
    if (expand_src0_) {
      float* expanded = reinterpret_cast<float*>(static_cast<std::byte*>(io.scratchpad) + expand_offset_);
      expand(static_cast<const float*>(src0), expanded);
      src0 = expanded;
    }
    execute(primitive_,
            {{DNNL_ARG_SRC_0, wrap(src0_md_, src0)},
             {DNNL_ARG_SRC_1, wrap(src1_md_, src1)},
             {DNNL_ARG_DST, wrap(dst_md_, io.outputs[0])}},
            scratchpad_md_, io.scratchpad);
  }

 private:
  // Writes src0 broadcast to the output shape into the dense buffer `dst`: an
  // odometer over the outer dims and a strided inner loop over the last one.
  void expand(const float* src, float* dst) const {
    const size_t rank = out_dims_.size();
    if (rank == 0) {
      dst[0] = src[0];
      return;
    }
    const int64_t inner_size = out_dims_.back();
    const int64_t inner_stride = expand_strides_.back();
    Dims outer(rank - 1, 0);  // coordinates in all dims but the last
    do {
      int64_t offset = 0;
      for (size_t i = 0; i < outer.size(); ++i) offset += outer[i] * expand_strides_[i];
      for (int64_t j = 0; j < inner_size; ++j) *dst++ = src[offset + j * inner_stride];
    } while (next_outer_coords(outer, out_dims_));
  }

  Dims out_dims_;
  int64_t out_elements_ = 0;
  bool swap_inputs_ = false;
  bool expand_src0_ = false;
  Dims expand_strides_;       // element strides of src0 over the output dims (0 = broadcast)
  size_t expand_offset_ = 0;  // byte offset of the expanded src0 in the scratchpad
  KernelDesc src0_md_, src1_md_, dst_md_;
  KernelDesc scratchpad_md_;
  dnnl::binary primitive_;
};

void binary_gradient(std::string_view op, GradientBuilder& g) {
  const ValueId dc = g.output_grad(0);
  if (dc == kNoValue) return;
  const ValueId a = g.input(0), b = g.input(1);
  if (g.needs_grad(0)) {
    ValueId da = dc;  // Add, Sub
    if (op == "Mul") da = g.emit1("Mul", {dc, b});
    if (op == "Div") da = g.emit1("Div", {dc, b});
    g.set_input_grad(0, g.unbroadcast(da, 0));
  }
  if (g.needs_grad(1)) {
    ValueId db = dc;  // Add
    if (op == "Sub") db = g.emit1("Neg", {dc});
    if (op == "Mul") db = g.emit1("Mul", {dc, a});
    // d(A/B)/dB = -A/B^2 = -C/B, reusing the forward output C.
    if (op == "Div") db = g.emit1("Neg", {g.emit1("Div", {g.emit1("Mul", {dc, g.output(0)}), b})});
    g.set_input_grad(1, g.unbroadcast(db, 1));
  }
}

// ---- Equal, Max and Min: broadcasting loops ----------------------------------------

// Element strides of `dims` padded with leading 1s to `rank`, with 0 along
// dims of 1 so they broadcast.
Dims broadcast_strides(const Dims& dims, size_t rank) {
  const Dims padded = pad_leading_ones(dims, rank);
  Dims strides = strides_of(padded);
  for (size_t d = 0; d < rank; ++d)
    if (padded[d] == 1) strides[d] = 0;
  return strides;
}

// Walks the output of a broadcasting binary op in row-major order, calling
// fn(out_index, a_index, b_index) with each input's broadcast source element.
struct BroadcastWalk {
  Dims out_dims, a_strides, b_strides;
  int64_t count = 0;

  BroadcastWalk(const Dims& a, const Dims& b, const Dims& out)
      : out_dims(out),
        a_strides(broadcast_strides(a, out.size())),
        b_strides(broadcast_strides(b, out.size())),
        count(num_elements(out)) {}

  template <typename Fn>
  void run(Fn fn) const {
    Dims coords(out_dims.size(), 0);
    int64_t ia = 0, ib = 0;
    for (int64_t i = 0; i < count; ++i) {
      fn(i, ia, ib);
      // Odometer step: bump the last coordinate, carrying into earlier ones.
      for (size_t d = out_dims.size(); d-- > 0;) {
        ++coords[d];
        ia += a_strides[d];
        ib += b_strides[d];
        if (coords[d] < out_dims[d]) break;
        ia -= a_strides[d] * out_dims[d];
        ib -= b_strides[d] * out_dims[d];
        coords[d] = 0;
      }
    }
  }
};

// NumPy broadcast of inputs 0 and 1 (same dtype, float32 unless ints allowed).
Dims infer_broadcast_dims(const InferContext& ctx) {
  Dims out;
  if (!broadcast_dims(ctx.in_dims(0), ctx.in_dims(1), &out))
    ctx.fail("input 0 has shape {} and input 1 has shape {}, which do not broadcast", dims_str(ctx.in_dims(0)),
             dims_str(ctx.in_dims(1)));
  return out;
}

// ---- Equal --------------------------------------------------------------------------

void infer_equal(InferContext& ctx) {
  if (ctx.inputs[0].dtype != ctx.inputs[1].dtype)
    ctx.fail("input 0 is {} but input 1 is {}; Equal compares values of one dtype", type_str(ctx.inputs[0]),
             type_str(ctx.inputs[1]));
  ctx.outputs[0] = {DType::f32, infer_broadcast_dims(ctx)};
}

template <typename T>
void equal_loop(const BroadcastWalk& walk, const KernelIO& io) {
  const T* a = io.in<T>(0);
  const T* b = io.in<T>(1);
  float* c = io.out<float>(0);
  walk.run([&](int64_t i, int64_t ia, int64_t ib) { c[i] = a[ia] == b[ib] ? 1.f : 0.f; });
}

std::unique_ptr<Kernel> make_equal_kernel(const KernelInit& init) {
  const BroadcastWalk walk(init.in_dims(0), init.in_dims(1), init.out_dims(0));
  if (init.inputs[0].dtype == DType::i64)
    return make_lambda_kernel([walk](const KernelIO& io) { equal_loop<int64_t>(walk, io); });
  return make_lambda_kernel([walk](const KernelIO& io) { equal_loop<float>(walk, io); });
}

// ---- Max and Min --------------------------------------------------------------------

void infer_max_min(InferContext& ctx) {
  ctx.expect_dtype(0, DType::f32);
  ctx.expect_dtype(1, DType::f32);
  ctx.outputs[0] = {DType::f32, infer_broadcast_dims(ctx)};
}

// oneDNN's binary primitive lets only src1 broadcast, so it runs when either
// input already has the output shape (max and min are symmetric in value, so
// the inputs may swap); otherwise a broadcasting loop does the work.
class MaxMinKernel final : public Kernel {
 public:
  MaxMinKernel(bool is_max, const Dims& a, const Dims& b, const Dims& out)
      : is_max_(is_max), walk_(a, b, out), a_elements_(num_elements(a)), b_elements_(num_elements(b)) {
    const size_t rank = out.size();
    if (walk_.count == 0 || rank > DNNL_MAX_NDIMS) return;
    Dims src0(rank - a.size(), 1), src1(rank - b.size(), 1);
    src0.insert(src0.end(), a.begin(), a.end());
    src1.insert(src1.end(), b.begin(), b.end());
    if (src0 != out && src1 != out) return;
    swap_ = src0 != out;
    if (swap_) std::swap(src0, src1);
    src0_md_ = plain_desc(src0);
    src1_md_ = plain_desc(src1);
    const dnnl::binary::desc desc(is_max ? dnnl::algorithm::binary_max : dnnl::algorithm::binary_min, src0_md_,
                                  src1_md_, src0_md_);
    const dnnl::binary::primitive_desc pd(desc, user_scratchpad_attr(), cpu_engine());
    scratchpad_md_ = pd.scratchpad_desc();
    primitive_ = dnnl::binary(pd);
    use_dnnl_ = true;
  }

  size_t scratchpad_bytes() const override { return use_dnnl_ ? scratchpad_md_.get_size() : 0; }

  void run(const KernelIO& io) const override {
    const float* a = io.in<float>(0);
    const float* b = io.in<float>(1);
    float* c = io.out<float>(0);
    if (use_dnnl_) {
      execute(primitive_,
              {{DNNL_ARG_SRC_0, wrap(src0_md_, io.inputs[swap_ ? 1 : 0])},
               {DNNL_ARG_SRC_1, wrap(src1_md_, io.inputs[swap_ ? 0 : 1])},
               {DNNL_ARG_DST, wrap(src0_md_, io.outputs[0])}},
              scratchpad_md_, io.scratchpad);
      // oneDNN's max and min return the other input where one is NaN.
      if (!has_nan(a, a_elements_) && !has_nan(b, b_elements_)) return;
    }
    walk_.run([&](int64_t i, int64_t ia, int64_t ib) {
      c[i] = is_max_ ? max_or_nan(a[ia], b[ib]) : min_or_nan(a[ia], b[ib]);
    });
  }

 private:
  bool is_max_;
  BroadcastWalk walk_;
  int64_t a_elements_, b_elements_;
  bool use_dnnl_ = false;
  bool swap_ = false;
  KernelDesc src0_md_, src1_md_, scratchpad_md_;
  dnnl::binary primitive_;
};

// MaxGrad/MinGrad(dC, A, B) -> (dA, dB), both with dC's (the broadcast) shape.
void infer_max_min_grad(InferContext& ctx) {
  ctx.expect_dtype(0, DType::f32);
  InferContext forward{ctx.node, {ctx.inputs[1], ctx.inputs[2]}, {TensorType{}}};
  infer_max_min(forward);
  const Dims& dc = ctx.in_dims(0);
  const Dims& out = forward.outputs[0].dims;
  bool same = dc.size() == out.size();
  for (size_t d = 0; same && d < dc.size(); ++d) same = dim_compatible(dc[d], out[d]);
  if (!same) ctx.fail("input 0 (dC) has shape {} but A and B broadcast to {}", dims_str(dc), dims_str(out));
  ctx.outputs[0] = ctx.outputs[1] = {DType::f32, dc};
}

// dA = dC where A was selected (A >= B for Max, A <= B for Min: ties go to A), dB = dC elsewhere.
std::unique_ptr<Kernel> make_max_min_grad_kernel(const KernelInit& init, bool is_max) {
  const BroadcastWalk walk(init.in_dims(1), init.in_dims(2), init.out_dims(0));
  return make_lambda_kernel([walk, is_max](const KernelIO& io) {
    const float* dc = io.in<float>(0);
    const float* a = io.in<float>(1);
    const float* b = io.in<float>(2);
    float* da = io.out<float>(0);
    float* db = io.out<float>(1);
    walk.run([&](int64_t i, int64_t ia, int64_t ib) {
      const bool a_selected = is_max ? a[ia] >= b[ib] : a[ia] <= b[ib];
      da[i] = a_selected ? dc[i] : 0.f;
      db[i] = a_selected ? 0.f : dc[i];
    });
  });
}

GradientRule max_min_gradient(std::string grad_op) {
  return [grad_op](GradientBuilder& g) {
    const ValueId dc = g.output_grad(0);
    if (dc == kNoValue || !(g.needs_grad(0) || g.needs_grad(1))) return;
    const std::vector<ValueId> grads = g.emit(grad_op, {dc, g.input(0), g.input(1)});
    for (size_t i = 0; i < 2; ++i)
      if (g.needs_grad(i)) g.set_input_grad(i, g.unbroadcast(grads[i], i));
  };
}

}  // namespace

void register_binary_ops(OpRegistry& registry) {
  for (const BinarySpec& spec : kBinaryOps) {
    registry.op(spec.name)
        .inputs({"A", "B"})
        .outputs({"C"})
        .shape(infer_broadcast)
        .kernel([&spec](const KernelInit& init) -> std::unique_ptr<Kernel> {
          return std::make_unique<BinaryKernel>(spec, init.in_dims(0), init.in_dims(1), init.out_dims(0));
        })
        .gradient([&spec](GradientBuilder& g) { binary_gradient(spec.name, g); })
        .doc(spec.doc);
  }

  registry.op("Equal")
      .inputs({"A", "B"})
      .outputs({"C"})
      .shape(infer_equal)
      .kernel(make_equal_kernel)
      .non_differentiable("piecewise constant")
      .doc(
          "C = (A == B) elementwise as float32 1.0 / 0.0 (ONNX Equal returns bool; we have no bool dtype, and float "
          "1/0 feeds ReduceMean directly, e.g. accuracy = ReduceMean(Equal(ArgMax(scores), labels))). A and B are "
          "both float32 or both int64, with NumPy/ONNX broadcasting. Float comparison is exact (NaN equals nothing).");

  for (const bool is_max : {true, false}) {
    const char* name = is_max ? "Max" : "Min";
    const char* grad_name = is_max ? "MaxGrad" : "MinGrad";
    const std::string which = is_max ? "max" : "min";
    registry.op(name)
        .inputs({"A", "B"})
        .outputs({"C"})
        .shape(infer_max_min)
        .kernel([is_max](const KernelInit& init) -> std::unique_ptr<Kernel> {
          return std::make_unique<MaxMinKernel>(is_max, init.in_dims(0), init.in_dims(1), init.out_dims(0));
        })
        .gradient(max_min_gradient(grad_name))
        .doc(fmt::format("C = {}(A, B) elementwise on float32 (ONNX {} with exactly two inputs), with NumPy/ONNX "
                         "broadcasting. Gradient: dC goes to the input that was selected (A {} B selects A, so ties "
                         "go to A) and is summed back over broadcast dims. NaN in A or B gives NaN (as NumPy's "
                         "maximum/minimum).",
                         which, name, is_max ? ">=" : "<="));
    registry.grad_op(grad_name)
        .inputs({"dC", "A", "B"})
        .outputs({"dA", "dB"})
        .shape(infer_max_min_grad)
        .kernel([is_max](const KernelInit& init) { return make_max_min_grad_kernel(init, is_max); })
        .doc(fmt::format("Gradient of {}: with s = (A {} B) at each position of the broadcast shape, dA = dC * s "
                         "and dB = dC * (1 - s), both in dC's shape (the forward's gradient rule sums them back to "
                         "A's and B's).",
                         name, is_max ? ">=" : "<="));
  }
}

}  // namespace graphrun
