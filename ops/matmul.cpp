// Matrix products on float32, backed by oneDNN's matmul primitive.
//
//   MatMul(A, B) = A @ B as numpy.matmul: batched over broadcast leading dims.
//   Gemm(A, B, C) = alpha * op(A) @ op(B) + beta * C for 2-D A and B.
//
// oneDNN matmul takes src [batch..., M, K], weights [batch..., K, N] and dst
// [batch..., M, N] of one rank, and broadcasts batch dims of 1 on either
// operand natively. Gemm's transposes are strided memory descs (no copy); alpha
// is an eltwise_linear post-op and C a binary_add post-op (its [M,N] broadcast
// is the post-op's own), scaled by beta into the scratchpad first when beta != 1.
//
// Gradients: for matrices dA = dY @ B^T and dB = A^T @ dY (Gemm with transposes,
// which oneDNN reads as strided descs, no copy); batched operands use MatMul on
// Transposes and sum broadcast batch dims back with unbroadcast.
#include <fmt/format.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <initializer_list>
#include <utility>

#include "ops/dnnl_util.h"
#include "ops/gradient.h"
#include "ops/registry.h"

namespace graphrun {
namespace {

constexpr size_t kMaxRank = DNNL_MAX_NDIMS;  // the most dims a oneDNN memory desc holds

// The dims before the last two (the batch dims of a matmul operand).
Dims batch_dims(const Dims& dims) {
  return Dims(dims.begin(), dims.end() - static_cast<std::ptrdiff_t>(std::min<size_t>(dims.size(), 2)));
}

bool dims_differ(int64_t a, int64_t b) { return a >= 0 && b >= 0 && a != b; }

// --- MatMul -----------------------------------------------------------------

// NumPy's promotion of rank-1 operands: A [K] acts as [1,K] and B [K] as [K,1];
// the added dim is dropped from the output again.
Dims as_matrix_a(const Dims& a) { return a.size() == 1 ? Dims{1, a[0]} : a; }
Dims as_matrix_b(const Dims& b) { return b.size() == 1 ? Dims{b[0], 1} : b; }

void infer_matmul(InferContext& ctx) {
  ctx.expect_dtype(0, DType::f32);
  ctx.expect_dtype(1, DType::f32);
  const Dims& a = ctx.in_dims(0);
  const Dims& b = ctx.in_dims(1);
  for (int i : {0, 1})
    if (ctx.in_dims(i).empty()) ctx.fail("input {} is a scalar; MatMul needs rank >= 1", i);
  const int64_t k_a = a.back();
  const int64_t k_b = b.size() == 1 ? b[0] : b[b.size() - 2];
  if (dims_differ(k_a, k_b))
    ctx.fail("input 0 has shape {} and input 1 has shape {}: inner dimensions {} and {} differ", dims_str(a),
             dims_str(b), k_a, k_b);
  Dims out;
  if (!broadcast_dims(batch_dims(a), batch_dims(b), &out))
    ctx.fail("input 0 has shape {} and input 1 has shape {}: batch dimensions {} and {} do not broadcast", dims_str(a),
             dims_str(b), dims_str(batch_dims(a)), dims_str(batch_dims(b)));
  // oneDNN sees batch + [M, N] even when a rank-1 operand drops M or N from Y.
  if (out.size() + 2 > kMaxRank)
    ctx.fail("input 0 has shape {} and input 1 has shape {}: {} batch dims are more than the {} oneDNN supports",
             dims_str(a), dims_str(b), out.size(), kMaxRank - 2);
  if (a.size() >= 2) out.push_back(a[a.size() - 2]);
  if (b.size() >= 2) out.push_back(b.back());
  ctx.outputs[0] = {DType::f32, out};
}

class MatMulKernel final : public Kernel {
 public:
  MatMulKernel(const Dims& a_dims, const Dims& b_dims) {
    Dims a = as_matrix_a(a_dims), b = as_matrix_b(b_dims);
    Dims dst;
    broadcast_dims(batch_dims(a), batch_dims(b), &dst);  // checked by the shape rule
    const size_t rank = dst.size() + 2;
    a = pad_leading_ones(a, rank);
    b = pad_leading_ones(b, rank);
    const int64_t k = a.back();
    dst.push_back(a[rank - 2]);
    dst.push_back(b.back());
    dst_bytes_ = static_cast<size_t>(num_elements(dst)) * sizeof(float);
    // oneDNN rejects (or crashes on) empty matmuls; an empty sum is 0.
    if (dst_bytes_ == 0 || k == 0) return;
    src_md_ = plain_desc(a);
    weights_md_ = plain_desc(b);
    dst_md_ = plain_desc(dst);
    const dnnl::matmul::desc desc(src_md_, weights_md_, dst_md_);
    const dnnl::matmul::primitive_desc pd(desc, user_scratchpad_attr(), cpu_engine());
    scratchpad_md_ = pd.scratchpad_desc();
    primitive_ = dnnl::matmul(pd);
    use_primitive_ = true;
  }

