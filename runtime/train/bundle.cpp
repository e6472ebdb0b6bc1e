#include "runtime/train/bundle.h"

#include <fmt/format.h>

#include <filesystem>
#include <set>

#include "graph/shape.h"
#include "graphrun/data/text_file.h"
#include "graphrun/train.h"
#include "runtime/model_data.h"
#include "runtime/train/named_tensor.h"
#include "runtime/train/dataset.h"
#include "runtime/train/framed_file.h"
#include "runtime/train/run_dir.h"

namespace graphrun {
namespace {

constexpr FrameFormat kBundleFormat{.magic = "GRBN", .version = 1, .what = "bundle"};

// Text models take their vocabulary with them.
bool has_texts(const detail::ModelData& data) {
  return data.proto.has_train() && tokenizes_texts(data.proto.train().data());
}

}  // namespace

pb::Bundle bundle_of_run(const std::string& run_dir, const std::string& model_path) {
  const RunDirectory run(run_dir);
  const std::string path = model_path.empty() ? run.model_copy() : model_path;
  const Model model = Model::load(path);
  const detail::ModelData& data = detail::data_of(model);
  // The session load_trained gives: its parameters are the bundle's, whatever filled them.
  const Session session = trained_session(read_trained_run(model, path, run_dir, false), {});
  pb::Bundle bundle;
  bundle.set_model(data.text);
  for (const std::string& name : model.parameter_names())
    *bundle.add_parameter() = to_named_tensor(name, session.parameter(name));
  if (has_texts(data)) bundle.set_vocabulary(data::read_text_file(run.vocabulary_file()));
  return bundle;
}

void write_bundle(const std::string& path, const pb::Bundle& bundle) {
  std::string payload;
  if (!bundle.SerializeToString(&payload)) throw Error(fmt::format("{}: cannot serialize bundle", path));
  write_framed_file(path, kBundleFormat, payload);
}

TrainedModel read_bundle(const std::string& path) {
  // Parsed from the file as it is read, and each parameter's bytes freed once its tensor
  // holds them: the peak is the message and one tensor, not the file, the message and
  // every tensor at once.
  pb::Bundle bundle;
  if (!parse_framed_file(path, kBundleFormat, [&](google::protobuf::io::CodedInputStream& payload) {
        return parse_with_tensor_fields(payload, bundle, [&](int number) {
          return number == pb::Bundle::kParameterFieldNumber ? bundle.add_parameter() : nullptr;
        });
      }))
    throw Error(fmt::format("{}: not a graphrun bundle (its contents do not parse)", path));
  TrainedModel trained{Model::parse(bundle.model(), path), path, {}, std::nullopt};
  const Graph& graph = detail::data_of(trained.model).graph;
  for (pb::NamedTensor& named : *bundle.mutable_parameter()) {
    const auto id = graph.find_value(named.name());
    if (!id || !graph.find_parameter(*id))
      throw Error(fmt::format("{}: parameter '{}' is not one its model declares", path, named.name()));
    Tensor value = from_named_tensor(named, path);
    std::string().swap(*named.mutable_data());
    const TensorType& declared = graph.value(*id).type;
    if (value.dtype() != declared.dtype || value.dims() != declared.dims)
      throw Error(fmt::format("{}: parameter '{}' is {}, its model declares {}", path, named.name(),
                              value.type_string(), type_str(declared)));
    if (!trained.parameters.emplace(named.name(), std::move(value)).second)
      throw Error(fmt::format("{}: parameter '{}' is stored twice", path, named.name()));
  }
  // Initialising a missing one could read files beside a model the bundle stands in for.
  for (const ParameterDef& p : graph.parameters)
    if (!trained.parameters.count(graph.value(p.value).name))
      throw Error(fmt::format("{}: no value of parameter '{}' ({})", path, graph.value(p.value).name,
                              type_str(graph.value(p.value).type)));
  if (!bundle.vocabulary().empty())
    trained.vocabulary = Vocabulary::parse(bundle.vocabulary(), fmt::format("{} (vocabulary)", path));
  return trained;
}

BundleSummary export_bundle(const std::string& run_dir, const std::string& bundle_path, const std::string& model_path) {
  const pb::Bundle bundle = bundle_of_run(run_dir, model_path);
  write_bundle(bundle_path, bundle);
  BundleSummary summary;
  summary.parameters = bundle.parameter_size();
  for (const pb::NamedTensor& named : bundle.parameter())
    summary.values += num_elements(Dims(named.dims().begin(), named.dims().end()));
  summary.has_vocabulary = !bundle.vocabulary().empty();
  summary.bytes = static_cast<int64_t>(std::filesystem::file_size(bundle_path));
  return summary;
}

}  // namespace graphrun
