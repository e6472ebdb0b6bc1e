// Numeric data (DataConfig.feed): graph inputs fed from CSV columns or per-split
// .npy files, several inputs per example, labels from a column; one-line errors
// naming the file, line and column or the feed at fault; and the MLP example
// trains on its CSV, evaluates and resumes byte-identically.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "graphrun/npy.h"
#include "graphrun/train.h"
#include "runtime/model_data.h"
#include "runtime/train/numeric_dataset.h"
#include "test_util.h"

namespace graphrun {
namespace {

namespace fs = std::filesystem;
const std::string kSource = GRAPHRUN_SOURCE_DIR;

// A model with inputs x float32 [N, 2], ids int64 [N] and labels int64 [N], and the given data block.
constexpr const char* kModelHead = R"(
version: 1
name: "numeric"
input { name: "x" shape: [-1, 2] }
input { name: "ids" shape: [-1] dtype: INT64 }
input { name: "labels" shape: [-1] dtype: INT64 }
parameter { name: "w" shape: [2, 3] init { constant { value: 0.1 } } }
node { name: "logits" op: "MatMul" input: ["x", "w"] }
node { name: "xent" op: "SoftmaxCrossEntropyLoss" input: ["logits", "labels"] }
loss { value: "xent" }
)";

class NumericData : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::fresh_temp_path(std::string("numeric_") +
                                    ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  void write(const std::string& name, const std::string& text) const { std::ofstream(dir_ / name) << text; }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  // Loads the data of kModelHead + `train_block` (written to model.pbtxt in the test's directory).
  Dataset load(const std::string& train_block, const std::string& only_split = "") {
    return load_model(std::string(kModelHead) + train_block, only_split);
  }
  Dataset load_model(const std::string& model_text, const std::string& only_split = "") {
    write("model.pbtxt", model_text);
    model_ = std::make_unique<Model>(Model::load(path("model.pbtxt")));
    const detail::ModelData& data = detail::data_of(*model_);
    return load_numeric_dataset(data.proto.train(), data.graph, data.path, data.directory, {nullptr, 0, only_split});
  }
  std::string error_of(const std::string& train_block) {
    try {
      load(train_block);
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
      return e.what();
    }
    return "no error";
  }

  fs::path dir_;
  std::unique_ptr<Model> model_;
};

constexpr const char* kCsv = "a,b,id,label\n0.5,1.5,7,2\n-1,2e-1,8,0\n3,4,9,1\n";

TEST_F(NumericData, CsvColumnsFeedSeveralInputsAndLabels) {
  write("data.csv", kCsv);
  const Dataset ds = load(R"(train { data {
    train: "data.csv"
    feed { input: "x" column: ["a", "b"] }
    feed { input: "ids" column: "2" }
    label_column: "label" } })");
  ASSERT_EQ(ds.inputs, (std::vector<std::string>{"x", "ids", "labels"}));
  ASSERT_EQ(ds.train.size(), 3);
  EXPECT_EQ(ds.train.columns[0].dims(), (Dims{3, 2}));
  EXPECT_EQ(ds.train.columns[0].values<float>()[3], 0.2f);
  EXPECT_EQ(ds.train.columns[1].dims(), (Dims{3}));
  EXPECT_EQ(ds.train.columns[1].data<int64_t>()[2], 9);
  EXPECT_EQ(ds.train.columns[2].data<int64_t>()[0], 2);
  EXPECT_EQ(ds.labels_column, 2u);
  EXPECT_EQ(ds.num_classes, 3);
  EXPECT_EQ(ds.validation.size(), 0);
}

