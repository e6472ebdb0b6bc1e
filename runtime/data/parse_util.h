// Small parsing helpers shared by the data readers (private to graphrun_data).
#pragma once

#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace graphrun::data::detail {

// A whole string as a base-10 integer ("-12"); nullopt if anything else.
inline std::optional<std::int64_t> parse_int64(std::string_view text) {
  std::int64_t value = 0;
  const char* last = text.data() + text.size();
  auto [end, ec] = std::from_chars(text.data(), last, value);
  if (text.empty() || ec != std::errc() || end != last) return std::nullopt;
  return value;
}

// A whole string as a float, accepting what Python's float() accepts for
// ordinary numbers ("0.5", "-1e-3", "+2"); nullopt if not a number or out of
// float range.
inline std::optional<float> parse_float(std::string_view text) {
  if (text.size() > 1 && text[0] == '+' && text[1] != '-') text.remove_prefix(1);
  float value = 0;
  const char* last = text.data() + text.size();
  auto [end, ec] = std::from_chars(text.data(), last, value);
  if (text.empty() || ec != std::errc() || end != last) return std::nullopt;
  return value;
}

inline bool is_ascii_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

// `text` without leading and trailing ASCII whitespace.
inline std::string_view trim_ascii(std::string_view text) {
  while (!text.empty() && is_ascii_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_ascii_space(text.back())) text.remove_suffix(1);
  return text;
}

// Splits at runs of ASCII whitespace, dropping empty pieces (Python's
// str.split() without argument, for ASCII whitespace).
inline std::vector<std::string_view> split_whitespace(std::string_view text) {
  std::vector<std::string_view> pieces;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && is_ascii_space(text[i])) ++i;
    const std::size_t start = i;
    while (i < text.size() && !is_ascii_space(text[i])) ++i;
    if (i > start) pieces.push_back(text.substr(start, i - start));
  }
  return pieces;
}

// A value quoted for a one-line error message: printable ASCII and UTF-8 as
// is, other bytes (tab, newline, ...) as \t \n \r or \xNN; cut after 60 bytes.
inline std::string quote_for_message(std::string_view text) {
  constexpr std::size_t kMax = 60;
  std::string out = "'";
  for (std::size_t i = 0; i < text.size() && i < kMax; ++i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if (byte == '\t') {
      out += "\\t";
    } else if (byte == '\n') {
      out += "\\n";
    } else if (byte == '\r') {
      out += "\\r";
    } else if (byte < 0x20 || byte == 0x7f) {
      constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[byte >> 4];
      out += kHex[byte & 15];
    } else {
      out += static_cast<char>(byte);
    }
  }
  if (text.size() > kMax) out += "...";
  out += "'";
  return out;
}

// "'a', 'b', 'c'": names from data for a one-line message; cut after 20.
inline std::string quoted_list(const std::vector<std::string>& names) {
  constexpr std::size_t kMax = 20;
  std::string out;
  for (std::size_t i = 0; i < names.size() && i < kMax; ++i) {
    if (i > 0) out += ", ";
    out += quote_for_message(names[i]);
  }
  if (names.size() > kMax) out += ", ... (" + std::to_string(names.size()) + " in all)";
  return out;
}

}  // namespace graphrun::data::detail
