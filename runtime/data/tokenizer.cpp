#include "graphrun/data/tokenizer.h"

#include <algorithm>
#include <fstream>
#include <numeric>
#include <utility>

#include <fmt/format.h>

#include "graphrun/data/text_file.h"
#include "graphrun/error.h"
#include "parse_util.h"

namespace graphrun::data {
namespace {

void check_filters(std::string_view filters) {
  for (char c : filters) {
    if (static_cast<unsigned char>(c) >= 0x80) {
      throw Error("tokenizer filters must be ASCII (text is handled as UTF-8 bytes)");
    }
  }
}

void check_split(std::string_view split) {
  if (split.empty()) throw Error("tokenizer split must not be empty");
}

void check_num_words(std::optional<std::int64_t> num_words) {
  if (num_words && *num_words < 0) {
    throw Error(fmt::format("tokenizer num_words must be >= 0, got {}", *num_words));
  }
}

void lower_ascii(std::string& text) {
  for (char& c : text) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
}

// Length of the UTF-8 character starting at text[i], or 1 for a byte that does
// not start a well-formed sequence (lead byte plus continuation bytes).
std::size_t utf8_char_length(std::string_view text, std::size_t i) {
  const auto lead = static_cast<unsigned char>(text[i]);
  std::size_t length = 1;
  if ((lead & 0xE0) == 0xC0) {
    length = 2;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4;
  }
  if (i + length > text.size()) return 1;
  for (std::size_t k = 1; k < length; ++k) {
    if ((static_cast<unsigned char>(text[i + k]) & 0xC0) != 0x80) return 1;
  }
  return length;
}

std::vector<std::string> split_characters(std::string_view text) {
  std::vector<std::string> chars;
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t length = utf8_char_length(text, i);
    chars.emplace_back(text.substr(i, length));
    i += length;
  }
  return chars;
}

}  // namespace

std::vector<std::string> text_to_word_sequence(std::string_view text, std::string_view filters, bool lower,
                                               std::string_view split) {
  check_filters(filters);
  check_split(split);
  // Literally as Keras: translate filter characters to `split`, then
  // str.split(split). (Treating filters as separators directly would differ
  // for multi-character splits, where a replacement can join a neighbour.)
  bool is_filter[256] = {};
  for (char c : filters) is_filter[static_cast<unsigned char>(c)] = true;
  std::string translated;
  translated.reserve(text.size());
  for (char c : text) {
    if (lower && c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (is_filter[static_cast<unsigned char>(c)]) {
      translated += split;
    } else {
      translated += c;
    }
  }
  std::vector<std::string> words;
  std::string_view rest = translated;
  while (true) {
    const std::size_t at = rest.find(split);
    const std::string_view piece = rest.substr(0, at);
    if (!piece.empty()) words.emplace_back(piece);  // Keras drops empty tokens
    if (at == std::string_view::npos) break;
    rest.remove_prefix(at + split.size());
  }
  return words;
}

Tokenizer::Tokenizer(TokenizerConfig config) : config_(std::move(config)) {
  check_filters(config_.filters);
  check_split(config_.split);
  check_num_words(config_.num_words);
}

std::vector<std::string> Tokenizer::tokenize(std::string_view text) const {
  if (!config_.char_level) {
    return text_to_word_sequence(text, config_.filters, config_.lower, config_.split);
  }
  std::string lowered(text);
  if (config_.lower) lower_ascii(lowered);
  return split_characters(lowered);
}

void Tokenizer::count_word(const std::string& word) {
  auto [it, inserted] = count_position_.try_emplace(word, word_counts_.size());
  if (inserted) {
    word_counts_.emplace_back(word, 1);
  } else {
    ++word_counts_[it->second].second;
  }
}

void Tokenizer::fit_on_texts(std::span<const std::string> texts) {
  for (const std::string& text : texts) {
    ++document_count_;
    for (const std::string& word : tokenize(text)) count_word(word);
  }
  rebuild_index();
}

void Tokenizer::rebuild_index() {
  // Keras: sorted(word_counts.items(), key=count, reverse=True), a stable
  // sort, so equal counts stay in order of first appearance.
  std::vector<std::size_t> order(word_counts_.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return word_counts_[a].second > word_counts_[b].second; });
  std::vector<const std::string*> sorted_voc;
  if (config_.oov_token) sorted_voc.push_back(&*config_.oov_token);
  for (std::size_t i : order) sorted_voc.push_back(&word_counts_[i].first);
  // word_index = dict(zip(sorted_voc, 1..)): a repeated key (the oov token
  // occurring in the texts) keeps its last index. index_word is the inverse
  // of word_index, so the index it lost maps to no word.
  word_index_.clear();
  index_word_.assign(sorted_voc.size() + 1, "");
  for (std::size_t i = 0; i < sorted_voc.size(); ++i) {
    word_index_[*sorted_voc[i]] = static_cast<std::int64_t>(i + 1);
  }
  for (const auto& [word, index] : word_index_) index_word_[static_cast<std::size_t>(index)] = word;
}

