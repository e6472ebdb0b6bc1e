// A trained model as inference takes it, read from a run directory (load_trained,
// TextClassifier(model, run)) or from a bundle (load_bundle, TextClassifier::from_bundle):
// both end in the same session and classifier from here on.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "graphrun/graphrun.h"
#include "runtime/train/text_dataset.h"

namespace graphrun {

struct TrainedModel {
  Model model;
  std::string source;                        // names the model in errors: its .pbtxt file, or the bundle
  std::map<std::string, Tensor> parameters;  // values instead of the initialisers (a bundle's: every parameter)
  std::optional<Vocabulary> vocabulary;      // text models: how texts become ids, when read
};

// `model` (loaded from `model_path`) with run directory `run_dir`'s kept parameters:
// the kept checkpoint's (best, else last), by name, and a frozen word-vector table
// filled again from the run's vocabulary, which is read for that or when `with_vocabulary`.
TrainedModel read_trained_run(Model model, const std::string& model_path, const std::string& run_dir,
                              bool with_vocabulary);

// The session inference runs: the model with the trained parameters.
Session trained_session(const TrainedModel& trained, SessionOptions options);

}  // namespace graphrun
