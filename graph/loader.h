// Loading a model: .pbtxt text -> pb::Model -> validated Graph with every
// value's type inferred.
//
// Syntax errors carry file:line:column from protobuf's text parser. Semantic
// errors (unknown op, undefined input, duplicate name, attribute the op does not
// take, cycle, shape mismatch) name the node, its op and its line in the file.
#pragma once

#include <memory>
#include <string>

#include "graph/graph.h"
#include "graph/op_schema.h"

namespace graphrun {

// Line/column of each node and parameter in the source, when parsed from text.
struct ModelLocations {
  std::string file;
  std::vector<SourceLocation> nodes;       // by index in pb::Model.node
  std::vector<SourceLocation> parameters;  // by index in pb::Model.parameter
  std::vector<SourceLocation> inputs;      // by index in pb::Model.input
};

// Parses protobuf text; throws Error("file:line:col: message") on a syntax error.
pb::Model parse_model_text(const std::string& text, const std::string& file_name, ModelLocations* locations = nullptr);

// The text of a .pbtxt file; a missing, unreadable or directory path is an Error naming it.
std::string read_model_text(const std::string& path);

// Reads and parses a .pbtxt file; a missing file is an Error naming the path.
pb::Model read_model_file(const std::string& path, ModelLocations* locations = nullptr);

// Builds and validates the graph and infers all types. `locations` may be null.
Graph build_graph(const pb::Model& model, const OpCatalog& ops, const ModelLocations* locations = nullptr);

// Re-infers every node's output types in topological order from the current
// types of inputs and parameters (used when a plan is compiled for concrete
// feed shapes, and after autodiff appends nodes).
void infer_types(Graph& graph, const OpCatalog& ops);

// read_model_file + build_graph.
Graph load_graph(const std::string& path, const OpCatalog& ops);

}  // namespace graphrun