  size_t scratchpad_bytes() const override { return use_primitive_ ? scratchpad_md_.get_size() : 0; }

  void run(const KernelIO& io) const override {
    if (!use_primitive_) {
      if (dst_bytes_ > 0) std::memset(io.outputs[0], 0, dst_bytes_);
      return;
    }
    execute(primitive_,
            {{DNNL_ARG_SRC, wrap(src_md_, io.inputs[0])},
             {DNNL_ARG_WEIGHTS, wrap(weights_md_, io.inputs[1])},
             {DNNL_ARG_DST, wrap(dst_md_, io.outputs[0])}},
            scratchpad_md_, io.scratchpad);
  }

 private:
  size_t dst_bytes_ = 0;
  bool use_primitive_ = false;
  KernelDesc src_md_, weights_md_, dst_md_;
  KernelDesc scratchpad_md_;
  dnnl::matmul primitive_;
};

// --- Gemm -------------------------------------------------------------------

struct GemmAttrs {
  bool trans_a, trans_b;
  float alpha, beta;

  explicit GemmAttrs(const pb::Node& node)
      : trans_a(node.trans_a()),
        trans_b(node.trans_b()),
        alpha(node.has_alpha() ? node.alpha() : 1.f),
        beta(node.has_beta() ? node.beta() : 1.f) {}
};

void infer_gemm(InferContext& ctx) {
  const GemmAttrs attrs(ctx.attrs());
  for (int i = 0; i < ctx.num_inputs(); ++i) ctx.expect_dtype(i, DType::f32);
  ctx.expect_rank(0, 2);
  ctx.expect_rank(1, 2);
  const Dims& a = ctx.in_dims(0);
  const Dims& b = ctx.in_dims(1);
  const int64_t m = attrs.trans_a ? a[1] : a[0];
  const int64_t k_a = attrs.trans_a ? a[0] : a[1];
  const int64_t k_b = attrs.trans_b ? b[1] : b[0];
  const int64_t n = attrs.trans_b ? b[0] : b[1];
  if (dims_differ(k_a, k_b))
    ctx.fail(
        "input 0 has shape {} (trans_a={}) and input 1 has shape {} (trans_b={}): inner dimensions {} and {} differ",
        dims_str(a), attrs.trans_a, dims_str(b), attrs.trans_b, k_a, k_b);
  const Dims out{m, n};
  if (ctx.num_inputs() == 3) {
    // C broadcasts one way only: to [M,N], never the other way.
    const Dims& c = ctx.in_dims(2);
    if (c.size() > 2) ctx.fail("input 2 (C) has shape {}: rank {} is more than 2", dims_str(c), c.size());
    const Dims c2 = pad_leading_ones(c, 2);
    for (size_t i = 0; i < 2; ++i)
      if (c2[i] != 1 && dims_differ(c2[i], out[i]))
        ctx.fail("input 2 (C) has shape {}, which does not broadcast to the output shape {}", dims_str(c),
                 dims_str(out));
  }
  ctx.outputs[0] = {DType::f32, out};
}

class GemmKernel final : public Kernel {
 public:
  GemmKernel(const GemmAttrs& attrs, const Dims& a, const Dims& b, const Dims* c_dims)
      : m_(attrs.trans_a ? a[1] : a[0]), n_(attrs.trans_b ? b[0] : b[1]), beta_(attrs.beta) {
    const int64_t k = attrs.trans_a ? a[0] : a[1];
    if (c_dims) {
      c_dims_ = pad_leading_ones(*c_dims, 2);
      has_c_ = true;
      scale_c_ = beta_ != 1.f;
    }
    if (m_ * n_ == 0) return;
    if (k == 0) {
      empty_sum_ = true;  // oneDNN crashes on K = 0; Y = beta * C
      return;
    }
    // A stored [K,M] read as [M,K]: element (m,k) sits at k*M + m, hence strides {1,M}.
    src_md_ = attrs.trans_a ? strided_desc({m_, k}, {1, m_}) : plain_desc({m_, k});
    weights_md_ = attrs.trans_b ? strided_desc({k, n_}, {1, k}) : plain_desc({k, n_});
    dst_md_ = plain_desc({m_, n_});
    dnnl::post_ops post_ops;
    if (attrs.alpha != 1.f) post_ops.append_eltwise(1.f, dnnl::algorithm::eltwise_linear, attrs.alpha, 0.f);
    if (has_c_) {
      c_md_ = plain_desc(c_dims_);
      c_post_op_index_ = post_ops.len();
      post_ops.append_binary(dnnl::algorithm::binary_add, c_md_);
    }
    dnnl::primitive_attr attr = user_scratchpad_attr();
    attr.set_post_ops(post_ops);
    const dnnl::matmul::desc desc(src_md_, weights_md_, dst_md_);
    const dnnl::matmul::primitive_desc pd(desc, attr, cpu_engine());
    scratchpad_md_ = pd.scratchpad_desc();
    primitive_ = dnnl::matmul(pd);
    // beta * C lives after oneDNN's own scratchpad.
    scaled_c_offset_ = align_up(scratchpad_md_.get_size(), kScratchAlignment);
  }

