#include <fmt/format.h>

#include <map>
#include <mutex>
#include <shared_mutex>

#include "graph/graph_algo.h"
#include "graphrun/graphrun.h"
#include "ops/registry.h"
#include "runtime/exec/graph_runner.h"
#include "runtime/initializers.h"
#include "runtime/model_data.h"

namespace graphrun {

struct Session::Impl {
  Impl(Model m, SessionOptions options)
      : model(std::move(m)),
        // The runner shares the model's graph; the aliasing constructor keeps the ModelData alive.
        runner(std::shared_ptr<const Graph>(model.data_, &model.data_->graph),
               ExecutionPolicy{options.inter_op_threads, options.intra_op_threads, options.use_caller_arena}) {}
  Model model;
  GraphRunner runner;
  // In graph.parameters order. set_parameter replaces a tensor (never writes one in
  // place) under the exclusive lock; a run copies the list under the shared lock,
  // so the storage it reads stays alive and unchanged until it ends.
  mutable std::shared_mutex parameters_mutex;
  std::vector<Tensor> parameters;

  std::vector<Tensor> parameters_now() const {
    std::shared_lock lock(parameters_mutex);
    return parameters;
  }

  const Graph& graph() const { return model.data_->graph; }
};

namespace {

// The index of parameter `name` in graph.parameters, else an Error naming the model.
size_t parameter_index(const Graph& g, const std::string& name) {
  for (size_t i = 0; i < g.parameters.size(); ++i)
    if (g.value(g.parameters[i].value).name == name) return i;
  throw Error(fmt::format("model '{}' has no parameter '{}'", g.name, name));
}

void check_parameter_type(const Value& parameter, const Tensor& value) {
  if (value.dtype() != parameter.type.dtype || value.dims() != parameter.type.dims)
    throw Error(fmt::format("parameter '{}' is {}, cannot set it to {}", parameter.name, type_str(parameter.type),
                            value.type_string()));
}

}  // namespace

Session::Session(Model model, SessionOptions options) : Session(with_parameters(std::move(model), {}, options)) {}

Session::Session(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Session Session::with_parameters(Model model, const std::map<std::string, Tensor>& values, SessionOptions options) {
  auto impl = std::make_unique<Impl>(std::move(model), options);
  const Graph& g = impl->graph();
  std::vector<const Tensor*> given(g.parameters.size(), nullptr);
  for (const auto& [name, value] : values) {
    const size_t i = parameter_index(g, name);
    check_parameter_type(g.value(g.parameters[i].value), value);
    given[i] = &value;
  }
  for (size_t i = 0; i < g.parameters.size(); ++i)
    impl->parameters.push_back(
        given[i] ? given[i]->clone() : initialize_parameter(g.parameters[i].def, g.seed, impl->model.data_->directory));
  return Session(std::move(impl));
}

Session::~Session() = default;
Session::Session(Session&&) noexcept = default;
Session& Session::operator=(Session&&) noexcept = default;

const Model& Session::model() const { return impl_->model; }

std::vector<Tensor> Session::run(const std::map<std::string, Tensor>& feeds,
                                 const std::vector<std::string>& fetch_names) const {
  const Graph& g = impl_->graph();
  std::vector<ValueId> fetches;
  if (fetch_names.empty()) {
    fetches = g.outputs;
    if (fetches.empty()) throw Error(fmt::format("model '{}' declares no outputs; name the values to fetch", g.name));
  }
  for (const std::string& name : fetch_names) {
    auto id = g.find_value(name);
    if (!id) throw Error(fmt::format("cannot fetch '{}': model '{}' has no such value", name, g.name));
    fetches.push_back(*id);
  }
  const std::vector<Tensor> feed_tensors = impl_->runner.feeds_in_graph_order(feeds, fetches);
  return impl_->runner.run(feed_tensors, impl_->parameters_now(), fetches);
}

Tensor Session::parameter(const std::string& name) const {
  const size_t i = parameter_index(impl_->graph(), name);
  std::shared_lock lock(impl_->parameters_mutex);
  return impl_->parameters[i].clone();
}

void Session::set_parameter(const std::string& name, const Tensor& value) {
  const Graph& g = impl_->graph();
  const size_t i = parameter_index(g, name);
  check_parameter_type(g.value(g.parameters[i].value), value);
  Tensor copy = value.clone();
  std::unique_lock lock(impl_->parameters_mutex);
  impl_->parameters[i] = std::move(copy);
}

}  // namespace graphrun
