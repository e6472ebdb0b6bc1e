// The identity of the data a run trains on: every file its train {} block reads
// (data tables, word vectors, .npy feeds, the images of PNG directories) with its
// size and CRC-32. A run directory keeps it in data.manifest, one
// "crc32 size path" line per file, so --resume notices data that changed since.
#pragma once

#include <optional>
#include <string>

#include "graphrun.pb.h"

namespace graphrun {

// The manifest text of the files `config` reads, relative paths resolved against `base_dir`.
std::string data_manifest(const pb::DataConfig& config, const std::string& base_dir);

// The first file of `recorded` (a manifest's text) whose size or content is not
// what it records, with what differs ("DIR/train.csv: 1200 bytes, 1187 when the
// run started"); nothing when all are as recorded.
std::optional<std::string> first_changed_file(const std::string& recorded);

}  // namespace graphrun
