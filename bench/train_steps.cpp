// The graphrun side of bench/run.sh: one example's training steps timed (alternating with
// as many again, at least three, profiled: their wall time and oneDNN primitive time), optionally
// inference latency, printed as one line of key=value pairs for the script. The
// PyTorch side is bench/torch_models.py.
//
//   train_steps MODEL.pbtxt [--steps N] [--warmup N] [--infer] [--dump DIR] [--limit N]
//
// --dump DIR writes the first training batch's inputs as DIR/<input>.npy, so the
// PyTorch side trains on the same token ids (the same padding) and labels.
// --infer adds the median latency of forward passes at batch 1 and 256.
// --limit N reads only the first N examples of each split (bench/run.sh --quick).
#include <fmt/format.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "graphrun/npy.h"
#include "runtime/train/step_driver.h"

namespace {

using Clock = std::chrono::steady_clock;

// Median seconds of `runs` forward passes (dropout off) over the first n training rows.
double inference_seconds(const graphrun::StepDriver& driver, int64_t n, int runs) {
  const graphrun::TrainingSetup& setup = driver.setup();
  const std::vector<graphrun::Tensor> feeds = driver.first_rows(n);
  const std::vector<graphrun::ValueId> fetches = {setup.predictions};
  setup.runner->run(feeds, setup.params, fetches);  // compiles the plan
  std::vector<double> seconds;
  for (int i = 0; i < runs; ++i) {
    const auto start = Clock::now();
    setup.runner->run(feeds, setup.params, fetches);
    seconds.push_back(std::chrono::duration<double>(Clock::now() - start).count());
  }
  std::nth_element(seconds.begin(), seconds.begin() + runs / 2, seconds.end());
  return seconds[static_cast<size_t>(runs / 2)];
}

int usage() {
  fmt::print(stderr, "usage: train_steps MODEL.pbtxt [--steps N] [--warmup N] [--infer] [--dump DIR] [--limit N]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage();
  const std::string model = argv[1];
  graphrun::ProfileOptions options;
  bool infer = false;
  std::string dump_dir;
  graphrun::TrainOptions train_options;
  train_options.quiet = true;
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--steps" && has_value)
      options.steps = std::atoi(argv[++i]);
    else if (arg == "--warmup" && has_value)
      options.warmup_steps = std::atoi(argv[++i]);
    else if (arg == "--dump" && has_value)
      dump_dir = argv[++i];
    else if (arg == "--limit" && has_value)
      train_options.limit_examples = std::atoll(argv[++i]);
    else if (arg == "--infer")
      infer = true;
    else
      return usage();
  }
  try {
    // A small model's step is a few microseconds: many profiled steps steady its primitive time.
    options.profiled_steps = std::max(3, options.steps);
    graphrun::StepDriver driver(model, train_options);
    if (!dump_dir.empty()) {
      std::filesystem::create_directories(dump_dir);
      const graphrun::Split& batch = driver.batches().front();
      for (size_t c = 0; c < batch.columns.size(); ++c)
        graphrun::write_npy((std::filesystem::path(dump_dir) / (driver.setup().dataset.inputs[c] + ".npy")).string(),
                            batch.columns[c]);
    }
    const graphrun::TrainingProfile p = graphrun::profile_steps(driver, options);
    std::string line = fmt::format(
        "batch={} step_ms={:.6g} samples_per_s={:.2f} update_ms={:.6g} profiled_step_ms={:.6g} primitive_ms={:.6g} "
        "faults_per_step={:.1f} allocations_per_step={:.1f}",
        p.batch_size, p.step_seconds * 1e3, p.samples_per_second, p.update_seconds * 1e3, p.profiled_step_seconds * 1e3,
        p.primitive_seconds * 1e3, p.minor_faults_per_step, p.buffer_allocations_per_step);
    if (infer && driver.setup().has_accuracy())
      line += fmt::format(" infer1_ms={:.6g} infer256_ms={:.6g}", inference_seconds(driver, 1, 200) * 1e3,
                          inference_seconds(driver, 256, 20) * 1e3);
    // After everything: the process's peak, data and inference included.
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    line += fmt::format(" peak_rss_mb={:.1f}", static_cast<double>(usage.ru_maxrss) / 1024);
    fmt::print("{}\n", line);
  } catch (const std::exception& e) {
    fmt::print(stderr, "train_steps: {}\n", e.what());
    return 1;
  }
  return 0;
}
