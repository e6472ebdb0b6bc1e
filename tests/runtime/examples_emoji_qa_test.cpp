// The emoji question-answer example (examples/emoji_qa/sqam.pbtxt): it trains on a slice
// of the tweets and its loss falls, its parameter count is the notebook's (apart from the
// embedding table), and `predict` scores a tweet against the three sentiment emoji and ranks
// every emoji fed as a numeric input beside the text, on the command line with a PNG strip.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>

#include "graphrun/graphrun.h"
#include "graphrun/npy.h"
#include "graphrun/png.h"
#include "graphrun/train.h"
#include "tests/runtime/example_test_util.h"
#include "tests/runtime/test_util.h"

namespace graphrun {
namespace {

namespace fs = std::filesystem;
const std::string kSource = GRAPHRUN_SOURCE_DIR;
const std::string kModel = kSource + "/examples/emoji_qa/sqam.pbtxt";
const std::string kEmojiCodes = kSource + "/examples/emoji_qa/data/codes/emoji_codes.npy";
const std::string kEmojiImages = kSource + "/examples/data/emoji_images/png36";
const std::string kTweet = "@united Flight is awful only one lavatory functioning. Ridiculous";

TEST(Examples, EmojiQaTrainsOnASlice) {
  const TrainResult r = testing::train_slice(kModel, "emoji_qa");
  // Scored as a classifier: the sentiment emoji with the highest cosine, on the validation rows.
  ASSERT_EQ(r.epochs[0].metrics.size(), 4u);
  EXPECT_EQ(r.epochs[0].metrics[3].first, "val_accuracy");
}

TEST(Examples, EmojiQaHasTheNotebooksParameterCount) {
  // Keras: BiLSTM 60,400, question Dense 2,010, answer Dense 170, shared 1,100 + 5,050 + 510, and the
  // embedding (here 2,000 x 100, the Tokenizer's num_words) -> 269,240; the 3 x 16 sentiment codes are frozen.
  testing::expect_parameter_counts(kSource, {"examples/emoji_qa/sqam.pbtxt", 269240, 48});
}

// One short training run shared by the predict tests.
class EmojiQaPredict : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    TrainOptions o;
    o.run_dir = testing::fresh_example_dir("emoji_qa_predict");
    o.quiet = true;
    o.epochs = 1;
    o.limit_examples = 200;
    train(kModel, o);
    run_dir_ = new std::string(o.run_dir);
  }
  static void TearDownTestSuite() {
    fs::remove_all(*run_dir_);
    delete run_dir_;
  }
  static std::string* run_dir_;
};
std::string* EmojiQaPredict::run_dir_ = nullptr;

TEST_F(EmojiQaPredict, RanksTheCandidatesFedBesideTheText) {
  const Tensor codes = read_npy(kEmojiCodes);
  ASSERT_EQ(codes.dims(), (Dims{872, 16}));
  PredictOptions options;
  options.inputs = {{"emoji_codes", codes}};
  options.rank_value = "emoji_cosine";
  const Prediction p = predict(kModel, *run_dir_, {kTweet}, options).at(0);
  EXPECT_EQ(p.classes, (std::vector<std::string>{"negative", "neutral", "positive"}));

  // The same session, run by hand: the class scores are sentiment_cosine, the ranking emoji_cosine's top 5.
  const std::vector<Tensor> direct =
      load_trained(kModel, *run_dir_)
          .run({{"tokens", p.token_ids}, {"emoji_codes", codes}}, {"sentiment_cosine", "emoji_cosine"});
  ASSERT_EQ(direct[1].dims(), (Dims{1, 872}));
  for (int64_t c = 0; c < 3; ++c)
    EXPECT_NEAR(p.probabilities[static_cast<size_t>(c)], direct[0].data<float>()[c], 1e-6);
  std::vector<float> sorted(direct[1].data<float>(), direct[1].data<float>() + 872);
  std::sort(sorted.begin(), sorted.end(), std::greater<>());
  ASSERT_EQ(p.ranked.size(), 5u);
  for (size_t k = 0; k < 5; ++k) {
    EXPECT_EQ(p.ranked[k].second, sorted[k]);
    EXPECT_EQ(direct[1].data<float>()[p.ranked[k].first], p.ranked[k].second);
  }
  // Cosines lie in [-1, 1].
  for (float v : sorted) EXPECT_LE(std::abs(v), 1.0f + 1e-5f);

  // Feeding what is not a graph input, or the token input, is a one-line error.
  options.inputs = {{"emoji", codes}};
  EXPECT_THROW(predict(kModel, *run_dir_, {kTweet}, options), Error);
  options.inputs = {{"tokens", p.token_ids}};
  EXPECT_THROW(predict(kModel, *run_dir_, {kTweet}, options), Error);
}

TEST_F(EmojiQaPredict, CommandLinePrintsTheTopCandidatesAndWritesTheirStrip) {
  const std::string strips = *run_dir_ + "/strips";
  const testing::CliResult r =
      testing::cli("predict " + kModel + " --checkpoint " + *run_dir_ + " -t '" + kTweet +
                   "' -t 'thanks so much!' -i emoji_codes=" + kEmojiCodes +
                   " --rank emoji_cosine --top 4 --candidates " + kEmojiImages + " --strip " + strips);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // Per tweet: the label line, the 4 best emoji by name with their cosines, the strip's path.
  EXPECT_NE(r.output.find("| negative "), std::string::npos) << r.output;
  const size_t top = r.output.find("\n  top 4: ");
  ASSERT_NE(top, std::string::npos) << r.output;
  EXPECT_TRUE(
      fs::exists(kEmojiImages + "/" + r.output.substr(top + 10, r.output.find(' ', top + 10) - top - 10) + ".png"))
      << r.output;
  for (const char* file : {"top_0000.png", "top_0001.png"}) {
    EXPECT_NE(r.output.find(std::string("-> ") + strips + "/" + file), std::string::npos) << r.output;
    // 4 emoji of 36 x 36 RGBA in a row, 2-pixel gaps around and between them.
    EXPECT_EQ(read_png(strips + "/" + file).dims(), (Dims{40, 4 * 38 + 2, 4}));
  }
  // --strip without the pictures to draw is an error.
  EXPECT_EQ(testing::cli("predict " + kModel + " --checkpoint " + *run_dir_ + " -t hi -i emoji_codes=" + kEmojiCodes +
                         " --rank emoji_cosine --strip " + strips)
                .exit_code,
            1);
  // Pictures that are not one per candidate would mislabel every candidate: refused.
  const std::string three = *run_dir_ + "/three_pictures";
  fs::create_directories(three);
  for (const auto& name : {"1f389.png", "1f608.png", "1f621.png"})
    fs::copy_file(kEmojiImages + "/" + name, three + "/" + name);
  const testing::CliResult wrong_count =
      testing::cli("predict " + kModel + " --checkpoint " + *run_dir_ + " -t hi -i emoji_codes=" + kEmojiCodes +
                   " --rank emoji_cosine --candidates " + three);
  EXPECT_EQ(wrong_count.exit_code, 1) << wrong_count.output;
  EXPECT_NE(wrong_count.output.find("3 pictures, but 'emoji_cosine' scores 872 candidates"), std::string::npos)
      << wrong_count.output;
}

}  // namespace
}  // namespace graphrun
