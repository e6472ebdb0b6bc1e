// The public embedding API of graphrun.
//
//   graphrun::Model model = graphrun::Model::load("mlp.pbtxt");
//   graphrun::Session session(model);
//   std::vector<graphrun::Tensor> out = session.run({{"x", x}}, {"probs"});
//
// This header exposes none of protobuf, oneDNN, TBB or Boost. Every failure is
// a graphrun::Error with a one-line message naming the file, node or value.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "graphrun/error.h"
#include "graphrun/npy.h"
#include "graphrun/png.h"
#include "graphrun/tensor.h"

namespace graphrun {

namespace detail {
struct ModelData;    // the loaded graph; defined by graphrun's own code
struct ModelAccess;  // how graphrun's own code reaches it
}  // namespace detail

// One row of a model summary: a node, its op, its output type(s) and the
// parameters it is the first to use (Keras' "Param #").
struct NodeSummary {
  std::string name;
  std::string op;
  std::string output_types;  // "float32[?,100]", several joined by " "
  int64_t parameters = 0;
  std::string note;  // op-specific remark, e.g. a recurrent node's kernel path
};

struct ModelSummary {
  std::vector<NodeSummary> nodes;
  int64_t trainable_parameters = 0;
  int64_t non_trainable_parameters = 0;
  int64_t total_parameters() const { return trainable_parameters + non_trainable_parameters; }
  std::string to_string() const;  // a table like Keras' model.summary()
};

// A validated model: the graph with every value's type inferred. Cheap to copy.
class Model {
 public:
  static Model load(const std::string& path);
  static Model parse(const std::string& pbtxt, const std::string& source_name = "<string>");

  const std::string& name() const;
  std::vector<std::string> input_names() const;
  std::vector<std::string> output_names() const;
  std::vector<std::string> parameter_names() const;
  std::string value_type(const std::string& value_name) const;  // "float32[?,10]"
  DType value_dtype(const std::string& value_name) const;
  Dims value_dims(const std::string& value_name) const;  // kUnknownDim where known only at run time

  ModelSummary summary() const;
  std::string graphviz() const;

 private:
  friend class Session;
  friend struct detail::ModelAccess;
  explicit Model(std::shared_ptr<const detail::ModelData> data) : data_(std::move(data)) {}
  std::shared_ptr<const detail::ModelData> data_;
};

// The largest thread count either option accepts: far above any core count,
// far below what exhausts the OpenMP runtime.
inline constexpr int kMaxThreads = 256;

// graphrun's thread budget in a session. Threads it uses: the caller's, TBB
// workers for independent nodes (in an arena of inter_op_threads, or the host's),
// and OpenMP threads inside oneDNN calls. A node's OpenMP team size is set on the
// thread running it for that node only; the thread's previous setting is restored.
struct SessionOptions {
  int inter_op_threads = 0;  // independent nodes run concurrently on TBB; 0 = all cores, 1 = serial
  int intra_op_threads = 0;  // OpenMP threads inside each oneDNN call; 0 = oneDNN's default
  // Independent nodes run as tasks of the TBB arena the calling thread is in: call
  // run() inside the host's tbb::task_arena::execute to share its threads.
  // inter_op_threads is then ignored (the arena's concurrency is the bound).
  bool use_caller_arena = false;
};

// Compiled plans a session keeps, least recently used evicted first: one per
// distinct feed shapes and fetch list (a model fed every batch size from 1 to 100
// compiles at most this many plans at once; an evicted one is compiled again).
inline constexpr size_t kMaxCachedPlans = 32;

// Parameters (initialised on construction) plus compiled plans (kMaxCachedPlans).
//
// Thread safety: run(), parameter() and model() may be called from any number of
// threads at once, on one Session. set_parameter() may run concurrently with them:
// each run() uses the parameters as they were when it started (all old or all
// new for each parameter), never a half-written tensor. Moving or destroying a
// Session while another thread uses it is not allowed. Tensors returned by run()
// and parameter() belong to the caller (parameter() is a copy).
class Session {
 public:
  explicit Session(Model model, SessionOptions options = {});
  // A session whose parameters named in `values` start as those tensors (copied;
  // each of its parameter's declared type) instead of the model's initialisers;
  // the others are initialised as the model says. An unknown name is an Error.
  static Session with_parameters(Model model, const std::map<std::string, Tensor>& values, SessionOptions options = {});
  ~Session();
  Session(Session&&) noexcept;
  Session& operator=(Session&&) noexcept;

  // Feeds graph inputs by name and returns the fetched values in order; no
  // fetches means the model's declared outputs.
  std::vector<Tensor> run(const std::map<std::string, Tensor>& feeds,
                          const std::vector<std::string>& fetches = {}) const;

  Tensor parameter(const std::string& name) const;                   // a copy of the current value
  void set_parameter(const std::string& name, const Tensor& value);  // copies `value`
  const Model& model() const;

 private:
  struct Impl;
  explicit Session(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The op reference in Markdown, generated from the op registry: each op's
// inputs, outputs, attributes and semantics (`graphrun ops` prints it; docs/ops.md
// is this text, checked by a test).
std::string op_reference_markdown();

}  // namespace graphrun
