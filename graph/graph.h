// The in-memory graph IR.
//
// A Graph holds values and nodes with stable integer ids: removing a node leaves
// a tombstone, so ids held elsewhere (plans, gradient maps) never shift. This is
// why the IR is our own and not a Boost.Graph adjacency_list, whose vertex
// descriptors are invalidated by removal (Boost is used behind graph_algo.cpp).
//
// Values are named: graph inputs, parameters and node outputs share one name
// space. Each node keeps its protobuf definition (op, attributes), which is what
// `graphrun grad` prints back and what op rules read their attributes from.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "graph/shape.h"
#include "graphrun.pb.h"

namespace graphrun {

using ValueId = int32_t;
using NodeId = int32_t;
constexpr ValueId kNoValue = -1;
constexpr NodeId kNoNode = -1;

// Where a definition came from in the .pbtxt, for error messages.
struct SourceLocation {
  std::string file;
  int line = 0;             // 1-based; 0 = unknown (e.g. a node built by autodiff)
  int column = 0;           // 1-based
  std::string str() const;  // "file:line:col: " or "" when unknown
};

enum class ValueKind { input, parameter, node_output };

struct Value {
  ValueId id = kNoValue;
  std::string name;
  ValueKind kind = ValueKind::node_output;
  TensorType type;                // inferred (or declared for inputs/params)
  NodeId producer = kNoNode;      // for node outputs
  int producer_port = 0;          // which output of the producer
  std::vector<NodeId> consumers;  // nodes reading this value (with repeats)
};

struct Node {
  NodeId id = kNoNode;
  pb::Node def;  // name, op, attributes as written
  std::vector<ValueId> inputs;
  std::vector<ValueId> outputs;
  SourceLocation location;
  bool removed = false;

  const std::string& name() const { return def.name(); }
  const std::string& op() const { return def.op(); }
};

struct ParameterDef {
  ValueId value = kNoValue;
  pb::Parameter def;
  bool trainable() const { return !def.has_trainable() || def.trainable(); }
};

struct LossTermDef {
  ValueId value = kNoValue;
  float weight = 1.0f;
};

class Graph {
 public:
  // Values.
  ValueId add_value(std::string name, ValueKind kind, TensorType type);
  const Value& value(ValueId id) const { return values_.at(static_cast<size_t>(id)); }
  Value& value(ValueId id) { return values_.at(static_cast<size_t>(id)); }
  std::optional<ValueId> find_value(std::string_view name) const;
  size_t num_values() const { return values_.size(); }

  // Nodes. add_node wires consumers and producers; the caller has created the
  // output values (via add_value) beforehand or lets add_node create them.
  NodeId add_node(pb::Node def, std::vector<ValueId> inputs, std::vector<ValueId> outputs,
                  SourceLocation location = {});
  const Node& node(NodeId id) const { return nodes_.at(static_cast<size_t>(id)); }
  Node& node(NodeId id) { return nodes_.at(static_cast<size_t>(id)); }
  std::optional<NodeId> find_node(std::string_view name) const;
  size_t num_node_slots() const { return nodes_.size(); }  // including removed ones
  std::vector<NodeId> live_nodes() const;
  void remove_node(NodeId id);  // leaves a tombstone; its outputs lose their producer

  // Model-level declarations.
  std::vector<ValueId> inputs;
  std::vector<ParameterDef> parameters;
  std::vector<ValueId> outputs;
  std::vector<LossTermDef> loss_terms;
  std::string name;
  std::string source_file;  // the .pbtxt this graph was loaded from ("" if built in code)
  uint64_t seed = 0;

  const ParameterDef* find_parameter(ValueId value) const;

 private:
  std::vector<Value> values_;
  std::vector<Node> nodes_;
  std::map<std::string, ValueId, std::less<>> value_by_name_;
  std::map<std::string, NodeId, std::less<>> node_by_name_;
};

// "node 'fc1' (MatMul)": how errors name a node.
std::string describe(const Node& node);

}  // namespace graphrun