std::optional<std::int64_t> Tokenizer::index_of(std::string_view word) const {
  auto it = word_index_.find(std::string(word));
  if (it == word_index_.end()) return std::nullopt;
  return it->second;
}

std::vector<std::int64_t> Tokenizer::text_to_sequence(std::string_view text) const {
  std::optional<std::int64_t> oov_index;
  if (config_.oov_token) {
    oov_index = index_of(*config_.oov_token);
    if (!oov_index) {
      throw Error("tokenizer: texts_to_sequences with an oov_token before fit_on_texts");
    }
  }
  const std::int64_t limit = config_.num_words.value_or(0);  // 0: no limit
  std::vector<std::int64_t> sequence;
  for (const std::string& word : tokenize(text)) {
    auto it = word_index_.find(word);
    if (it != word_index_.end() && (limit == 0 || it->second < limit)) {
      sequence.push_back(it->second);
    } else if (oov_index) {
      sequence.push_back(*oov_index);
    }
  }
  return sequence;
}

std::vector<std::vector<std::int64_t>> Tokenizer::texts_to_sequences(std::span<const std::string> texts) const {
  std::vector<std::vector<std::int64_t>> sequences;
  sequences.reserve(texts.size());
  for (const std::string& text : texts) sequences.push_back(text_to_sequence(text));
  return sequences;
}

// ---------------------------------------------------------------------------
// Vocabulary file.

namespace {

constexpr std::string_view kMagic = "graphrun-tokenizer";
constexpr std::int64_t kVersion = 1;

std::string escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string unescape(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\') {
      out += text[i];
      continue;
    }
    const char next = i + 1 < text.size() ? text[++i] : '\0';
    switch (next) {
      case '\\':
        out += '\\';
        break;
      case 't':
        out += '\t';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      default:
        throw Error("bad escape sequence in " + detail::quote_for_message(text));
    }
  }
  return out;
}

std::int64_t parse_count(std::string_view text, std::string_view what) {
  auto value = detail::parse_int64(text);
  if (!value || *value < 0) {
    throw Error(fmt::format("{} must be an integer >= 0, got {}", what, detail::quote_for_message(text)));
  }
  return *value;
}

bool parse_flag(std::string_view text, std::string_view what) {
  if (text == "0" || text == "1") return text == "1";
  throw Error(fmt::format("{} must be 0 or 1, got {}", what, detail::quote_for_message(text)));
}

// Splits "a<TAB>b<TAB>c" into exactly `n` fields.
std::vector<std::string_view> split_fields(std::string_view line, std::size_t n) {
  std::vector<std::string_view> fields;
  while (true) {
    const std::size_t tab = line.find('\t');
    fields.push_back(line.substr(0, tab));
    if (tab == std::string_view::npos) break;
    line.remove_prefix(tab + 1);
  }
  if (fields.size() != n) {
    throw Error(fmt::format("expected {} tab-separated fields, got {}", n, fields.size()));
  }
  return fields;
}

// Lines of a vocabulary file with their numbers; reports errors at a line.
class VocabReader {
 public:
  VocabReader(std::string text, const std::string& source) : path_(source), text_(std::move(text)) {}

  // The next line, or nullopt at the end of the file.
  std::optional<std::string_view> next() {
    if (rest_.empty()) return std::nullopt;
    const std::size_t end = std::min(rest_.find('\n'), rest_.size());
    std::string_view line = rest_.substr(0, end);
    rest_.remove_prefix(std::min(end + 1, rest_.size()));
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    ++line_;
    return line;
  }
  std::optional<std::string_view> next_non_empty() {
    auto line = next();
    while (line && line->empty()) line = next();
    return line;
  }
  // Runs `body`, turning an Error it throws into "<path>:<line>: <message>".
  template <typename Body>
  auto at_line(Body body) {
    try {
      return body();
    } catch (const Error& e) {
      throw Error(fmt::format("{}:{}: {}", path_, line_, e.what()));
    }
  }
  [[noreturn]] void fail(const std::string& message) const {
    throw Error(fmt::format("{}:{}: {}", path_, line_, message));
  }
  std::int64_t line() const { return line_; }

 private:
  std::string path_;
  std::string text_;
  std::string_view rest_{text_};
  std::int64_t line_ = 0;
};