  size_t scratchpad_bytes() const override {
    if (m_ * n_ == 0 || empty_sum_) return 0;
    if (!scale_c_) return scratchpad_md_.get_size();
    return scaled_c_offset_ + static_cast<size_t>(num_elements(c_dims_)) * sizeof(float);
  }

  void run(const KernelIO& io) const override {
    if (m_ * n_ == 0) return;
    float* y = io.out<float>(0);
    if (empty_sum_) {
      fill_beta_c(io, y);
      return;
    }
    PrimitiveArgs args{{DNNL_ARG_SRC, wrap(src_md_, io.inputs[0])},
                       {DNNL_ARG_WEIGHTS, wrap(weights_md_, io.inputs[1])},
                       {DNNL_ARG_DST, wrap(dst_md_, y)}};
    if (has_c_) {
      const float* c = io.in<float>(2);
      if (scale_c_) {
        float* scaled = reinterpret_cast<float*>(static_cast<std::byte*>(io.scratchpad) + scaled_c_offset_);
        for (int64_t i = 0; i < num_elements(c_dims_); ++i) scaled[i] = beta_ * c[i];
        c = scaled;
      }
      args.push_back({DNNL_ARG_ATTR_MULTIPLE_POST_OP(c_post_op_index_) | DNNL_ARG_SRC_1, wrap(c_md_, c)});
    }
    execute(primitive_, args, scratchpad_md_, io.scratchpad);
  }

