#include "graphrun/data/labels.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace graphrun::data {
namespace {

using testing::error_of;
using Ids = std::vector<std::int64_t>;
using Indices = std::vector<std::size_t>;
using Names = std::vector<std::string>;

const Table kEmotion = parse_text_label(
    "i feel low;sadness\n"
    "what a day;joy\n"
    "grr;anger\n"
    "\n"
    "hooray;joy\n",
    "emotion.txt");

TEST(StringLabels, GivenClassOrder) {
  const auto labels = encode_labels(kEmotion.rows, 1, {.classes = {"joy", "sadness", "anger"}});
  EXPECT_EQ(labels.ids, (Ids{1, 0, 2, 0}));
  EXPECT_EQ(labels.kept, (Indices{0, 1, 2, 3}));
  EXPECT_EQ(labels.classes, (Names{"joy", "sadness", "anger"}));
  EXPECT_EQ(labels.num_classes, 3);
  EXPECT_EQ(labels.skipped, 0u);
}

TEST(StringLabels, SortedClassesWhenNoneGiven) {
  const auto labels = encode_labels(kEmotion.rows, kEmotion.column_index("label"));
  EXPECT_EQ(labels.classes, (Names{"anger", "joy", "sadness"}));
  EXPECT_EQ(labels.ids, (Ids{2, 1, 0, 1}));
}

TEST(StringLabels, UnknownLabelNamesFileLineAndLabel) {
  EXPECT_EQ(error_of([] {
              encode_labels(kEmotion.rows, 1, {.classes = {"sadness", "joy"}});
            }),
            "emotion.txt:3: unknown label 'anger' (classes: 'sadness', 'joy')");
}

TEST(StringLabels, SkipBadRowsCountsThem) {
  const auto labels = encode_labels(kEmotion.rows, 1, {.classes = {"sadness", "joy"}, .skip_bad_rows = true});
  EXPECT_EQ(labels.ids, (Ids{0, 1, 1}));
  EXPECT_EQ(labels.kept, (Indices{0, 1, 3}));
  EXPECT_EQ(labels.skipped, 1u);
  EXPECT_EQ(labels.first_skip, "emotion.txt:3: unknown label 'anger' (classes: 'sadness', 'joy')");
  EXPECT_EQ(gather(kEmotion.column("text"), labels.kept), (Names{"i feel low", "what a day", "hooray"}));
}

TEST(StringLabels, EmptyOrMissingLabel) {
  const Table t = parse_csv("text,label\na,pos\nb,\nc\n", "r.csv");
  EXPECT_EQ(error_of([&] { encode_labels(t.rows, 1); }), "r.csv:3: empty label");
  const auto skipped = encode_labels(t.rows, 1, {.skip_bad_rows = true});
  EXPECT_EQ(skipped.classes, Names{"pos"});
  EXPECT_EQ(skipped.kept, Indices{0});
  EXPECT_EQ(skipped.skipped, 2u);
  const Table no_column = parse_csv("text,label\na,pos\nc\n", "r.csv");
  EXPECT_EQ(error_of([&] { encode_labels(no_column.rows, 1); }), "r.csv:3: row has 1 field, no column 2");
}

TEST(StringLabels, BadClassList) {
  EXPECT_EQ(error_of([] {
              encode_labels(kEmotion.rows, 1, {.classes = {"joy", "joy"}});
            }),
            "label classes: duplicate class 'joy'");
  EXPECT_EQ(error_of([] { encode_labels(kEmotion.rows, 1, {.classes = {""}}); }), "label classes: empty class name");
}

// Emojify-like rows: no header, CRLF, stray trailing columns.
const Table kEmojify = parse_csv(
    "never talk to me again,3,,\r\n"
    "I am proud,2,, [0]\r\n"
    "\"I want to eat\t\",4\r\n"
    "I love you, 0 ,,\r\n",
    "train_emoji.csv", {.header = false});

TEST(IntLabels, ParsesIntegersWithSurroundingSpace) {
  const auto labels = encode_int_labels(kEmojify.rows, 1, 5);
  EXPECT_EQ(labels.ids, (Ids{3, 2, 4, 0}));
  EXPECT_EQ(labels.num_classes, 5);
  EXPECT_TRUE(labels.classes.empty());
  EXPECT_EQ(encode_int_labels(kEmojify.rows, 1).num_classes, 5);  // max + 1
}

TEST(IntLabels, Errors) {
  EXPECT_EQ(error_of([] { encode_int_labels(kEmojify.rows, 1, 4); }),
            "train_emoji.csv:3: label 4 is out of range 0..3");
  EXPECT_EQ(error_of([] { encode_int_labels(kEmojify.rows, 0); }),
            "train_emoji.csv:1: label 'never talk to me again' is not an integer");
  const Table t = parse_csv("l\n1\n-1\n2x\n\n1.0\n", "n.csv");
  EXPECT_EQ(error_of([&] { encode_int_labels(t.rows, 0); }), "n.csv:3: label -1 is negative");
  const auto skipped = encode_int_labels(t.rows, 0, std::nullopt, true);
  EXPECT_EQ(skipped.ids, Ids{1});
  EXPECT_EQ(skipped.skipped, 3u);
  EXPECT_EQ(skipped.first_skip, "n.csv:3: label -1 is negative");
  EXPECT_EQ(skipped.num_classes, 2);
  EXPECT_EQ(error_of([&] { encode_int_labels(t.rows, 0, 0); }), "label classes: num_classes must be > 0, got 0");
}

}  // namespace
}  // namespace graphrun::data
