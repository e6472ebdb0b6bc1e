// Training checkpoints on disk: the pb::Checkpoint in protobuf binary behind the
// framed-file header (framed_file.h) with magic "GRCK", format version 1, so a
// flipped byte or a cut file is an error naming the file, never wrong parameters.
// Checkpoints written before the header existed (the bare protobuf) still load: no
// protobuf message starts with 'G' (field 8, wire type 7, does not exist).
//
// Writes are atomic: the checkpoint goes to "<path>.tmp", is fsynced and then
// renamed over <path>, so a crash mid-write never loses the previous one.
#pragma once

#include <string>
#include <vector>

#include "graphrun.pb.h"
#include "graphrun/tensor.h"

namespace graphrun {

// A checkpoint to write: its message, whose tensors have their names, types and
// shapes but not their bytes, and the tensors those bytes come from (in the order
// of message.parameter(), then message.optimizer_state()), sharing the training's
// storage. write_checkpoint writes the bytes from them: a large model's parameters
// and optimizer slots are never copied into memory on their way to the file.
struct CheckpointToWrite {
  pb::Checkpoint message;
  std::vector<Tensor> tensors;

  void add_parameter(const std::string& name, const Tensor& tensor);
  void add_optimizer_state(const std::string& name, const Tensor& tensor);
};

// The file is the framed, serialized pb::Checkpoint with every tensor's bytes in place.
void write_checkpoint(const std::string& path, const CheckpointToWrite& checkpoint);
// Error naming the file when it is missing, truncated or corrupt. The file is parsed
// as it is read: its payload and the message are never held at once.
pb::Checkpoint read_checkpoint(const std::string& path);

}  // namespace graphrun
