#include "runtime/train/checkpoint.h"

#include <fmt/format.h>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/message.h>
#include <google/protobuf/wire_format_lite.h>

#include <limits>
#include <vector>

#include "runtime/train/framed_file.h"
#include "runtime/train/named_tensor.h"

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

void CheckpointToWrite::add_parameter(const std::string& name, const Tensor& tensor) {
  *message.add_parameter() = tensor_description(name, tensor);
  tensors.push_back(tensor);
}

void CheckpointToWrite::add_optimizer_state(const std::string& name, const Tensor& tensor) {
  *message.add_optimizer_state() = tensor_description(name, tensor);
  tensors.push_back(tensor);
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