 private:
  // Y = beta * C broadcast to [M,N] (or zeros without C): the K = 0 product.
  void fill_beta_c(const KernelIO& io, float* y) const {
    for (int64_t i = 0; i < m_; ++i)
      for (int64_t j = 0; j < n_; ++j) {
        float value = 0.f;
        if (has_c_) value = beta_ * io.in<float>(2)[(c_dims_[0] == 1 ? 0 : i) * c_dims_[1] + (c_dims_[1] == 1 ? 0 : j)];
        y[i * n_ + j] = value;
      }
  }

  int64_t m_, n_;
  float beta_;
  bool has_c_ = false;
  bool scale_c_ = false;  // beta != 1: C is scaled into the scratchpad first
  bool empty_sum_ = false;
  int c_post_op_index_ = 0;  // which post-op adds C (alpha's may come first)
  Dims c_dims_;              // C padded to rank 2
  size_t scaled_c_offset_ = 0;
  KernelDesc src_md_, weights_md_, dst_md_, c_md_;
  KernelDesc scratchpad_md_;
  dnnl::matmul primitive_;
};

// --- Gradient rules -----------------------------------------------------------

pb::Node axes_attrs(std::initializer_list<int64_t> axes) {
  pb::Node attrs;
  for (int64_t axis : axes) attrs.add_axes(axis);
  return attrs;
}

pb::Node gemm_attrs(bool trans_a, bool trans_b, float alpha = 1.f) {
  pb::Node attrs;
  if (trans_a) attrs.set_trans_a(true);
  if (trans_b) attrs.set_trans_b(true);
  if (alpha != 1.f) attrs.set_alpha(alpha);
  return attrs;
}

// x with its last two dims swapped.
ValueId transpose_matrices(GradientBuilder& g, ValueId x) {
  const int rank = g.type(x).rank();
  pb::Node attrs;
  for (int i = 0; i < rank - 2; ++i) attrs.add_perm(i);
  attrs.add_perm(rank - 1);
  attrs.add_perm(rank - 2);
  return g.emit1("Transpose", {x}, attrs);
}

// Y = A @ B: dA = dY @ B^T, dB = A^T @ dY on operands promoted to matrices as the
// forward op does (rank-1 A as [1,K], rank-1 B as [K,1], with dY unsqueezed to
// match); the added dim is squeezed off each gradient again and broadcast batch
// dims are summed away.
void matmul_gradient(GradientBuilder& g) {
  const ValueId dy = g.output_grad(0);
  if (dy == kNoValue) return;
  const int rank_a = g.type(g.input(0)).rank();
  const int rank_b = g.type(g.input(1)).rank();
  pb::Node dy_axes;
  if (rank_a == 1) dy_axes.add_axes(-2);
  if (rank_b == 1) dy_axes.add_axes(-1);
  const ValueId dy_m = dy_axes.axes().empty() ? dy : g.emit1("Unsqueeze", {dy}, dy_axes);
  // Plain matrices take Gemm, whose transposes cost nothing.
  const bool matrices = rank_a <= 2 && rank_b <= 2;
  if (g.needs_grad(0)) {
    const ValueId b = rank_b == 1 ? g.emit1("Unsqueeze", {g.input(1)}, axes_attrs({1})) : g.input(1);
    ValueId da = matrices ? g.emit1("Gemm", {dy_m, b}, gemm_attrs(false, true))
                          : g.emit1("MatMul", {dy_m, transpose_matrices(g, b)});
    if (rank_a == 1) da = g.emit1("Squeeze", {da}, axes_attrs({-2}));
    g.set_input_grad(0, g.unbroadcast(da, 0));
  }
  if (g.needs_grad(1)) {
    const ValueId a = rank_a == 1 ? g.emit1("Unsqueeze", {g.input(0)}, axes_attrs({0})) : g.input(0);
    ValueId db = matrices ? g.emit1("Gemm", {a, dy_m}, gemm_attrs(true, false))
                          : g.emit1("MatMul", {transpose_matrices(g, a), dy_m});
    if (rank_b == 1) db = g.emit1("Squeeze", {db}, axes_attrs({-1}));
    g.set_input_grad(1, g.unbroadcast(db, 1));
  }
}

// Y = alpha * op(A) @ op(B) + beta * C:
//   d op(A) = alpha * dY @ op(B)^T,  d op(B) = alpha * op(A)^T @ dY,
// transposed back when the operand itself was transposed (so dA = alpha * op(B) @ dY^T
// for trans_a); dC = beta * dY summed to C's shape.
void gemm_gradient(GradientBuilder& g) {
  const ValueId dy = g.output_grad(0);
  if (dy == kNoValue) return;
  const GemmAttrs attrs(g.node().def);
  const ValueId a = g.input(0), b = g.input(1);
  if (g.needs_grad(0)) {
    g.set_input_grad(0, attrs.trans_a ? g.emit1("Gemm", {b, dy}, gemm_attrs(attrs.trans_b, true, attrs.alpha))
                                      : g.emit1("Gemm", {dy, b}, gemm_attrs(false, !attrs.trans_b, attrs.alpha)));
  }
  if (g.needs_grad(1)) {
    g.set_input_grad(1, attrs.trans_b ? g.emit1("Gemm", {dy, a}, gemm_attrs(true, attrs.trans_a, attrs.alpha))
                                      : g.emit1("Gemm", {a, dy}, gemm_attrs(!attrs.trans_a, false, attrs.alpha)));
  }
  if (g.node().inputs.size() == 3 && g.needs_grad(2)) {
    ValueId dc = g.unbroadcast(dy, 2);  // summing first makes the scaling cheaper
    if (attrs.beta != 1.f) {
      pb::Node beta;
      beta.mutable_value()->add_float_data(attrs.beta);
      dc = g.emit1("Mul", {dc, g.emit1("Constant", {}, beta)});
    }
    g.set_input_grad(2, dc);
  }
}

}  // namespace

void register_matmul_ops(OpRegistry& registry) {
  registry.op("MatMul")
      .inputs({"A", "B"})
      .outputs({"Y"})
      .shape(infer_matmul)
      .kernel([](const KernelInit& init) -> std::unique_ptr<Kernel> {
        return std::make_unique<MatMulKernel>(init.in_dims(0), init.in_dims(1));
      })
      .gradient(matmul_gradient)
      .doc(
          "Y = A @ B on float32, as numpy.matmul: A [..., M, K] and B [..., K, N] give Y [..., M, N] with Y[..., m, "
          "n] = sum_k A[..., m, k] * B[..., k, n]; the leading (batch) dims broadcast NumPy-style. A rank-1 A [K] is "
          "treated as [1, K] and a rank-1 B [K] as [K, 1], and that added dim is removed from Y (so [N, K] @ [K] "
          "gives [N]).");

  registry.op("Gemm")
      .inputs({"A", "B"})
      .optional_inputs({"C"})
      .outputs({"Y"})
      .attrs({"trans_a", "trans_b", "alpha", "beta"})
      .shape(infer_gemm)
      .kernel([](const KernelInit& init) -> std::unique_ptr<Kernel> {
        return std::make_unique<GemmKernel>(GemmAttrs(init.attrs()), init.in_dims(0), init.in_dims(1),
                                            init.inputs.size() == 3 ? &init.in_dims(2) : nullptr);
      })
      .gradient(gemm_gradient)
      .doc(
          "Y = alpha * op(A) @ op(B) + beta * C on float32, as ONNX Gemm: A and B are matrices, op(X) is X^T when "
          "trans_a / trans_b is set and X otherwise, op(A) is [M, K], op(B) is [K, N] and Y is [M, N]. The optional "
          "C broadcasts one way to [M, N] ([], [N], [1, N], [M, 1], [M, N], ...). Defaults: alpha = 1, beta = 1, no "
          "transposes.");
}

}  // namespace graphrun
