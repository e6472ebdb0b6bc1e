// A run's vocab.txt for WORD_VECTORS vocabularies: saved, loaded, and rejected when corrupt.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "runtime/train/text_dataset.h"
#include "tests/temp_dir.h"

namespace graphrun {
namespace {

using testing::temp_path;

std::string load_error(const std::string& path) {
  try {
    Vocabulary::load(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(Vocabulary, WordVectorsVocabularyRoundTrips) {
  const std::string path = temp_path("word_vocab.txt");
  Vocabulary::from_words(pb::DataConfig(), {"cat", "dog", "the"}).save(path);
  const Vocabulary loaded = Vocabulary::load(path);
  EXPECT_EQ(loaded.ids("The dog, the CAT!"), (std::vector<int64_t>{3, 2, 3, 1}));
  EXPECT_EQ(loaded.size(), 4);
}

TEST(Vocabulary, FiltersThatAreNotHexAreAnErrorNamingTheLine) {
  // Non-hex filters once escaped as std::invalid_argument ("internal error").
  const std::string path = temp_path("bad_vocab.txt");
  for (const std::string filters : {"2x", "212", "+2"}) {
    std::ofstream(path) << "graphrun-word-vocabulary\t1\nlower\t1\nfilters\t" << filters << "\ncat\n";
    EXPECT_EQ(load_error(path), path + ":3: filters '" + filters + "' are not hex-encoded bytes");
  }
}

}  // namespace
}  // namespace graphrun
