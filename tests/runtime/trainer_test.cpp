// The training loop: loss falls, resume equals an uninterrupted run, bad data
// gets one-line errors naming file and line, and the shipped examples train.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "graphrun/npy.h"
#include "graphrun/train.h"
#include "runtime/cli/format.h"
#include "test_util.h"

namespace graphrun {
namespace {

namespace fs = std::filesystem;
const std::string kSource = GRAPHRUN_SOURCE_DIR;
const std::string kTinyModel = kSource + "/tests/runtime/models/tiny_text.pbtxt";

std::string fresh_dir(const std::string& name) { return testing::fresh_temp_path("trainer_" + name); }

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

TrainOptions quiet(const std::string& dir) {
  TrainOptions o;
  o.run_dir = dir;
  o.quiet = true;
  return o;
}

TEST(Trainer, LossFallsAndRunDirectoryIsComplete) {
  const std::string dir = fresh_dir("basic");
  const TrainResult r = train(kTinyModel, quiet(dir));
  ASSERT_EQ(r.epochs.size(), 4u);
  EXPECT_LT(r.epochs.back().metrics[0].second, r.epochs.front().metrics[0].second);
  for (const char* file : {"model.pbtxt", "metrics.csv", "vocab.txt", "last.ckpt", "best.ckpt", "train.log"})
    EXPECT_TRUE(fs::exists(fs::path(dir) / file)) << file;
  EXPECT_EQ(read_file(dir + "/metrics.csv").substr(0, 44), "epoch,loss,accuracy,val_loss,val_accuracy\n1,");
  ASSERT_EQ(r.test_metrics.size(), 2u);
  EXPECT_EQ(r.test_metrics[1].first, "test_accuracy");
  // Running into an existing run directory without --resume is refused.
  EXPECT_THROW(train(kTinyModel, quiet(dir)), Error);
}

TEST(Trainer, ResumeEqualsAnUninterruptedRun) {
  testing::expect_resume_equals_uninterrupted(kTinyModel, fresh_dir("straight"), fresh_dir("resumed"), 2, 4);
}

// The Trainer is the loop train() runs: epochs driven by the host end on the same
// parameters, and its checkpoint makes a run directory that predicts like train()'s.
TEST(Trainer, HostDrivenEpochsEqualTrain) {
  const std::string straight = fresh_dir("host_straight"), host = fresh_dir("host_driven");
  TrainOptions o = quiet(straight);
  o.epochs = 2;
  train(kTinyModel, o);
  fs::remove(straight + "/best.ckpt");  // keep_best: predict would read epoch 1's parameters
  {
    Trainer trainer(kTinyModel, quiet(host));
    for (int e = 0; e < 2; ++e) EXPECT_EQ(trainer.train_epoch().epoch, e + 1);
    EXPECT_EQ(trainer.epochs_done(), 2);
    trainer.save_checkpoint();
    EXPECT_THROW(Trainer(kTinyModel, quiet(host)), Error);  // the run directory is taken
  }
  const std::vector<std::string> texts = {"good great fun", "bad awful boring"};
  const std::vector<Prediction> a = predict(kTinyModel, straight, texts), b = predict(kTinyModel, host, texts);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].probabilities, b[i].probabilities) << texts[i];
}

TEST(Trainer, StepsOnHostBatches) {
  Trainer trainer(kTinyModel, quiet(fresh_dir("host_steps")));
  std::vector<int64_t> ids(24, 0);  // two texts of 12 ids, padded with 0
  for (int64_t i : {0, 1, 2}) ids[static_cast<size_t>(i)] = i + 1;
  for (int64_t i : {12, 13}) ids[static_cast<size_t>(i)] = i - 8;
  const Tensor tokens = Tensor::from_ints({2, 12}, ids);
  const Tensor labels = Tensor::from_ints({2}, std::vector<int64_t>{1, 3});
  const double first = trainer.step({{"tokens", tokens}, {"labels", labels}});
  double last = first;
  for (int i = 0; i < 20; ++i) last = trainer.step({{"tokens", tokens}, {"labels", labels}});
  EXPECT_LT(last, first);
  EXPECT_EQ(trainer.steps_done(), 21);
  try {
    trainer.step({{"tokens", tokens}});
    FAIL() << "a batch without labels trained";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "input 'labels' (int64[?]) was not fed");
  }
}

