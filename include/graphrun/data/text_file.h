// Reading text files that may be gzip-compressed, whole or line by line, and
// finding the parts of a data set that was split over several files.
//
// Compression is detected from the content, not the file name: zlib's gzopen
// reads a file that starts with the gzip magic bytes (1f 8b) as gzip and any
// other file as plain bytes. Text is returned as raw bytes (UTF-8 expected, not
// validated). Errors are graphrun::Error with a one-line message naming the path.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace graphrun::data {

// The whole content of `path`, gunzipped if it is gzip data.
// Throws Error "<path>: cannot open: <reason>" for a missing or unreadable file
// and "<path>: truncated gzip data" / "<path>: corrupt gzip data: ..." for bad
// compressed data.
std::string read_text_file(const std::string& path);

// Reads a (possibly gzip-compressed) text file one line at a time, so that
// large files (GloVe tables) need not be held in memory.
//
//   LineReader in(path);
//   std::string line;
//   while (in.next(line)) use(line, in.line_number());
//
// A line is returned without its "\n" and without one "\r" before it (CRLF).
// A last line without a final newline is still returned; an empty file has no
// lines.
class LineReader {
 public:
  explicit LineReader(const std::string& path);
  ~LineReader();
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;

  // Stores the next line in `line`; false (and `line` empty) at end of file.
  bool next(std::string& line);
  // 1-based number of the line last returned by next(); 0 before the first.
  std::int64_t line_number() const { return line_number_; }
  const std::string& path() const { return path_; }

 private:
  bool fill();  // reads more bytes into buffer_; false at end of file

  struct GzCloser {
    void operator()(void* file) const;
  };
  std::string path_;
  std::unique_ptr<void, GzCloser> file_;  // a gzFile
  std::string buffer_;
  std::size_t pos_ = 0;
  bool eof_ = false;
  std::int64_t line_number_ = 0;
};

// The files that make up the data set named by `path`.
//
// If `path` exists, returns {path}. Otherwise looks next to it for parts named
// "<stem>.partNN<ext>" (e.g. "test.csv" -> "test.part01.csv", "test.part02.csv",
// ...), with any number of digits, and returns them in numeric order. The parts
// must be numbered 1, 2, ... without a gap. Throws Error naming `path` if
// neither the file nor a part 1 exists, or naming the missing part.
std::vector<std::string> part_files(const std::string& path);

}  // namespace graphrun::data
