// The C API: a session loads a trained run and runs on caller memory (into the
// caller's buffer or a library-owned tensor) with the C++ API's results; failures
// are statuses with the same one-line messages, never exceptions; a text
// classifier labels as predict() does; a trainer steps and checkpoints.
#include "graphrun/c_api.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "graphrun/train.h"
#include "tests/temp_dir.h"

namespace graphrun {
namespace {

namespace fs = std::filesystem;
const std::string kSource = GRAPHRUN_SOURCE_DIR;
const std::string kTinyModel = kSource + "/tests/runtime/models/tiny_text.pbtxt";

// One short training run of the tiny text model, shared by the tests of one
// process (ctest runs each test in its own, in parallel).
const std::string& trained_run() {
  static const std::string dir = [] {
    const std::string d = graphrun::testing::fresh_temp_path("c_api_run");
    TrainOptions o;
    o.run_dir = d;
    o.quiet = true;
    o.epochs = 1;
    train(kTinyModel, o);
    return d;
  }();
  return dir;
}

TEST(CApi, SessionRunsOnCallerMemoryLikeTheCppApi) {
  graphrun_session* s = nullptr;
  ASSERT_EQ(graphrun_session_load(kTinyModel.c_str(), trained_run().c_str(), nullptr, &s), GRAPHRUN_OK)
      << graphrun_last_error();
  ASSERT_EQ(graphrun_session_input_count(s), 2u);
  graphrun_value_info info{};
  ASSERT_EQ(graphrun_session_input_info(s, 0, &info), GRAPHRUN_OK);
  EXPECT_STREQ(info.name, "tokens");
  EXPECT_EQ(info.dtype, GRAPHRUN_INT64);
  ASSERT_EQ(info.rank, 2);
  EXPECT_EQ(info.dims[0], -1);
  EXPECT_EQ(info.dims[1], 12);
  ASSERT_EQ(graphrun_session_output_count(s), 1u);
  ASSERT_EQ(graphrun_session_output_info(s, 0, &info), GRAPHRUN_OK);
  EXPECT_STREQ(info.name, "probs");
  EXPECT_EQ(graphrun_session_input_info(s, 2, &info), GRAPHRUN_INVALID_ARGUMENT);

  std::vector<int64_t> ids(24, 0);
  for (size_t i = 0; i < 5; ++i) ids[i] = static_cast<int64_t>(i + 1);
  const int64_t dims[2] = {2, 12};
  const graphrun_input in = {"tokens", GRAPHRUN_INT64, 2, dims, ids.data()};
  float probs[10] = {};
  graphrun_output outs[2] = {{"probs", probs, sizeof probs, nullptr, {}, 0, {}},
                             {"probs", nullptr, 0, nullptr, {}, 0, {}}};
  ASSERT_EQ(graphrun_session_run(s, &in, 1, outs, 2), GRAPHRUN_OK) << graphrun_last_error();
  EXPECT_EQ(outs[0].tensor, nullptr);
  ASSERT_EQ(outs[0].rank, 2);
  EXPECT_EQ(outs[0].dims[1], 5);
  ASSERT_NE(outs[1].tensor, nullptr);
  ASSERT_EQ(graphrun_tensor_bytes(outs[1].tensor), sizeof probs);

  const Session cpp = load_trained(kTinyModel, trained_run());
  const Tensor expected = cpp.run({{"tokens", Tensor::from_ints({2, 12}, ids)}}, {"probs"})[0];
  const auto* owned = static_cast<const float*>(graphrun_tensor_data(outs[1].tensor));
  for (size_t i = 0; i < 10; ++i) {
    EXPECT_EQ(probs[i], expected.data<float>()[i]) << i;
    EXPECT_EQ(owned[i], expected.data<float>()[i]) << i;
  }
  graphrun_tensor_free(outs[1].tensor);

  // A buffer too small is refused before anything is written.
  float small[4] = {};
  graphrun_output too_small = {"probs", small, sizeof small, nullptr, {}, 0, {}};
  EXPECT_EQ(graphrun_session_run(s, &in, 1, &too_small, 1), GRAPHRUN_INVALID_ARGUMENT);
  EXPECT_STREQ(graphrun_last_error(), "output 'probs' is float32[2,5] (40 bytes), its buffer holds 16");
  // Errors of the C++ API keep their message.
  const int64_t wrong[2] = {2, 7};
  const graphrun_input bad = {"tokens", GRAPHRUN_INT64, 2, wrong, ids.data()};
  graphrun_output out = {"probs", probs, sizeof probs, nullptr, {}, 0, {}};
  EXPECT_EQ(graphrun_session_run(s, &bad, 1, &out, 1), GRAPHRUN_ERROR);
  EXPECT_STREQ(graphrun_last_error(), "input 'tokens': fed int64[2,7], the model declares int64[?,12]");
  graphrun_session_free(s);
}

TEST(CApi, FailuresAreStatusesWithOneLineMessages) {
  graphrun_session* s = nullptr;
  EXPECT_EQ(graphrun_session_load("/nonexistent/model.pbtxt", nullptr, nullptr, &s), GRAPHRUN_ERROR);
  EXPECT_EQ(s, nullptr);
  EXPECT_NE(std::string(graphrun_last_error()).find("/nonexistent/model.pbtxt"), std::string::npos)
      << graphrun_last_error();
  EXPECT_EQ(std::string(graphrun_last_error()).find('\n'), std::string::npos);
  EXPECT_EQ(graphrun_session_load(nullptr, nullptr, nullptr, &s), GRAPHRUN_INVALID_ARGUMENT);
  EXPECT_STREQ(graphrun_last_error(), "graphrun_session_load: model_path is NULL");
  const graphrun_session_options too_many = {100000, 0};
  EXPECT_EQ(graphrun_session_load(kTinyModel.c_str(), nullptr, &too_many, &s), GRAPHRUN_ERROR);
  EXPECT_EQ(graphrun_session_run(nullptr, nullptr, 0, nullptr, 0), GRAPHRUN_INVALID_ARGUMENT);
  graphrun_session_free(nullptr);
}

TEST(CApi, TextClassifierLabelsAsPredict) {
  graphrun_text_classifier* c = nullptr;
  ASSERT_EQ(graphrun_text_classifier_load(kTinyModel.c_str(), trained_run().c_str(), nullptr, &c), GRAPHRUN_OK)
      << graphrun_last_error();
  const std::vector<std::string> texts = {"I love you", "lets play ball", "food is ready", ""};
  const std::vector<Prediction> expected = predict(kTinyModel, trained_run(), texts);
  for (size_t i = 0; i < texts.size(); ++i) {
    graphrun_text_label label{};
    ASSERT_EQ(graphrun_text_classifier_classify(c, texts[i].c_str(), &label), GRAPHRUN_OK) << graphrun_last_error();
    EXPECT_EQ(label.label, expected[i].label);
    EXPECT_STREQ(label.class_name, expected[i].classes[static_cast<size_t>(expected[i].label)].c_str());
    EXPECT_EQ(label.probability, expected[i].probabilities[static_cast<size_t>(expected[i].label)]);
  }
  graphrun_text_classifier_free(c);
}

// A model bundle loads with one call each, and gives what the run directory gives.
TEST(CApi, ABundleLoadsAndClassifiesInOneCall) {
  const std::string bundle = trained_run() + ".grb";
  export_bundle(trained_run(), bundle);
  graphrun_text_classifier* c = nullptr;
  ASSERT_EQ(graphrun_text_classifier_load_bundle(bundle.c_str(), nullptr, &c), GRAPHRUN_OK) << graphrun_last_error();
  const std::vector<std::string> texts = {"I love you", "lets play ball", "food is ready"};
  const std::vector<Prediction> expected = predict(kTinyModel, trained_run(), texts);
  for (size_t i = 0; i < texts.size(); ++i) {
    graphrun_text_label label{};
    ASSERT_EQ(graphrun_text_classifier_classify(c, texts[i].c_str(), &label), GRAPHRUN_OK) << graphrun_last_error();
    EXPECT_EQ(label.label, expected[i].label);
    EXPECT_EQ(label.probability, expected[i].probabilities[static_cast<size_t>(expected[i].label)]);
  }
  graphrun_text_classifier_free(c);

  graphrun_session* s = nullptr;
  ASSERT_EQ(graphrun_session_load_bundle(bundle.c_str(), nullptr, &s), GRAPHRUN_OK) << graphrun_last_error();
  const int64_t dims[2] = {1, 12};
  const graphrun_input in = {"tokens", GRAPHRUN_INT64, 2, dims, expected[0].token_ids.data<int64_t>()};
  float probs[5] = {};
  graphrun_output out = {"probs", probs, sizeof probs, nullptr, {}, 0, {}};
  ASSERT_EQ(graphrun_session_run(s, &in, 1, &out, 1), GRAPHRUN_OK) << graphrun_last_error();
  for (size_t k = 0; k < 5; ++k) EXPECT_EQ(probs[k], expected[0].probabilities[k]) << k;
  graphrun_session_free(s);

  EXPECT_EQ(graphrun_session_load_bundle((trained_run() + "/last.ckpt").c_str(), nullptr, &s), GRAPHRUN_ERROR);
  EXPECT_EQ(std::string(graphrun_last_error()),
            trained_run() + "/last.ckpt: not a graphrun bundle (wrong magic: it does not start with \"GRBN\")");
  EXPECT_EQ(graphrun_text_classifier_load_bundle(nullptr, nullptr, &c), GRAPHRUN_INVALID_ARGUMENT);
  EXPECT_STREQ(graphrun_last_error(), "graphrun_text_classifier_load_bundle: bundle_path is NULL");
}

TEST(CApi, TrainerStepsAndCheckpoints) {
  const std::string dir = graphrun::testing::fresh_temp_path("c_api_trainer");
  graphrun_train_options options{};
  options.run_dir = dir.c_str();
  graphrun_trainer* t = nullptr;
  ASSERT_EQ(graphrun_trainer_create(kTinyModel.c_str(), &options, &t), GRAPHRUN_OK) << graphrun_last_error();
  double loss = 0;
  ASSERT_EQ(graphrun_trainer_train_epoch(t, &loss), GRAPHRUN_OK) << graphrun_last_error();
  EXPECT_GT(loss, 0);
  std::vector<int64_t> ids(12, 0);
  ids[0] = 3;
  const int64_t token_dims[2] = {1, 12}, label_dims[1] = {1};
  const int64_t label = 2;
  const graphrun_input batch[2] = {{"tokens", GRAPHRUN_INT64, 2, token_dims, ids.data()},
                                   {"labels", GRAPHRUN_INT64, 1, label_dims, &label}};
  ASSERT_EQ(graphrun_trainer_step(t, batch, 2, &loss), GRAPHRUN_OK) << graphrun_last_error();
  EXPECT_EQ(graphrun_trainer_step(t, batch, 1, &loss), GRAPHRUN_ERROR);
  EXPECT_STREQ(graphrun_last_error(), "input 'labels' (int64[?]) was not fed");
  ASSERT_EQ(graphrun_trainer_save_checkpoint(t), GRAPHRUN_OK) << graphrun_last_error();
  graphrun_trainer_free(t);
  graphrun_session* s = nullptr;
  EXPECT_EQ(graphrun_session_load(kTinyModel.c_str(), dir.c_str(), nullptr, &s), GRAPHRUN_OK) << graphrun_last_error();
  graphrun_session_free(s);
}

}  // namespace
}  // namespace graphrun
