#include "graphrun/data/table.h"

#include <algorithm>

#include <fmt/format.h>

#include "graphrun/data/text_file.h"
#include "graphrun/error.h"
#include "parse_util.h"

namespace graphrun::data {

std::string SourceLocation::str() const { return fmt::format("{}:{}", file ? *file : std::string("<unknown>"), line); }

const std::string& Row::field(std::size_t index) const {
  if (index >= fields.size()) {
    throw Error(fmt::format("{}: row has {} field{}, no column {}", where.str(), fields.size(),
                            fields.size() == 1 ? "" : "s", index + 1));
  }
  return fields[index];
}

std::size_t Table::column_index(std::string_view name) const {
  auto it = std::find(header.begin(), header.end(), name);
  if (it != header.end()) return static_cast<std::size_t>(it - header.begin());
  if (header.empty()) {
    throw Error(fmt::format("{}: no column {} (the table has no header)", source, detail::quote_for_message(name)));
  }
  throw Error(fmt::format("{}: no column {} (columns: {})", source, detail::quote_for_message(name),
                          detail::quoted_list(header)));
}

std::vector<std::string> column_values(std::span<const Row> rows, std::size_t index) {
  std::vector<std::string> values;
  values.reserve(rows.size());
  for (const Row& row : rows) values.push_back(row.field(index));
  return values;
}

std::vector<std::string> Table::column(std::size_t index) const { return column_values(rows, index); }

std::vector<std::string> Table::column(std::string_view name) const { return column(column_index(name)); }

namespace {

constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";

std::string_view skip_bom(std::string_view text) {
  if (text.substr(0, kUtf8Bom.size()) == kUtf8Bom) text.remove_prefix(kUtf8Bom.size());
  return text;
}

// A byte for an error message, kept on one line: 'x' or byte 0x0d.
std::string describe(char c) {
  const auto byte = static_cast<unsigned char>(c);
  if (byte >= 0x20 && byte < 0x7f) return fmt::format("character '{}'", c);
  return fmt::format("byte 0x{:02x}", byte);
}

void check_field_count(const Row& row, const TableOptions& options) {
  if (options.expected_fields && row.fields.size() != *options.expected_fields) {
    throw Error(fmt::format("{}: row has {} field{}, expected {}", row.where.str(), row.fields.size(),
                            row.fields.size() == 1 ? "" : "s", *options.expected_fields));
  }
}

// Moves the first record into the header if the options ask for one.
Table make_table(const std::string& source, std::vector<Row> records, const TableOptions& options) {
  Table table;
  table.source = source;
  if (options.header && !records.empty()) {
    table.header = std::move(records.front().fields);
    records.erase(records.begin());
  }
  table.rows = std::move(records);
  return table;
}

// RFC 4180 record parser over a whole text. Tracks the line number so each
// record knows where it starts even when quoted fields span several lines.
class CsvParser {
 public:
  CsvParser(std::string_view text, std::shared_ptr<const std::string> file)
      : text_(skip_bom(text)), file_(std::move(file)) {}

  // Parses the next record into `row`; false at the end of the text.
  bool next(Row& row) {
    skip_empty_lines();
    if (pos_ >= text_.size()) return false;
    row.fields.clear();
    row.where = SourceLocation{file_, line_};
    while (true) {
      std::string& field = row.fields.emplace_back();
      if (peek() == '"') {
        parse_quoted(field);
      } else {
        parse_unquoted(field);
      }
      if (peek() != ',') break;
      ++pos_;
    }
    skip_line_end();
    return true;
  }

 private:
  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }

  // At "\n", "\r\n", a "\r" that ends the text, or the end of the text.
  bool at_line_end() const {
    if (pos_ >= text_.size() || text_[pos_] == '\n') return true;
    return text_[pos_] == '\r' && (pos_ + 1 == text_.size() || text_[pos_ + 1] == '\n');
  }

  void skip_line_end() {
    if (pos_ < text_.size() && text_[pos_] == '\r') ++pos_;
    if (pos_ < text_.size() && text_[pos_] == '\n') {
      ++pos_;
      ++line_;
    }
  }

  void skip_empty_lines() {
    while (pos_ < text_.size() && at_line_end()) skip_line_end();
  }

  void parse_unquoted(std::string& field) {
    const std::size_t start = pos_;
    while (pos_ < text_.size() && text_[pos_] != ',' && !at_line_end()) ++pos_;
    field.assign(text_.substr(start, pos_ - start));
  }

