#include "graphrun/data/table.h"

#include <gtest/gtest.h>

#include "graphrun/data/text_file.h"
#include "test_util.h"

namespace graphrun::data {
namespace {

using testing::error_of;
using testing::ScratchDir;
using Fields = std::vector<std::string>;

std::vector<Fields> fields_of(const Table& table) {
  std::vector<Fields> out;
  for (const Row& row : table.rows) out.push_back(row.fields);
  return out;
}

std::vector<std::int64_t> lines_of(const Table& table) {
  std::vector<std::int64_t> out;
  for (const Row& row : table.rows) out.push_back(row.where.line);
  return out;
}

TEST(Csv, HeaderAndRows) {
  const Table t = parse_csv("label,text\n1,good film\n0,bad\n", "r.csv");
  EXPECT_EQ(t.source, "r.csv");
  EXPECT_EQ(t.header, (Fields{"label", "text"}));
  EXPECT_EQ(fields_of(t), (std::vector<Fields>{{"1", "good film"}, {"0", "bad"}}));
  EXPECT_EQ(lines_of(t), (std::vector<std::int64_t>{2, 3}));
  EXPECT_EQ(t.rows[1].where.str(), "r.csv:3");
}

TEST(Csv, WithoutHeader) {
  const Table t = parse_csv("a,1\nb,2", "e.csv", {.header = false});
  EXPECT_TRUE(t.header.empty());
  EXPECT_EQ(fields_of(t), (std::vector<Fields>{{"a", "1"}, {"b", "2"}}));
  EXPECT_EQ(lines_of(t), (std::vector<std::int64_t>{1, 2}));
}

TEST(Csv, QuotedFieldsWithEscapesCommasAndNewlines) {
  const std::string text =
      "id,text\n"
      "1,\"say \"\"hi\"\", then, go\"\n"
      "2,\"two\nlines\"\n"
      "3,\"\"\n"
      "4,\"\"\"\"\n"
      "5,plain \"inner\" quote\n";
  const Table t = parse_csv(text, "q.csv");
  EXPECT_EQ(
      fields_of(t),
      (std::vector<Fields>{
          {"1", "say \"hi\", then, go"}, {"2", "two\nlines"}, {"3", ""}, {"4", "\""}, {"5", "plain \"inner\" quote"}}));
  // Row 3 starts after the two-line record.
  EXPECT_EQ(lines_of(t), (std::vector<std::int64_t>{2, 3, 5, 6, 7}));
}

TEST(Csv, CrlfLineEnds) {
  const Table t = parse_csv("a,b\r\n1,\"x\r\ny\"\r\n2,\r\n", "w.csv");
  EXPECT_EQ(t.header, (Fields{"a", "b"}));
  EXPECT_EQ(fields_of(t), (std::vector<Fields>{{"1", "x\r\ny"}, {"2", ""}}));
  EXPECT_EQ(lines_of(t), (std::vector<std::int64_t>{2, 4}));
}

TEST(Csv, MissingFinalNewline) {
  EXPECT_EQ(fields_of(parse_csv("a,b\n1,2", "f.csv")), (std::vector<Fields>{{"1", "2"}}));
  EXPECT_EQ(fields_of(parse_csv("a,b\n1,", "f.csv")), (std::vector<Fields>{{"1", ""}}));
  EXPECT_EQ(fields_of(parse_csv("a,b\n1,\"q\"", "f.csv")), (std::vector<Fields>{{"1", "q"}}));
  EXPECT_EQ(fields_of(parse_csv("a,b\r\n1,2\r", "f.csv")), (std::vector<Fields>{{"1", "2"}}));
}

TEST(Csv, EmptyLinesAreSkippedButCounted) {
  const Table t = parse_csv("\na,b\n\n1,2\r\n\r\n3,4\n\n", "e.csv");
  EXPECT_EQ(t.header, (Fields{"a", "b"}));
  EXPECT_EQ(fields_of(t), (std::vector<Fields>{{"1", "2"}, {"3", "4"}}));
  EXPECT_EQ(lines_of(t), (std::vector<std::int64_t>{4, 6}));
}

TEST(Csv, EmptyTextAndByteOrderMark) {
  const Table empty = parse_csv("", "e.csv");
  EXPECT_TRUE(empty.header.empty());
  EXPECT_TRUE(empty.rows.empty());
  const Table bom = parse_csv("\xEF\xBB\xBFlabel,text\n1,x\n", "bom.csv");
  EXPECT_EQ(bom.header, (Fields{"label", "text"}));
}

TEST(Csv, UnterminatedQuoteReportsTheLineWhereItStarts) {
  EXPECT_EQ(error_of([] { parse_csv("a,b\n1,2\n3,\"oops\n4,5\n", "u.csv"); }), "u.csv:3: unterminated quoted field");
  EXPECT_EQ(error_of([] { parse_csv("a,b\n\"x\ny\",1\n2,\"", "u.csv"); }), "u.csv:4: unterminated quoted field");
}

TEST(Csv, TextAfterClosingQuoteIsAnError) {
  EXPECT_EQ(error_of([] { parse_csv("a,b\n1,\"two\nx\"y,3\n", "t.csv"); }),
            "t.csv:3: unexpected character 'y' after closing quote");
  EXPECT_EQ(error_of([] { parse_csv("\"a\"\rb\n", "t.csv"); }), "t.csv:1: unexpected byte 0x0d after closing quote");
}

TEST(Csv, StrictFieldCount) {
  const TableOptions strict{.header = true, .expected_fields = 2};
  EXPECT_EQ(error_of([&] { parse_csv("a,b\n1,2\n1,2,3\n", "s.csv", strict); }),
            "s.csv:3: row has 3 fields, expected 2");
  EXPECT_EQ(error_of([&] { parse_csv("a\n", "s.csv", strict); }), "s.csv:1: row has 1 field, expected 2");
  EXPECT_EQ(parse_csv("a,b\n1,\"2,3\"\n", "s.csv", strict).rows.size(), 1u);
}

TEST(Csv, SelectColumnsByNameOrIndex) {
  const Table t = parse_csv("label,text\n1,good\n0,bad\n", "r.csv");
  EXPECT_EQ(t.column_index("text"), 1u);
  EXPECT_EQ(t.column("text"), (Fields{"good", "bad"}));
  EXPECT_EQ(t.column(0), (Fields{"1", "0"}));
  EXPECT_EQ(error_of([&] { t.column("Text"); }), "r.csv: no column 'Text' (columns: 'label', 'text')");
  EXPECT_EQ(error_of([&] { t.column(2); }), "r.csv:2: row has 2 fields, no column 3");
  const Table no_header = parse_csv("1,x\n", "n.csv", {.header = false});
  EXPECT_EQ(error_of([&] { no_header.column("text"); }), "n.csv: no column 'text' (the table has no header)");
}

TEST(Csv, MessagesStayOnOneLine) {
  const Table t = parse_csv("\"a\nb\",c\n1,2\n", "h.csv");
  EXPECT_EQ(error_of([&] { t.column("x\ty"); }), "h.csv: no column 'x\\ty' (columns: 'a\\nb', 'c')");
}

TEST(Csv, ShortRowIsReportedWhenItsColumnIsUsed) {
  const Table t = parse_csv("a,b\n1,2\n3\n", "short.csv");
  EXPECT_EQ(t.column(0), (Fields{"1", "3"}));
  EXPECT_EQ(error_of([&] { t.column("b"); }), "short.csv:3: row has 1 field, no column 2");
}

TEST(Csv, ReadsGzipFile) {
  ScratchDir dir;
  const std::string path = dir.write_gz("data.csv.gz", "x,y\n\"1\n2\",3\n");
  const Table t = read_csv(path);
  EXPECT_EQ(fields_of(t), (std::vector<Fields>{{"1\n2", "3"}}));
  EXPECT_EQ(t.rows[0].where.str(), path + ":2");
}

TEST(Tsv, SplitsAtEveryTabWithoutQuoting) {
  const Table t = parse_tsv("text\tlabel\n\"a\", b\t1\r\n\nc\t\n", "t.tsv");
  EXPECT_EQ(t.header, (Fields{"text", "label"}));
  EXPECT_EQ(fields_of(t), (std::vector<Fields>{{"\"a\", b", "1"}, {"c", ""}}));
  EXPECT_EQ(lines_of(t), (std::vector<std::int64_t>{2, 4}));
  EXPECT_EQ(error_of([] { parse_tsv("a\tb\n1\n", "t.tsv", {.expected_fields = 2}); }),
            "t.tsv:2: row has 1 field, expected 2");
}

TEST(TextLabel, SplitsAtTheLastSemicolon) {
  const Table t =
      parse_text_label("i didnt feel humiliated;sadness\r\n\nsee; this has one;joy\n;empty\n", "emotion.txt");
  EXPECT_EQ(t.header, (Fields{"text", "label"}));
  EXPECT_EQ(fields_of(t),
            (std::vector<Fields>{{"i didnt feel humiliated", "sadness"}, {"see; this has one", "joy"}, {"", "empty"}}));
  EXPECT_EQ(lines_of(t), (std::vector<std::int64_t>{1, 3, 4}));
  EXPECT_EQ(t.column("label"), (Fields{"sadness", "joy", "empty"}));
}

TEST(TextLabel, LineWithoutSemicolonIsAnError) {
  EXPECT_EQ(error_of([] { parse_text_label("a;b\n\nno label here\n", "e.txt"); }),
            "e.txt:3: no ';' between text and label");
}

TEST(Csv, FixtureFile) {
  const std::string path = testing::fixture("reviews.csv");
  const Table t = read_csv(path, {.expected_fields = 2});
  EXPECT_EQ(t.column("text"), (Fields{"a \"great\" film, truly", "dull,\nand long", "great great fun"}));
  EXPECT_EQ(t.rows[2].where.str(), path + ":5");
}

TEST(CsvParts, HeaderOnlyInTheFirstPart) {
  ScratchDir dir;
  const std::vector<std::string> paths = {
      dir.write("t.part01.csv", "label,text\n0,\"a\nb\"\n1,c\n"),
      dir.write("t.part02.csv", "1,d\n0,e"),
  };
  const Table t = read_csv_parts(paths);
  EXPECT_EQ(t.header, (Fields{"label", "text"}));
  EXPECT_EQ(fields_of(t), (std::vector<Fields>{{"0", "a\nb"}, {"1", "c"}, {"1", "d"}, {"0", "e"}}));
  EXPECT_EQ(t.rows[1].where.str(), paths[0] + ":4");
  EXPECT_EQ(t.rows[2].where.str(), paths[1] + ":1");
  EXPECT_EQ(t.rows[3].where.str(), paths[1] + ":2");
}

TEST(CsvParts, RepeatedHeaders) {
  ScratchDir dir;
  const std::vector<std::string> paths = {
      dir.write("t.part01.csv", "label,text\n0,a\n"),
      dir.write("t.part02.csv", "label,text\n1,b\n"),
      dir.write("t.part03.csv", "0,c\n"),
  };
  // kAuto skips a repeated header and keeps a part without one.
  EXPECT_EQ(fields_of(read_csv_parts(paths)), (std::vector<Fields>{{"0", "a"}, {"1", "b"}, {"0", "c"}}));
  // kFirstOnly takes the repeated header as data.
  EXPECT_EQ(fields_of(read_csv_parts(paths, {}, PartHeaders::kFirstOnly)),
            (std::vector<Fields>{{"0", "a"}, {"label", "text"}, {"1", "b"}, {"0", "c"}}));
  // kEvery insists on the header in every part.
  EXPECT_EQ(error_of([&] { read_csv_parts(paths, {}, PartHeaders::kEvery); }),
            paths[2] + ":1: header differs from the one in " + paths[0]);
  // Without header, nothing is skipped.
  EXPECT_EQ(read_csv_parts(paths, {.header = false}).rows.size(), 5u);
}

TEST(CsvParts, ErrorsNameThePartAndLine) {
  ScratchDir dir;
  const std::vector<std::string> paths = {
      dir.write("t.part01.csv", "a,b\n1,2\n"),
      dir.write("t.part02.csv", "a,b\n3,4\n5,\"6\n"),
  };
  EXPECT_EQ(error_of([&] { read_csv_parts(paths); }), paths[1] + ":3: unterminated quoted field");
  EXPECT_EQ(error_of([&] {
              read_csv_parts(std::vector<std::string>{paths[0], dir.file("x.csv")});
            }),
            dir.file("x.csv") + ": cannot open: No such file or directory");
}

TEST(CsvParts, WithPartFiles) {
  ScratchDir dir;
  dir.write("d.part1.csv", "h\nx\n");
  dir.write("d.part2.csv", "h\ny\n");
  const Table t = read_csv_parts(part_files(dir.file("d.csv")));
  EXPECT_EQ(t.column("h"), (Fields{"x", "y"}));
}

}  // namespace
}  // namespace graphrun::data
