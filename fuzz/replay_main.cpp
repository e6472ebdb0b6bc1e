// Runs a fuzz target over saved inputs, without libFuzzer: the regression tests
// of every build (a compiler without libFuzzer included). Arguments are files or
// directories (every regular file below them, in sorted order). As libFuzzer's
// -malloc_limit_mb would, it fails when one input raises the process's peak
// memory by more than a bound no small input may need.
#include <sys/resource.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
// Optional, as for libFuzzer: a target that needs set-up defines it.
extern "C" __attribute__((weak)) int LLVMFuzzerInitialize(int* argc, char*** argv);

namespace fs = std::filesystem;

namespace {

constexpr long kMaxPeakGrowthKb = 128 * 1024;

long peak_rss_kb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

}  // namespace

int main(int argc, char** argv) {
  if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
  std::vector<fs::path> inputs;
  for (int i = 1; i < argc; ++i) {
    if (fs::is_directory(argv[i])) {
      for (const fs::directory_entry& e : fs::recursive_directory_iterator(argv[i]))
        if (e.is_regular_file()) inputs.push_back(e.path());
    } else {
      inputs.emplace_back(argv[i]);
    }
  }
  std::sort(inputs.begin(), inputs.end());
  for (const fs::path& path : inputs) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "%s: cannot open\n", path.c_str());
      return 1;
    }
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::fprintf(stderr, "%s\n", path.c_str());  // the input at fault, if the next call crashes
    const long peak_before = peak_rss_kb();
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    if (const long growth = peak_rss_kb() - peak_before; growth > kMaxPeakGrowthKb) {
      std::fprintf(stderr, "%s: %zu bytes of input raised peak memory by %ld MiB\n", path.c_str(), bytes.size(),
                   growth / 1024);
      return 1;
    }
  }
  std::printf("%zu inputs ran without a finding\n", inputs.size());
  return 0;
}