TEST(Trainer, SameSeedSameResult) {
  const std::string a = fresh_dir("seed_a"), b = fresh_dir("seed_b");
  train(kTinyModel, quiet(a));
  train(kTinyModel, quiet(b));
  EXPECT_EQ(read_file(a + "/metrics.csv"), read_file(b + "/metrics.csv"));
}

TEST(Trainer, BatchSizeOptionOverridesTheConfig) {
  const std::string config_batch = fresh_dir("batch_config"), small_batch = fresh_dir("batch_small");
  TrainOptions o = quiet(small_batch);
  o.batch_size = 3;
  train(kTinyModel, o);
  EXPECT_NE(read_file(small_batch + "/train.log").find(", batch 3,"), std::string::npos)
      << read_file(small_batch + "/train.log");
  train(kTinyModel, quiet(config_batch));
  EXPECT_NE(read_file(small_batch + "/metrics.csv"),
            read_file(config_batch + "/metrics.csv"));  // other steps, other losses
  o.run_dir = fresh_dir("batch_zero");
  o.batch_size = 0;
  EXPECT_THROW(train(kTinyModel, o), Error);
}

// A copy of the tiny model with `replace_from` replaced, its data paths made absolute.
std::string tiny_model_variant(const std::string& name, const std::string& replace_from,
                               const std::string& replace_to) {
  std::string text = read_file(kTinyModel);
  const size_t at = text.find(replace_from);
  EXPECT_NE(at, std::string::npos) << replace_from;
  text.replace(at, replace_from.size(), replace_to);
  for (size_t p; (p = text.find("\"../../../examples/")) != std::string::npos;)
    text.replace(p, 18, "\"" + kSource + "/examples/");
  const std::string path = fresh_dir(name) + ".pbtxt";
  std::ofstream(path) << text;
  return path;
}

// The run directory's model copy reads the original's data (its relative paths
// resolve against the original's directory): eval and --resume work given it.
TEST(Trainer, TheRunDirectorysModelCopyServesEvalAndResume) {
  const std::string straight = fresh_dir("copy_straight"), resumed = fresh_dir("copy_resumed");
  testing::expect_resume_equals_uninterrupted(kTinyModel, straight, resumed, 2, 4, resumed + "/model.pbtxt");
  const EvalResult original = evaluate(kTinyModel, straight, "test", quiet(""));
  const EvalResult copy = evaluate(straight + "/model.pbtxt", straight, "test", quiet(""));
  EXPECT_EQ(copy.examples, 56);
  EXPECT_EQ(copy.metrics, original.metrics);
  // A new run from the copy writes a copy of its own that reads the same data.
  TrainOptions again = quiet(fresh_dir("copy_of_copy"));
  again.epochs = 4;
  train(straight + "/model.pbtxt", again);
  EXPECT_EQ(read_file(again.run_dir + "/metrics.csv"), read_file(straight + "/metrics.csv"));
  EXPECT_EQ(evaluate(again.run_dir + "/model.pbtxt", again.run_dir, "test", quiet("")).metrics, original.metrics);
  // Another model is still refused.
  TrainOptions other = quiet(straight);
  other.resume = true;
  other.epochs = 5;
  EXPECT_THROW(train(tiny_model_variant("copy_changed", "seed: 3", "seed: 4"), other), Error);
}

TEST(Trainer, AdamEpsilonPlacementReachesTheOptimizer) {
  // A large epsilon, so that where it is added changes the first steps' updates.
  const std::string adam = "adam { learning_rate: 0.01 }";
  const std::string keras = tiny_model_variant("eps_keras", adam, "adam { learning_rate: 0.01 epsilon: 0.1 }");
  const std::string pytorch =
      tiny_model_variant("eps_pytorch", adam, "adam { learning_rate: 0.01 epsilon: 0.1 epsilon_placement: PYTORCH }");
  const std::string a = fresh_dir("eps_keras_run"), b = fresh_dir("eps_pytorch_run");
  train(keras, quiet(a));
  train(pytorch, quiet(b));
  EXPECT_NE(read_file(a + "/metrics.csv"), read_file(b + "/metrics.csv"));
}

