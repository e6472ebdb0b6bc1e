// A word tokenizer with the semantics of Keras 2's
// keras.preprocessing.text.Tokenizer (keras_preprocessing 1.1), so that a model
// trained here sees the same integer sequences as the same model in Keras.
//
// Keras semantics reproduced:
//   - text_to_word_sequence: lowercase (if lower), replace every character of
//     `filters` by `split`, split at every occurrence of `split` (Python's
//     str.split(split)), drop empty tokens.
//   - fit_on_texts counts words over all texts (calls accumulate). The word
//     index ranks words by descending count; equal counts keep the order in
//     which the words first appeared (Keras sorts the OrderedDict of counts with
//     a stable sort, reverse=True). Indices start at 1; 0 is never a word. With
//     an oov_token, the oov token gets index 1 and the words start at 2. (If the
//     oov token also occurs in the texts, Keras' dict() keeps its later rank as
//     word_index[oov], and index 1 then belongs to no word; so here too.)
//   - num_words does not change the word index; texts_to_sequences keeps only
//     indices < num_words (num_words = 10000 keeps 1..9999). A word with a
//     higher index, or an unknown word, is dropped, or becomes the oov index if
//     oov_token is set. num_words = 0 means no limit (Python's `if num_words`).
//   - char_level: every character is a token; filters and split are not used.
//
// Non-ASCII text (deliberate differences from Python's str methods):
//   - Text is handled as UTF-8 bytes and is not validated or normalized.
//   - `lower` lowercases ASCII letters A-Z only; 'É' stays 'É' (Python would
//     give 'é'). Texts that are already lowercase are unaffected.
//   - `filters` must be ASCII (Error otherwise); `split` may be any non-empty
//     string. Since UTF-8 is self-synchronizing, splitting UTF-8 bytes at an
//     ASCII or UTF-8 separator gives the same tokens as Python does on code
//     points.
//   - char_level tokens are whole UTF-8 characters (1-4 bytes); a byte that is
//     not part of a valid UTF-8 sequence is a token by itself.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace graphrun::data {

// Keras' default filters: all ASCII punctuation except the apostrophe, plus tab
// and newline.
inline constexpr std::string_view kDefaultFilters = "!\"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n";

struct TokenizerConfig {
  std::string filters{kDefaultFilters};
  bool lower = true;
  std::string split = " ";
  bool char_level = false;
  std::optional<std::int64_t> num_words{};  // unset (None): keep every word
  std::optional<std::string> oov_token{};   // unset (None): drop unknown words

  bool operator==(const TokenizerConfig&) const = default;
};

// keras.preprocessing.text.text_to_word_sequence (ASCII-only lowercasing).
// Throws Error if `filters` is not ASCII or `split` is empty.
std::vector<std::string> text_to_word_sequence(std::string_view text, std::string_view filters = kDefaultFilters,
                                               bool lower = true, std::string_view split = " ");

using WordIndex = std::unordered_map<std::string, std::int64_t>;

class Tokenizer {
 public:
  // Throws Error for a config Keras would reject or that is out of scope here:
  // empty split, non-ASCII filters, negative num_words.
  explicit Tokenizer(TokenizerConfig config = {});

  // Counts the words of `texts` (adding to earlier calls) and rebuilds the
  // word index.
  void fit_on_texts(std::span<const std::string> texts);

  // Word ids of each text, as Keras' texts_to_sequences.
  std::vector<std::vector<std::int64_t>> texts_to_sequences(std::span<const std::string> texts) const;
  std::vector<std::int64_t> text_to_sequence(std::string_view text) const;

  // The tokens of one text as fit_on_texts and texts_to_sequences see them.
  std::vector<std::string> tokenize(std::string_view text) const;

  const TokenizerConfig& config() const { return config_; }
  // word -> index, for every word seen (num_words does not cut it).
  const WordIndex& word_index() const { return word_index_; }
  // index -> word, the inverse of word_index; "" at 0 (no word has index 0).
  const std::vector<std::string>& index_word() const { return index_word_; }
  // Index of `word`, or nullopt if it was never seen.
  std::optional<std::int64_t> index_of(std::string_view word) const;
  // Word counts in order of first appearance (Keras' word_counts OrderedDict).
  const std::vector<std::pair<std::string, std::int64_t>>& word_counts() const { return word_counts_; }
  std::int64_t document_count() const { return document_count_; }

  // Saves config, document count and word counts (which determine the word
  // index) to a text file, so that a later process tokenizes exactly as this
  // one. Format, one item per line, fields separated by one TAB, strings
  // escaped with \\ \t \n \r:
  //   graphrun-tokenizer<TAB>1
  //   filters<TAB>...   lower<TAB>0|1   split<TAB>...   char_level<TAB>0|1
  //   num_words<TAB>N   (line absent if unset)
  //   oov_token<TAB>... (line absent if unset)
  //   document_count<TAB>N
  //   words<TAB>N       then N lines "index<TAB>count<TAB>word", in order of
  //                     first appearance
  // Throws Error if the file cannot be written.
  void save(const std::string& path) const;
  // Loads a file written by save() (plain or gzip). The stored indices must
  // agree with the ones rebuilt from the counts. Any problem is an Error
  // naming file:line.
  static Tokenizer load(const std::string& path);
  // The same from text held in memory (a model bundle's vocabulary); `source` names it in errors.
  static Tokenizer parse(const std::string& text, const std::string& source);

 private:
  void count_word(const std::string& word);
  void rebuild_index();

  TokenizerConfig config_;
  std::vector<std::pair<std::string, std::int64_t>> word_counts_;
  std::unordered_map<std::string, std::size_t> count_position_;  // into word_counts_
  std::int64_t document_count_ = 0;
  WordIndex word_index_;
  std::vector<std::string> index_word_{""};
};

}  // namespace graphrun::data
