// Shared by the example tests: train a shipped example on a slice of its data.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "graphrun/train.h"
#include "tests/temp_dir.h"

namespace graphrun::testing {

inline std::string fresh_example_dir(const std::string& name) { return fresh_temp_path("examples_" + name); }

// Removes a directory when the test ends (some runs write large checkpoints).
struct RemoveAtEnd {
  std::string dir;
  ~RemoveAtEnd() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

// Two epochs on the first 200 examples of each split in batches of 25 (8 steps an
// epoch: the configs' batch 1024 would take one noisy step); the training loss falls.
inline TrainResult train_slice(const std::string& model, const std::string& name) {
  TrainOptions o;
  o.run_dir = fresh_example_dir(name);
  o.quiet = true;
  o.epochs = 2;
  o.limit_examples = 200;
  o.batch_size = 25;
  const RemoveAtEnd cleanup{o.run_dir};
  const TrainResult r = train(model, o);
  EXPECT_EQ(r.epochs.size(), 2u);
  if (r.epochs.size() == 2u) {
    EXPECT_EQ(r.epochs[0].metrics[0].first, "loss");
    EXPECT_LT(r.epochs[1].metrics[0].second, r.epochs[0].metrics[0].second) << model;
  }
  return r;
}

// A model file and the parameter counts `graphrun check` must print for it.
struct ParameterCounts {
  const char* file;  // relative to the source tree
  int64_t trainable, non_trainable;
};

inline void expect_parameter_counts(const std::string& source_dir, const ParameterCounts& c) {
  const ModelSummary s = Model::load(source_dir + "/" + c.file).summary();
  EXPECT_EQ(s.trainable_parameters, c.trainable) << c.file;
  EXPECT_EQ(s.non_trainable_parameters, c.non_trainable) << c.file;
  EXPECT_EQ(s.total_parameters(), c.trainable + c.non_trainable) << c.file;
}

}  // namespace graphrun::testing
