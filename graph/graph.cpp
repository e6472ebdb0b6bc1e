#include "graph/graph.h"

#include <fmt/format.h>

#include "graphrun/error.h"

namespace graphrun {

std::string SourceLocation::str() const {
  if (file.empty() && line == 0) return "";
  if (line == 0) return file + ": ";
  return fmt::format("{}:{}:{}: ", file, line, column);
}

ValueId Graph::add_value(std::string name, ValueKind kind, TensorType type) {
  if (value_by_name_.count(name)) throw Error(fmt::format("value '{}' is defined twice", name));
  const auto id = static_cast<ValueId>(values_.size());
  Value v;
  v.id = id;
  v.name = name;
  v.kind = kind;
  v.type = std::move(type);
  values_.push_back(std::move(v));
  value_by_name_.emplace(std::move(name), id);
  return id;
}

std::optional<ValueId> Graph::find_value(std::string_view name) const {
  auto it = value_by_name_.find(name);
  if (it == value_by_name_.end()) return std::nullopt;
  return it->second;
}

NodeId Graph::add_node(pb::Node def, std::vector<ValueId> inputs, std::vector<ValueId> outputs,
                       SourceLocation location) {
  if (node_by_name_.count(def.name()))
    throw Error(fmt::format("{}node name '{}' is used twice", location.str(), def.name()));
  const auto id = static_cast<NodeId>(nodes_.size());
  Node n;
  n.id = id;
  n.def = std::move(def);
  n.inputs = std::move(inputs);
  n.outputs = std::move(outputs);
  n.location = std::move(location);
  for (ValueId in : n.inputs) value(in).consumers.push_back(id);
  for (size_t port = 0; port < n.outputs.size(); ++port) {
    Value& out = value(n.outputs[port]);
    out.producer = id;
    out.producer_port = static_cast<int>(port);
  }
  node_by_name_.emplace(n.def.name(), id);
  nodes_.push_back(std::move(n));
  return id;
}

std::optional<NodeId> Graph::find_node(std::string_view name) const {
  auto it = node_by_name_.find(name);
  if (it == node_by_name_.end() || nodes_[static_cast<size_t>(it->second)].removed) return std::nullopt;
  return it->second;
}

std::vector<NodeId> Graph::live_nodes() const {
  std::vector<NodeId> ids;
  for (const Node& n : nodes_)
    if (!n.removed) ids.push_back(n.id);
  return ids;
}

void Graph::remove_node(NodeId id) {
  Node& n = node(id);
  for (ValueId in : n.inputs) {
    auto& consumers = value(in).consumers;
    std::erase(consumers, id);
  }
  for (ValueId out : n.outputs) value(out).producer = kNoNode;
  node_by_name_.erase(n.def.name());
  n.removed = true;
}

const ParameterDef* Graph::find_parameter(ValueId value) const {
  for (const ParameterDef& p : parameters)
    if (p.value == value) return &p;
  return nullptr;
}

std::string describe(const Node& node) { return fmt::format("node '{}' ({})", node.name(), node.op()); }

}  // namespace graphrun
