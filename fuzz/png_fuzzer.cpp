// PNG images: graphrun::read_png, as `graphrun run -i name=image.png` and image
// data sets read them.
#include "fuzz/fuzz_input.h"
#include "graphrun/png.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& path = graphrun::fuzz::input_file().write(graphrun::fuzz::as_bytes(data, size));
  graphrun::fuzz::expect_error_or_success([&] { graphrun::read_png(path); });
  return 0;
}
