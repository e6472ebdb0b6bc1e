// Keras mask_zero end to end: in a model that masks from the token ids through a
// bidirectional LSTM and then takes attention, max and mean over time with the
// masked ops, padding changes nothing: a padded batch (pre or post) scores each
// sentence exactly as the sentence alone, and padding gets zero attention. (With
// Softmax or ReduceMean in place of the masked ops this test fails on every row.)
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "graphrun/graphrun.h"
#include "tests/runtime/test_util.h"

namespace graphrun {
namespace {

const std::string kModel = std::string(GRAPHRUN_SOURCE_DIR) + "/tests/runtime/models/masked_attention.pbtxt";

// Three sentences of 7, 3 and 1 tokens, padded with 0 to `T` before or after.
const std::vector<std::vector<int64_t>> kSentences = {{5, 17, 3, 99, 250, 8, 41}, {12, 7, 300}, {64}};

Tensor padded(int64_t T, bool pre) {
  std::vector<int64_t> ids;
  for (const std::vector<int64_t>& s : kSentences) {
    const std::vector<int64_t> pad(static_cast<size_t>(T) - s.size(), 0);
    if (pre) ids.insert(ids.end(), pad.begin(), pad.end());
    ids.insert(ids.end(), s.begin(), s.end());
    if (!pre) ids.insert(ids.end(), pad.begin(), pad.end());
  }
  return Tensor::from_ints({static_cast<int64_t>(kSentences.size()), T}, ids);
}

TEST(MaskedModel, PaddingChangesNothing) {
  const Session session(Model::load(kModel));
  const int64_t T = 12;
  for (bool pre : {true, false}) {
    SCOPED_TRACE(pre ? "pre-padded" : "post-padded");
    const std::vector<Tensor> batch = session.run({{"tokens", padded(T, pre)}}, {"probs", "attention"});
    for (size_t n = 0; n < kSentences.size(); ++n) {
      const std::vector<int64_t>& s = kSentences[n];
      const int64_t L = static_cast<int64_t>(s.size()), first = pre ? T - L : 0;
      const std::vector<Tensor> alone = session.run({{"tokens", Tensor::from_ints({1, L}, s)}}, {"probs", "attention"});
      for (int64_t c = 0; c < 5; ++c)
        EXPECT_NEAR(batch[0].data<float>()[static_cast<int64_t>(n) * 5 + c], alone[0].data<float>()[c], 1e-6f)
            << "sentence " << n << " class " << c;
      for (int64_t t = 0; t < T; ++t) {
        const float weight = batch[1].data<float>()[static_cast<int64_t>(n) * T + t];
        const bool token = t >= first && t < first + L;
        EXPECT_NEAR(weight, token ? alone[1].data<float>()[t - first] : 0.f, 1e-6f)
            << "sentence " << n << " step " << t;
      }
    }
  }
}

// `graphrun check` tells why the masked LSTM cannot take oneDNN's fused RNN.
TEST(MaskedModel, CheckPrintsTheStepwiseReason) {
  const testing::CliResult r = testing::cli("check " + kModel);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("step-wise: mask_zero (oneDNN's fused RNN has neither masking nor dropout)"),
            std::string::npos)
      << r.output;
}

}  // namespace
}  // namespace graphrun
