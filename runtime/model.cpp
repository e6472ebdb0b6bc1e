#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include <filesystem>
#include <set>

#include "graph/graph_algo.h"
#include "graph/loader.h"
#include "graphrun/graphrun.h"
#include "ops/registry.h"
#include "runtime/model_data.h"

namespace graphrun {

namespace {

std::shared_ptr<detail::ModelData> parse_model_data(const std::string& pbtxt, const std::string& source_name) {
  auto data = std::make_shared<detail::ModelData>();
  ModelLocations locations;
  data->proto = parse_model_text(pbtxt, source_name, &locations);
  data->graph = build_graph(data->proto, builtin_ops(), &locations);
  data->text = pbtxt;
  return data;
}

const TensorType& type_of(const detail::ModelData& data, const std::string& value_name) {
  auto id = data.graph.find_value(value_name);
  if (!id) throw Error(fmt::format("model '{}' has no value '{}'", data.graph.name, value_name));
  return data.graph.value(*id).type;
}

}  // namespace

Model Model::load(const std::string& path) {
  std::shared_ptr<detail::ModelData> data = parse_model_data(read_model_text(path), path);
  data->path = path;
  // data_dir (a run directory's model copy sets it) moves where relative paths resolve.
  std::filesystem::path directory = std::filesystem::path(path).parent_path();
  if (!data->proto.data_dir().empty()) directory /= data->proto.data_dir();
  data->directory = directory.string();
  return Model(std::move(data));
}

Model Model::parse(const std::string& pbtxt, const std::string& source_name) {
  return Model(parse_model_data(pbtxt, source_name));
}

const std::string& Model::name() const { return data_->graph.name; }

std::vector<std::string> Model::input_names() const {
  std::vector<std::string> names;
  for (ValueId v : data_->graph.inputs) names.push_back(data_->graph.value(v).name);
  return names;
}

std::vector<std::string> Model::output_names() const {
  std::vector<std::string> names;
  for (ValueId v : data_->graph.outputs) names.push_back(data_->graph.value(v).name);
  return names;
}

std::vector<std::string> Model::parameter_names() const {
  std::vector<std::string> names;
  for (const ParameterDef& p : data_->graph.parameters) names.push_back(data_->graph.value(p.value).name);
  return names;
}

std::string Model::value_type(const std::string& value_name) const { return type_str(type_of(*data_, value_name)); }
DType Model::value_dtype(const std::string& value_name) const { return type_of(*data_, value_name).dtype; }
Dims Model::value_dims(const std::string& value_name) const { return type_of(*data_, value_name).dims; }

ModelSummary Model::summary() const {
  const Graph& g = data_->graph;
  ModelSummary summary;
  std::set<ValueId> counted;
  for (NodeId id : topological_order(g)) {
    const Node& node = g.node(id);
    NodeSummary row{node.name(), node.op(), "", 0, ""};
    if (const OpSchema* schema = builtin_ops().find_schema(node.op()); schema && schema->note) {
      std::vector<TensorType> in_types;
      for (ValueId in : node.inputs) in_types.push_back(g.value(in).type);
      row.note = schema->note(node, in_types);
    }
    for (ValueId out : node.outputs)
      row.output_types += (row.output_types.empty() ? "" : " ") + type_str(g.value(out).type);
    for (ValueId in : node.inputs) {
      const ParameterDef* p = g.find_parameter(in);
      if (!p || !counted.insert(in).second) continue;  // shared parameters count once
      const int64_t n = g.value(in).type.num_elements();
      row.parameters += n;
      (p->trainable() ? summary.trainable_parameters : summary.non_trainable_parameters) += n;
    }
    summary.nodes.push_back(std::move(row));
  }
  return summary;
}

std::string ModelSummary::to_string() const {
  size_t name_w = 4, op_w = 2, type_w = 12;
  for (const NodeSummary& n : nodes) {
    name_w = std::max(name_w, n.name.size());
    op_w = std::max(op_w, n.op.size());
    type_w = std::max(type_w, n.output_types.size());
  }
  std::string out =
      fmt::format("{:<{}}  {:<{}}  {:<{}}  {:>12}\n", "node", name_w, "op", op_w, "output shape", type_w, "params");
  out += std::string(name_w + op_w + type_w + 18, '-') + "\n";
  for (const NodeSummary& n : nodes)
    out += fmt::format("{:<{}}  {:<{}}  {:<{}}  {:>12L}{}\n", n.name, name_w, n.op, op_w, n.output_types, type_w,
                       n.parameters, n.note.empty() ? "" : "  " + n.note);
  out += std::string(name_w + op_w + type_w + 18, '-') + "\n";
  auto with_commas = [](int64_t v) {
    std::string s = std::to_string(v);
    for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(static_cast<size_t>(i), ",");
    return s;
  };
  out +=
      fmt::format("Total params: {}\nTrainable params: {}\nNon-trainable params: {}\n", with_commas(total_parameters()),
                  with_commas(trainable_parameters), with_commas(non_trainable_parameters));
  return out;
}

std::string Model::graphviz() const { return to_graphviz(data_->graph); }

std::string op_reference_markdown() {
  std::string out =
      "# Op reference\n\nGenerated from the op registry by `graphrun ops`; do not edit by hand.\n"
      "Inputs in brackets are optional. Attributes are typed fields of `node { ... }` (see proto/graphrun.proto).\n\n"
      "| op | inputs | outputs | attributes | semantics |\n|---|---|---|---|---|\n";
  const OpRegistry& ops = builtin_ops();
  for (const std::string& name : ops.op_names()) {
    const OpSchema& s = ops.get(name).schema;
    std::string inputs;
    for (size_t i = 0; i < s.input_names.size(); ++i) {
      const bool optional = static_cast<int>(i) >= s.min_inputs;
      inputs += (i ? ", " : "") + (optional ? "[" + s.input_names[i] + "]" : s.input_names[i]);
    }
    if (s.variadic_inputs) inputs += ", ...";
    std::string doc = s.doc;
    std::replace(doc.begin(), doc.end(), '\n', ' ');
    for (size_t at = doc.find('|'); at != std::string::npos; at = doc.find('|', at + 2)) doc.replace(at, 1, "\\|");
    out += fmt::format("| {} | {} | {} | {} | {} |\n", name, inputs, fmt::join(s.output_names, ", "),
                       s.attrs.empty() ? "" : fmt::format("{}", fmt::join(s.attrs, ", ")), doc);
  }
  return out;
}

}  // namespace graphrun
