#include "runtime/train/checkpoint.h"

#include <fmt/format.h>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/message.h>
#include <google/protobuf/wire_format_lite.h>

#include <cstring>
#include <functional>
#include <limits>
#include <vector>

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

// The bytes of a length-delimited field holding `size` bytes, as protobuf writes it.
// (The tag of a field numbered below 16 is one byte.)
size_t length_delimited_field_size(size_t size) {
  return 1 + google::protobuf::io::CodedOutputStream::VarintSize64(size) + size;
}

// A tensor of the checkpoint as field `number` of the message: its description (a
// tensor_description) with the tensor's bytes as the data field, none when empty.
// The bytes it writes are those protobuf would write for the whole NamedTensor.
struct TensorField {
  int number;
  const pb::NamedTensor& description;
  const Tensor& tensor;

  size_t message_size() const {
    const size_t bytes = tensor.num_bytes();
    return description.ByteSizeLong() + (bytes == 0 ? 0 : length_delimited_field_size(bytes));
  }
  size_t size() const { return length_delimited_field_size(message_size()); }

  void write(google::protobuf::io::CodedOutputStream& out) const {
    using google::protobuf::internal::WireFormatLite;
    out.WriteTag(WireFormatLite::MakeTag(number, WireFormatLite::WIRETYPE_LENGTH_DELIMITED));
    out.WriteVarint64(message_size());
    description.SerializeWithCachedSizes(&out);
    const size_t bytes = tensor.num_bytes();
    if (bytes == 0) return;
    out.WriteTag(WireFormatLite::MakeTag(pb::NamedTensor::kDataFieldNumber, WireFormatLite::WIRETYPE_LENGTH_DELIMITED));
    out.WriteVarint64(bytes);
    out.WriteRaw(tensor.raw_data(), static_cast<int>(bytes));
  }
};

}  // namespace

bool parse_with_tensor_fields(google::protobuf::io::CodedInputStream& payload, google::protobuf::MessageLite& message,
                              const std::function<pb::NamedTensor*(int field_number)>& add_tensor) {
  using google::protobuf::internal::WireFormatLite;
  std::string others;  // the other fields, parsed last (parsing a message in pieces merges them)
  {
    google::protobuf::io::StringOutputStream others_stream(&others);
    google::protobuf::io::CodedOutputStream others_out(&others_stream);
    std::string field;
    while (const uint32_t tag = payload.ReadTag()) {
      pb::NamedTensor* named = WireFormatLite::GetTagWireType(tag) == WireFormatLite::WIRETYPE_LENGTH_DELIMITED
                                   ? add_tensor(WireFormatLite::GetTagFieldNumber(tag))
                                   : nullptr;
      if (!named) {
        if (!WireFormatLite::SkipField(&payload, tag, &others_out)) return false;
        continue;
      }
      uint32_t length = 0;
      if (!payload.ReadVarint32(&length) || length > static_cast<uint32_t>(payload.BytesUntilLimit()) ||
          !payload.ReadString(&field, static_cast<int>(length)))
        return false;
      if (!named->ParseFromString(field)) return false;
    }
    if (!payload.ConsumedEntireMessage()) return false;
  }
  return message.MergeFromString(others);
}

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
  const pb::Checkpoint& message = checkpoint.message;
  const auto& tensors = checkpoint.tensors;
  if (tensors.size() != static_cast<size_t>(message.parameter_size() + message.optimizer_state_size()))
    throw Error(fmt::format("{}: cannot serialize checkpoint: {} tensors for {} descriptions", path, tensors.size(),
                            message.parameter_size() + message.optimizer_state_size()));
  std::vector<TensorField> fields;
  for (const pb::NamedTensor& named : message.parameter())
    fields.push_back({pb::Checkpoint::kParameterFieldNumber, named, tensors[fields.size()]});
  for (const pb::NamedTensor& named : message.optimizer_state())
    fields.push_back({pb::Checkpoint::kOptimizerStateFieldNumber, named, tensors[fields.size()]});
  // Protobuf writes a message's fields in number order. The checkpoint goes out the
  // same way: the fields numbered below the tensors', the tensors with their bytes
  // taken from the tensors, then the rest.
  pb::Checkpoint before_tensors, after_tensors = message;
  after_tensors.clear_parameter();
  after_tensors.clear_optimizer_state();
  std::vector<const google::protobuf::FieldDescriptor*> leading;
  const google::protobuf::Descriptor& descriptor = *pb::Checkpoint::descriptor();
  for (int i = 0; i < descriptor.field_count(); ++i)
    if (descriptor.field(i)->number() < pb::Checkpoint::kParameterFieldNumber) leading.push_back(descriptor.field(i));
  after_tensors.GetReflection()->SwapFields(&before_tensors, &after_tensors, leading);
  size_t total = before_tensors.ByteSizeLong() + after_tensors.ByteSizeLong();
  for (const TensorField& field : fields) total += field.size();
  constexpr auto kProtobufLimit = static_cast<size_t>(std::numeric_limits<int>::max());  // 2 GB: it parses no more
  if (total > kProtobufLimit)
    throw Error(fmt::format("{}: cannot serialize checkpoint: {} bytes, more than protobuf's limit of {}", path, total,
                            kProtobufLimit));
  write_framed_file(path, kCheckpointFormat, [&](const PayloadSink& sink) {
    SinkStream stream(sink);
    google::protobuf::io::CopyingOutputStreamAdaptor blocks(&stream, 1 << 20);
    {
      google::protobuf::io::CodedOutputStream out(&blocks);
      before_tensors.SerializeWithCachedSizes(&out);
      for (const TensorField& field : fields) field.write(out);
      after_tensors.SerializeWithCachedSizes(&out);
      if (out.HadError()) return false;
    }
    return blocks.Flush();
  });
}

pb::Checkpoint read_checkpoint(const std::string& path) {
  pb::Checkpoint checkpoint;
  if (!parse_framed_file(path, kCheckpointFormat,
                         [&](google::protobuf::io::CodedInputStream& payload) {
                           return parse_with_tensor_fields(payload, checkpoint, [&](int number) -> pb::NamedTensor* {
                             if (number == pb::Checkpoint::kParameterFieldNumber) return checkpoint.add_parameter();
                             if (number == pb::Checkpoint::kOptimizerStateFieldNumber)
                               return checkpoint.add_optimizer_state();
                             return nullptr;
                           });
                         }) ||
      checkpoint.version() != 1)
    throw Error(fmt::format("{}: not a graphrun checkpoint (corrupt or wrong version)", path));
  return checkpoint;
}

}  // namespace graphrun
