// An embedding table's gradient reaches the optimizer as the rows a batch
// gathered (TrainingSetup::gradient_fetches): the step never builds the table of
// zeros, and the update is bit for bit the one the dense GatherGrad gives.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <numeric>

#include "runtime/train/optimizer.h"
#include "runtime/train/setup.h"
#include "tests/temp_dir.h"

namespace graphrun {
namespace {

namespace fs = std::filesystem;
// emb [400, 16] feeds one Gather; Adam with clip_global_norm, batches of 8.
const std::string kTinyModel = std::string(GRAPHRUN_SOURCE_DIR) + "/tests/runtime/models/tiny_text.pbtxt";

std::vector<Tensor> clones(const std::vector<Tensor>& tensors) {
  std::vector<Tensor> out;
  for (const Tensor& t : tensors) out.push_back(t.clone());
  return out;
}

TEST(TableGradient, RowsUpdateTheTableAsTheDenseGradientDoes) {
  const TrainingSetup setup(kTinyModel, TrainOptions{});
  const ValueId table = *setup.graph->find_value("emb");
  const int64_t table_elements = setup.graph->value(table).type.num_elements();

  // Both runs fetch the loss, then the gradients: dense as autodiff built them, or as gradient_fetches() says.
  std::vector<ValueId> dense_fetches = {setup.gradients.loss}, row_fetches = dense_fetches;
  for (size_t i : setup.trainable)
    dense_fetches.push_back(setup.gradients.gradients.at(setup.graph->parameters[i].value));
  for (ValueId v : setup.gradient_fetches()) row_fetches.push_back(v);
  ASSERT_EQ(row_fetches.size(), dense_fetches.size() + 1);  // the table's gradient is two values: indices, rows

  std::vector<Tensor> dense_params = clones(setup.params), row_params = clones(setup.params);
  Optimizer dense = setup.new_optimizer(), rows = setup.new_optimizer();
  const auto trainable = [&](std::vector<Tensor>& params) {
    std::vector<Tensor> out;
    for (size_t i : setup.trainable) out.push_back(params[i]);
    return out;
  };

  std::vector<size_t> order(static_cast<size_t>(setup.dataset.train.size()));
  std::iota(order.begin(), order.end(), 0);
  for (size_t begin = 0; begin + 8 <= order.size() && begin < 10 * 8; begin += 8) {
    const std::vector<Tensor> feeds = setup.feeds(setup.dataset.train.gather(order, begin, begin + 8));
    const RunContext context{true, begin};
    const std::vector<Tensor> dense_out = setup.runner->run(feeds, dense_params, dense_fetches, context);
    const std::vector<Tensor> row_out = setup.runner->run(feeds, row_params, row_fetches, context);
    std::vector<Tensor> dense_step = trainable(dense_params), row_step = trainable(row_params);
    ASSERT_FALSE(dense.apply(dense_step, {dense_out.begin() + 1, dense_out.end()}).has_value());
    ASSERT_FALSE(rows.apply(row_step, setup.gradients_of(row_out, 1)).has_value());

    // The dense run fetched the table-sized gradient; the row run fetched nothing that large.
    int64_t dense_largest = 0, row_largest = 0;
    for (const Tensor& t : dense_out) dense_largest = std::max(dense_largest, t.num_elements());
    for (const Tensor& t : row_out) row_largest = std::max(row_largest, t.num_elements());
    EXPECT_EQ(dense_largest, table_elements);
    EXPECT_LT(row_largest, table_elements / 4);
  }
  EXPECT_EQ(rows.iterations(), 10);
  for (size_t i = 0; i < setup.params.size(); ++i)
    EXPECT_EQ(std::memcmp(dense_params[i].raw_data(), row_params[i].raw_data(), dense_params[i].num_bytes()), 0)
        << setup.graph->value(setup.graph->parameters[i].value).name;
  EXPECT_EQ(dense.last_global_norm(), rows.last_global_norm());
}

// A table that is not only gathered on axis 0 keeps its dense gradient.
TEST(TableGradient, OtherUsesOfTheTableKeepTheDenseGradient) {
  const fs::path dir = testing::fresh_temp_path("table_gradient");
  fs::create_directories(dir);
  std::ofstream(dir / "model.pbtxt") << R"(version: 1
name: "tables"
input { name: "tokens" dtype: INT64 shape: [-1, 3] }
parameter { name: "gathered" shape: [10, 4] }
parameter { name: "tied" shape: [10, 4] }
parameter { name: "columns" shape: [4, 10] }
node { name: "a" op: "Gather" input: ["gathered", "tokens"] }
node { name: "b" op: "Gather" input: ["tied", "tokens"] }
node { name: "b_sq" op: "Mul" input: ["tied", "tied"] }
node { name: "c" op: "Gather" input: ["columns", "tokens"] axis: 1 }
node { name: "sa" op: "ReduceSum" input: "a" keepdims: false }
node { name: "sb" op: "ReduceSum" input: "b" keepdims: false }
node { name: "sb2" op: "ReduceSum" input: "b_sq" keepdims: false }
node { name: "sc" op: "ReduceSum" input: "c" keepdims: false }
node { name: "ab" op: "Add" input: ["sa", "sb"] }
node { name: "abb" op: "Add" input: ["ab", "sb2"] }
node { name: "loss" op: "Add" input: ["abb", "sc"] }
loss { value: "loss" }
)";
  const TrainingSetup setup((dir / "model.pbtxt").string(), TrainOptions{}, {}, TrainingSetup::DataNeed::if_configured);
  fs::remove_all(dir);
  const std::vector<ValueId> fetches = setup.gradient_fetches();
  ASSERT_EQ(setup.trainable.size(), 3u);
  ASSERT_EQ(fetches.size(), 4u);
  // gathered: its GatherGrad's indices, then the rows' gradients.
  const Node& gather_grad = setup.graph->node(
      setup.graph->value(setup.gradients.gradients.at(*setup.graph->find_value("gathered"))).producer);
  ASSERT_EQ(gather_grad.op(), "GatherGrad");
  EXPECT_EQ(fetches[0], *setup.graph->find_value("tokens"));
  EXPECT_EQ(fetches[1], gather_grad.inputs[0]);
  EXPECT_EQ(fetches[2], setup.gradients.gradients.at(*setup.graph->find_value("tied")));
  EXPECT_EQ(fetches[3], setup.gradients.gradients.at(*setup.graph->find_value("columns")));
}

}  // namespace
}  // namespace graphrun
