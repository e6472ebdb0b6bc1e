// The step-wise recurrent kernels' matmuls: dst = src x weights on strided views of the
// arrays they already hold (a gate's columns, a time step's rows, a transpose), created
// once per kernel and run with the caller's scratchpad.
#pragma once

#include <cstdint>

#include "ops/dnnl_util.h"

namespace graphrun::rnn {

// rows x cols with the given strides (in floats).
struct View {
  int64_t rows, cols, row_stride, col_stride;
};

class StridedMatmul {
 public:
  // c = a x b (+ c when accumulating).
  StridedMatmul(View a, View b, View c, bool accumulate = false) : a_(desc(a)), b_(desc(b)), c_(desc(c)) {
    dnnl::primitive_attr attr = user_scratchpad_attr();
    if (accumulate) {
      dnnl::post_ops ops;
      ops.append_sum(1.f);
      attr.set_post_ops(ops);
    }
    const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a_, b_, c_), attr, cpu_engine());
    pad_ = pd.scratchpad_desc();
    primitive_ = dnnl::matmul(pd);
  }
  size_t scratchpad_bytes() const { return pad_.get_size(); }
  void run(const float* a, const float* b, float* c, void* scratchpad) const {
    execute(primitive_, {{DNNL_ARG_SRC, wrap(a_, a)}, {DNNL_ARG_WEIGHTS, wrap(b_, b)}, {DNNL_ARG_DST, wrap(c_, c)}},
            pad_, scratchpad);
  }

 private:
  static dnnl::memory::desc desc(View v) { return strided_desc({v.rows, v.cols}, {v.row_stride, v.col_stride}); }

  KernelDesc a_, b_, c_, pad_;
  dnnl::matmul primitive_;
};

}  // namespace graphrun::rnn
