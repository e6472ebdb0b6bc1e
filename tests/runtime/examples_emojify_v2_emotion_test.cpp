// The Emojifier V2 and emotion BiLSTM+attention examples train on a slice: a few
// epochs on the first examples of each split, and the training loss falls.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "graphrun/train.h"
#include "tests/temp_dir.h"

namespace graphrun {
namespace {

namespace fs = std::filesystem;
const std::string kSource = GRAPHRUN_SOURCE_DIR;

TrainOptions slice(const std::string& name, int epochs, int64_t examples) {
  TrainOptions o;
  o.run_dir = testing::fresh_temp_path("examples_" + name);
  o.quiet = true;
  o.epochs = epochs;
  o.limit_examples = examples;
  return o;
}

double loss_of(const EpochRecord& e) {
  EXPECT_EQ(e.metrics.at(0).first, "loss");
  return e.metrics.at(0).second;
}

TEST(Examples, EmojifyV2TrainsOnASlice) {
  const TrainResult r = train(kSource + "/examples/emojify/v2.pbtxt", slice("emojify_v2", 3, 96));
  ASSERT_EQ(r.epochs.size(), 3u);
  EXPECT_LT(loss_of(r.epochs[2]), loss_of(r.epochs[0]));
  EXPECT_NE(r.notes.find("0 of 30015 vocabulary words have no vector"), std::string::npos) << r.notes;
  ASSERT_EQ(r.test_metrics.size(), 2u);
  EXPECT_EQ(r.test_metrics[1].first, "test_accuracy");
}

TEST(Examples, EmotionBiLstmAttentionTrainsOnASlice) {
  const TrainResult r = train(kSource + "/examples/emotion/bilstm_attention.pbtxt", slice("emotion", 3, 256));
  ASSERT_EQ(r.epochs.size(), 3u);
  EXPECT_LT(loss_of(r.epochs[2]), loss_of(r.epochs[0]));
  // Validation is scored every epoch and the best epoch is kept.
  ASSERT_GE(r.epochs[0].metrics.size(), 4u);
  EXPECT_EQ(r.epochs[0].metrics[3].first, "val_accuracy");
  EXPECT_GE(r.best_epoch, 1);
  EXPECT_TRUE(fs::exists(fs::path(r.run_dir) / "best.ckpt"));
}

TEST(Examples, EmojifyV2WithTheNotebooksTableHasItsParameterCount) {
  // The notebook's summary: 20,223,927 parameters with a 400,001 x 50 GloVe table.
  const ModelSummary s = Model::load(kSource + "/tests/runtime/models/emojify_v2_50d.pbtxt").summary();
  EXPECT_EQ(s.total_parameters(), 20223927);
  EXPECT_EQ(s.non_trainable_parameters, 20000050);
}

}  // namespace
}  // namespace graphrun