TEST_F(NumericData, NpyFilesPerSplitAndMixedWithColumns) {
  write("data.csv", kCsv);
  write_npy(path("x_train.npy"), Tensor::from_floats({3, 2}, std::vector<float>{1, 2, 3, 4, 5, 6}));
  write_npy(path("x_test.npy"), Tensor::from_floats({1, 2}, std::vector<float>{7, 8}));
  write_npy(path("ids_train.npy"), Tensor::from_ints({3}, std::vector<int64_t>{4, 5, 6}));
  write_npy(path("ids_test.npy"), Tensor::from_ints({1}, std::vector<int64_t>{9}));
  Dataset ds = load(R"(train { data {
    feed { input: "x" train_npy: "x_train.npy" test_npy: "x_test.npy" }
    feed { input: "ids" train_npy: "ids_train.npy" test_npy: "ids_test.npy" } } })");
  EXPECT_EQ(ds.train.size(), 3);
  EXPECT_EQ(ds.test.size(), 1);
  EXPECT_EQ(ds.test.columns[0].data<float>()[1], 8.f);
  EXPECT_EQ(ds.test.columns[1].data<int64_t>()[0], 9);
  EXPECT_FALSE(ds.labels_column.has_value());
  // One split only: the test arrays alone.
  fs::remove(path("x_train.npy"));
  ds = load(R"(train { data {
    feed { input: "x" train_npy: "x_train.npy" test_npy: "x_test.npy" }
    feed { input: "ids" train_npy: "ids_train.npy" test_npy: "ids_test.npy" } } })",
            "test");
  EXPECT_EQ(ds.test.size(), 1);
  EXPECT_EQ(ds.train.size(), 0);
  // Columns and arrays together: the rows are the same examples.
  write_npy(path("x_train.npy"), Tensor::from_floats({3, 2}, std::vector<float>{1, 2, 3, 4, 5, 6}));
  ds = load(R"(train { data {
    train: "data.csv"
    feed { input: "x" train_npy: "x_train.npy" }
    feed { input: "ids" column: "id" }
    label_column: "label" } })");
  EXPECT_EQ(ds.train.size(), 3);
  EXPECT_EQ(ds.train.columns[0].data<float>()[5], 6.f);
  EXPECT_EQ(ds.train.columns[1].data<int64_t>()[0], 7);
}

TEST_F(NumericData, ValidationSplitTakesTheSameRowsOfEveryInput) {
  std::string csv = "a,b,id,label\n";
  for (int i = 0; i < 20; ++i)
    csv += std::to_string(i) + "," + std::to_string(-i) + "," + std::to_string(i) + "," + std::to_string(i % 2) + "\n";
  write("data.csv", csv);
  const Dataset ds = load(R"(train { data {
    train: "data.csv" validation_split: 0.25
    feed { input: "x" column: ["a", "b"] }
    feed { input: "ids" column: "id" }
    label_column: "label" } })");
  EXPECT_EQ(ds.train.size() + ds.validation.size(), 20);
  EXPECT_GT(ds.validation.size(), 0);
  for (const Split* s : {&ds.train, &ds.validation})
    for (int64_t r = 0; r < s->size(); ++r) {
      const int64_t id = s->columns[1].data<int64_t>()[r];
      EXPECT_EQ(s->columns[0].data<float>()[2 * r], static_cast<float>(id));
      EXPECT_EQ(s->columns[2].data<int64_t>()[r], id % 2);
    }
}

