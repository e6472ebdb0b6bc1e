// Text data: the readers a `train { data { ... } }` block uses and a run's saved
// vocabulary. The first input byte chooses the reader, the rest is the file:
//   0 CSV with a header, 1 CSV without, 2 TSV with a header, 3 text;label lines
//     -- each table's first column then goes through a Keras tokenizer;
//   4 a run's vocab.txt (either format), then used to turn a text into ids;
//   5 GloVe word vectors.
#include <array>
#include <vector>

#include "fuzz/fuzz_input.h"
#include "graphrun/data/embeddings.h"
#include "graphrun/data/table.h"
#include "graphrun/data/tokenizer.h"
#include "runtime/train/text_dataset.h"

namespace {

using graphrun::data::Table;

void tokenize_first_column(const Table& table) {
  if (table.rows.empty()) return;
  const std::vector<std::string> texts = table.column(0);
  graphrun::data::Tokenizer tokenizer({.num_words = 100, .oov_token = "<oov>"});
  tokenizer.fit_on_texts(texts);
  tokenizer.texts_to_sequences(texts);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string& path = graphrun::fuzz::input_file().write(graphrun::fuzz::as_bytes(data + 1, size - 1));
  const std::array<std::string, 1> paths{path};
  graphrun::fuzz::expect_error_or_success([&] {
    switch (data[0] % 6) {
      case 0:
        return tokenize_first_column(graphrun::data::read_csv_parts(paths));
      case 1:
        return tokenize_first_column(graphrun::data::read_csv_parts(paths, {.header = false}));
      case 2:
        return tokenize_first_column(graphrun::data::read_tsv(path));
      case 3:
        return tokenize_first_column(graphrun::data::read_text_label(path));
      case 4: {
        graphrun::Vocabulary::load(path).ids("The quick brown fox, jumped: over 'the' lazy dog!");
        return;
      }
      default:
        graphrun::data::load_word_vectors(paths);
        return;
    }
  });
  return 0;
}
