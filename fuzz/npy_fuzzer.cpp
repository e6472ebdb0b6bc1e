// .npy files: graphrun::read_npy, as `graphrun run -i name=file.npy` and the
// npy parameter initializer read them.
#include "fuzz/fuzz_input.h"
#include "graphrun/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& path = graphrun::fuzz::input_file().write(graphrun::fuzz::as_bytes(data, size));
  graphrun::fuzz::expect_error_or_success([&] { graphrun::read_npy(path); });
  return 0;
}
