#include "graphrun/data/embeddings.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace graphrun::data {
namespace {

using testing::error_of;
using testing::fixture;
using testing::ScratchDir;
using Floats = std::vector<float>;
using Paths = std::vector<std::string>;

const Paths kGlove = {fixture("glove_3d.txt")};

TEST(WordVectors, LoadsTheWholeTable) {
  const WordVectors v = load_word_vectors(kGlove);
  EXPECT_EQ(v.dim, 3);
  EXPECT_EQ(v.words, (std::vector<std::string>{"the", "cat", "sat", "dog"}));
  EXPECT_EQ(v.values.size(), 12u);
  const auto dog = v.vector("dog");
  EXPECT_EQ(Floats(dog.begin(), dog.end()), (Floats{-0.01f, 2.0f, 3.25f}));
  EXPECT_TRUE(v.vector("zebra").empty());
}

TEST(WordVectors, OnlyVocabularyWords) {
  const WordVectors v = load_word_vectors(kGlove, WordIndex{{"dog", 1}, {"zebra", 2}});
  EXPECT_EQ(v.dim, 3);
  EXPECT_EQ(v.words, std::vector<std::string>{"dog"});
  EXPECT_EQ(v.values, (Floats{-0.01f, 2.0f, 3.25f}));
  EXPECT_EQ(load_word_vectors(kGlove, WordIndex{}).dim, 3);
}

TEST(WordVectors, SeveralFilesGzipRepeatedWordsAndWhitespace) {
  ScratchDir dir;
  const Paths paths = {dir.write("p1.txt", "a 1 2\r\n\nb 3 4 \n"), dir.write_gz("p2.txt", "c  5\t6\na 7 8")};
  const WordVectors v = load_word_vectors(paths);
  EXPECT_EQ(v.dim, 2);
  EXPECT_EQ(v.words, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(v.values, (Floats{7, 8, 3, 4, 5, 6}));  // 'a' keeps its last vector
}

TEST(WordVectors, ErrorsNameFileAndLine) {
  ScratchDir dir;
  const std::string p1 = dir.write("p1.txt", "a 1 2 3\nb 1 2 3\n\nc 1 2\n");
  EXPECT_EQ(error_of([&] { load_word_vectors(Paths{p1}); }), p1 + ":4: word 'c' has 2 values, expected 3");
  const std::string p2 = dir.write("p2.txt", "a 1 2\nb 1 x2\n");
  EXPECT_EQ(error_of([&] { load_word_vectors(Paths{p2}); }), p2 + ":2: value 2 of word 'b' is not a float: 'x2'");
  const std::string p3 = dir.write("p3.txt", "lonely\n");
  EXPECT_EQ(error_of([&] { load_word_vectors(Paths{p3}); }), p3 + ":1: word 'lonely' has no vector values");
  const std::string p4 = dir.write("p4.txt", "big 1e999\n");
  EXPECT_EQ(error_of([&] { load_word_vectors(Paths{p4}); }), p4 + ":1: value 1 of word 'big' is not a float: '1e999'");
  // The dimension carries over to the next file of the set.
  const std::string p5 = dir.write("p5.txt", "x 1 2 3 4\n");
  EXPECT_EQ(error_of([&] {
              load_word_vectors(Paths{fixture("glove_3d.txt"), p5});
            }),
            p5 + ":1: word 'x' has 4 values, expected 3");
  // Filtered loading still checks every line.
  EXPECT_EQ(error_of([&] {
              load_word_vectors(Paths{p2}, WordIndex{{"a", 1}});
            }),
            p2 + ":2: value 2 of word 'b' is not a float: 'x2'");
  const std::string missing = dir.file("none.txt");
  EXPECT_EQ(error_of([&] { load_word_vectors(Paths{missing}); }), missing + ": cannot open: No such file or directory");
}

TEST(EmbeddingMatrix, RowsFollowTheWordIndex) {
  const WordIndex index = {{"the", 1}, {"zebra", 2}, {"dog", 3}, {"cat", 4}, {"sat", 5}};
  const EmbeddingMatrix m = build_embedding_matrix(kGlove, index, 5);  // 'sat' cut off
  EXPECT_EQ(m.rows, 5);
  EXPECT_EQ(m.dim, 3);
  EXPECT_EQ(m.values, (Floats{0, 0, 0,              // row 0 stays zero
                              0.1f, 0.2f, -0.3f,    // the
                              0, 0, 0,              // zebra: no vector
                              -0.01f, 2.0f, 3.25f,  // dog
                              1, 2, 3}));           // cat
  EXPECT_EQ(m.missing, 1);
  EXPECT_EQ(m.missing_words, std::vector<std::string>{"zebra"});
  const EmbeddingMatrix from_table = build_embedding_matrix(load_word_vectors(kGlove), index, 5);
  EXPECT_EQ(from_table.values, m.values);
  EXPECT_EQ(error_of([&] { build_embedding_matrix(kGlove, index, 0); }),
            "embedding matrix: num_rows must be >= 1, got 0");
}

TEST(EmbeddingMatrix, FullTableWithSortedIndex) {
  const WordVectors v = load_word_vectors(kGlove);
  const WordIndex index = sorted_word_index(v);
  EXPECT_EQ(index, (WordIndex{{"cat", 1}, {"dog", 2}, {"sat", 3}, {"the", 4}}));
  const EmbeddingMatrix m = build_embedding_matrix(v, index, static_cast<std::int64_t>(index.size()) + 1);
  EXPECT_EQ(m.rows, 5);
  EXPECT_EQ(m.missing, 0);
  EXPECT_EQ(Floats(m.values.begin() + 12, m.values.end()), (Floats{0.1f, 0.2f, -0.3f}));
}

}  // namespace
}  // namespace graphrun::data
