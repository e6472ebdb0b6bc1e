#include "graphrun/data/sequence.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace graphrun::data {
namespace {

using testing::error_of;
using Ids = std::vector<std::int64_t>;

const std::vector<Ids> kSequences = {{1, 2, 3, 4, 5}, {6, 7}, {}};

TEST(PadSequences, DefaultsPadPreToTheLongest) {
  const Padded p = pad_sequences(kSequences);
  EXPECT_EQ(p.shape, (Ids{3, 5}));
  EXPECT_EQ(p.values, (Ids{1, 2, 3, 4, 5,  //
                           0, 0, 0, 6, 7,  //
                           0, 0, 0, 0, 0}));
}

TEST(PadSequences, TruncatePreKeepsTheEnd) {
  const Padded p = pad_sequences(kSequences, {.maxlen = 3});
  EXPECT_EQ(p.shape, (Ids{3, 3}));
  EXPECT_EQ(p.values, (Ids{3, 4, 5, 0, 6, 7, 0, 0, 0}));
}

TEST(PadSequences, TruncatePostKeepsTheStart) {
  const Padded p = pad_sequences(kSequences, {.maxlen = 3, .truncating = Side::kPost});
  EXPECT_EQ(p.values, (Ids{1, 2, 3, 0, 6, 7, 0, 0, 0}));
}

TEST(PadSequences, PadPostAndCustomValue) {
  const Padded p =
      pad_sequences(kSequences, {.maxlen = 4, .padding = Side::kPost, .truncating = Side::kPost, .value = -1});
  EXPECT_EQ(p.values, (Ids{1, 2, 3, 4, 6, 7, -1, -1, -1, -1, -1, -1}));
  const Padded q = pad_sequences(kSequences, {.maxlen = 4, .padding = Side::kPost});
  EXPECT_EQ(q.values, (Ids{2, 3, 4, 5, 6, 7, 0, 0, 0, 0, 0, 0}));
}

TEST(PadSequences, LongerMaxlenThanAnySequence) {
  const Padded p = pad_sequences(std::vector<Ids>{{9}}, {.maxlen = 3, .padding = Side::kPost});
  EXPECT_EQ(p.shape, (Ids{1, 3}));
  EXPECT_EQ(p.values, (Ids{9, 0, 0}));
}

TEST(PadSequences, EmptyInputsAndErrors) {
  EXPECT_EQ(pad_sequences(std::vector<Ids>{}).shape, (Ids{0, 0}));
  EXPECT_EQ(pad_sequences(std::vector<Ids>{{}, {}}).shape, (Ids{2, 0}));
  const Padded zero = pad_sequences(kSequences, {.maxlen = 0});
  EXPECT_EQ(zero.shape, (Ids{3, 0}));
  EXPECT_TRUE(zero.values.empty());
  EXPECT_EQ(error_of([] { pad_sequences(kSequences, {.maxlen = -2}); }), "pad_sequences: maxlen must be >= 0, got -2");
}

TEST(PadSequences, ParseSide) {
  EXPECT_EQ(parse_side("pre", "padding"), Side::kPre);
  EXPECT_EQ(parse_side("post", "truncating"), Side::kPost);
  EXPECT_EQ(error_of([] { parse_side("Post", "padding"); }), "padding must be 'pre' or 'post', got 'Post'");
}

}  // namespace
}  // namespace graphrun::data
