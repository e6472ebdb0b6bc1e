// Model bundles (`graphrun export`, load_bundle): a trained model in one file, the
// pb::Bundle in protobuf binary behind the framed-file header (framed_file.h) with
// magic "GRBN" and the bundle format version. A bundle holds the model's text, every
// parameter's value as load_trained fills it (the checkpoint's trained ones, a frozen
// word-vector table read from the word vectors, the initialised frozen ones) and the
// vocabulary, so loading one reads no other file.
#pragma once

#include <string>

#include "graphrun.pb.h"
#include "runtime/train/trained_model.h"

namespace graphrun {

// The bundle of run `run_dir` with `model_path`'s model (the run's model.pbtxt when "").
pb::Bundle bundle_of_run(const std::string& run_dir, const std::string& model_path);

void write_bundle(const std::string& path, const pb::Bundle& bundle);  // atomically

// The bundle at `path`, checked: every parameter its model declares, of the declared
// type, and no other. Errors name the file and what is wrong.
TrainedModel read_bundle(const std::string& path);

}  // namespace graphrun
