// A tensor as a protobuf field (pb::NamedTensor: name, type, shape, bytes), as checkpoints
// and model bundles hold their parameters, and the parse of a message whose tensor fields
// are too large to read the way protobuf reads a stream.
#pragma once

#include <functional>
#include <string>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/message_lite.h>

#include "graphrun.pb.h"
#include "graphrun/tensor.h"

namespace graphrun {

// The NamedTensor of `tensor` without its bytes (`data`).
pb::NamedTensor tensor_description(const std::string& name, const Tensor& tensor);
// With its bytes.
pb::NamedTensor to_named_tensor(const std::string& name, const Tensor& tensor);
// The tensor a NamedTensor holds; an Error naming `source` (the file) and the tensor when
// its shape and bytes disagree.
Tensor from_named_tensor(const pb::NamedTensor& named, const std::string& source);

// Parses `payload` into `message` as protobuf would, except that each length-delimited
// field for which add_tensor(field number) gives a NamedTensor (nullptr: any other field)
// is read into a string of exactly its size and parsed into that NamedTensor: protobuf's
// own parse from a stream grows a string over 50 MB by doubling. The peak is the message
// and one tensor's bytes, not the payload and the message. A field claiming more bytes
// than are left fails before anything is allocated.
bool parse_with_tensor_fields(google::protobuf::io::CodedInputStream& payload, google::protobuf::MessageLite& message,
                              const std::function<pb::NamedTensor*(int field_number)>& add_tensor);

}  // namespace graphrun
