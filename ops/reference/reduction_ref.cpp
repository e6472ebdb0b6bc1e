// Reference kernels for ops/reduction.cpp: one pass over the input, adding each
// element into the output cell it reduces to (accumulating in double).
#include <algorithm>
#include <cmath>
#include <limits>

#include "ops/reference/reference.h"

namespace graphrun::reference {
namespace {

enum class Reduce { sum, mean, max };

ReferenceKernel reduction(Reduce kind) {
  return [kind](const pb::Node& attrs, const std::vector<Tensor>& in, const std::vector<TensorType>& out_types,
                const RunContext&) {
    const Dims& dims = in[0].dims();
    const int rank = in[0].rank();
    // The output with every reduced axis kept as a dim of 1: an input element at
    // `coords` lands in cell broadcast_index(kept_dims, coords).
    Dims kept_dims = dims;
    int64_t count = 1;  // elements per output cell
    for (int i = 0; i < rank; ++i) {
      bool reduced = attrs.axes().empty();
      for (int64_t axis : attrs.axes()) reduced = reduced || normalize_axis(axis, rank) == i;
      if (!reduced) continue;
      count *= dims[static_cast<size_t>(i)];
      kept_dims[static_cast<size_t>(i)] = 1;
    }
    const double init = kind == Reduce::max ? -std::numeric_limits<double>::infinity() : 0.0;
    std::vector<double> acc(static_cast<size_t>(num_elements(kept_dims)), init);
    const float* x = in[0].data<float>();
    Dims coords(dims.size(), 0);
    for (int64_t i = 0; i < in[0].num_elements(); ++i, next_coords(dims, coords)) {
      double& cell = acc[static_cast<size_t>(broadcast_index(kept_dims, coords))];
      if (kind != Reduce::max)
        cell += x[i];
      else if (!std::isnan(cell) && (cell < x[i] || std::isnan(x[i])))  // a NaN wins, as in NumPy's max
        cell = x[i];
    }
    Tensor out(DType::f32, out_types[0].dims);
    float* y = out.data<float>();
    for (size_t j = 0; j < acc.size(); ++j)
      y[j] = static_cast<float>(kind == Reduce::mean ? acc[j] / static_cast<double>(count) : acc[j]);
    return std::vector<Tensor>{out};
  };
}

// Which axes of a rank-`rank` input the node's axes attribute reduces.
std::vector<bool> reduced_axes(const pb::Node& attrs, int rank) {
  std::vector<bool> reduced(static_cast<size_t>(rank), attrs.axes().empty());
  for (int64_t axis : attrs.axes()) reduced[static_cast<size_t>(normalize_axis(axis, rank))] = true;
  return reduced;
}

// ReduceSumToShapeOf: each element of X adds into the cell of like's shape it
// broadcast from.
std::vector<Tensor> reduce_sum_to_shape_of(const pb::Node&, const std::vector<Tensor>& in,
                                           const std::vector<TensorType>& out_types, const RunContext&) {
  const Dims& dims = in[0].dims();
  std::vector<double> acc(static_cast<size_t>(num_elements(out_types[0].dims)), 0.0);
  const float* x = in[0].data<float>();
  Dims coords(dims.size(), 0);
  for (int64_t i = 0; i < in[0].num_elements(); ++i, next_coords(dims, coords))
    acc[static_cast<size_t>(broadcast_index(out_types[0].dims, coords))] += x[i];
  Tensor out(DType::f32, out_types[0].dims);
  for (size_t j = 0; j < acc.size(); ++j) out.data<float>()[j] = static_cast<float>(acc[j]);
  return {out};
}

// y[i] = scale * src[the cell of i in src_dims], src_dims broadcasting to out_dims.
Tensor expanded(const float* src, const Dims& src_dims, const Dims& out_dims, double scale) {
  Tensor out(DType::f32, out_dims);
  float* y = out.data<float>();
  Dims coords(out_dims.size(), 0);
  for (int64_t i = 0; i < out.num_elements(); ++i, next_coords(out_dims, coords))
    y[i] = static_cast<float>(scale * src[broadcast_index(src_dims, coords)]);
  return out;
}

// ReduceMeanGrad(dY, X) and ReduceMaxGrad(dY, X, Y). dY and Y are read with the
// reduced axes as dims of 1 (their memory layout either way).
ReferenceKernel reduction_grad(Reduce kind) {
  return
      [kind](const pb::Node& attrs, const std::vector<Tensor>& in, const std::vector<TensorType>&, const RunContext&) {
        const Dims& dims = in[1].dims();
        const std::vector<bool> reduced = reduced_axes(attrs, in[1].rank());
        Dims kept = dims;
        int64_t count = 1;
        for (size_t i = 0; i < dims.size(); ++i)
          if (reduced[i]) {
            count *= dims[i];
            kept[i] = 1;
          }
        const float* dy = in[0].data<float>();
        if (kind == Reduce::mean)
          return std::vector<Tensor>{expanded(dy, kept, dims, 1.0 / static_cast<double>(count))};
        // Max: count the ties in each cell, then share dY among them.
        const float* x = in[1].data<float>();
        const float* y = in[2].data<float>();
        std::vector<int64_t> ties(static_cast<size_t>(num_elements(kept)), 0);
        Dims coords(dims.size(), 0);
        for (int64_t i = 0; i < in[1].num_elements(); ++i, next_coords(dims, coords)) {
          const int64_t cell = broadcast_index(kept, coords);
          if (x[i] == y[cell]) ++ties[static_cast<size_t>(cell)];
        }
        Tensor dx(DType::f32, dims);
        std::fill(coords.begin(), coords.end(), 0);
        for (int64_t i = 0; i < in[1].num_elements(); ++i, next_coords(dims, coords)) {
          const int64_t cell = broadcast_index(kept, coords);
          dx.data<float>()[i] = x[i] == y[cell] ? dy[cell] / static_cast<float>(ties[static_cast<size_t>(cell)]) : 0.f;
        }
        return std::vector<Tensor>{dx};
      };
}

std::vector<Tensor> argmax(const pb::Node& attrs, const Inputs& in, const Types& out_types, const RunContext&) {
  const Dims& dims = in[0].dims();
  const int axis = normalize_axis(attrs.has_axis() ? attrs.axis() : 0, in[0].rank());
  Tensor out(DType::i64, out_types[0].dims);
  if (out.num_elements() == 0) return {out};
  // For every position with the axis coordinate 0, scan along the axis.
  Dims coords(dims.size(), 0);
  const Dims strides = strides_of(dims);
  int64_t written = 0;
  do {
    if (coords[static_cast<size_t>(axis)] != 0) continue;
    int64_t base = 0;
    for (size_t d = 0; d < dims.size(); ++d) base += coords[d] * strides[d];
    int64_t best = 0;
    for (int64_t k = 1; k < dims[static_cast<size_t>(axis)]; ++k) {
      const double candidate = element(in[0], base + k * strides[static_cast<size_t>(axis)]);
      const double current = element(in[0], base + best * strides[static_cast<size_t>(axis)]);
      // numpy.argmax: the first NaN is the answer.
      if (candidate > current || (std::isnan(candidate) && !std::isnan(current))) best = k;
    }
    out.data<int64_t>()[written++] = best;  // row-major over the non-axis coords = the output order
  } while (next_coords(dims, coords));
  return {out};
}

}  // namespace

void register_reduction(ReferenceTable& t) {
  t["ReduceSum"] = reduction(Reduce::sum);
  t["ReduceMean"] = reduction(Reduce::mean);
  t["ReduceMax"] = reduction(Reduce::max);
  t["ArgMax"] = argmax;
  t["ReduceSumToShapeOf"] = reduce_sum_to_shape_of;
  t["ExpandToShapeOf"] = [](const pb::Node&, const std::vector<Tensor>& in, const std::vector<TensorType>& out_types,
                            const RunContext&) {
    return std::vector<Tensor>{expanded(in[0].data<float>(), in[0].dims(), out_types[0].dims, 1.0)};
  };
  t["ReduceMeanGrad"] = reduction_grad(Reduce::mean);
  t["ReduceMaxGrad"] = reduction_grad(Reduce::max);
}

}  // namespace graphrun::reference
