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
#include <fmt/format.h>

#include <algorithm>
#include <cstddef>
#include <string_view>
#include <utility>

#include "ops/dnnl_util.h"
#include "ops/gradient.h"
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

constexpr size_t kScratchAlignment = 64;
constexpr size_t kMaxRank = DNNL_MAX_NDIMS;  // the most dims a oneDNN memory desc holds

size_t align_up(size_t bytes, size_t alignment) { return (bytes + alignment - 1) / alignment * alignment; }

// `dims` with leading 1s up to `rank` (NumPy's alignment from the right).
Dims pad_leading_ones(const Dims& dims, size_t rank) {
  Dims padded(rank - dims.size(), 1);
  padded.insert(padded.end(), dims.begin(), dims.end());
  return padded;
}

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
  Dims expand_strides_;     // element strides of src0 over the output dims (0 = broadcast)
  size_t expand_offset_ = 0;  // byte offset of the expanded src0 in the scratchpad
  dnnl::memory::desc src0_md_, src1_md_, dst_md_;
  dnnl::memory::desc scratchpad_md_;
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

}  // namespace

void register_binary_ops(OpRegistry& registry) {
  for (const BinarySpec& spec : kBinaryOps) {
    OpDef def = make_op_def(
        spec.name, {"A", "B"}, {"C"}, infer_broadcast,
        [&spec](const KernelInit& init) -> std::unique_ptr<Kernel> {
          return std::make_unique<BinaryKernel>(spec, init.in_dims(0), init.in_dims(1), init.out_dims(0));
        },
        spec.doc);
    def.gradient = [&spec](GradientBuilder& g) { binary_gradient(spec.name, g); };
    registry.add(std::move(def));
  }
}

}  // namespace graphrun
