// Loading models: every class of bad input gets a one-line Error naming the
// place at fault; good models get every type inferred.
#include <gtest/gtest.h>

#include <string>

#include "graph/graph_algo.h"
#include "graph/loader.h"
#include "graph/shape.h"
#include "graphrun/tensor.h"
#include "ops/registry.h"

namespace graphrun {
namespace {

Graph parse(const std::string& text) {
  ModelLocations locations;
  pb::Model model = parse_model_text(text, "m.pbtxt", &locations);
  return build_graph(model, builtin_ops(), &locations);
}

// Expects loading `text` to fail with a message containing every fragment.
void expect_error(const std::string& text, std::initializer_list<std::string> fragments) {
  try {
    parse(text);
    FAIL() << "expected an error for:\n" << text;
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_EQ(message.find('\n'), std::string::npos) << "not one line: " << message;
    for (const std::string& f : fragments)
      EXPECT_NE(message.find(f), std::string::npos) << "'" << f << "' not in: " << message;
  }
}

const char* kHeader = "version: 1\ninput { name: \"x\" shape: [-1, 4] }\n";

TEST(Loader, InfersTypesWithDynamicBatch) {
  Graph g = parse(std::string(kHeader) + "node { name: \"y\" op: \"Relu\" input: \"x\" }\noutput: \"y\"\n");
  const Value& y = g.value(*g.find_value("y"));
  EXPECT_EQ(y.type, (TensorType{DType::f32, {-1, 4}}));
  EXPECT_EQ(g.outputs.size(), 1u);
}

TEST(Loader, NodesMayBeWrittenInAnyOrder) {
  Graph g = parse(std::string(kHeader) +
                  "node { name: \"b\" op: \"Tanh\" input: \"a\" }\n"
                  "node { name: \"a\" op: \"Relu\" input: \"x\" }\n");
  const auto order = topological_order(g);
  ASSERT_EQ(order.size(), 2u);
  EXPECT_EQ(g.node(order[0]).name(), "a");
}

TEST(Loader, SyntaxErrorHasLineAndColumn) {
  expect_error("version: 1\ninput { name: \"x\" shape: [-1, 4] \n node {", {"m.pbtxt:3:", "m.pbtxt"});
  expect_error("version: 1\nnode { name: \"y\" op: \"Softmax\" axis: \"one\" }\n", {"m.pbtxt:2:"});
  expect_error("version: 1\nnodes { name: \"y\" }\n", {"m.pbtxt:2:", "no field named \"nodes\""});
}

TEST(Loader, MissingVersion) { expect_error("input { name: \"x\" shape: [2] }\n", {"version"}); }

TEST(Loader, UnknownOpNamesNodeLineAndSuggestion) {
  expect_error(std::string(kHeader) + "\nnode { name: \"h\" op: \"relu\" input: \"x\" }\n",
               {"m.pbtxt:4:", "node 'h'", "unknown op 'relu'", "did you mean 'Relu'"});
}

TEST(Loader, MissingInput) {
  expect_error(std::string(kHeader) + "node { name: \"h\" op: \"Relu\" input: \"z\" }\n",
               {"m.pbtxt:3:", "node 'h' (Relu)", "input 'z' is not defined"});
}

TEST(Loader, WrongInputCount) {
  expect_error(std::string(kHeader) + "node { name: \"h\" op: \"Relu\" input: [\"x\", \"x\"] }\n",
               {"node 'h' (Relu)", "has 2 inputs, expected 1"});
}

TEST(Loader, DuplicateNames) {
  expect_error(std::string(kHeader) +
                   "node { name: \"h\" op: \"Relu\" input: \"x\" }\n"
                   "node { name: \"h\" op: \"Tanh\" input: \"x\" }\n",
               {"m.pbtxt:4:", "node name 'h' is used twice"});
  expect_error(std::string(kHeader) + "parameter { name: \"x\" shape: [3] }\n",
               {"m.pbtxt:3:", "parameter 'x'", "already defined"});
  expect_error(std::string(kHeader) + "node { name: \"h\" op: \"Relu\" input: \"x\" output: \"x\" }\n",
               {"node 'h' (Relu)", "output 'x' is already defined"});
}

TEST(Loader, AttributeTheOpDoesNotTake) {
  expect_error(std::string(kHeader) + "node { name: \"h\" op: \"Relu\" input: \"x\" axis: 1 }\n",
               {"m.pbtxt:3:", "node 'h' (Relu)", "no attribute 'axis'"});
}

TEST(Loader, CycleNamesANode) {
  expect_error(std::string(kHeader) +
                   "node { name: \"a\" op: \"Relu\" input: \"b\" }\n"
                   "node { name: \"b\" op: \"Tanh\" input: \"a\" }\n",
               {"cycle", "node '"});
}

TEST(Loader, ShapeMismatchNamesNodeOpAndShapes) {
  expect_error(std::string(kHeader) +
                   "input { name: \"i\" dtype: INT64 shape: [-1, 4] }\n"
                   "node { name: \"h\" op: \"Tanh\" input: \"i\" }\n",
               {"m.pbtxt:4:", "shape inference failed for node 'h' (Tanh)", "int64[?,4]"});
}

TEST(Loader, BadDeclarations) {
  expect_error("version: 1\ninput { name: \"x\" shape: [0, 4] }\n", {"m.pbtxt:2:", "input 'x'", "dimension 0"});
  expect_error("version: 1\nparameter { name: \"w\" shape: [-1, 4] }\n", {"parameter 'w'", "dimension -1"});
  expect_error(std::string(kHeader) + "output: \"nope\"\n", {"output 'nope' is not defined"});
  expect_error(std::string(kHeader) + "loss { value: \"x\" }\n", {"loss term 'x' must be a float32 scalar"});
}

TEST(Loader, ElementCountsBeyondTheCapAreErrorsNotWrapAround) {
  // 4611686018427387907 * 4 wraps int64 to 12.
  expect_error("version: 1\nparameter { name: \"w\" shape: [4611686018427387907, 4] }\n",
               {"m.pbtxt:2:", "parameter 'w'", "shape [4611686018427387907,4] has more than 2^40 elements"});
  expect_error("version: 1\ninput { name: \"x\" shape: [-1, 4611686018427387907, 4] }\n",
               {"m.pbtxt:2:", "input 'x' (its fixed dims)", "has more than 2^40 elements"});
  EXPECT_NO_THROW(parse("version: 1\nparameter { name: \"w\" shape: [1048576, 1048576] }\n"));  // exactly 2^40
}

TEST(Shape, CheckedNumElementsNamesTheShapeAtFault) {
  EXPECT_EQ(checked_num_elements({2, 3, 4}, "t"), 24);
  EXPECT_EQ(checked_num_elements({}, "t"), 1);
  EXPECT_EQ(checked_num_elements({0, int64_t{1} << 62, int64_t{1} << 62}, "t"), 0);
  EXPECT_EQ(checked_num_bytes(DType::i64, {3, 5}, "t"), 120u);
  auto message = [](const Dims& dims) {
    try {
      checked_num_elements(dims, "t");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  EXPECT_EQ(message({int64_t{1} << 40, 2}), "t: shape [1099511627776,2] has more than 2^40 elements");
  EXPECT_EQ(message({int64_t{1} << 62, int64_t{1} << 62}),
            "t: shape [4611686018427387904,4611686018427387904] has "
            "more than 2^40 elements");
  EXPECT_EQ(message({2, -1}), "t: dimension -1 of shape [2,-1] is negative");
}

TEST(Tensor, ConstructionAndReshapeRejectOverflowingShapes) {
  EXPECT_THROW(Tensor(DType::f32, {4611686018427387907, 4}), Error);
  EXPECT_THROW(Tensor::uninitialized(DType::i64, {int64_t{1} << 41}), Error);
  EXPECT_THROW(Tensor(DType::f32, {-2, 3}), Error);
  // Wrapped around, this shape has the 12 elements of the tensor.
  EXPECT_THROW(Tensor(DType::f32, {3, 4}).reshaped({4611686018427387907, 4}), Error);
}

TEST(Loader, DirectoryAsModelPathIsNamedAsSuch) {
  const std::string dir = ::testing::TempDir();
  try {
    read_model_file(dir);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), dir + ": is a directory, not a model file");
  }
}

TEST(Loader, MissingFileNamesThePath) {
  try {
    load_graph("/nonexistent/model.pbtxt", builtin_ops());
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/model.pbtxt"), std::string::npos);
  }
}

TEST(GraphAlgo, ReachabilityAndGraphviz) {
  Graph g = parse(std::string(kHeader) +
                  "node { name: \"a\" op: \"Relu\" input: \"x\" }\n"
                  "node { name: \"b\" op: \"Tanh\" input: \"a\" }\n"
                  "node { name: \"c\" op: \"Exp\" input: \"x\" }\n");
  const auto needed = nodes_needed_for(g, {*g.find_value("b")});
  EXPECT_TRUE(needed[static_cast<size_t>(*g.find_node("a"))]);
  EXPECT_FALSE(needed[static_cast<size_t>(*g.find_node("c"))]);
  const auto downstream = values_reachable_from(g, {*g.find_value("a")});
  EXPECT_TRUE(downstream[static_cast<size_t>(*g.find_value("b"))]);
  EXPECT_FALSE(downstream[static_cast<size_t>(*g.find_value("c"))]);
  const std::string dot = to_graphviz(g);
  EXPECT_NE(dot.find("digraph"), std::string::npos);
  EXPECT_NE(dot.find("Tanh"), std::string::npos);
}

}  // namespace
}  // namespace graphrun
