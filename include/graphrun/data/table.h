// Record readers: CSV (RFC 4180), TSV, "text;label" lines, and data sets split
// over several CSV parts. Each reader returns a Table of string fields; every
// row remembers the file and 1-based line it starts on, so that later stages
// (label encoding, ...) can report "file:line: ..." for a bad value.
//
// Common rules for all readers:
//   - Input may be gzip-compressed (see read_text_file).
//   - A UTF-8 byte order mark at the start of the text is skipped.
//   - Lines end with LF or CRLF; a missing final newline is fine.
//   - Completely empty lines (outside quotes) are skipped, as pandas does.
//   - Errors are graphrun::Error("<file>:<line>: <what>").
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace graphrun::data {

// Where a row came from. `file` is shared by all rows of one file.
struct SourceLocation {
  std::shared_ptr<const std::string> file;
  std::int64_t line = 0;  // 1-based line on which the row starts

  std::string str() const;  // "<file>:<line>"
};

struct Row {
  std::vector<std::string> fields;
  SourceLocation where;

  // fields[index]; throws Error "<file>:<line>: row has N fields, no column
  // <index + 1>" if the row is too short.
  const std::string& field(std::size_t index) const;
};

struct Table {
  std::string source;               // file name (the first part for multi-part)
  std::vector<std::string> header;  // column names; empty if read without header
  std::vector<Row> rows;            // data rows, header excluded

  // Index of the header column called `name` (exact, case-sensitive match).
  // Throws Error "<source>: no column 'name' (columns: a, b, c)".
  std::size_t column_index(std::string_view name) const;
  // The values of one column, in row order; a row too short for the column is
  // an Error naming its file:line.
  std::vector<std::string> column(std::size_t index) const;
  std::vector<std::string> column(std::string_view name) const;
};

// The values of column `index` of `rows` (see Table::column).
std::vector<std::string> column_values(std::span<const Row> rows, std::size_t index);

struct TableOptions {
  // The first record holds the column names (stored in Table::header).
  bool header = true;
  // If set, every record (header included) must have exactly this many fields.
  std::optional<std::size_t> expected_fields{};
};

// CSV per RFC 4180, separator ','. A field that starts with '"' is quoted: it
// ends at the next lone '"', "" inside it stands for one '"', and it may hold
// commas, CR and LF (kept as they are). After the closing quote only ',' or the
// end of the line may follow. A '"' inside an unquoted field is kept literally
// (lenient, as Python's csv module). Errors: an unterminated quoted field
// (reported at the line where the field starts), text after a closing quote,
// and a wrong field count when TableOptions::expected_fields is set.
// `source` is the file name used in messages and row locations.
Table parse_csv(std::string_view text, const std::string& source, const TableOptions& options = {});
Table read_csv(const std::string& path, const TableOptions& options = {});

// Tab-separated values without any quoting: each line is split at every tab.
Table parse_tsv(std::string_view text, const std::string& source, const TableOptions& options = {});
Table read_tsv(const std::string& path, const TableOptions& options = {});

// "text;label" lines, as in the emotion data set: each line is split at its
// LAST ';' into {text, label}, so the text may itself contain ';'. There is no
// header; Table::header is set to {"text", "label"} so columns can be selected
// by name. A non-empty line without ';' is an Error naming its file:line.
Table parse_text_label(std::string_view text, const std::string& source);
Table read_text_label(const std::string& path);

// How the header appears in the parts of a multi-part CSV data set.
enum class PartHeaders {
  kFirstOnly,  // only the first part has a header; others start with data
  kEvery,      // every part starts with the same header (else Error)
  kAuto,       // a later part whose first record equals the header skips it
};

// Reads several CSV files ("test.part01.csv", "test.part02.csv", ...) as one
// table, rows in the order of `paths`; each row keeps its own file:line.
// With options.header false, `headers` is ignored and no part has a header.
// See part_files() in text_file.h to find the parts of a data set.
Table read_csv_parts(std::span<const std::string> paths, const TableOptions& options = {},
                     PartHeaders headers = PartHeaders::kAuto);

}  // namespace graphrun::data
