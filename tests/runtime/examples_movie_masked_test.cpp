// The movie-review models of the notebook with masking and dropout (modified LSTM,
// bidirectional LSTM, stacked LSTM, all over frozen GloVe with Keras mask_zero): each
// trains on a slice and its loss falls, and the parameter counts equal the notebook's
// Keras summaries.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "graphrun/graphrun.h"
#include "graphrun/train.h"
#include "tests/runtime/example_test_util.h"

namespace graphrun {
namespace {

using testing::train_slice;
const std::string kSource = GRAPHRUN_SOURCE_DIR;

TEST(Examples, MovieReviewsModifiedLstmTrainsOnASlice) {
  const TrainResult r = train_slice(kSource + "/examples/movie_reviews/modified_lstm.pbtxt", "modified_lstm");
  ASSERT_EQ(r.epochs[0].metrics.size(), 4u);
  EXPECT_EQ(r.epochs[0].metrics[3].first, "val_binary_accuracy");
}

TEST(Examples, MovieReviewsBiLstmTrainsOnASlice) {
  train_slice(kSource + "/examples/movie_reviews/bilstm.pbtxt", "bilstm");
}

TEST(Examples, MovieReviewsStackedLstmTrainsOnASlice) {
  train_slice(kSource + "/examples/movie_reviews/stacked_lstm.pbtxt", "stacked_lstm");
}

// The notebook's summaries (50-d GloVe): modified LSTM 60,501, bidirectional LSTM
// 121,001, stacked LSTM 140,901 trainable, 500,000 non-trainable; the shipped 100-d
// examples for comparison.
TEST(Examples, MovieReviewsMaskedParameterCountsMatchTheNotebook) {
  for (const testing::ParameterCounts& c :
       {testing::ParameterCounts{"tests/runtime/models/movie_modified_lstm_50d.pbtxt", 60501, 500000},
        testing::ParameterCounts{"tests/runtime/models/movie_bilstm_50d.pbtxt", 121001, 500000},
        testing::ParameterCounts{"tests/runtime/models/movie_stacked_lstm_50d.pbtxt", 140901, 500000},
        testing::ParameterCounts{"examples/movie_reviews/modified_lstm.pbtxt", 80501, 1000000},
        testing::ParameterCounts{"examples/movie_reviews/bilstm.pbtxt", 161001, 1000000},
        testing::ParameterCounts{"examples/movie_reviews/stacked_lstm.pbtxt", 160901, 1000000}}) {
    testing::expect_parameter_counts(kSource, c);
  }
}

}  // namespace
}  // namespace graphrun
