// oneDNN plumbing shared by the op families.
//
// The kernel recipe (as in oneDNN's examples): dims -> memory descs -> primitive
// desc (with scratchpad_mode::user) -> primitive, created once in the kernel's
// constructor; run() wraps the given buffers in dnnl::memory objects and
// executes on the calling thread's stream with the caller's scratchpad.
#pragma once

#include <oneapi/dnnl/dnnl.hpp>

#include <boost/container/small_vector.hpp>
#include <cstdint>
#include <optional>
#include <string>

#include "graph/alignment.h"
#include "graph/shape.h"

namespace graphrun {

// The process-wide CPU engine.
const dnnl::engine& cpu_engine();

// A stream for the calling thread (oneDNN CPU streams are cheap but not meant to
// be shared between threads executing at once).
dnnl::stream& thread_stream();

// Primitive attributes with a user-managed scratchpad: required for running
// one primitive from several threads with Debian's OpenMP build of oneDNN.
dnnl::primitive_attr user_scratchpad_attr();

dnnl::memory::dims to_dnnl_dims(const Dims& dims);

// A plain row-major (abc...) f32 memory desc; rank 0 becomes [1].
dnnl::memory::desc plain_desc(const Dims& dims, dnnl::memory::data_type type = dnnl::memory::data_type::f32);

// A memory desc with explicit strides (for transposes and slices).
dnnl::memory::desc strided_desc(const Dims& dims, const Dims& strides);

// A memory desc a kernel keeps for its lifetime, with an id no other KernelDesc made in
// the process has (a copy keeps it: it is the same descriptor). wrap() finds the memory
// object it made for a buffer under it by (buffer, id), without comparing descriptors:
// that comparison was a third of wrap()'s time and 7% of a batch-1 step. Converts both
// ways, so kernels keep their members as KernelDesc and pass them to oneDNN as they are.
class KernelDesc {
 public:
  KernelDesc() = default;
  KernelDesc(dnnl::memory::desc md);  // NOLINT: implicit, a kernel's member assigned from a desc
  operator const dnnl::memory::desc&() const { return md_; }  // NOLINT
  const dnnl::memory::desc& md() const { return md_; }
  uint64_t id() const { return id_; }
  size_t get_size() const { return md_.get_size(); }

 private:
  dnnl::memory::desc md_;
  uint64_t id_ = 0;  // 0: a default (empty) desc
};

// Wraps a raw buffer (no copy) as a dnnl::memory: by a kernel's KernelDesc, or by a
// descriptor made for the call (compared with the cached one's).
dnnl::memory wrap(const KernelDesc& desc, const void* data);
dnnl::memory wrap(const dnnl::memory::desc& md, const void* data);

// One argument of a primitive call: DNNL_ARG_* and its memory.
struct PrimitiveArg {
  int kind;
  dnnl::memory memory;
};

// A primitive call's arguments, held without allocating up to 24: every primitive graphrun
// runs (an LSTM's backward takes 19) but a concat of many parts.
using PrimitiveArgs = boost::container::small_vector<PrimitiveArg, 24>;

// Executes a primitive on the thread's stream with the given args and scratchpad.
// While a profiler has set a sink on this thread (set_primitive_time_sink), the
// primitive's wall time in nanoseconds is added to it; unset, nothing is timed.
// The args go to oneDNN's C API as they are: dnnl::primitive::execute takes a
// std::unordered_map, several allocations a call, which at batch 1 was a tenth of a
// small model's step.
void execute(const dnnl::primitive& prim, const PrimitiveArgs& args, const KernelDesc& scratchpad_md,
             void* scratchpad);
void execute(const dnnl::primitive& prim, const PrimitiveArgs& args, const dnnl::memory::desc& scratchpad_md,
             void* scratchpad);

// Profiling (runtime/exec/profile.h): where this thread's execute() adds primitive
// time, nullptr for none (the default). Returns the previous sink.
int64_t* set_primitive_time_sink(int64_t* sink);

// Runs work(0) and work(1) at once, one OpenMP thread each, when the calling thread's team
// has two threads or more; else one after the other. oneDNN runs a primitive called inside
// the pair on its thread alone (it does not nest teams). An exception thrown by either is
// rethrown once both are done. Profiled, the pair adds the longer of its two threads'
// primitive times to the caller's sink.
template <typename Work>
void run_side_by_side(const Work& work) {
  run_side_by_side(&work, [](const void* w, int i) { (*static_cast<const Work*>(w))(i); });
}
void run_side_by_side(const void* work, void (*call)(const void* work, int index));

// A reorder between two layouts of the same tensor (a user's plain weights and the
// layout a primitive chose), created once; needed() is false when they are equal.
// `offset` is where a kernel keeps the reordered copy in its scratchpad, if it does.
struct Reorder {
  std::optional<dnnl::reorder> primitive;
  KernelDesc from, to, scratchpad_md;
  size_t offset = 0;

  Reorder() = default;
  Reorder(const dnnl::memory::desc& from_md, const dnnl::memory::desc& to_md) : from(from_md), to(to_md) {
    if (from_md == to_md) return;
    const dnnl::reorder::primitive_desc pd(cpu_engine(), from_md, cpu_engine(), to_md, user_scratchpad_attr());
    scratchpad_md = pd.scratchpad_desc();
    primitive = dnnl::reorder(pd);
  }
  bool needed() const { return primitive.has_value(); }
  void run(const void* src, void* dst, void* scratchpad) const {
    execute(*primitive, {{DNNL_ARG_FROM, wrap(from, src)}, {DNNL_ARG_TO, wrap(to, dst)}}, scratchpad_md, scratchpad);
  }
};

// Byte alignment of the regions a kernel carves from its scratchpad.
constexpr size_t kScratchAlignment = kBufferAlignment;

// Carves one kernel's scratchpad into regions (a primitive's own scratchpad,
// temporaries): add() returns each region's 64-byte aligned byte offset.
class ScratchPlan {
 public:
  size_t add(size_t bytes) {
    const size_t at = total_;
    total_ += align_up(bytes);
    return at;
  }
  size_t total() const { return total_; }

 private:
  size_t total_ = 0;
};

}  // namespace graphrun
