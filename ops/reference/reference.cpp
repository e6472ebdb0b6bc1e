#include "ops/reference/reference.h"

namespace graphrun::reference {

const ReferenceKernel* find(std::string_view op) {
  static const ReferenceTable table = [] {
    ReferenceTable t;
#define GRAPHRUN_OP_FAMILY(family) register_##family(t);
#include "ops/families.inc"
#undef GRAPHRUN_OP_FAMILY
    return t;
  }();
  auto it = table.find(op);
  return it == table.end() ? nullptr : &it->second;
}

const std::string* exemption(std::string_view op) {
  // The recurrent backward ops: a reference backpropagation through time would
  // restate the gradient rule; the numeric gradient cases of the forward op
  // check these kernels against central differences instead.
  static const std::map<std::string, std::string, std::less<>> exemptions = {
      {"GRUGrad", "checked by GRU's numeric gradient cases (tests/ops/rnn_test.cpp)"},
      {"LSTMGrad", "checked by LSTM's numeric gradient cases (tests/ops/rnn_test.cpp)"},
      {"RNNGrad", "checked by RNN's numeric gradient cases (tests/ops/rnn_test.cpp)"},
  };
  auto it = exemptions.find(op);
  return it == exemptions.end() ? nullptr : &it->second;
}

int64_t broadcast_index(const Dims& dims, const Dims& coords) {
  int64_t index = 0;
  const size_t offset = coords.size() - dims.size();
  for (size_t i = 0; i < dims.size(); ++i) index = index * dims[i] + (dims[i] == 1 ? 0 : coords[offset + i]);
  return index;
}

double element(const Tensor& t, int64_t i) {
  return t.dtype() == DType::i64 ? static_cast<double>(t.data<int64_t>()[i]) : t.data<float>()[i];
}

bool next_coords(const Dims& dims, Dims& coords) {
  for (size_t i = dims.size(); i-- > 0;) {
    if (++coords[i] < dims[i]) return true;
    coords[i] = 0;
  }
  return false;
}

}  // namespace graphrun::reference