TEST_F(NumericData, BadDataGetsOneLineErrors) {
  write("data.csv", kCsv);
  EXPECT_NE(error_of(R"(train { data { train: "data.csv" feed { input: "x" column: ["a", "zz"] } } })")
                .find("data.csv: no column 'zz'"),
            std::string::npos);
  write("bad.csv", "a,b\n1,2\n3,abc\n");
  EXPECT_NE(error_of(R"(train { data { train: "bad.csv" feed { input: "x" column: ["a", "b"] } } })")
                .find("bad.csv:3: column 'b': 'abc' is not a number (data.feed 'x')"),
            std::string::npos);
  EXPECT_NE(error_of(R"(train { data { train: "data.csv" feed { input: "ids" column: "a" } } })")
                .find("'0.5' is not an integer"),
            std::string::npos);
  EXPECT_NE(error_of(R"(train { data { train: "data.csv" feed { input: "x" column: ["a", "b", "id"] } } })")
                .find("data.feed 'x' reads 3 column(s), but input 'x' is float32[?,2]"),
            std::string::npos);
  write_npy(path("x.npy"), Tensor::from_floats({3, 2}, std::vector<float>(6, 1.f)));
  write_npy(path("ids.npy"), Tensor::from_ints({2}, std::vector<int64_t>{1, 2}));
  EXPECT_NE(
      error_of(
          R"(train { data { feed { input: "x" train_npy: "x.npy" } feed { input: "ids" train_npy: "ids.npy" } } })")
          .find("ids.npy: 2 rows, but " + path("x.npy") + " has 3"),
      std::string::npos);
  write_npy(path("wide.npy"), Tensor::from_floats({3, 3}, std::vector<float>(9, 1.f)));
  EXPECT_NE(error_of(R"(train { data { feed { input: "x" train_npy: "wide.npy" } } })")
                .find("wide.npy: the array is float32[3,3], but input 'x' is float32[?,2]"),
            std::string::npos);
  EXPECT_NE(error_of(R"(train { data { feed { input: "nope" train_npy: "x.npy" } } })")
                .find("train.data.feed.input 'nope' is not a graph input"),
            std::string::npos);
  EXPECT_NE(
      error_of(R"(train { data { feed { input: "x" } } })").find("data.feed 'x' needs either columns or .npy files"),
      std::string::npos);
}

// The next example's shape: a question text (tokenized into `tokens` as the text
// data is) and two answer codes from columns of the same rows, no labels. A
// contrastive hinge on dot products: the loss falls, the run saves the
// vocabulary, and eval of the run directory's copy tokenizes with it.
constexpr const char* kQuestionAnswerModel = R"(
version: 1
name: "question_answer"
seed: 3
input { name: "tokens" shape: [-1, 4] dtype: INT64 }
input { name: "correct" shape: [-1, 2] }
input { name: "incorrect" shape: [-1, 2] }
parameter { name: "emb" shape: [20, 2] init { uniform { low: -0.5 high: 0.5 } } }
node { name: "vectors" op: "Gather" input: ["emb", "tokens"] }
node { name: "question" op: "ReduceSum" input: "vectors" axes: [1] keepdims: false }
node { name: "pos_prod" op: "Mul" input: ["question", "correct"] }
node { name: "pos" op: "ReduceSum" input: "pos_prod" axes: [-1] keepdims: false }
node { name: "neg_prod" op: "Mul" input: ["question", "incorrect"] }
node { name: "neg" op: "ReduceSum" input: "neg_prod" axes: [-1] keepdims: false }
node { name: "margin" op: "Constant" value { float_data: [1] } }
node { name: "gap" op: "Sub" input: ["neg", "pos"] }
node { name: "hinge_pre" op: "Add" input: ["gap", "margin"] }
node { name: "hinge" op: "Relu" input: "hinge_pre" }
node { name: "loss" op: "ReduceMean" input: "hinge" axes: [0] keepdims: false }
loss { value: "loss" }
train {
  data {
    train: "qa.csv"
    test: "qa_test.csv"
    validation_split: 0.25
    text_column: "question"
    max_length: 4
    feed { input: "correct" column: ["c1", "c2"] }
    feed { input: "incorrect" column: ["i1", "i2"] }
  }
  batch_size: 4
  epochs: 8
  seed: 1
  optimizer { adam { learning_rate: 0.05 } }
}
)";

