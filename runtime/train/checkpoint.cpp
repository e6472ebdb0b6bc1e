#include "runtime/train/checkpoint.h"

#include <fmt/format.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include <cstring>
#include <limits>

#include "graph/shape.h"
#include "runtime/train/framed_file.h"

namespace graphrun {
namespace {

// Checkpoints written before the header existed (the bare protobuf) still load.
constexpr FrameFormat kCheckpointFormat{
    .magic = "GRCK", .version = 1, .what = "checkpoint", .accept_bare_payload = true};

// What protobuf serializes, handed on to a framed file's sink.
class SinkStream : public google::protobuf::io::CopyingOutputStream {
 public:
  explicit SinkStream(const PayloadSink& sink) : sink_(sink) {}
  bool Write(const void* buffer, int size) override {
    return sink_(std::string_view(static_cast<const char*>(buffer), static_cast<size_t>(size)));
  }

 private:
  const PayloadSink& sink_;
};

}  // namespace

pb::NamedTensor to_named_tensor(const std::string& name, const Tensor& tensor) {
  pb::NamedTensor named;
  named.set_name(name);
  named.set_dtype(tensor.dtype() == DType::f32 ? pb::FLOAT32 : pb::INT64);
  for (int64_t d : tensor.dims()) named.add_dims(d);
  named.set_data(static_cast<const char*>(tensor.raw_data()), tensor.num_bytes());
  return named;
}

Tensor from_named_tensor(const pb::NamedTensor& named, const std::string& source) {
  const DType dtype = named.dtype() == pb::INT64 ? DType::i64 : DType::f32;
  const Dims dims(named.dims().begin(), named.dims().end());
  // The declared size is checked against the stored bytes before anything is allocated.
  const size_t bytes = checked_num_bytes(dtype, dims, fmt::format("{}: tensor '{}'", source, named.name()));
  if (named.data().size() != bytes)
    throw Error(fmt::format("{}: tensor '{}' holds {} bytes, its shape {} needs {}", source, named.name(),
                            named.data().size(), dims_str(dims), bytes));
  Tensor t(dtype, dims);
  std::memcpy(t.raw_data(), named.data().data(), bytes);
  return t;
}

void write_checkpoint(const std::string& path, const pb::Checkpoint& checkpoint) {
  if (checkpoint.ByteSizeLong() > static_cast<size_t>(std::numeric_limits<int>::max()))
    throw Error(fmt::format("{}: cannot serialize checkpoint", path));  // protobuf's limit: 2 GB
  // Serialized straight into the file, a block at a time: a large model's checkpoint is never held whole in memory.
  write_framed_file(path, kCheckpointFormat, [&](const PayloadSink& sink) {
    SinkStream stream(sink);
    google::protobuf::io::CopyingOutputStreamAdaptor blocks(&stream, 1 << 20);
    return checkpoint.SerializeToZeroCopyStream(&blocks) && blocks.Flush();
  });
}

pb::Checkpoint read_checkpoint(const std::string& path) {
  const std::string payload = read_framed_file(path, kCheckpointFormat);
  pb::Checkpoint checkpoint;
  if (!parse_payload(payload, checkpoint) || checkpoint.version() != 1)
    throw Error(fmt::format("{}: not a graphrun checkpoint (corrupt or wrong version)", path));
  return checkpoint;
}

}  // namespace graphrun
