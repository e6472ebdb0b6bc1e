#include "ops/dnnl_util.h"

#include <chrono>

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

dnnl::memory wrap(const dnnl::memory::desc& md, const void* data) {
  // oneDNN takes a non-const handle even for inputs it only reads.
  return dnnl::memory(md, cpu_engine(), const_cast<void*>(data));
}

void execute(const dnnl::primitive& prim, std::unordered_map<int, dnnl::memory> args,
             const dnnl::memory::desc& scratchpad_md, void* scratchpad) {
  if (scratchpad_md.get_size() > 0) args.emplace(DNNL_ARG_SCRATCHPAD, wrap(scratchpad_md, scratchpad));
  dnnl::stream& stream = thread_stream();
  if (primitive_time_sink == nullptr) {
    prim.execute(stream, args);
    stream.wait();
    return;
  }
  const auto start = std::chrono::steady_clock::now();
  prim.execute(stream, args);
  stream.wait();
  *primitive_time_sink += std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start).count();
}

int64_t* set_primitive_time_sink(int64_t* sink) {
  int64_t* previous = primitive_time_sink;
  primitive_time_sink = sink;
  return previous;
}

}  // namespace graphrun
