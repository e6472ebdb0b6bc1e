// Boost.Graph lives here and nowhere else. The IR is turned into a throwaway
// adjacency_list (one vertex per live node, an edge per producer->consumer use)
// for each query; graphs are small, so clarity wins over caching.
#include "graph/graph_algo.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/graph/adjacency_list.hpp>
#include <boost/graph/breadth_first_search.hpp>
#include <boost/graph/depth_first_search.hpp>
#include <boost/graph/graphviz.hpp>
#include <boost/graph/reverse_graph.hpp>
#include <boost/graph/topological_sort.hpp>
#include <iterator>
#include <sstream>

#include "graph/op_schema.h"
#include "graphrun/error.h"

namespace graphrun {
namespace {

using BoostGraph = boost::adjacency_list<boost::vecS, boost::vecS, boost::bidirectionalS>;
using Vertex = BoostGraph::vertex_descriptor;

// The live nodes as a Boost graph; vertex v stands for node ids[v].
struct NodeGraph {
  BoostGraph g;
  std::vector<NodeId> ids;
  std::vector<int> vertex_of;  // by NodeId, -1 for removed nodes
};

NodeGraph make_node_graph(const Graph& graph) {
  NodeGraph ng;
  ng.ids = graph.live_nodes();
  ng.vertex_of.assign(graph.num_node_slots(), -1);
  for (size_t v = 0; v < ng.ids.size(); ++v) ng.vertex_of[static_cast<size_t>(ng.ids[v])] = static_cast<int>(v);
  ng.g = BoostGraph(ng.ids.size());
  for (size_t v = 0; v < ng.ids.size(); ++v) {
    for (ValueId in : graph.node(ng.ids[v]).inputs) {
      const NodeId producer = graph.value(in).producer;
      if (producer != kNoNode)
        boost::add_edge(static_cast<Vertex>(ng.vertex_of[static_cast<size_t>(producer)]), v, ng.g);
    }
  }
  return ng;
}

struct CycleFinder : boost::default_dfs_visitor {
  int* on_cycle;
  explicit CycleFinder(int* out) : on_cycle(out) {}
  void back_edge(BoostGraph::edge_descriptor e, const BoostGraph& g) const {
    if (*on_cycle < 0) *on_cycle = static_cast<int>(boost::target(e, g));
  }
};

// Marks every vertex reachable from `starts` in `g` (a BoostGraph or a reversed view).
template <typename G>
std::vector<bool> reachable(const G& g, const std::vector<Vertex>& starts) {
  const size_t n = boost::num_vertices(g);
  std::vector<boost::default_color_type> color(n, boost::white_color);
  auto color_map = boost::make_iterator_property_map(color.begin(), boost::get(boost::vertex_index, g));
  boost::queue<Vertex> queue;
  for (Vertex s : starts)
    if (color[s] == boost::white_color)
      boost::breadth_first_visit(g, s, queue, boost::default_bfs_visitor(), color_map);
  std::vector<bool> seen(n);
  for (size_t v = 0; v < n; ++v) seen[v] = color[v] != boost::white_color;
  return seen;
}

}  // namespace

std::vector<NodeId> topological_order(const Graph& graph) {
  NodeGraph ng = make_node_graph(graph);
  int on_cycle = -1;
  boost::depth_first_search(ng.g, boost::visitor(CycleFinder(&on_cycle)));
  if (on_cycle >= 0) {
    const Node& n = graph.node(ng.ids[static_cast<size_t>(on_cycle)]);
    throw Error(fmt::format("{}graph has a cycle through {}", n.location.str(), describe(n)));
  }
  std::vector<Vertex> reversed;
  boost::topological_sort(ng.g, std::back_inserter(reversed));
  std::vector<NodeId> order;
  order.reserve(reversed.size());
  for (auto it = reversed.rbegin(); it != reversed.rend(); ++it) order.push_back(ng.ids[*it]);
  return order;
}

std::vector<bool> nodes_needed_for(const Graph& graph, const std::vector<ValueId>& targets) {
  NodeGraph ng = make_node_graph(graph);
  std::vector<Vertex> starts;
  for (ValueId t : targets) {
    const NodeId p = graph.value(t).producer;
    if (p != kNoNode) starts.push_back(static_cast<Vertex>(ng.vertex_of[static_cast<size_t>(p)]));
  }
  const std::vector<bool> seen = reachable(boost::make_reverse_graph(ng.g), starts);
  std::vector<bool> needed(graph.num_node_slots(), false);
  for (size_t v = 0; v < seen.size(); ++v) needed[static_cast<size_t>(ng.ids[v])] = seen[v];
  return needed;
}

std::vector<bool> values_reachable_from(const Graph& graph, const std::vector<ValueId>& sources) {
  NodeGraph ng = make_node_graph(graph);
  std::vector<Vertex> starts;
  for (ValueId s : sources)
    for (NodeId c : graph.value(s).consumers)
      starts.push_back(static_cast<Vertex>(ng.vertex_of[static_cast<size_t>(c)]));
  const std::vector<bool> seen = reachable(ng.g, starts);
  std::vector<bool> result(graph.num_values(), false);
  for (ValueId s : sources) result[static_cast<size_t>(s)] = true;
  for (size_t v = 0; v < seen.size(); ++v)
    if (seen[v])
      for (ValueId out : graph.node(ng.ids[v]).outputs) result[static_cast<size_t>(out)] = true;
  return result;
}

std::string to_graphviz(const Graph& graph) {
  // Vertices: every value that is an input or parameter, then every live node.
  // Edges go value/node -> consuming node, labelled with the value's type.
  BoostGraph g;
  std::vector<std::string> labels, shapes;
  std::vector<int> vertex_of_value(graph.num_values(), -1);
  std::vector<int> vertex_of_node(graph.num_node_slots(), -1);
  auto add = [&](std::string label, std::string shape) {
    labels.push_back(std::move(label));
    shapes.push_back(std::move(shape));
    return static_cast<int>(boost::add_vertex(g));
  };
  for (ValueId in : graph.inputs)
    vertex_of_value[static_cast<size_t>(in)] =
        add(graph.value(in).name + "\\n" + type_str(graph.value(in).type), "ellipse");
  for (const ParameterDef& p : graph.parameters)
    vertex_of_value[static_cast<size_t>(p.value)] =
        add(graph.value(p.value).name + "\\n" + type_str(graph.value(p.value).type), "box");
  for (NodeId id : graph.live_nodes()) {
    const Node& n = graph.node(id);
    std::string label = n.name() + "\\n" + n.op();
    for (ValueId out : n.outputs) label += "\\n" + type_str(graph.value(out).type);
    vertex_of_node[static_cast<size_t>(id)] = add(label, "record");
  }
  for (NodeId id : graph.live_nodes()) {
    for (ValueId in : graph.node(id).inputs) {
      const Value& v = graph.value(in);
      const int from = v.producer != kNoNode ? vertex_of_node[static_cast<size_t>(v.producer)]
                                             : vertex_of_value[static_cast<size_t>(in)];
      if (from >= 0)
        boost::add_edge(static_cast<Vertex>(from), static_cast<Vertex>(vertex_of_node[static_cast<size_t>(id)]), g);
    }
  }
  std::ostringstream out;
  boost::write_graphviz(
      out, g, [&](std::ostream& os, Vertex v) { os << "[label=\"" << labels[v] << "\", shape=" << shapes[v] << "]"; },
      boost::default_writer(), [&](std::ostream& os) { os << "rankdir=TB;\nlabel=\"" << graph.name << "\";\n"; });
  return out.str();
}

}  // namespace graphrun
