#include "runtime/train/checkpoint.h"

#include <fmt/format.h>

#include <unistd.h>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "graph/shape.h"

namespace graphrun {

pb::NamedTensor to_named_tensor(const std::string& name, const Tensor& tensor) {
  pb::NamedTensor named;
  named.set_name(name);
  named.set_dtype(tensor.dtype() == DType::f32 ? pb::FLOAT32 : pb::INT64);
  for (int64_t d : tensor.dims()) named.add_dims(d);
  named.set_data(static_cast<const char*>(tensor.raw_data()), tensor.num_bytes());
  return named;
}

Tensor from_named_tensor(const pb::NamedTensor& named, const std::string& source) {
  Tensor t(named.dtype() == pb::INT64 ? DType::i64 : DType::f32, Dims(named.dims().begin(), named.dims().end()));
  if (named.data().size() != t.num_bytes())
    throw Error(fmt::format("{}: tensor '{}' holds {} bytes, its shape {} needs {}", source, named.name(),
                            named.data().size(), dims_str(t.dims()), t.num_bytes()));
  std::memcpy(t.raw_data(), named.data().data(), t.num_bytes());
  return t;
}

void write_checkpoint(const std::string& path, const pb::Checkpoint& checkpoint) {
  const std::string temp = path + ".tmp";
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    if (!out || !checkpoint.SerializeToOstream(&out)) throw Error(fmt::format("{}: cannot write checkpoint", temp));
    out.flush();
    if (!out) throw Error(fmt::format("{}: cannot write checkpoint", temp));
  }
  // Flush to disk before the rename makes it the checkpoint.
  if (FILE* f = std::fopen(temp.c_str(), "rb")) {
    ::fsync(fileno(f));
    std::fclose(f);
  }
  std::error_code ec;
  std::filesystem::rename(temp, path, ec);
  if (ec) throw Error(fmt::format("{}: cannot replace checkpoint: {}", path, ec.message()));
}

pb::Checkpoint read_checkpoint(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(fmt::format("{}: cannot open checkpoint", path));
  pb::Checkpoint checkpoint;
  if (!checkpoint.ParseFromIstream(&in) || checkpoint.version() != 1)
    throw Error(fmt::format("{}: not a graphrun checkpoint (corrupt or wrong version)", path));
  return checkpoint;
}

}  // namespace graphrun
