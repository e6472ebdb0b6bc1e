#include "graphrun/data/text_file.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "test_util.h"

namespace graphrun::data {
namespace {

using testing::error_of;
using testing::ScratchDir;

TEST(ReadTextFile, ReadsPlainFileByteForByte) {
  ScratchDir dir;
  const std::string content = std::string("a,b\r\n\xC3\xA9t\xC3\xA9\n") + '\0' + "end";
  EXPECT_EQ(read_text_file(dir.write("plain.txt", content)), content);
}

TEST(ReadTextFile, GzipRoundTrip) {
  ScratchDir dir;
  std::string content;
  for (int i = 0; i < 100000; ++i) content += "line " + std::to_string(i) + "\n";
  const std::string path = dir.write_gz("big.txt.gz", content);
  EXPECT_LT(std::filesystem::file_size(path), content.size() / 4);  // really compressed
  EXPECT_EQ(read_text_file(path), content);
}

TEST(ReadTextFile, GzipIsDetectedByContentNotName) {
  ScratchDir dir;
  EXPECT_EQ(read_text_file(dir.write_gz("looks_plain.csv", "x,y\n1,2\n")), "x,y\n1,2\n");
  EXPECT_EQ(read_text_file(dir.write("looks_gz.gz", "plain")), "plain");
}

TEST(ReadTextFile, EmptyFile) {
  ScratchDir dir;
  EXPECT_EQ(read_text_file(dir.write("empty.txt", "")), "");
  EXPECT_EQ(read_text_file(dir.write_gz("empty.gz", "")), "");
}

TEST(ReadTextFile, MissingFileNamesThePath) {
  ScratchDir dir;
  const std::string path = dir.file("nope.csv");
  EXPECT_EQ(error_of([&] { read_text_file(path); }), path + ": cannot open: No such file or directory");
}

TEST(ReadTextFile, DirectoryIsAnError) {
  ScratchDir dir;
  EXPECT_EQ(error_of([&] { read_text_file(dir.file("")); }), dir.file("") + ": cannot open: is a directory");
}

TEST(ReadTextFile, TruncatedGzipIsAnError) {
  ScratchDir dir;
  std::string content;
  for (int i = 0; i < 5000; ++i) content += std::to_string(i * 7919 % 10007) + " ";
  const std::string gz_path = dir.write_gz("full.gz", content);
  std::ifstream in(gz_path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string cut = dir.write("cut.gz", bytes.substr(0, bytes.size() / 2));
  EXPECT_EQ(error_of([&] { read_text_file(cut); }), cut + ": truncated gzip data");
}

TEST(ReadTextFile, CorruptGzipIsAnError) {
  ScratchDir dir;
  const std::string gz_path = dir.write_gz("full.gz", std::string(10000, 'a') + "tail");
  std::ifstream in(gz_path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  bytes[12] = static_cast<char>(bytes[12] ^ 0x5a);  // inside the deflate stream
  bytes[13] = static_cast<char>(bytes[13] ^ 0xa5);
  const std::string bad = dir.write("bad.gz", bytes);
  const std::string message = error_of([&] { read_text_file(bad); });
  EXPECT_EQ(message.rfind(bad + ": ", 0), 0u) << message;
  EXPECT_NE(message, "<no error>");
}

std::vector<std::pair<std::int64_t, std::string>> all_lines(const std::string& path) {
  LineReader in(path);
  std::vector<std::pair<std::int64_t, std::string>> lines;
  std::string line;
  while (in.next(line)) lines.emplace_back(in.line_number(), line);
  EXPECT_FALSE(in.next(line));  // stays at the end
  return lines;
}

TEST(LineReader, SplitsLinesAndStripsCrlf) {
  ScratchDir dir;
  using Lines = std::vector<std::pair<std::int64_t, std::string>>;
  const Lines expected = {{1, "a b"}, {2, ""}, {3, "c\rd"}, {4, "last"}};
  EXPECT_EQ(all_lines(dir.write("crlf.txt", "a b\r\n\nc\rd\nlast")), expected);
  EXPECT_EQ(all_lines(dir.write_gz("crlf.gz", "a b\r\n\nc\rd\nlast\n")), expected);
  EXPECT_EQ(all_lines(dir.write("empty.txt", "")), Lines{});
  EXPECT_EQ(all_lines(dir.write("one.txt", "\n")), (Lines{{1, ""}}));
}

TEST(LineReader, LinesLongerThanTheReadBuffer) {
  ScratchDir dir;
  const std::string long_line(700000, 'x');  // spans several 256 KiB reads
  std::string content;
  for (int i = 0; i < 3; ++i) content += std::to_string(i) + long_line + "\n";
  const auto lines = all_lines(dir.write_gz("long.gz", content));
  ASSERT_EQ(lines.size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(lines[i].second, std::to_string(i) + long_line);
}

TEST(LineReader, MissingFile) {
  ScratchDir dir;
  const std::string path = dir.file("missing.txt");
  EXPECT_EQ(error_of([&] { LineReader in(path); }), path + ": cannot open: No such file or directory");
}

TEST(PartFiles, ExistingFileIsItsOwnSet) {
  ScratchDir dir;
  const std::string path = dir.write("train.csv", "a\n");
  dir.write("train.part01.csv", "a\n");
  EXPECT_EQ(part_files(path), std::vector<std::string>{path});
}

TEST(PartFiles, FindsPartsInNumericOrder) {
  ScratchDir dir;
  for (int i = 1; i <= 11; ++i) {
    dir.write("test.part" + std::string(i < 10 ? "0" : "") + std::to_string(i) + ".csv", "");
  }
  dir.write("test.part03.txt", "");   // other extension
  dir.write("test.partx.csv", "");    // not a number
  dir.write("other.part01.csv", "");  // other stem
  const auto parts = part_files(dir.file("test.csv"));
  ASSERT_EQ(parts.size(), 11u);
  EXPECT_EQ(parts[0], dir.file("test.part01.csv"));
  EXPECT_EQ(parts[9], dir.file("test.part10.csv"));
  EXPECT_EQ(parts[10], dir.file("test.part11.csv"));
}

TEST(PartFiles, GapAndMissingSetAreErrors) {
  ScratchDir dir;
  dir.write("test.part01.csv", "");
  dir.write("test.part03.csv", "");
  const std::string path = dir.file("test.csv");
  EXPECT_EQ(error_of([&] { part_files(path); }), path + ": part 2 is missing (found part 3)");
  const std::string none = dir.file("train.csv");
  EXPECT_EQ(error_of([&] { part_files(none); }),
            none + ": no such file, and no part 1 (" + dir.file("train.part") + "01.csv)");
}

}  // namespace
}  // namespace graphrun::data
