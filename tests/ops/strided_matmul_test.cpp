// The step-wise recurrent kernels' matmuls (ops/rnn/strided_matmul.h). With recurrent
// dropout they multiply gate by gate in training, and outside training, where the masks
// are ones, all gates in one call. That must give the bits of one matmul per gate, or a
// trained model's outputs would depend on the path; this pins it on the shapes the
// examples use and on odd ones, with one and two threads.
#include "ops/rnn/strided_matmul.h"

#include <gtest/gtest.h>
#include <omp.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace graphrun::rnn {
namespace {

struct Shape {
  int64_t N, H, G;
};
constexpr Shape kShapes[] = {{1024, 100, 4}, {64, 100, 4}, {1, 100, 4}, {1024, 128, 3},
                             {37, 50, 4},    {256, 64, 2}, {5, 3, 1},   {200, 17, 3}};

std::vector<float> random_floats(int64_t n, std::mt19937& rng, float scale) {
  std::normal_distribution<float> normal(0.f, scale);
  std::vector<float> values(static_cast<size_t>(n));
  for (float& v : values) v = normal(rng);
  return values;
}

void run(const StridedMatmul& mm, const float* a, const float* b, float* c) {
  std::vector<char> pad(mm.scratchpad_bytes() + 64);
  mm.run(a, b, c, pad.data());
}

bool same_bits(const std::vector<float>& x, const std::vector<float>& y) {
  return x.size() == y.size() && std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) == 0;
}

class StridedMatmulTest : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    saved_threads_ = omp_get_max_threads();
    omp_set_num_threads(GetParam());
  }
  void TearDown() override { omp_set_num_threads(saved_threads_); }
  int saved_threads_ = 1;
};

// Outside training every gate's source is h itself: one matmul over all gates.
TEST_P(StridedMatmulTest, OneMatmulOverTheGatesEqualsOnePerGate) {
  std::mt19937 rng(8);
  for (const Shape& s : kShapes) {
    SCOPED_TRACE("N " + std::to_string(s.N) + " H " + std::to_string(s.H) + " G " + std::to_string(s.G));
    const int64_t N = s.N, H = s.H, G = s.G, GH = G * H;
    const std::vector<float> h = random_floats(N * H, rng, 1.f), R = random_floats(H * GH, rng, 0.1f);
    std::vector<float> all_gates(N * GH), per_gate(N * GH);
    run(StridedMatmul(View{N, H, H, 1}, View{H, GH, GH, 1}, View{N, GH, GH, 1}), h.data(), R.data(), all_gates.data());
    const StridedMatmul one_gate(View{N, H, H, 1}, View{H, H, GH, 1}, View{N, H, GH, 1});
    for (int64_t g = 0; g < G; ++g) run(one_gate, h.data(), R.data() + g * H, per_gate.data() + g * H);
    EXPECT_TRUE(same_bits(all_gates, per_gate));
  }
}

INSTANTIATE_TEST_SUITE_P(Threads, StridedMatmulTest, ::testing::Values(1, 2));

}  // namespace
}  // namespace graphrun::rnn
