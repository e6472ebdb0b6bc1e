#include "runtime/train/checkpoint.h"

#include <fmt/format.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/wire_format_lite.h>

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

// The NamedTensor of `tensor` without its bytes (`data`).
pb::NamedTensor tensor_description(const std::string& name, const Tensor& tensor) {
  pb::NamedTensor named;
  named.set_name(name);
  named.set_dtype(tensor.dtype() == DType::f32 ? pb::FLOAT32 : pb::INT64);
  for (int64_t d : tensor.dims()) named.add_dims(d);
  return named;
}

// The bytes of NamedTensor.data holding `bytes` bytes, as protobuf writes the field: none when empty.
// (The tag of a field numbered below 16 is one byte.)
size_t data_field_size(size_t bytes) {
  return bytes == 0 ? 0 : 1 + google::protobuf::io::CodedOutputStream::VarintSize64(bytes) + bytes;
}

// Writes `named` (a tensor_description) with `tensor`'s bytes as its data field, as
// field `field` of the enclosing message: the bytes protobuf would write for it.
void write_tensor_field(google::protobuf::io::CodedOutputStream& out, int field, const pb::NamedTensor& named,
                        const Tensor& tensor) {
  using google::protobuf::internal::WireFormatLite;
  const size_t bytes = tensor.num_bytes();
  out.WriteTag(WireFormatLite::MakeTag(field, WireFormatLite::WIRETYPE_LENGTH_DELIMITED));
  out.WriteVarint64(named.ByteSizeLong() + data_field_size(bytes));
  named.SerializeWithCachedSizes(&out);
  if (bytes == 0) return;
  out.WriteTag(WireFormatLite::MakeTag(pb::NamedTensor::kDataFieldNumber, WireFormatLite::WIRETYPE_LENGTH_DELIMITED));
  out.WriteVarint64(bytes);
  out.WriteRaw(tensor.raw_data(), static_cast<int>(bytes));
}

}  // namespace

void CheckpointToWrite::add_parameter(const std::string& name, const Tensor& tensor) {
  *message.add_parameter() = tensor_description(name, tensor);
  tensors.push_back(tensor);
}

void CheckpointToWrite::add_optimizer_state(const std::string& name, const Tensor& tensor) {
  *message.add_optimizer_state() = tensor_description(name, tensor);
  tensors.push_back(tensor);
}

pb::NamedTensor to_named_tensor(const std::string& name, const Tensor& tensor) {
  pb::NamedTensor named = tensor_description(name, tensor);
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

void write_checkpoint(const std::string& path, const CheckpointToWrite& checkpoint) {
  // Protobuf writes a message's fields in field-number order. The checkpoint goes
  // out the same way: fields 1-4, the tensors (5 and 6) with their bytes taken from
  // the tensors, then the rest.
  const pb::Checkpoint& message = checkpoint.message;
  pb::Checkpoint head, tail = message;
  head.set_version(message.version());
  head.set_epoch(message.epoch());
  head.set_step(message.step());
  head.set_seed(message.seed());
  tail.clear_version();
  tail.clear_epoch();
  tail.clear_step();
  tail.clear_seed();
  tail.clear_parameter();
  tail.clear_optimizer_state();
  const auto& tensors = checkpoint.tensors;
  if (tensors.size() != static_cast<size_t>(message.parameter_size() + message.optimizer_state_size()))
    throw Error(fmt::format("{}: cannot serialize checkpoint: {} tensors for {} descriptions", path, tensors.size(),
                            message.parameter_size() + message.optimizer_state_size()));
  size_t total = head.ByteSizeLong() + tail.ByteSizeLong();
  for (size_t k = 0; k < tensors.size(); ++k) {
    const pb::NamedTensor& named = k < static_cast<size_t>(message.parameter_size())
                                       ? message.parameter(static_cast<int>(k))
                                       : message.optimizer_state(static_cast<int>(k) - message.parameter_size());
    const size_t size = named.ByteSizeLong() + data_field_size(tensors[k].num_bytes());
    total += 1 + google::protobuf::io::CodedOutputStream::VarintSize64(size) + size;  // tag, length, message
  }
  if (total > static_cast<size_t>(std::numeric_limits<int>::max()))
    throw Error(fmt::format("{}: cannot serialize checkpoint", path));  // protobuf's limit: 2 GB
  write_framed_file(path, kCheckpointFormat, [&](const PayloadSink& sink) {
    SinkStream stream(sink);
    google::protobuf::io::CopyingOutputStreamAdaptor blocks(&stream, 1 << 20);
    {
      google::protobuf::io::CodedOutputStream out(&blocks);
      head.SerializeWithCachedSizes(&out);
      size_t next = 0;
      for (const pb::NamedTensor& named : message.parameter())
        write_tensor_field(out, pb::Checkpoint::kParameterFieldNumber, named, tensors[next++]);
      for (const pb::NamedTensor& named : message.optimizer_state())
        write_tensor_field(out, pb::Checkpoint::kOptimizerStateFieldNumber, named, tensors[next++]);
      tail.SerializeWithCachedSizes(&out);
      if (out.HadError()) return false;
    }
    return blocks.Flush();
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