// Reads "key<TAB>value" lines up to and including "words<TAB>N"; returns N.
std::int64_t read_settings(VocabReader& in, TokenizerConfig& config, std::int64_t& document_count) {
  std::vector<std::string> seen;
  while (auto line = in.next_non_empty()) {
    const std::size_t tab = line->find('\t');
    const std::string key(line->substr(0, tab));
    if (tab == std::string_view::npos) in.fail("expected 'key<TAB>value'");
    const std::string_view value = line->substr(tab + 1);
    if (std::find(seen.begin(), seen.end(), key) != seen.end()) {
      in.fail("duplicate setting " + detail::quote_for_message(key));
    }
    seen.push_back(key);
    in.at_line([&] {
      if (key == "filters") {
        config.filters = unescape(value);
        check_filters(config.filters);
      } else if (key == "lower") {
        config.lower = parse_flag(value, key);
      } else if (key == "split") {
        config.split = unescape(value);
        check_split(config.split);
      } else if (key == "char_level") {
        config.char_level = parse_flag(value, key);
      } else if (key == "num_words") {
        config.num_words = parse_count(value, key);
      } else if (key == "oov_token") {
        config.oov_token = unescape(value);
      } else if (key == "document_count") {
        document_count = parse_count(value, key);
      } else if (key != "words") {
        throw Error("unknown setting " + detail::quote_for_message(key));
      }
    });
    if (key == "words") {
      for (const char* required : {"filters", "lower", "split", "char_level", "document_count"}) {
        if (std::find(seen.begin(), seen.end(), required) == seen.end()) {
          in.fail(fmt::format("setting '{}' is missing before 'words'", required));
        }
      }
      return in.at_line([&] { return parse_count(value, key); });
    }
  }
  in.fail("unexpected end of file, expected 'words<TAB>N'");
}

}  // namespace

void Tokenizer::save(const std::string& path) const {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw Error(fmt::format("{}: cannot open for writing", path));
  out << kMagic << '\t' << kVersion << '\n';
  out << "filters\t" << escape(config_.filters) << '\n';
  out << "lower\t" << (config_.lower ? 1 : 0) << '\n';
  out << "split\t" << escape(config_.split) << '\n';
  out << "char_level\t" << (config_.char_level ? 1 : 0) << '\n';
  if (config_.num_words) out << "num_words\t" << *config_.num_words << '\n';
  if (config_.oov_token) out << "oov_token\t" << escape(*config_.oov_token) << '\n';
  out << "document_count\t" << document_count_ << '\n';
  out << "words\t" << word_counts_.size() << '\n';
  for (const auto& [word, count] : word_counts_) {
    out << word_index_.at(word) << '\t' << count << '\t' << escape(word) << '\n';
  }
  out.flush();
  if (!out) throw Error(fmt::format("{}: write failed", path));
}

Tokenizer Tokenizer::load(const std::string& path) { return parse(read_text_file(path), path); }

Tokenizer Tokenizer::parse(const std::string& text, const std::string& source) {
  VocabReader in(text, source);
  auto first = in.next();
  if (!first) throw Error(fmt::format("{}: empty file, not a graphrun tokenizer file", source));
  if (*first != fmt::format("{}\t{}", kMagic, kVersion)) {
    in.fail(fmt::format("not a graphrun tokenizer file (expected '{}<TAB>{}')", kMagic, kVersion));
  }
  TokenizerConfig config;
  std::int64_t document_count = 0;
  const std::int64_t num_words = read_settings(in, config, document_count);

  Tokenizer tokenizer(config);
  tokenizer.document_count_ = document_count;
  std::vector<std::pair<std::int64_t, std::int64_t>> stored;  // index, line
  for (std::int64_t i = 0; i < num_words; ++i) {
    auto line = in.next();
    if (!line) in.fail(fmt::format("expected {} words, file ends after {}", num_words, i));
    in.at_line([&] {
      const auto fields = split_fields(*line, 3);
      const std::int64_t index = parse_count(fields[0], "index");
      const std::int64_t count = parse_count(fields[1], "count");
      const std::string word = unescape(fields[2]);
      if (word.empty() || count == 0) throw Error("empty word or zero count");
      if (!tokenizer.count_position_.try_emplace(word, i).second) {
        throw Error("duplicate word " + detail::quote_for_message(word));
      }
      tokenizer.word_counts_.emplace_back(word, count);
      stored.emplace_back(index, in.line());
    });
  }
  if (auto extra = in.next_non_empty()) in.fail("unexpected line after the last word");

  tokenizer.rebuild_index();
  for (std::size_t i = 0; i < stored.size(); ++i) {
    const auto& word = tokenizer.word_counts_[i].first;
    const std::int64_t rebuilt = tokenizer.word_index_.at(word);
    if (stored[i].first != rebuilt) {
      throw Error(fmt::format("{}:{}: word {} has index {}, but the counts give {}", source, stored[i].second,
                              detail::quote_for_message(word), stored[i].first, rebuilt));
    }
  }
  return tokenizer;
}

}  // namespace graphrun::data
