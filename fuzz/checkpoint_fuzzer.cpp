// Training checkpoints: graphrun::read_checkpoint (header, length, CRC, protobuf)
// and every tensor through from_named_tensor, as resuming and loading a run do.
//
// The first input byte chooses the file: odd, the input as it is (header and
// all, or a bare protobuf as older checkpoints are); even, the rest of the input
// framed by a valid header, so that the fuzzer reaches the protobuf and tensor
// checks behind the CRC.
#include <google/protobuf/stubs/logging.h>
#include <zlib.h>

#include "fuzz/fuzz_input.h"
#include "runtime/train/checkpoint.h"
#include "runtime/train/named_tensor.h"

namespace {

void append_le(std::string& out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out += static_cast<char>((value >> (8 * i)) & 0xff);
}

// The header runtime/train/checkpoint.h documents: "GRCK", version 1, length, CRC-32.
std::string framed(std::string_view payload) {
  std::string file("GRCK");
  append_le(file, 1, 4);
  append_le(file, payload.size(), 8);
  append_le(file, ::crc32_z(::crc32_z(0, nullptr, 0), reinterpret_cast<const Bytef*>(payload.data()), payload.size()),
            4);
  file += payload;
  return file;
}

}  // namespace

// protobuf logs a line for each string field that is not UTF-8 before the parse
// fails: thousands a second that would drown libFuzzer's own output.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view rest = graphrun::fuzz::as_bytes(data + 1, size - 1);
  const std::string& path = graphrun::fuzz::input_file().write(data[0] % 2 ? std::string(rest) : framed(rest));
  graphrun::fuzz::expect_error_or_success([&] {
    const graphrun::pb::Checkpoint checkpoint = graphrun::read_checkpoint(path);
    for (const graphrun::pb::NamedTensor& t : checkpoint.parameter()) graphrun::from_named_tensor(t, path);
    for (const graphrun::pb::NamedTensor& t : checkpoint.optimizer_state()) graphrun::from_named_tensor(t, path);
  });
  return 0;
}
