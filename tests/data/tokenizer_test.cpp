#include "graphrun/data/tokenizer.h"

#include <gtest/gtest.h>

#include "graphrun/data/text_file.h"
#include "test_util.h"

namespace graphrun::data {
namespace {

using testing::error_of;
using testing::ScratchDir;
using Words = std::vector<std::string>;
using Ids = std::vector<std::int64_t>;

// Words in index order 1, 2, ... (index_word without the 0 slot).
Words words_by_index(const Tokenizer& t) { return Words(t.index_word().begin() + 1, t.index_word().end()); }

const std::vector<std::string> kCorpus = {
    "The cat sat on the mat.",
    "The dog ate my homework!",
    "Dog, cat... DOG?",
};

TEST(TextToWordSequence, KerasDefaults) {
  EXPECT_EQ(text_to_word_sequence("Hello, World!  It's\tfine\n--ok [x]"),
            (Words{"hello", "world", "it's", "fine", "ok", "x"}));
  EXPECT_EQ(text_to_word_sequence(""), Words{});
  EXPECT_EQ(text_to_word_sequence(" ?! "), Words{});
}

TEST(TextToWordSequence, OptionsAndExactSplitSemantics) {
  EXPECT_EQ(text_to_word_sequence("A-b C", "", false, " "), (Words{"A-b", "C"}));
  EXPECT_EQ(text_to_word_sequence("a,b;c", ",", true, ";"), (Words{"a", "b", "c"}));
  // Keras translates filters to the split string and then calls
  // str.split(split): "ab!" -> "ababa" -> ['', 'ba'].
  EXPECT_EQ(text_to_word_sequence("ab!", "!", true, "aba"), (Words{"ba"}));
  // Tab and newline are filters by default, other whitespace is not.
  EXPECT_EQ(text_to_word_sequence("a\tb\nc\rd\ve"), (Words{"a", "b", "c\rd\ve"}));
}

TEST(TextToWordSequence, LowercasesAsciiOnly) {
  // Python's str.lower() would give "école"; this tokenizer leaves non-ASCII
  // bytes alone (documented).
  EXPECT_EQ(text_to_word_sequence("\xC3\x89"
                                  "COLE \xC3\x89"
                                  "cole"),
            (Words{"\xC3\x89"
                   "cole",
                   "\xC3\x89"
                   "cole"}));
  EXPECT_EQ(text_to_word_sequence("caf\xC3\xA9, na\xC3\xAFve"), (Words{"caf\xC3\xA9", "na\xC3\xAFve"}));
}

TEST(TextToWordSequence, RejectsNonAsciiFiltersAndEmptySplit) {
  EXPECT_EQ(error_of([] { text_to_word_sequence("x", "\xE2\x80\x99"); }),
            "tokenizer filters must be ASCII (text is handled as UTF-8 bytes)");
  EXPECT_EQ(error_of([] { text_to_word_sequence("x", "", true, ""); }), "tokenizer split must not be empty");
  EXPECT_EQ(error_of([] { Tokenizer t({.split = ""}); }), "tokenizer split must not be empty");
  EXPECT_EQ(error_of([] { Tokenizer t({.num_words = -1}); }), "tokenizer num_words must be >= 0, got -1");
}

TEST(Tokenizer, IndexOrderIsCountThenFirstAppearance) {
  Tokenizer t;
  t.fit_on_texts(kCorpus);
  // Counts: the 3, cat 2, sat 1, on 1, mat 1, dog 3, ate 1, my 1, homework 1.
  // 'the' and 'dog' tie at 3: 'the' came first. The 1-count words keep their
  // order of first appearance.
  EXPECT_EQ(words_by_index(t), (Words{"the", "dog", "cat", "sat", "on", "mat", "ate", "my", "homework"}));
  EXPECT_EQ(t.word_index().at("the"), 1);
  EXPECT_EQ(t.word_index().at("homework"), 9);
  EXPECT_EQ(t.word_index().size(), 9u);
  EXPECT_EQ(t.document_count(), 3);
  using Counts = std::vector<std::pair<std::string, std::int64_t>>;
  EXPECT_EQ(t.word_counts(), (Counts{{"the", 3},
                                     {"cat", 2},
                                     {"sat", 1},
                                     {"on", 1},
                                     {"mat", 1},
                                     {"dog", 3},
                                     {"ate", 1},
                                     {"my", 1},
                                     {"homework", 1}}));
  EXPECT_EQ(t.texts_to_sequences(kCorpus), (std::vector<Ids>{{1, 3, 4, 5, 1, 6}, {1, 2, 7, 8, 9}, {2, 3, 2}}));
}

TEST(Tokenizer, LaterCountsCanOvertakeAndFitAccumulates) {
  Tokenizer t;
  t.fit_on_texts(std::vector<std::string>{"a b b"});
  EXPECT_EQ(words_by_index(t), (Words{"b", "a"}));
  t.fit_on_texts(std::vector<std::string>{"a a c"});
  EXPECT_EQ(words_by_index(t), (Words{"a", "b", "c"}));
  t.fit_on_texts(std::vector<std::string>{"b"});  // a 3, b 3: a appeared first
  EXPECT_EQ(words_by_index(t), (Words{"a", "b", "c"}));
  EXPECT_EQ(t.document_count(), 3);
}

TEST(Tokenizer, UnknownWordsAreDropped) {
  Tokenizer t;
  t.fit_on_texts(kCorpus);
  EXPECT_EQ(t.text_to_sequence("the zebra ate THE dog"), (Ids{1, 7, 1, 2}));
  EXPECT_EQ(t.text_to_sequence(""), Ids{});
}

TEST(Tokenizer, NumWordsKeepsIndicesBelowIt) {
  Tokenizer t({.num_words = 4});  // keeps ids 1..3
  t.fit_on_texts(kCorpus);
  EXPECT_EQ(t.word_index().size(), 9u);  // the index itself is not cut
  EXPECT_EQ(t.text_to_sequence("the cat sat on dog zebra"), (Ids{1, 3, 2}));
  Tokenizer one({.num_words = 1});
  one.fit_on_texts(kCorpus);
  EXPECT_EQ(one.text_to_sequence("the dog"), Ids{});
  Tokenizer zero({.num_words = 0});  // Keras: `if num_words` is false for 0
  zero.fit_on_texts(kCorpus);
  EXPECT_EQ(zero.text_to_sequence("homework the"), (Ids{9, 1}));
}

TEST(Tokenizer, OovTokenTakesIndexOne) {
  Tokenizer t({.num_words = 4, .oov_token = "<OOV>"});
  t.fit_on_texts(kCorpus);
  EXPECT_EQ(words_by_index(t), (Words{"<OOV>", "the", "dog", "cat", "sat", "on", "mat", "ate", "my", "homework"}));
  // Kept: ids 1..3 (<OOV>, the, dog); cat (4) and unknown words become 1.
  EXPECT_EQ(t.text_to_sequence("the cat sat dog zebra"), (Ids{2, 1, 1, 3, 1}));
  Tokenizer unlimited({.oov_token = "<OOV>"});
  unlimited.fit_on_texts(kCorpus);
  EXPECT_EQ(unlimited.text_to_sequence("the cat zebra"), (Ids{2, 4, 1}));
}

TEST(Tokenizer, OovTokenThatOccursInTheTexts) {
  // Keras: word_index = dict(zip(['unk', 'unk', 'a', 'b'], [1, 2, 3, 4])) keeps
  // unk -> 2; index_word (its inverse) has no entry 1.
  Tokenizer t({.oov_token = "unk"});
  t.fit_on_texts(std::vector<std::string>{"unk unk a", "b"});
  EXPECT_EQ(t.word_index().at("unk"), 2);
  EXPECT_EQ(t.word_index().at("a"), 3);
  EXPECT_EQ(t.index_word(), (Words{"", "", "unk", "a", "b"}));
  EXPECT_EQ(t.text_to_sequence("zzz a unk"), (Ids{2, 3, 2}));
}

TEST(Tokenizer, OovBeforeFitIsAnError) {
  Tokenizer t({.oov_token = "<OOV>"});
  EXPECT_EQ(error_of([&] { t.text_to_sequence("a"); }),
            "tokenizer: texts_to_sequences with an oov_token before fit_on_texts");
  Tokenizer plain;
  EXPECT_EQ(plain.text_to_sequence("a b"), Ids{});  // Keras: unknown words dropped
}

TEST(Tokenizer, CharLevelUsesUtf8Characters) {
  Tokenizer t({.char_level = true});
  t.fit_on_texts(std::vector<std::string>{"Aba", "\xC3\xA9! a"});
  // Filters and split do not apply at char level; ' ' and '!' are tokens.
  EXPECT_EQ(words_by_index(t), (Words{"a", "b", "\xC3\xA9", "!", " "}));
  EXPECT_EQ(t.text_to_sequence("B\xC3\xA9z"), (Ids{2, 3}));
  // A byte that is not valid UTF-8 is a token of its own.
  EXPECT_EQ(t.tokenize("\xC3x\xE2\x82"), (Words{"\xC3", "x", "\xE2", "\x82"}));
}

TEST(Tokenizer, CustomFiltersAndNoLowercasing) {
  Tokenizer t({.filters = ".", .lower = false});
  t.fit_on_texts(std::vector<std::string>{"Hi. hi, Hi"});
  EXPECT_EQ(words_by_index(t), (Words{"Hi", "hi,"}));
}

TEST(TokenizerFile, RoundTripKeepsIndexConfigAndCounts) {
  ScratchDir dir;
  TokenizerConfig config{
      .filters = "!\t\n\\", .lower = false, .split = " \\", .char_level = false, .num_words = 3, .oov_token = "<U\tK>"};
  Tokenizer t(config);
  t.fit_on_texts(std::vector<std::string>{"a \\b \\b \\c\\d", "x\ny \\a!"});
  const std::string path = dir.file("vocab.txt");
  t.save(path);
  const Tokenizer loaded = Tokenizer::load(path);
  EXPECT_EQ(loaded.config(), config);
  EXPECT_EQ(loaded.word_index(), t.word_index());
  EXPECT_EQ(loaded.index_word(), t.index_word());
  EXPECT_EQ(loaded.word_counts(), t.word_counts());
  EXPECT_EQ(loaded.document_count(), 2);
  const std::string probe = "a \\b \\zz \\x";
  EXPECT_EQ(loaded.text_to_sequence(probe), t.text_to_sequence(probe));
}

TEST(TokenizerFile, RoundTripWithDefaultsAndResumedFitting) {
  ScratchDir dir;
  Tokenizer t;
  t.fit_on_texts(std::vector<std::string>{"a b b"});
  t.save(dir.file("v.txt"));
  Tokenizer loaded = Tokenizer::load(dir.file("v.txt"));
  EXPECT_EQ(loaded.config(), TokenizerConfig{});
  // First-appearance order survives, so later ties resolve as in Keras.
  loaded.fit_on_texts(std::vector<std::string>{"a"});
  t.fit_on_texts(std::vector<std::string>{"a"});
  EXPECT_EQ(words_by_index(loaded), (Words{"a", "b"}));
  EXPECT_EQ(loaded.word_index(), t.word_index());
}

TEST(TokenizerFile, ExactFormat) {
  ScratchDir dir;
  Tokenizer t({.num_words = 10});
  t.fit_on_texts(std::vector<std::string>{"b a b"});
  t.save(dir.file("v.txt"));
  EXPECT_EQ(read_text_file(dir.file("v.txt")),
            "graphrun-tokenizer\t1\n"
            "filters\t!\"#$%&()*+,-./:;<=>?@[\\\\]^_`{|}~\\t\\n\n"
            "lower\t1\n"
            "split\t \n"
            "char_level\t0\n"
            "num_words\t10\n"
            "document_count\t1\n"
            "words\t2\n"
            "1\t2\tb\n"
            "2\t1\ta\n");
}

// Writes a vocabulary file whose header is valid, followed by `rest`.
std::string vocab_file(const ScratchDir& dir, const std::string& settings, const std::string& words) {
  return dir.write("bad.txt",
                   "graphrun-tokenizer\t1\nfilters\t\nlower\t1\nsplit\t \n"
                   "char_level\t0\n" +
                       settings + "document_count\t2\n" + words);
}

TEST(TokenizerFile, BadFilesNameFileAndLine) {
  ScratchDir dir;
  const std::string p = dir.file("bad.txt");
  auto load = [](const std::string& path) { return [path] { Tokenizer::load(path); }; };
  dir.write("bad.txt", "");
  EXPECT_EQ(error_of(load(p)), p + ": empty file, not a graphrun tokenizer file");
  dir.write("bad.txt", "word\t1\n");
  EXPECT_EQ(error_of(load(p)), p + ":1: not a graphrun tokenizer file (expected "
                                   "'graphrun-tokenizer<TAB>1')");
  vocab_file(dir, "lower\t2\n", "");
  EXPECT_EQ(error_of(load(p)), p + ":6: duplicate setting 'lower'");
  vocab_file(dir, "num_words\tmany\n", "");
  EXPECT_EQ(error_of(load(p)), p + ":6: num_words must be an integer >= 0, got 'many'");
  vocab_file(dir, "colour\tred\n", "");
  EXPECT_EQ(error_of(load(p)), p + ":6: unknown setting 'colour'");
  vocab_file(dir, "", "");
  EXPECT_EQ(error_of(load(p)), p + ":6: unexpected end of file, expected 'words<TAB>N'");
  vocab_file(dir, "", "words\t2\n1\t2\ta\n");
  EXPECT_EQ(error_of(load(p)), p + ":8: expected 2 words, file ends after 1");
  vocab_file(dir, "", "words\t2\n1\t2\ta\n2\t1\n");
  EXPECT_EQ(error_of(load(p)), p + ":9: expected 3 tab-separated fields, got 2");
  vocab_file(dir, "", "words\t2\n1\t2\ta\n2\tx\tb\n");
  EXPECT_EQ(error_of(load(p)), p + ":9: count must be an integer >= 0, got 'x'");
  vocab_file(dir, "", "words\t2\n1\t2\ta\n2\t1\ta\n");
  EXPECT_EQ(error_of(load(p)), p + ":9: duplicate word 'a'");
  vocab_file(dir, "", "words\t2\n1\t2\ta\n2\t1\tb\\q\n");
  EXPECT_EQ(error_of(load(p)), p + ":9: bad escape sequence in 'b\\q'");
  vocab_file(dir, "", "words\t2\n1\t1\ta\n2\t2\tb\n");
  EXPECT_EQ(error_of(load(p)), p + ":8: word 'a' has index 1, but the counts give 2");
  vocab_file(dir, "", "words\t1\n1\t2\ta\nextra\n");
  EXPECT_EQ(error_of(load(p)), p + ":9: unexpected line after the last word");
  dir.write("bad.txt", "graphrun-tokenizer\t1\nwords\t0\n");
  EXPECT_EQ(error_of(load(p)), p + ":2: setting 'filters' is missing before 'words'");
  const std::string missing = dir.file("missing.txt");
  EXPECT_EQ(error_of(load(missing)), missing + ": cannot open: No such file or directory");
}

}  // namespace
}  // namespace graphrun::data