  // pos_ is at the opening quote. Embedded newlines advance line_ so that the
  // next record starts on the right line.
  void parse_quoted(std::string& field) {
    const std::int64_t start_line = line_;
    ++pos_;
    while (true) {
      const std::size_t quote = text_.find('"', pos_);
      const std::string_view chunk = text_.substr(pos_, quote - pos_);
      line_ += std::count(chunk.begin(), chunk.end(), '\n');
      if (quote == std::string_view::npos) {
        throw Error(fmt::format("{}:{}: unterminated quoted field", *file_, start_line));
      }
      field.append(chunk);
      pos_ = quote + 1;
      if (peek() != '"') break;  // closing quote
      field.push_back('"');      // "" stands for one quote
      ++pos_;
    }
    if (peek() != ',' && !at_line_end()) {
      throw Error(fmt::format("{}:{}: unexpected {} after closing quote", *file_, line_, describe(peek())));
    }
  }

  std::string_view text_;
  std::shared_ptr<const std::string> file_;
  std::size_t pos_ = 0;
  std::int64_t line_ = 1;
};

// Calls `on_line(line, line_number)` for every non-empty line, without its
// line end (LF or CRLF).
template <typename OnLine>
void for_each_line(std::string_view text, OnLine on_line) {
  text = skip_bom(text);
  std::int64_t number = 0;
  while (!text.empty()) {
    const std::size_t end = std::min(text.find('\n'), text.size());
    std::string_view line = text.substr(0, end);
    text.remove_prefix(std::min(end + 1, text.size()));
    ++number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!line.empty()) on_line(line, number);
  }
}

std::vector<std::string> split_at_tabs(std::string_view line) {
  std::vector<std::string> fields;
  while (true) {
    const std::size_t tab = line.find('\t');
    fields.emplace_back(line.substr(0, tab));
    if (tab == std::string_view::npos) return fields;
    line.remove_prefix(tab + 1);
  }
}

}  // namespace

Table parse_csv(std::string_view text, const std::string& source, const TableOptions& options) {
  CsvParser parser(text, std::make_shared<const std::string>(source));
  std::vector<Row> records;
  Row row;
  while (parser.next(row)) {
    check_field_count(row, options);
    records.push_back(std::move(row));
  }
  return make_table(source, std::move(records), options);
}

Table read_csv(const std::string& path, const TableOptions& options) {
  return parse_csv(read_text_file(path), path, options);
}

Table parse_tsv(std::string_view text, const std::string& source, const TableOptions& options) {
  auto file = std::make_shared<const std::string>(source);
  std::vector<Row> records;
  for_each_line(text, [&](std::string_view line, std::int64_t number) {
    Row row{split_at_tabs(line), SourceLocation{file, number}};
    check_field_count(row, options);
    records.push_back(std::move(row));
  });
  return make_table(source, std::move(records), options);
}

Table read_tsv(const std::string& path, const TableOptions& options) {
  return parse_tsv(read_text_file(path), path, options);
}

Table parse_text_label(std::string_view text, const std::string& source) {
  auto file = std::make_shared<const std::string>(source);
  Table table;
  table.source = source;
  table.header = {"text", "label"};
  for_each_line(text, [&](std::string_view line, std::int64_t number) {
    const std::size_t semicolon = line.rfind(';');
    if (semicolon == std::string_view::npos) {
      throw Error(fmt::format("{}:{}: no ';' between text and label", source, number));
    }
    table.rows.push_back(Row{{std::string(line.substr(0, semicolon)), std::string(line.substr(semicolon + 1))},
                             SourceLocation{file, number}});
  });
  return table;
}

Table read_text_label(const std::string& path) { return parse_text_label(read_text_file(path), path); }

Table read_csv_parts(std::span<const std::string> paths, const TableOptions& options, PartHeaders headers) {
  Table table;
  if (paths.empty()) return table;
  TableOptions no_header = options;
  no_header.header = false;
  for (std::size_t i = 0; i < paths.size(); ++i) {
    Table part = read_csv(paths[i], i == 0 ? options : no_header);
    if (i == 0) {
      table = std::move(part);
      continue;
    }
    auto first = part.rows.begin();
    if (options.header && first != part.rows.end() && headers != PartHeaders::kFirstOnly) {
      const bool repeats_header = first->fields == table.header;
      if (headers == PartHeaders::kEvery && !repeats_header) {
        throw Error(fmt::format("{}: header differs from the one in {}", first->where.str(), paths[0]));
      }
      if (repeats_header) ++first;
    }
    table.rows.insert(table.rows.end(), std::make_move_iterator(first), std::make_move_iterator(part.rows.end()));
  }
  return table;
}

}  // namespace graphrun::data