TEST(Trainer, EvalScoresTheKeptCheckpoint) {
  const std::string dir = fresh_dir("eval");
  const TrainResult r = train(kTinyModel, quiet(dir));
  const EvalResult e = evaluate(kTinyModel, dir, "test", quiet(""));
  EXPECT_EQ(e.examples, 56);
  ASSERT_EQ(e.metrics.size(), 2u);
  EXPECT_DOUBLE_EQ(e.metrics[1].second, r.test_metrics[1].second);
  int64_t total = 0;
  for (const auto& row : e.confusion)
    for (int64_t v : row) total += v;
  EXPECT_EQ(total, 56);
  EXPECT_THROW(evaluate(kTinyModel, dir, "nope", quiet("")), Error);
  // The validation split (cut from the training file) scores the kept checkpoint:
  // the best epoch's val_accuracy.
  const EvalResult v = evaluate(kTinyModel, dir, "validation", quiet(""));
  ASSERT_TRUE(r.best_value.has_value());
  EXPECT_DOUBLE_EQ(v.metrics[1].second, *r.best_value);
}

// The embedding API: load_trained gives a session with the run's kept parameters:
// fed the ids predict() fed, it gives predict()'s probabilities, unlike a fresh session.
TEST(Trainer, LoadTrainedRunsTheKeptParameters) {
  const std::string dir = fresh_dir("load_trained");
  train(kTinyModel, quiet(dir));
  const std::vector<Prediction> p = predict(kTinyModel, dir, {"i love you so much", "food is ready"});
  const Session trained = load_trained(kTinyModel, dir);
  const Session fresh(Model::load(kTinyModel));
  for (const Prediction& one : p) {
    ASSERT_EQ(one.token_ids.dims(), (Dims{1, 12}));
    const Tensor probs = trained.run({{"tokens", one.token_ids}}, {"probs"})[0];
    const Tensor untrained = fresh.run({{"tokens", one.token_ids}}, {"probs"})[0];
    double farthest = 0;
    for (int64_t c = 0; c < probs.num_elements(); ++c) {
      EXPECT_NEAR(probs.data<float>()[c], one.probabilities[static_cast<size_t>(c)], 1e-6)
          << one.text << " class " << c;
      farthest =
          std::max(farthest, std::abs(double(untrained.data<float>()[c]) - one.probabilities[static_cast<size_t>(c)]));
    }
    EXPECT_GT(farthest, 1e-3) << one.text;
  }
  EXPECT_THROW(load_trained(kTinyModel, dir + "/missing"), Error);
}

// A word-vector table the run trained (trainable) comes back from the checkpoint as trained; a frozen one,
// not in checkpoints, is filled again from the word vectors.
TEST(Trainer, LoadTrainedKeepsATrainedWordVectorTable) {
  for (const bool trainable : {true, false}) {
    const std::string dir = fresh_dir(trainable ? "trained_vectors" : "frozen_vectors");
    fs::create_directories(dir);
    fs::copy_file(kSource + "/examples/emojify/data/train_emoji.csv", dir + "/train.csv");
    std::ofstream(dir + "/vectors.txt") << "i 0.5 0.5 0.5\nyou -0.5 0.25 1\nlove 1 -1 0.5\n";
    write_npy(dir + "/bias.npy", Tensor::from_floats({5}, std::vector<float>{0.1f, -0.2f, 0.3f, 0.f, 0.5f}));
    std::string model = read_file(kSource + "/tests/runtime/models/word_vector_bag.pbtxt");
    const std::string frozen_table = R"(name: "emb" shape: [261, 3] trainable: false)";
    if (trainable) model.replace(model.find(frozen_table), frozen_table.size(), R"(name: "emb" shape: [261, 3])");
    std::ofstream(dir + "/model.pbtxt") << model;
    train(dir + "/model.pbtxt", quiet(dir + "/run"));
    const Tensor loaded = load_trained(dir + "/model.pbtxt", dir + "/run").parameter("emb");
    int64_t nonzero = 0;
    for (float v : loaded.values<float>()) nonzero += v != 0;
    if (trainable) {
      // Training moved the rows of words without vectors off zero, so more than the 3 x 3 read values are set.
      EXPECT_GT(nonzero, 9);
    } else {
      EXPECT_EQ(nonzero, 9);  // the three words' vectors, and zeros
    }
  }
}

