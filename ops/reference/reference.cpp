#include "ops/reference/reference.h"

namespace graphrun::reference {

const ReferenceKernel* find(std::string_view op) {
  static const ReferenceTable table = [] {
    ReferenceTable t;
    register_eltwise(t);
    register_binary(t);
    register_matmul(t);
    register_softmax(t);
    register_reduction(t);
    register_shape(t);
    register_gather(t);
    register_misc(t);
    register_loss(t);
    register_rnn(t);
    register_pooling(t);
    register_masked(t);
    register_conv(t);
    return t;
  }();
  auto it = table.find(op);
  return it == table.end() ? nullptr : &it->second;
}

int64_t broadcast_index(const Dims& dims, const Dims& coords) {
  int64_t index = 0;
  const size_t offset = coords.size() - dims.size();
  for (size_t i = 0; i < dims.size(); ++i) index = index * dims[i] + (dims[i] == 1 ? 0 : coords[offset + i]);
  return index;
}

bool next_coords(const Dims& dims, Dims& coords) {
  for (size_t i = dims.size(); i-- > 0;) {
    if (++coords[i] < dims[i]) return true;
    coords[i] = 0;
  }
  return false;
}

}  // namespace graphrun::reference
