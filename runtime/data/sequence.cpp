#include "graphrun/data/sequence.h"

#include <algorithm>

#include <fmt/format.h>

#include "graphrun/error.h"
#include "parse_util.h"

namespace graphrun::data {

Side parse_side(std::string_view text, std::string_view what) {
  if (text == "pre") return Side::kPre;
  if (text == "post") return Side::kPost;
  throw Error(fmt::format("{} must be 'pre' or 'post', got {}", what, detail::quote_for_message(text)));
}

Padded pad_sequences(std::span<const std::vector<std::int64_t>> sequences, const PadOptions& options) {
  std::size_t maxlen = 0;
  if (options.maxlen) {
    if (*options.maxlen < 0) {
      throw Error(fmt::format("pad_sequences: maxlen must be >= 0, got {}", *options.maxlen));
    }
    maxlen = static_cast<std::size_t>(*options.maxlen);
  } else {
    for (const auto& s : sequences) maxlen = std::max(maxlen, s.size());
  }

  Padded out;
  out.shape = {static_cast<std::int64_t>(sequences.size()), static_cast<std::int64_t>(maxlen)};
  out.values.assign(sequences.size() * maxlen, options.value);
  for (std::size_t row = 0; row < sequences.size(); ++row) {
    const auto& s = sequences[row];
    const std::size_t kept = std::min(s.size(), maxlen);
    // Keras: trunc = s[-maxlen:] (pre) or s[:maxlen] (post).
    const auto first = options.truncating == Side::kPre ? s.end() - static_cast<std::ptrdiff_t>(kept) : s.begin();
    // Keras: x[i, -len(trunc):] = trunc (pre) or x[i, :len(trunc)] = trunc (post).
    const std::size_t offset = options.padding == Side::kPre ? maxlen - kept : 0;
    std::copy(first, first + static_cast<std::ptrdiff_t>(kept),
              out.values.begin() + static_cast<std::ptrdiff_t>(row * maxlen + offset));
  }
  return out;
}

}  // namespace graphrun::data