TEST(Trainer, EvalOfTheTestSplitReadsOnlyTheTestFiles) {
  const std::string dir = fresh_dir("eval_test_only");
  fs::create_directories(dir);
  fs::copy_file(kSource + "/examples/emojify/data/train_emoji.csv", dir + "/train.csv");
  fs::copy_file(kSource + "/examples/emojify/data/tesss.csv", dir + "/test.csv");
  std::string model = read_file(kTinyModel);
  for (const auto& [from, to] :
       {std::pair<std::string, std::string>{"../../../examples/emojify/data/train_emoji.csv", "train.csv"},
        {"../../../examples/emojify/data/tesss.csv", "test.csv"}})
    model.replace(model.find(from), from.size(), to);
  std::ofstream(dir + "/model.pbtxt") << model;
  const TrainResult r = train(dir + "/model.pbtxt", quiet(dir + "/run"));
  // With the training file gone, the test split still scores as it did after training.
  fs::remove(dir + "/train.csv");
  const EvalResult e = evaluate(dir + "/model.pbtxt", dir + "/run", "test", quiet(""));
  EXPECT_DOUBLE_EQ(e.metrics[1].second, r.test_metrics[1].second);
  EXPECT_THROW(evaluate(dir + "/model.pbtxt", dir + "/run", "validation", quiet("")), Error);  // needs train.csv
}

TEST(Trainer, PredictShowsProbabilitiesAndAttention) {
  const std::string dir = fresh_dir("predict");
  train(kTinyModel, quiet(dir));
  const std::vector<Prediction> p = predict(kTinyModel, dir, {"i love you", "lets eat food now please"});
  ASSERT_EQ(p.size(), 2u);
  ASSERT_EQ(p[0].probabilities.size(), 5u);
  double sum = 0;
  for (double q : p[0].probabilities) sum += q;
  EXPECT_NEAR(sum, 1.0, 1e-5);
  EXPECT_EQ(p[0].tokens, (std::vector<std::string>{"i", "love", "you"}));
  ASSERT_EQ(p[0].attention.size(), 3u);
  double attention = 0;  // pre-padded: the 9 padding steps take part of the weight
  for (double w : p[0].attention) attention += w;
  EXPECT_GT(attention, 0.0);
  EXPECT_LE(attention, 1.0 + 1e-6);
  const std::string html = predictions_html(p);
  EXPECT_NE(html.find(">love</span>"), std::string::npos);
  EXPECT_NE(format_prediction(p[1]).find("attention: lets:"), std::string::npos) << format_prediction(p[1]);
}

// A model over a data file written by the test.
std::string model_over(const std::string& dir, const std::string& csv, const std::string& extra_data = "") {
  fs::create_directories(dir);
  std::ofstream(dir + "/data.csv") << csv;
  std::string model = read_file(kTinyModel);
  const std::string from = "train: \"../../../examples/emojify/data/train_emoji.csv\"";
  model.replace(model.find(from), from.size(), "train: \"data.csv\" " + extra_data);
  const std::string test_line = "test: \"../../../examples/emojify/data/tesss.csv\"";
  model.erase(model.find(test_line), test_line.size());
  std::ofstream(dir + "/model.pbtxt") << model;
  return dir + "/model.pbtxt";
}

