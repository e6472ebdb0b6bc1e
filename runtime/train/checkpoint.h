// Training checkpoints on disk (pb::Checkpoint, protobuf binary).
//
// Writes are atomic: the checkpoint goes to "<path>.tmp", is flushed and then
// renamed over <path>, so a crash mid-write never loses the previous one.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "graphrun.pb.h"
#include "graphrun/tensor.h"

namespace graphrun {

pb::NamedTensor to_named_tensor(const std::string& name, const Tensor& tensor);
Tensor from_named_tensor(const pb::NamedTensor& named, const std::string& source);

void write_checkpoint(const std::string& path, const pb::Checkpoint& checkpoint);
pb::Checkpoint read_checkpoint(const std::string& path);  // Error naming the file when missing or corrupt

}  // namespace graphrun
