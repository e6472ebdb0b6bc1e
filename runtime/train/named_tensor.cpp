#include "runtime/train/named_tensor.h"

#include <fmt/format.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/wire_format_lite.h>

#include <cstring>

#include "graph/shape.h"

namespace graphrun {

pb::NamedTensor tensor_description(const std::string& name, const Tensor& tensor) {
  pb::NamedTensor named;
  named.set_name(name);
  named.set_dtype(tensor.dtype() == DType::f32 ? pb::FLOAT32 : pb::INT64);
  for (int64_t d : tensor.dims()) named.add_dims(d);
  return named;
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

}  // namespace graphrun
