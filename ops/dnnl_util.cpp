#include "ops/dnnl_util.h"

#include <omp.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>

namespace graphrun {
namespace {

thread_local int64_t* primitive_time_sink = nullptr;

}  // namespace

const dnnl::engine& cpu_engine() {
  static const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

dnnl::stream& thread_stream() {
  thread_local dnnl::stream stream(cpu_engine());
  return stream;
}

dnnl::primitive_attr user_scratchpad_attr() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

dnnl::memory::dims to_dnnl_dims(const Dims& dims) {
  if (dims.empty()) return {1};
  return dnnl::memory::dims(dims.begin(), dims.end());
}

dnnl::memory::desc plain_desc(const Dims& dims, dnnl::memory::data_type type) {
  const dnnl::memory::dims d = to_dnnl_dims(dims);
  return dnnl::memory::desc(d, type, to_dnnl_dims(dims.empty() ? Dims{1} : strides_of(dims)));
}

dnnl::memory::desc strided_desc(const Dims& dims, const Dims& strides) {
  return dnnl::memory::desc(to_dnnl_dims(dims), dnnl::memory::data_type::f32, to_dnnl_dims(strides));
}

namespace {

std::atomic<uint64_t> last_kernel_desc_id{0};

// wrap()'s cache set of a buffer under a descriptor: the address mixed with the KernelDesc's
// id, or with the dims and strides of a descriptor without one (kernels read one buffer under
// two descriptors of the same size, a matrix and its transpose, which by address and size
// alone took turns evicting each other).
size_t wrap_set(const dnnl::memory::desc& md, uint64_t id, const void* data, size_t sets) {
  uint64_t h = reinterpret_cast<uintptr_t>(data) >> 6;
  if (id != 0) {
    h = (h ^ id) * 0x9E3779B97F4A7C15ull;
  } else {
    const dnnl_memory_desc_t& d = md.data;
    const bool blocked = d.format_kind == dnnl_blocked;
    for (int i = 0; i < d.ndims; ++i) {
      h = (h ^ static_cast<uint64_t>(d.dims[i])) * 0x9E3779B97F4A7C15ull;
      if (blocked) h = (h ^ static_cast<uint64_t>(d.format_desc.blocking.strides[i])) * 0x9E3779B97F4A7C15ull;
    }
  }
  return static_cast<size_t>(h >> 32) % sets;
}

// Creating a dnnl::memory allocates, which at small shapes costs as much as the primitive
// itself (a fifth of a batch-1 step-wise LSTM step). Kernels wrap the same buffers run after
// run, so each thread keeps the objects it made last in a small cache, by buffer and
// KernelDesc id, or by buffer and descriptor (id 0). Four ways per set: with one, two of
// Emojifier V1's buffers shared a slot and were wrapped anew on every use, twice a step (a
// tenth of the step in malloc and free). An entry only refers to a buffer.
dnnl::memory cached_memory(const dnnl::memory::desc& md, uint64_t id, const void* data) {
  struct Entry {
    dnnl::memory::desc md;  // compared only for id 0
    dnnl::memory memory;
  };
  constexpr size_t kWays = 4;
  struct alignas(64) Set {
    // The keys first, together: a lookup reads one cache line to find its way instead of
    // the head of each 700-byte entry (a third of wrap's time went there).
    std::array<const void*, kWays> data{};
    std::array<uint64_t, kWays> ids{};
    std::array<Entry, kWays> entries;
    size_t next_victim = 0;  // round robin
  };
  constexpr size_t kSets = 64;
  thread_local std::array<Set, kSets> cache;
  Set& set = cache[wrap_set(md, id, data, kSets)];
  for (size_t way = 0; way < kWays; ++way)
    if (set.data[way] == data && set.ids[way] == id && set.entries[way].memory &&
        (id != 0 || set.entries[way].md == md))
      return set.entries[way].memory;
  // oneDNN takes a non-const handle even for inputs it only reads. Made before the
  // entry changes, so that an exception leaves the set as it was.
  dnnl::memory memory(md, cpu_engine(), const_cast<void*>(data));
  const size_t victim = set.next_victim;
  set.next_victim = (victim + 1) % kWays;
  set.data[victim] = data;
  set.ids[victim] = id;
  set.entries[victim] = {md, std::move(memory)};
  return set.entries[victim].memory;
}

void run_primitive(const dnnl::primitive& prim, const PrimitiveArgs& args, const dnnl::memory& pad) {
  boost::container::small_vector<dnnl_exec_arg_t, 25> c_args;
  for (const PrimitiveArg& arg : args) c_args.push_back({arg.kind, arg.memory.get()});
  if (pad) c_args.push_back({DNNL_ARG_SCRATCHPAD, pad.get()});
  dnnl::stream& stream = thread_stream();
  const auto run = [&] {
    dnnl::error::wrap_c_api(
        dnnl_primitive_execute(prim.get(), stream.get(), static_cast<int>(c_args.size()), c_args.data()),
        "could not execute a primitive");
    stream.wait();
  };
  if (primitive_time_sink == nullptr) {
    run();
    return;
  }
  const auto start = std::chrono::steady_clock::now();
  run();
  *primitive_time_sink +=
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

KernelDesc::KernelDesc(dnnl::memory::desc md)
    : md_(std::move(md)), id_(last_kernel_desc_id.fetch_add(1, std::memory_order_relaxed) + 1) {}

dnnl::memory wrap(const KernelDesc& desc, const void* data) { return cached_memory(desc.md(), desc.id(), data); }

dnnl::memory wrap(const dnnl::memory::desc& md, const void* data) { return cached_memory(md, 0, data); }

void execute(const dnnl::primitive& prim, const PrimitiveArgs& args, const KernelDesc& scratchpad_md,
             void* scratchpad) {
  run_primitive(prim, args, scratchpad_md.get_size() > 0 ? wrap(scratchpad_md, scratchpad) : dnnl::memory());
}

void execute(const dnnl::primitive& prim, const PrimitiveArgs& args, const dnnl::memory::desc& scratchpad_md,
             void* scratchpad) {
  run_primitive(prim, args, scratchpad_md.get_size() > 0 ? wrap(scratchpad_md, scratchpad) : dnnl::memory());
}

int64_t* set_primitive_time_sink(int64_t* sink) {
  int64_t* previous = primitive_time_sink;
  primitive_time_sink = sink;
  return previous;
}

void run_side_by_side(const void* work, void (*call)(const void* work, int index)) {
  if (omp_get_max_threads() < 2) {
    call(work, 0);
    call(work, 1);
    return;
  }
  int64_t* const caller_sink = primitive_time_sink;
  std::array<int64_t, 2> primitive_ns{};
  std::array<std::exception_ptr, 2> error;
#pragma omp parallel num_threads(2)
  {
    const int i = omp_get_thread_num();
    int64_t* const thread_sink = set_primitive_time_sink(caller_sink ? &primitive_ns[static_cast<size_t>(i)] : nullptr);
    try {
      call(work, i);
    } catch (...) {
      error[static_cast<size_t>(i)] = std::current_exception();
    }
    set_primitive_time_sink(thread_sink);
  }
  if (caller_sink) *caller_sink += std::max(primitive_ns[0], primitive_ns[1]);
  for (const std::exception_ptr& e : error)
    if (e) std::rethrow_exception(e);
}

}  // namespace graphrun
