// Checks against the real data sets the examples ship (examples/*/data,
// examples/data/glove): row and label counts from their SOURCE.md files.
#include <gtest/gtest.h>

#include <map>

#include "graphrun/data/embeddings.h"
#include "graphrun/data/labels.h"
#include "graphrun/data/sequence.h"
#include "graphrun/data/table.h"
#include "graphrun/data/text_file.h"
#include "graphrun/data/tokenizer.h"

namespace graphrun::data {
namespace {

const std::string examples = std::string(GRAPHRUN_SOURCE_DIR) + "/examples";

// "<dir>/<stem>.part01<ext>" ... "<dir>/<stem>.partNN<ext>"
std::vector<std::string> numbered_parts(const std::string& stem, int count, const std::string& ext) {
  std::vector<std::string> parts;
  for (int i = 1; i <= count; ++i) parts.push_back(stem + (i < 10 ? ".part0" : ".part") + std::to_string(i) + ext);
  return parts;
}

std::map<std::string, std::int64_t> label_counts(const EncodedLabels& labels) {
  std::map<std::string, std::int64_t> counts;
  for (std::int64_t id : labels.ids) ++counts[labels.classes[static_cast<std::size_t>(id)]];
  return counts;
}

TEST(RealData, EmotionTrain) {
  const Table t = read_text_label(examples + "/emotion/data/train.txt");
  ASSERT_EQ(t.rows.size(), 16000u);
  EXPECT_EQ(t.rows[0].fields, (std::vector<std::string>{"i didnt feel humiliated", "sadness"}));
  const auto labels = encode_labels(t.rows, 1, {.classes = {"sadness", "joy", "love", "anger", "fear", "surprise"}});
  const std::map<std::string, std::int64_t> expected = {{"joy", 5362},  {"sadness", 4666}, {"anger", 2159},
                                                        {"fear", 1937}, {"love", 1304},    {"surprise", 572}};
  EXPECT_EQ(label_counts(labels), expected);

  Tokenizer tokenizer({.num_words = 10000, .oov_token = "<OOV>"});
  tokenizer.fit_on_texts(t.column("text"));
  EXPECT_EQ(tokenizer.index_word()[1], "<OOV>");
  EXPECT_EQ(tokenizer.index_word()[2], "i");  // the most frequent word
  const auto sequences = tokenizer.texts_to_sequences(t.column("text"));
  const Padded padded = pad_sequences(sequences, {.maxlen = 50, .padding = Side::kPost, .truncating = Side::kPost});
  EXPECT_EQ(padded.shape, (std::vector<std::int64_t>{16000, 50}));
  EXPECT_LT(*std::max_element(padded.values.begin(), padded.values.end()), 10000);
}

TEST(RealData, MovieReviews) {
  const Table t = read_csv(examples + "/movie_reviews/data/movie_reviews.csv.gz", {.expected_fields = 2});
  ASSERT_EQ(t.rows.size(), 10662u);
  const auto labels = encode_int_labels(t.rows, t.column_index("label"), 2);
  EXPECT_EQ(std::count(labels.ids.begin(), labels.ids.end(), 1), 5331);
}

TEST(RealData, ImdbTestParts) {
  const auto parts = numbered_parts(examples + "/imdb/data/test", 9, ".csv.gz");
  const Table t = read_csv_parts(parts, {.expected_fields = 4}, PartHeaders::kEvery);
  EXPECT_EQ(t.header, (std::vector<std::string>{"label", "rating", "id", "text"}));
  ASSERT_EQ(t.rows.size(), 25000u);
  const auto labels = encode_int_labels(t.rows, 0, 2);
  EXPECT_EQ(std::count(labels.ids.begin(), labels.ids.end(), 1), 12500);
}

TEST(RealData, Emojify) {
  const Table train = read_csv(examples + "/emojify/data/train_emoji.csv", {.header = false});
  ASSERT_EQ(train.rows.size(), 132u);
  const auto labels = encode_int_labels(train.rows, 1, 5);
  std::map<std::int64_t, std::int64_t> counts;
  for (auto id : labels.ids) ++counts[id];
  EXPECT_EQ(counts, (std::map<std::int64_t, std::int64_t>{{0, 22}, {1, 19}, {2, 38}, {3, 36}, {4, 17}}));
  const Table test = read_csv(examples + "/emojify/data/tesss.csv", {.header = false, .expected_fields = 2});
  EXPECT_EQ(test.rows.size(), 56u);
}

TEST(RealData, Glove) {
  const auto parts = numbered_parts(examples + "/data/glove/glove.6B.100d.top30k", 8, ".txt.gz");
  const WordVectors all = load_word_vectors(parts);
  EXPECT_EQ(all.dim, 100);
  EXPECT_EQ(all.words.size(), 30015u);
  EXPECT_FLOAT_EQ(all.vector("the")[0], -0.038194f);
}

}  // namespace
}  // namespace graphrun::data