std::string error_of(const std::string& model, const std::string& run_dir) {
  try {
    train(model, quiet(run_dir));
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(Trainer, BadDataNamesFileAndLine) {
  const std::string dir = fresh_dir("bad_data");
  const std::string good_rows = "i am happy,2\nyou are sad,3\nlets eat,4\nlove you,0\nplay ball,1\n";
  // Unknown (non-integer) label on line 3.
  std::string m = model_over(dir, good_rows.substr(0, 25) + "what,x\n" + good_rows.substr(25));
  std::string msg = error_of(m, dir + "/run1");
  EXPECT_NE(msg.find("data.csv:3"), std::string::npos) << msg;
  // Empty text on line 2.
  m = model_over(dir, "i am happy,2\n,3\n" + good_rows);
  msg = error_of(m, dir + "/run2");
  EXPECT_NE(msg.find("data.csv:2"), std::string::npos) << msg;
  EXPECT_NE(msg.find("empty text"), std::string::npos) << msg;
  // Unterminated quote.
  m = model_over(dir, good_rows + "\"never closed,1\n");
  msg = error_of(m, dir + "/run3");
  EXPECT_NE(msg.find("data.csv:6"), std::string::npos) << msg;
  // Missing file.
  fs::remove(dir + "/data.csv");
  msg = error_of(m, dir + "/run4");
  EXPECT_NE(msg.find("data.csv"), std::string::npos) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos);
}

// Config values that used to be replaced silently (batch_size 0 became 32, epochs -3
// became 1) or failed only after an epoch (a negative validation_split) are refused
// before anything is read or written, in one line naming the model and the field.
TEST(Trainer, OutOfRangeTrainValuesAreOneLineErrors) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"batch_size: 0", "train.batch_size 0 must be positive (leave it out for 32)"},
      {"batch_size: -5", "train.batch_size -5 must be positive (leave it out for 32)"},
      {"epochs: -3", "train.epochs -3 must be positive (leave it out for 1)"},
      {"validation_split: -0.2", "train.data.validation_split -0.2 must be in [0, 1)"},
      {"validation_split: 1.5", "train.data.validation_split 1.5 must be in [0, 1)"},
  };
  const std::map<std::string, std::string> field_in_tiny = {
      {"batch_size", "batch_size: 8"}, {"epochs", "epochs: 4"}, {"validation_split", "validation_split: 0.2"}};
  int i = 0;
  for (const auto& [setting, message] : cases) {
    const std::string field = setting.substr(0, setting.find(':'));
    const std::string model = tiny_model_variant("bad_config_" + std::to_string(i), field_in_tiny.at(field), setting);
    const std::string run = fresh_dir("bad_config_run_" + std::to_string(i++));
    const testing::CliResult r = testing::cli("train " + model + " --run-dir " + run + " --no-progress");
    EXPECT_EQ(r.exit_code, 1) << setting;
    EXPECT_EQ(r.output, "graphrun: error: " + model + ": " + message + "\n") << setting;
    EXPECT_FALSE(fs::exists(run)) << setting;
  }
}

// The train {} block is checked against the graph before any data is read, by
// `graphrun check` and `graphrun train` alike: one line naming the model and the value.
TEST(Trainer, TheTrainBlockIsCheckedAgainstTheGraphByCheckAndTrain) {
  const std::vector<std::tuple<std::string, std::string, std::string>> cases = {
      {"max_length: 12", "max_length: 20",
       "train.data.max_length 20 does not match the length 12 of input 'tokens' [?,12]"},
      {"predictions: \"probs\"", "predictions: \"nope\"", "train.predictions 'nope' is not a value of the graph"},
      {"keep_best: \"val_accuracy\"", "keep_best: \"val_acc\"",
       "train.keep_best 'val_acc' is not a metric of this run (loss, accuracy or binary_accuracy, and val_ of each)"},
      {"validation_split: 0.2", "validation_split: 0",
       "train.keep_best 'val_accuracy' needs validation data (data.validation or data.validation_split)"},
      {"keep_best: \"val_accuracy\"", "early_stopping { patience: 2 }",
       "train.early_stopping.patience 2 needs a metric to follow (early_stopping.monitor)"},
      {"num_words: 400", "num_words: 400 classes: [\"a\", \"b\", \"c\"]",
       "train.data.classes names 3 classes, but train.predictions 'probs' [?,5] has 5 outputs"},
      {"num_words: 400", "num_words: 400 word_vectors { parameter: \"vectors\" }",
       "train.data.word_vectors.parameter 'vectors' is not a parameter of the model"},
      {"seed: 3", "seed: 3 tokens_input: \"words\"", "train.tokens_input 'words' is not a graph input"},
      {"clip_global_norm: 5", "clip_global_norm: 5 clip_norm_per_tensor: 1",
       "training config: set clip_global_norm or clip_norm_per_tensor, not both"},
  };
  int i = 0;
  for (const auto& [from, to, message] : cases) {
    const std::string model = tiny_model_variant("checked_config_" + std::to_string(i), from, to);
    const std::string run = fresh_dir("checked_config_run_" + std::to_string(i++));
    for (const std::string& command : {"check " + model, "train " + model + " --run-dir " + run + " --no-progress"}) {
      const testing::CliResult r = testing::cli(command);
      EXPECT_EQ(r.exit_code, 1) << command;
      EXPECT_EQ(r.output, "graphrun: error: " + model + ": " + message + "\n") << command;
    }
    EXPECT_FALSE(fs::exists(run)) << to;
  }
  EXPECT_EQ(testing::cli("check " + kTinyModel).exit_code, 0);
}

