#include "graph/loader.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "graph/graph_algo.h"
#include "graph/shape.h"
#include "graphrun/error.h"

namespace graphrun {
namespace {

namespace gp = google::protobuf;

// Keeps the first syntax error; protobuf reports 0-based lines and columns.
class FirstErrorCollector : public gp::io::ErrorCollector {
 public:
  void AddError(int line, gp::io::ColumnNumber column, const std::string& message) override {
    if (message_.empty()) message_ = fmt::format("{}:{}: {}", line + 1, column + 1, message);
  }
  void AddWarning(int, gp::io::ColumnNumber, const std::string&) override {}
  const std::string& message() const { return message_; }

 private:
  std::string message_;
};

SourceLocation location_of(const gp::TextFormat::ParseInfoTree* tree, const std::string& file) {
  SourceLocation loc{file, 0, 0};
  if (!tree) return loc;
  // The location of the message's first field: where its body starts.
  for (const char* field : {"name", "op"}) {
    const gp::FieldDescriptor* fd = pb::Node::descriptor()->FindFieldByName(field);
    const auto l = tree->GetLocation(fd, -1);
    if (l.line >= 0) return SourceLocation{file, l.line + 1, l.column + 1};
  }
  return loc;
}

void record_locations(const gp::TextFormat::ParseInfoTree& tree, const pb::Model& model, const std::string& file,
                      ModelLocations* out) {
  out->file = file;
  const gp::Descriptor* d = pb::Model::descriptor();
  auto collect = [&](const char* field, int count, std::vector<SourceLocation>* into) {
    const gp::FieldDescriptor* fd = d->FindFieldByName(field);
    for (int i = 0; i < count; ++i) {
      const gp::TextFormat::ParseInfoTree* sub = tree.GetTreeForNested(fd, i);
      SourceLocation loc{file, 0, 0};
      if (sub) {
        // name is a field of Node, Parameter and Input alike.
        const gp::FieldDescriptor* name_fd = fd->message_type()->FindFieldByName("name");
        const auto l = sub->GetLocation(name_fd, -1);
        if (l.line >= 0)
          loc = SourceLocation{file, l.line + 1, l.column + 1};
        else
          loc = location_of(sub, file);
      }
      into->push_back(loc);
    }
  };
  collect("node", model.node_size(), &out->nodes);
  collect("parameter", model.parameter_size(), &out->parameters);
  collect("input", model.input_size(), &out->inputs);
}

// Fields of pb::Node that are structure, not attributes.
bool is_structural_field(const std::string& name) {
  return name == "name" || name == "op" || name == "input" || name == "output";
}

std::string suggest_op(std::string_view op, const OpCatalog& ops) {
  // A near miss differs only in case (e.g. "matmul" for "MatMul").
  for (const std::string& known : ops.op_names()) {
    if (known.size() != op.size()) continue;
    bool same = true;
    for (size_t i = 0; i < op.size() && same; ++i) same = std::tolower(known[i]) == std::tolower(op[i]);
    if (same) return fmt::format(" (did you mean '{}'?)", known);
  }
  return "";
}

TensorType declared_type(pb::DType dtype, const gp::RepeatedField<int64_t>& shape) {
  TensorType t;
  t.dtype = dtype == pb::INT64 ? DType::i64 : DType::f32;
  t.dims.assign(shape.begin(), shape.end());
  return t;
}

}  // namespace

pb::Model parse_model_text(const std::string& text, const std::string& file_name, ModelLocations* locations) {
  gp::TextFormat::Parser parser;
  FirstErrorCollector errors;
  parser.RecordErrorsTo(&errors);
  gp::TextFormat::ParseInfoTree tree;
  parser.WriteLocationsTo(&tree);
  pb::Model model;
  if (!parser.ParseFromString(text, &model)) {
    throw Error(fmt::format("{}:{}", file_name, errors.message().empty() ? "0:0: parse error" : errors.message()));
  }
  if (locations) record_locations(tree, model, file_name, locations);
  return model;
}

std::string read_model_text(const std::string& path) {
  // A directory opens as a stream that reads nothing, which would parse as an empty model.
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw Error(fmt::format("{}: is a directory, not a model file", path));
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(fmt::format("{}: cannot open model file ({})", path, std::strerror(errno)));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

pb::Model read_model_file(const std::string& path, ModelLocations* locations) {
  return parse_model_text(read_model_text(path), path, locations);
}

Graph build_graph(const pb::Model& model, const OpCatalog& ops, const ModelLocations* locations) {
  const std::string file = locations ? locations->file : std::string();
  auto where = [](const std::vector<SourceLocation>* locs, int i, const std::string& f) {
    if (locs && i < static_cast<int>(locs->size())) return (*locs)[static_cast<size_t>(i)];
    return SourceLocation{f, 0, 0};
  };
  const SourceLocation file_loc{file, 0, 0};

  if (model.version() != 1)
    throw Error(fmt::format("{}unsupported model version {} (this graphrun reads version 1; write `version: 1`)",
                            file_loc.str(), model.version()));

  Graph graph;
  graph.name = model.name();
  graph.source_file = file;
  graph.seed = model.seed();

  auto define = [&](const std::string& name, ValueKind kind, TensorType type, const SourceLocation& loc,
                    const char* what) {
    if (name.empty()) throw Error(fmt::format("{}{} without a name", loc.str(), what));
    if (graph.find_value(name))
      throw Error(fmt::format("{}{} '{}': the name is already defined", loc.str(), what, name));
    return graph.add_value(name, kind, std::move(type));
  };

  for (int i = 0; i < model.input_size(); ++i) {
    const pb::Input& in = model.input(i);
    const SourceLocation loc = where(locations ? &locations->inputs : nullptr, i, file);
    for (int64_t d : in.shape())
      if (d < -1 || d == 0)
        throw Error(
            fmt::format("{}input '{}': dimension {} is invalid (use a positive size or -1)", loc.str(), in.name(), d));
    // The batch (-1) is fed later and checked as a tensor; the fixed dims alone must not overflow.
    Dims fixed_dims;
    for (int64_t d : in.shape())
      if (d > 0) fixed_dims.push_back(d);
    checked_num_elements(fixed_dims, fmt::format("{}input '{}' (its fixed dims)", loc.str(), in.name()));
    graph.inputs.push_back(define(in.name(), ValueKind::input, declared_type(in.dtype(), in.shape()), loc, "input"));
  }
  for (int i = 0; i < model.parameter_size(); ++i) {
    const pb::Parameter& p = model.parameter(i);
    const SourceLocation loc = where(locations ? &locations->parameters : nullptr, i, file);
    for (int64_t d : p.shape())
      if (d <= 0)
        throw Error(fmt::format("{}parameter '{}': dimension {} is invalid (parameters have fixed positive sizes)",
                                loc.str(), p.name(), d));
    checked_num_elements(Dims(p.shape().begin(), p.shape().end()),
                         fmt::format("{}parameter '{}'", loc.str(), p.name()));
    ParameterDef def;
    def.def = p;
    def.value = define(p.name(), ValueKind::parameter, declared_type(p.dtype(), p.shape()), loc, "parameter");
    graph.parameters.push_back(std::move(def));
  }

  // First pass: define every node's outputs, so nodes may be written in any order.
  struct Pending {
    pb::Node def;
    SourceLocation loc;
    std::vector<ValueId> outputs;
  };
  std::vector<Pending> pending;
  std::set<std::string> node_names;
  for (int i = 0; i < model.node_size(); ++i) {
    Pending p{model.node(i), where(locations ? &locations->nodes : nullptr, i, file), {}};
    const pb::Node& def = p.def;
    if (def.name().empty()) throw Error(fmt::format("{}node #{} ({}) has no name", p.loc.str(), i + 1, def.op()));
    if (!node_names.insert(def.name()).second)
      throw Error(fmt::format("{}node name '{}' is used twice", p.loc.str(), def.name()));
    const OpSchema* schema = ops.find_schema(def.op());
    if (!schema)
      throw Error(
          fmt::format("{}node '{}': unknown op '{}'{}", p.loc.str(), def.name(), def.op(), suggest_op(def.op(), ops)));
    const int n_in = def.input_size();
    const int max_in = static_cast<int>(schema->input_names.size());
    if (n_in < schema->min_inputs || (!schema->variadic_inputs && n_in > max_in)) {
      const std::string expected = schema->variadic_inputs        ? fmt::format("at least {}", schema->min_inputs)
                                   : schema->min_inputs == max_in ? std::to_string(max_in)
                                                                  : fmt::format("{} to {}", schema->min_inputs, max_in);
      throw Error(fmt::format("{}node '{}' ({}): has {} inputs, expected {}", p.loc.str(), def.name(), def.op(), n_in,
                              expected));
    }
    const int n_out = static_cast<int>(schema->output_names.size());
    if (def.output_size() > n_out)
      throw Error(fmt::format("{}node '{}' ({}): names {} outputs, the op has {}", p.loc.str(), def.name(), def.op(),
                              def.output_size(), n_out));
    // Attributes: every set field must be one the op takes.
    std::vector<const gp::FieldDescriptor*> set_fields;
    def.GetReflection()->ListFields(def, &set_fields);
    for (const gp::FieldDescriptor* f : set_fields) {
      if (is_structural_field(f->name())) continue;
      if (std::find(schema->attrs.begin(), schema->attrs.end(), f->name()) == schema->attrs.end()) {
        std::string takes = schema->attrs.empty() ? "none" : fmt::format("{}", fmt::join(schema->attrs, ", "));
        throw Error(fmt::format("{}node '{}' ({}): the op takes no attribute '{}' (it takes: {})", p.loc.str(),
                                def.name(), def.op(), f->name(), takes));
      }
    }
    for (int k = 0; k < n_out; ++k) {
      std::string out_name =
          k < def.output_size() ? def.output(k) : (k == 0 ? def.name() : fmt::format("{}:{}", def.name(), k));
      if (out_name.empty()) out_name = fmt::format("{}:{}", def.name(), k);
      if (graph.find_value(out_name))
        throw Error(fmt::format("{}node '{}' ({}): output '{}' is already defined", p.loc.str(), def.name(), def.op(),
                                out_name));
      p.outputs.push_back(graph.add_value(out_name, ValueKind::node_output, TensorType{}));
    }
    pending.push_back(std::move(p));
  }

  // Second pass: resolve inputs.
  for (Pending& p : pending) {
    std::vector<ValueId> inputs;
    for (const std::string& in : p.def.input()) {
      auto id = graph.find_value(in);
      if (!id)
        throw Error(fmt::format("{}node '{}' ({}): input '{}' is not defined (not an input, parameter or node output)",
                                p.loc.str(), p.def.name(), p.def.op(), in));
      inputs.push_back(*id);
    }
    graph.add_node(std::move(p.def), std::move(inputs), std::move(p.outputs), std::move(p.loc));
  }

  for (const std::string& out : model.output()) {
    auto id = graph.find_value(out);
    if (!id) throw Error(fmt::format("{}model output '{}' is not defined", file_loc.str(), out));
    graph.outputs.push_back(*id);
  }
  for (const pb::LossTerm& term : model.loss()) {
    auto id = graph.find_value(term.value());
    if (!id) throw Error(fmt::format("{}loss term '{}' is not defined", file_loc.str(), term.value()));
    graph.loss_terms.push_back(LossTermDef{*id, term.has_weight() ? term.weight() : 1.0f});
  }

  infer_types(graph, ops);

  for (const LossTermDef& term : graph.loss_terms) {
    const Value& v = graph.value(term.value);
    if (v.type.dtype != DType::f32 || num_elements(v.type.dims) != 1 || !v.type.is_concrete())
      throw Error(
          fmt::format("{}loss term '{}' must be a float32 scalar, it is {}", file_loc.str(), v.name, type_str(v.type)));
  }
  return graph;
}

void infer_types(Graph& graph, const OpCatalog& ops) {
  for (NodeId id : topological_order(graph)) {
    Node& node = graph.node(id);
    const OpSchema* schema = ops.find_schema(node.op());
    if (!schema) throw node_error("validation failed", node, "unknown op");
    std::vector<TensorType> in_types;
    for (ValueId in : node.inputs) in_types.push_back(graph.value(in).type);
    std::vector<TensorType> out_types = infer_node_types(*schema, node, std::move(in_types));
    for (size_t k = 0; k < out_types.size(); ++k) graph.value(node.outputs[k]).type = std::move(out_types[k]);
  }
}

Graph load_graph(const std::string& path, const OpCatalog& ops) {
  ModelLocations locations;
  pb::Model model = read_model_file(path, &locations);
  return build_graph(model, ops, &locations);
}

}  // namespace graphrun
