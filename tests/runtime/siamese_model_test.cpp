// The Siamese question-answer head built from primitives
// (tests/runtime/models/siamese_cosine_hinge.pbtxt): its cosine similarities and
// contrastive hinge equal the formulas computed here from the codes the model
// fetches. Its gradients are in Autodiff.WholeModelGradientsMatchNumeric.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "graphrun/graphrun.h"
#include "test_util.h"

namespace graphrun {
namespace {

const std::string kModel = std::string(GRAPHRUN_SOURCE_DIR) + "/tests/runtime/models/siamese_cosine_hinge.pbtxt";

using testing::random_matrix;

// Keras dot([a, b], axes=-1, normalize=True) for one row: l2_normalize each side
// (x / sqrt(max(sum x^2, 1e-12))), then the dot product; in double.
double keras_cosine(const float* a, const float* b, int64_t n) {
  double aa = 0, bb = 0, ab = 0;
  for (int64_t i = 0; i < n; ++i) aa += double(a[i]) * a[i], bb += double(b[i]) * b[i], ab += double(a[i]) * b[i];
  return ab / (std::sqrt(std::max(aa, 1e-12)) * std::sqrt(std::max(bb, 1e-12)));
}

TEST(SiameseModel, CosinesAndHingeMatchTheFormulas) {
  const Model model = Model::load(kModel);
  const Session session(model);
  const int64_t rows = 33;
  std::vector<Tensor> out = session.run({{"question", random_matrix(rows, 6, 1)},
                                         {"correct", random_matrix(rows, 4, 2)},
                                         {"incorrect", random_matrix(rows, 4, 3)}},
                                        {"q_code", "pos_code", "neg_code", "cos_correct", "cos_incorrect", "loss"});
  const int64_t width = out[0].dims()[1];
  double hinge_sum = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const float* q = out[0].data<float>() + r * width;
    const double pos = keras_cosine(q, out[1].data<float>() + r * width, width);
    const double neg = keras_cosine(q, out[2].data<float>() + r * width, width);
    EXPECT_NEAR(out[3].data<float>()[r], pos, 1e-6) << "row " << r;
    EXPECT_NEAR(out[4].data<float>()[r], neg, 1e-6) << "row " << r;
    hinge_sum += std::max(0.0, 2.5 - pos + neg);  // the model's margin
  }
  EXPECT_NEAR(out[5].data<float>()[0], hinge_sum / rows, 1e-6);
}

}  // namespace
}  // namespace graphrun