// gradcheck on a text model feeds a real training batch; one whose token ids are
// all padding masks every step, and the check would pass whatever the gradients.
TEST(Trainer, GradcheckRefusesABatchThatIsAllPadding) {
  const std::string dir = fresh_dir("gradcheck_padding");
  std::string rows;
  for (int label = 0; label < 5; ++label) rows += "zzz zzz," + std::to_string(label) + "\n";  // no word survives
  for (int copy = 0; copy < 4; ++copy) rows += "lets eat,4\nlove you,0\nplay ball,1\nso fun,2\nso sad,3\n";
  const std::string padded = model_over(dir, rows, "replace { from: \"zzz\" to: \"\" }");
  try {
    gradcheck(padded, 2);
    ADD_FAILURE() << "an all-padding batch was checked";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), padded +
                                         ": gradcheck: the batch's token ids are all padding, so every step is masked "
                                         "and the check would pass whatever the gradients (use a larger --batch)");
  }
  const GradCheckResult real = gradcheck(padded, 8);
  EXPECT_EQ(real.inputs, "the first 8 training examples");
  EXPECT_TRUE(real.passed) << real.worst;
}

TEST(Trainer, BadRowsAreSkippedAndCountedWhenAsked) {
  const std::string dir = fresh_dir("skip_rows");
  std::string rows = "i am happy,2\n,3\nyou are sad,3\nwhat,x\n";
  for (int copy = 0; copy < 5; ++copy) rows += "lets eat,4\nlove you,0\nplay ball,1\nso fun,2\nso sad,3\n";
  const std::string m = model_over(dir, rows, "skip_bad_rows: true");
  const TrainResult r = train(m, quiet(dir + "/run"));
  EXPECT_NE(r.notes.find("skipped 2 bad rows"), std::string::npos) << r.notes;
}

TEST(Trainer, ReplacementsApplyBeforeTokenizingAndValidationTextsStayOutOfTheVocabulary) {
  const std::string dir = fresh_dir("replace");
  std::string rows;
  for (int copy = 0; copy < 5; ++copy) rows += "he's good<br />fun,2\nlets eat,4\nlove you,0\nplay ball,1\nso sad,3\n";
  rows += "zebra,4\n";  // one row of its class: goes to train, not validation
  const std::string m =
      model_over(dir, rows, "replace { from: \"<br />\" to: \" \" } replace { from: \"'\" to: \"\" }");
  train(m, quiet(dir + "/run"));
  const std::string vocab = read_file(dir + "/run/vocab.txt");
  // Each word occurs 5 times; one of each goes to validation, so training counts 4.
  EXPECT_NE(vocab.find("\t4\thes\n"), std::string::npos) << vocab;
  EXPECT_EQ(vocab.find("\tbr\n"), std::string::npos) << vocab;
  EXPECT_EQ(vocab.find("he's"), std::string::npos) << vocab;
}

TEST(Examples, EmojifyV1TrainsOnASlice) {
  TrainOptions o = quiet(fresh_dir("emojify_v1"));
  o.epochs = 3;
  o.limit_examples = 40;
  const TrainResult r = train(kSource + "/examples/emojify/v1.pbtxt", o);
  ASSERT_EQ(r.epochs.size(), 3u);
  EXPECT_LT(r.epochs[2].metrics[0].second, r.epochs[0].metrics[0].second);
  EXPECT_NE(r.notes.find("0 of 30015 vocabulary words have no vector"), std::string::npos) << r.notes;
}

}  // namespace
}  // namespace graphrun
