// The movie-review (SimpleRNN, LSTM, GRU over frozen GloVe) and IMDB (Embedding +
// LSTM) examples: each trains on a slice and its loss falls, and the movie models'
// parameter counts equal the notebook's Keras summaries.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include <unistd.h>

#include "graphrun/graphrun.h"
#include "graphrun/train.h"
#include "tests/runtime/example_test_util.h"

namespace graphrun {
namespace {

namespace fs = std::filesystem;
using testing::RemoveAtEnd;
using testing::train_slice;
const std::string kSource = GRAPHRUN_SOURCE_DIR;

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

TEST(Examples, MovieReviewsSimpleRnnTrainsOnASlice) {
  const TrainResult r = train_slice(kSource + "/examples/movie_reviews/simple_rnn.pbtxt", "movie_rnn");
  // Binary labels: the metrics are named binary_accuracy.
  ASSERT_EQ(r.epochs[0].metrics.size(), 4u);
  EXPECT_EQ(r.epochs[0].metrics[3].first, "val_binary_accuracy");
  // The Tokenizer is fit on the training rows in sklearn's shuffled order, as the
  // notebook's data_train: ties at the 10,000-word cut go to the word seen first, and
  // the PyTorch reference (same order) finds vectors for 7,451 of the 9,999 ids.
  EXPECT_NE(r.notes.find("2548 of 9999 vocabulary words have no vector"), std::string::npos) << r.notes;
}

TEST(Examples, MovieReviewsLstmTrainsOnASlice) {
  train_slice(kSource + "/examples/movie_reviews/lstm.pbtxt", "movie_lstm");
}

TEST(Examples, MovieReviewsGruTrainsOnASlice) {
  train_slice(kSource + "/examples/movie_reviews/gru.pbtxt", "movie_gru");
}

// Loading all 50,000 IMDB reviews takes about 15 s on the 2-core machine, and each
// checkpoint of the 88,585 x 300 embedding (with Adam's moments) is 320 MB. So the test
// trains a copy of the example whose train and test data are the first part of each
// (2,762 and 2,785 reviews) and whose vocabulary keeps the 4,999 most frequent words
// (embedding [5000, 300]); the graph and every other setting are the example's.
TEST(Examples, ImdbLstmTrainsOnASlice) {
  const std::string dir = testing::fresh_example_dir("imdb_model");
  const RemoveAtEnd cleanup{dir};
  fs::create_directories(dir);
  std::string model = read_file(kSource + "/examples/imdb/lstm.pbtxt");
  const std::string full = "shape: [88585, 300]";
  ASSERT_NE(model.find(full), std::string::npos);
  model.replace(model.find(full), full.size(), "shape: [5000, 300]");
  const std::string vocabulary = "vocabulary: FIT_ON_TRAIN";
  ASSERT_NE(model.find(vocabulary), std::string::npos);
  model.replace(model.find(vocabulary), vocabulary.size(), vocabulary + " num_words: 5000");
  const std::string data = kSource + "/examples/imdb/data/";
  for (const char* split : {"train", "test"}) {
    const std::string key = std::string(split) + ": [";
    const size_t begin = model.find(key);
    ASSERT_NE(begin, std::string::npos) << key;
    const size_t end = model.find(']', begin);
    model.replace(begin, end + 1 - begin, std::string(split) + ": \"" + data + split + ".part01.csv.gz\"");
  }
  std::ofstream(dir + "/lstm.pbtxt") << model;
  const TrainResult r = train_slice(dir + "/lstm.pbtxt", "imdb_lstm");
  ASSERT_EQ(r.test_metrics.size(), 2u);
  EXPECT_EQ(r.test_metrics[1].first, "test_accuracy");
}

// The notebook's summaries (50-d GloVe): SimpleRNN 15,201, LSTM 60,501, GRU 45,401
// trainable, 500,000 non-trainable; the shipped 100-d examples for comparison.
TEST(Examples, MovieReviewsParameterCountsMatchTheNotebook) {
  for (const testing::ParameterCounts& c :
       {testing::ParameterCounts{"tests/runtime/models/movie_simple_rnn_50d.pbtxt", 15201, 500000},
        testing::ParameterCounts{"tests/runtime/models/movie_lstm_50d.pbtxt", 60501, 500000},
        testing::ParameterCounts{"tests/runtime/models/movie_gru_50d.pbtxt", 45401, 500000},
        testing::ParameterCounts{"examples/movie_reviews/simple_rnn.pbtxt", 20201, 1000000},
        testing::ParameterCounts{"examples/movie_reviews/lstm.pbtxt", 80501, 1000000},
        testing::ParameterCounts{"examples/movie_reviews/gru.pbtxt", 60401, 1000000}}) {
    testing::expect_parameter_counts(kSource, c);
  }
}

TEST(Examples, ImdbParameterCount) {
  const ModelSummary s = Model::load(kSource + "/examples/imdb/lstm.pbtxt").summary();
  EXPECT_EQ(s.trainable_parameters, 26795406);  // 88,585 x 300 embedding + LSTM(128) + Dense(2)
  EXPECT_EQ(s.non_trainable_parameters, 0);
}

}  // namespace
}  // namespace graphrun
