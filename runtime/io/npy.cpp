#include "graphrun/npy.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cctype>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string_view>

#include "graph/shape.h"

namespace graphrun {
namespace {

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw Error(fmt::format("{}: {}", path, what));
}

struct Header {
  std::string descr;
  bool fortran_order = false;
  Dims shape;
};

std::string_view skip_space(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  return text;
}

// The header text after `'key'` and a colon (spaces allowed around it), or nullopt.
std::optional<std::string_view> value_of(std::string_view header, std::string_view key) {
  const std::string quoted = fmt::format("'{}'", key);
  for (size_t at = header.find(quoted); at != std::string_view::npos; at = header.find(quoted, at + 1)) {
    const std::string_view rest = skip_space(header.substr(at + quoted.size()));
    if (rest.starts_with(':')) return skip_space(rest.substr(1));
  }
  return std::nullopt;
}

// The header is a Python dict literal: {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }.
// Parsed by hand in one pass: std::regex recurses per character and overflows the
// stack on a long header.
Header parse_header(const std::string& path, std::string_view text) {
  Header h;
  const std::optional<std::string_view> descr = value_of(text, "descr");
  const size_t descr_end = descr && descr->starts_with('\'') ? descr->find('\'', 1) : std::string_view::npos;
  if (descr_end == std::string_view::npos) fail(path, "npy header has no 'descr'");
  h.descr = descr->substr(1, descr_end - 1);
  const std::optional<std::string_view> order = value_of(text, "fortran_order");
  if (!order || !(order->starts_with("True") || order->starts_with("False")))
    fail(path, "npy header has no 'fortran_order'");
  h.fortran_order = order->starts_with("True");
  const std::optional<std::string_view> shape = value_of(text, "shape");
  const size_t shape_end = shape && shape->starts_with('(') ? shape->find(')') : std::string_view::npos;
  if (shape_end == std::string_view::npos) fail(path, "npy header has no 'shape'");
  // Every integer between the parentheses, as Python's tuple syntax has them: "()", "(3,)", "(3, 4)".
  const std::string_view dims = shape->substr(1, shape_end - 1);
  for (size_t i = 0; i < dims.size();) {
    const size_t start = i;
    if (dims[i] == '-') ++i;
    const size_t digits = i;
    while (i < dims.size() && std::isdigit(static_cast<unsigned char>(dims[i]))) ++i;
    if (i == digits) {  // not a number: a separator
      i = start + 1;
      continue;
    }
    const std::string_view number = dims.substr(start, i - start);
    int64_t d = 0;
    if (std::from_chars(number.data(), number.data() + number.size(), d).ec != std::errc())
      fail(path, fmt::format("npy header dimension {} is out of range", number));
    h.shape.push_back(d);
  }
  return h;
}

// Bytes per element in the file for the element types read_npy converts.
size_t file_element_size(const std::string& path, const std::string& descr) {
  if (descr == "<f4" || descr == "<i4") return 4;
  if (descr == "<f8" || descr == "<i8") return 8;
  fail(path, fmt::format("unsupported element type '{}' (use float32, float64, int32 or int64)", descr));
}

}  // namespace

Tensor read_npy(const std::string& path) {
  if (std::filesystem::is_directory(path)) fail(path, "is a directory, not a .npy file");
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) fail(path, "cannot open .npy file");
  // Every size the header declares is checked against the file before anything is allocated.
  const auto file_size = static_cast<uint64_t>(in.tellg());
  in.seekg(0);
  auto bytes_left = [&] { return file_size - static_cast<uint64_t>(in.tellg()); };
  char magic[8];
  if (!in.read(magic, 8) || std::memcmp(magic, "\x93NUMPY", 6) != 0) fail(path, "not a .npy file (bad magic)");
  const int major = static_cast<unsigned char>(magic[6]);
  size_t header_len = 0;
  if (major == 1) {
    unsigned char b[2];
    if (!in.read(reinterpret_cast<char*>(b), 2)) fail(path, "truncated .npy header");
    header_len = b[0] | (size_t{b[1]} << 8);
  } else if (major == 2 || major == 3) {
    unsigned char b[4];
    if (!in.read(reinterpret_cast<char*>(b), 4)) fail(path, "truncated .npy header");
    header_len = b[0] | (size_t{b[1]} << 8) | (size_t{b[2]} << 16) | (size_t{b[3]} << 24);
  } else {
    fail(path, fmt::format("unsupported .npy version {}", major));
  }
  if (header_len > bytes_left()) fail(path, "truncated .npy header");
  std::string header(header_len, '\0');
  if (!in.read(header.data(), static_cast<std::streamsize>(header_len))) fail(path, "truncated .npy header");
  const Header h = parse_header(path, header);
  if (h.fortran_order) fail(path, "Fortran-ordered arrays are not supported (save with C order)");
  const size_t element_size = file_element_size(path, h.descr);
  const int64_t count = checked_num_elements(h.shape, path);
  const uint64_t data_bytes = static_cast<uint64_t>(count) * element_size;
  if (bytes_left() != data_bytes)
    fail(path, fmt::format("holds {} bytes of data, but the shape {} of '{}' its header declares needs {}",
                           bytes_left(), dims_str(h.shape), h.descr, data_bytes));

  std::vector<char> raw(data_bytes);
  if (!in.read(raw.data(), static_cast<std::streamsize>(raw.size()))) fail(path, "read failed");
  if (h.descr == "<f4" || h.descr == "<f8") {
    Tensor t = Tensor::uninitialized(DType::f32, h.shape);
    float* out = t.data<float>();
    for (int64_t i = 0; i < count; ++i) {
      if (h.descr == "<f4")
        std::memcpy(&out[i], raw.data() + i * 4, 4);
      else {
        double d;
        std::memcpy(&d, raw.data() + i * 8, 8);
        out[i] = static_cast<float>(d);
      }
    }
    return t;
  }
  Tensor t = Tensor::uninitialized(DType::i64, h.shape);
  int64_t* out = t.data<int64_t>();
  for (int64_t i = 0; i < count; ++i) {
    if (h.descr == "<i8")
      std::memcpy(&out[i], raw.data() + i * 8, 8);
    else {
      int32_t v;
      std::memcpy(&v, raw.data() + i * 4, 4);
      out[i] = v;
    }
  }
  return t;
}

void write_npy(const std::string& path, const Tensor& tensor) {
  // Python tuple syntax: "()", "(3,)", "(3, 4)".
  const std::string shape =
      tensor.rank() == 1 ? fmt::format("{},", tensor.dims()[0]) : fmt::format("{}", fmt::join(tensor.dims(), ", "));
  std::string header = fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': ({}), }}",
                                   tensor.dtype() == DType::f32 ? "<f4" : "<i8", shape);
  // Pad with spaces so the data starts on a 64-byte boundary; end with a newline.
  const size_t unpadded = 10 + header.size() + 1;
  header += std::string((64 - unpadded % 64) % 64, ' ') + "\n";
  std::ofstream out(path, std::ios::binary);
  if (!out) fail(path, "cannot write .npy file");
  out.write("\x93NUMPY\x01\x00", 8);
  const uint16_t len = static_cast<uint16_t>(header.size());
  const char len_bytes[2] = {static_cast<char>(len & 0xff), static_cast<char>(len >> 8)};
  out.write(len_bytes, 2);
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  out.write(static_cast<const char*>(tensor.raw_data()), static_cast<std::streamsize>(tensor.num_bytes()));
  if (!out) fail(path, "write failed");
}

}  // namespace graphrun