TEST_F(NumericData, TextColumnAndNumericFeedsTrainTogether) {
  // Questions about "up" want the code (1, 0), about "down" (0, 1).
  std::string csv = "question,c1,c2,i1,i2\n";
  for (int i = 0; i < 16; ++i) csv += i % 2 ? "which way is up,1,0,0,1\n" : "which way is down,0,1,1,0\n";
  write("qa.csv", csv);
  write("qa_test.csv", "question,c1,c2,i1,i2\nup or not,1,0,0,1\n");
  const Dataset ds = load_model(kQuestionAnswerModel);
  ASSERT_EQ(ds.inputs, (std::vector<std::string>{"correct", "incorrect", "tokens"}));
  EXPECT_EQ(ds.train.size(), 12);
  EXPECT_EQ(ds.validation.size(), 4);
  ASSERT_TRUE(ds.vocabulary.has_value());
  // Each row's tokens go with its own codes: "up" and "down" rows keep their answers.
  const int64_t up = ds.vocabulary->ids("up")[0];
  for (const Split* s : {&ds.train, &ds.validation}) {
    ASSERT_EQ(s->columns[2].dims(), (Dims{s->size(), 4}));
    for (int64_t r = 0; r < s->size(); ++r)
      EXPECT_EQ(s->columns[2].data<int64_t>()[r * 4 + 3] == up, s->columns[0].data<float>()[r * 2] == 1.f) << r;
  }

  TrainOptions o;
  o.quiet = true;
  o.run_dir = path("run");
  const TrainResult r = train(path("model.pbtxt"), o);
  EXPECT_LT(r.epochs.back().metrics[0].second, r.epochs.front().metrics[0].second);
  EXPECT_TRUE(fs::exists(path("run/vocab.txt")));
  fs::remove(path("qa.csv"));  // the test split alone, tokenized with the run's vocabulary
  EXPECT_DOUBLE_EQ(evaluate(path("run/model.pbtxt"), path("run"), "test", o).metrics[0].second,
                   r.test_metrics[0].second);
}

// examples/mlp/train.pbtxt: numeric columns only; loss falls, eval (also of the
// run directory's copy) scores the kept checkpoint, resume equals an uninterrupted run.
TEST(NumericTraining, MlpExampleTrainsEvaluatesAndResumes) {
  const std::string model = kSource + "/examples/mlp/train.pbtxt";
  const fs::path dir = testing::fresh_temp_path("numeric_mlp");
  TrainOptions o;
  o.quiet = true;
  o.run_dir = (dir / "run").string();
  const TrainResult r = train(model, o);
  ASSERT_EQ(r.epochs.size(), 20u);
  EXPECT_LT(r.epochs.back().metrics[0].second, 0.5 * r.epochs.front().metrics[0].second);
  EXPECT_EQ(testing::file_text(o.run_dir + "/metrics.csv").substr(0, 42),
            "epoch,loss,accuracy,val_loss,val_accuracy\n");
  EXPECT_FALSE(fs::exists(o.run_dir + "/vocab.txt"));
  ASSERT_EQ(r.test_metrics.size(), 2u);
  EXPECT_GT(r.test_metrics[1].second, 0.8);
  for (const std::string& m : {model, o.run_dir + "/model.pbtxt"}) {
    const EvalResult e = evaluate(m, o.run_dir, "test", o);
    EXPECT_EQ(e.examples, 45);
    EXPECT_DOUBLE_EQ(e.metrics[1].second, r.test_metrics[1].second);
    EXPECT_EQ(e.confusion.size(), 3u);
  }
  // The command line, pointed at the run directory's copy.
  const testing::CliResult cli = testing::cli("eval " + o.run_dir + "/model.pbtxt --checkpoint " + o.run_dir);
  EXPECT_EQ(cli.exit_code, 0) << cli.output;
  EXPECT_NE(cli.output.find("test: 45 examples"), std::string::npos) << cli.output;
  testing::expect_resume_equals_uninterrupted(model, (dir / "straight").string(), (dir / "resumed").string(), 3, 6,
                                              (dir / "resumed" / "model.pbtxt").string());
  EXPECT_THROW(predict(model, o.run_dir, {"a text"}), Error);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace graphrun
