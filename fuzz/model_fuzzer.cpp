// Model text: what `graphrun check MODEL.pbtxt` runs -- the .pbtxt loader, graph
// validation and type inference, the `train { ... }` block's checks, and the
// summary table.
#include "fuzz/fuzz_input.h"
#include "graphrun/graphrun.h"
#include "graphrun/train.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& path = graphrun::fuzz::input_file().write(graphrun::fuzz::as_bytes(data, size));
  graphrun::fuzz::expect_error_or_success([&] {
    const graphrun::Model model = graphrun::Model::load(path);
    graphrun::check_train_config(model);
    model.summary().to_string();
  });
  return 0;
}
