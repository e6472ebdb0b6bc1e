// The C API (graphrun/c_api.h) over the C++ one: every entry point runs inside
// guarded(), which turns any exception into a status and this thread's last error.
#include "graphrun/c_api.h"

#include <algorithm>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <new>
#include <string>
#include <vector>

#include "graphrun/graphrun.h"
#include "graphrun/train.h"

struct graphrun_session {
  graphrun::Session session;
  std::vector<std::string> inputs, outputs;  // names, kept for graphrun_value_info
};

struct graphrun_tensor {
  graphrun::Tensor tensor;
};

struct graphrun_text_classifier {
  graphrun::TextClassifier classifier;
  // Class names handed out by classify(), kept for the classifier's lifetime.
  mutable std::mutex names_mutex;
  mutable std::deque<std::string> class_names;
};

struct graphrun_trainer {
  graphrun::Trainer trainer;
};

namespace {

thread_local std::string last_error;

graphrun_status fail(graphrun_status status, std::string message) {
  last_error = std::move(message);
  return status;
}

graphrun_status guarded(const std::function<graphrun_status()>& body) noexcept {
  try {
    return body();
  } catch (const graphrun::Error& e) {
    return fail(GRAPHRUN_ERROR, e.what());
  } catch (const std::bad_alloc&) {
    return fail(GRAPHRUN_INTERNAL_ERROR, "out of memory");
  } catch (const std::exception& e) {
    return fail(GRAPHRUN_INTERNAL_ERROR, std::string("internal error: ") + e.what());
  } catch (...) {
    return fail(GRAPHRUN_INTERNAL_ERROR, "internal error: unknown exception");
  }
}

graphrun_status null_argument(const char* function, const char* argument) {
  return fail(GRAPHRUN_INVALID_ARGUMENT, std::string(function) + ": " + argument + " is NULL");
}

graphrun::SessionOptions session_options(const graphrun_session_options* options) {
  if (!options) return {};
  return {options->inter_op_threads, options->intra_op_threads};
}

graphrun_dtype to_c(graphrun::DType dtype) { return dtype == graphrun::DType::f32 ? GRAPHRUN_FLOAT32 : GRAPHRUN_INT64; }

// The fed values as tensors by name (copies of the caller's memory).
std::map<std::string, graphrun::Tensor> feeds_of(const graphrun_input* inputs, size_t num_inputs) {
  std::map<std::string, graphrun::Tensor> feeds;
  for (size_t i = 0; i < num_inputs; ++i) {
    const graphrun_input& in = inputs[i];
    if (!in.name) throw graphrun::Error("input " + std::to_string(i) + ": name is NULL");
    if (in.rank < 0 || in.rank > GRAPHRUN_MAX_RANK || (in.rank > 0 && !in.dims))
      throw graphrun::Error("input '" + std::string(in.name) + "': rank " + std::to_string(in.rank) +
                            " without dims, or outside 0.." + std::to_string(GRAPHRUN_MAX_RANK));
    if (in.dtype != GRAPHRUN_FLOAT32 && in.dtype != GRAPHRUN_INT64)
      throw graphrun::Error("input '" + std::string(in.name) + "': unknown dtype " + std::to_string(in.dtype));
    graphrun::Dims dims(in.dims, in.dims + in.rank);
    graphrun::Tensor t(in.dtype == GRAPHRUN_FLOAT32 ? graphrun::DType::f32 : graphrun::DType::i64, dims);
    if (t.num_bytes() > 0 && !in.data) throw graphrun::Error("input '" + std::string(in.name) + "': data is NULL");
    if (t.num_bytes() > 0) std::memcpy(t.raw_data(), in.data, t.num_bytes());
    if (!feeds.emplace(in.name, std::move(t)).second)
      throw graphrun::Error("input '" + std::string(in.name) + "' fed twice");
  }
  return feeds;
}

graphrun_status value_info(const graphrun::Session& session, const std::vector<std::string>& names, size_t index,
                           graphrun_value_info* out, const char* function) {
  if (!out) return null_argument(function, "out");
  if (index >= names.size())
    return fail(GRAPHRUN_INVALID_ARGUMENT, std::string(function) + ": index " + std::to_string(index) +
                                               " is out of range (the model has " + std::to_string(names.size()) + ")");
  const graphrun::Model& model = session.model();
  const graphrun::Dims dims = model.value_dims(names[index]);
  if (dims.size() > GRAPHRUN_MAX_RANK)
    return fail(GRAPHRUN_ERROR, "value '" + names[index] + "' has rank " + std::to_string(dims.size()) +
                                    ", more than the C API's " + std::to_string(GRAPHRUN_MAX_RANK));
  out->name = names[index].c_str();
  out->dtype = to_c(model.value_dtype(names[index]));
  out->rank = static_cast<int>(dims.size());
  for (size_t d = 0; d < dims.size(); ++d) out->dims[d] = dims[d];
  return GRAPHRUN_OK;
}

graphrun_session* new_session(graphrun::Session session) {
  std::vector<std::string> inputs = session.model().input_names(), outputs = session.model().output_names();
  return new graphrun_session{std::move(session), std::move(inputs), std::move(outputs)};
}

}  // namespace

extern "C" {

const char* graphrun_last_error(void) { return last_error.c_str(); }

graphrun_status graphrun_session_load(const char* model_path, const char* run_dir,
                                      const graphrun_session_options* options, graphrun_session** out) {
  if (!model_path) return null_argument(__func__, "model_path");
  if (!out) return null_argument(__func__, "out");
  return guarded([&] {
    *out = new_session(run_dir ? graphrun::load_trained(model_path, run_dir, session_options(options))
                               : graphrun::Session(graphrun::Model::load(model_path), session_options(options)));
    return GRAPHRUN_OK;
  });
}

graphrun_status graphrun_session_load_bundle(const char* bundle_path, const graphrun_session_options* options,
                                             graphrun_session** out) {
  if (!bundle_path) return null_argument(__func__, "bundle_path");
  if (!out) return null_argument(__func__, "out");
  return guarded([&] {
    *out = new_session(graphrun::load_bundle(bundle_path, session_options(options)));
    return GRAPHRUN_OK;
  });
}

void graphrun_session_free(graphrun_session* session) { delete session; }

size_t graphrun_session_input_count(const graphrun_session* session) { return session ? session->inputs.size() : 0; }
size_t graphrun_session_output_count(const graphrun_session* session) { return session ? session->outputs.size() : 0; }

graphrun_status graphrun_session_input_info(const graphrun_session* session, size_t index, graphrun_value_info* out) {
  if (!session) return null_argument(__func__, "session");
  return guarded([&] { return value_info(session->session, session->inputs, index, out, __func__); });
}

graphrun_status graphrun_session_output_info(const graphrun_session* session, size_t index, graphrun_value_info* out) {
  if (!session) return null_argument(__func__, "session");
  return guarded([&] { return value_info(session->session, session->outputs, index, out, __func__); });
}

graphrun_status graphrun_session_run(const graphrun_session* session, const graphrun_input* inputs, size_t num_inputs,
                                     graphrun_output* outputs, size_t num_outputs) {
  if (!session) return null_argument(__func__, "session");
  if (num_inputs > 0 && !inputs) return null_argument(__func__, "inputs");
  if (num_outputs > 0 && !outputs) return null_argument(__func__, "outputs");
  return guarded([&] {
    std::vector<std::string> fetches;
    for (size_t i = 0; i < num_outputs; ++i) {
      if (!outputs[i].name) return fail(GRAPHRUN_INVALID_ARGUMENT, "output " + std::to_string(i) + ": name is NULL");
      fetches.emplace_back(outputs[i].name);
    }
    if (fetches.empty()) return fail(GRAPHRUN_INVALID_ARGUMENT, std::string(__func__) + ": no outputs to fetch");
    const std::vector<graphrun::Tensor> results = session->session.run(feeds_of(inputs, num_inputs), fetches);
    // Check every caller buffer before writing any.
    for (size_t i = 0; i < num_outputs; ++i) {
      if (results[i].rank() > GRAPHRUN_MAX_RANK)
        return fail(GRAPHRUN_ERROR, "value '" + fetches[i] + "' has rank " + std::to_string(results[i].rank()) +
                                        ", more than the C API's " + std::to_string(GRAPHRUN_MAX_RANK));
      if (outputs[i].buffer && outputs[i].buffer_bytes < results[i].num_bytes())
        return fail(GRAPHRUN_INVALID_ARGUMENT, "output '" + fetches[i] + "' is " + results[i].type_string() + " (" +
                                                   std::to_string(results[i].num_bytes()) +
                                                   " bytes), its buffer holds " +
                                                   std::to_string(outputs[i].buffer_bytes));
    }
    std::vector<graphrun_tensor*> owned;
    for (size_t i = 0; i < num_outputs; ++i)
      owned.push_back(outputs[i].buffer ? nullptr : new graphrun_tensor{results[i]});
    for (size_t i = 0; i < num_outputs; ++i) {
      graphrun_output& out = outputs[i];
      if (out.buffer && results[i].num_bytes() > 0)
        std::memcpy(out.buffer, results[i].raw_data(), results[i].num_bytes());
      out.tensor = owned[i];
      out.dtype = to_c(results[i].dtype());
      out.rank = results[i].rank();
      for (int d = 0; d < out.rank; ++d) out.dims[d] = results[i].dims()[static_cast<size_t>(d)];
    }
    return GRAPHRUN_OK;
  });
}

const void* graphrun_tensor_data(const graphrun_tensor* tensor) { return tensor ? tensor->tensor.raw_data() : nullptr; }
size_t graphrun_tensor_bytes(const graphrun_tensor* tensor) { return tensor ? tensor->tensor.num_bytes() : 0; }
void graphrun_tensor_free(graphrun_tensor* tensor) { delete tensor; }

graphrun_status graphrun_text_classifier_load(const char* model_path, const char* run_dir,
                                              const graphrun_session_options* options, graphrun_text_classifier** out) {
  if (!model_path) return null_argument(__func__, "model_path");
  if (!run_dir) return null_argument(__func__, "run_dir");
  if (!out) return null_argument(__func__, "out");
  return guarded([&] {
    *out =
        new graphrun_text_classifier{graphrun::TextClassifier(model_path, run_dir, session_options(options)), {}, {}};
    return GRAPHRUN_OK;
  });
}

graphrun_status graphrun_text_classifier_load_bundle(const char* bundle_path, const graphrun_session_options* options,
                                                     graphrun_text_classifier** out) {
  if (!bundle_path) return null_argument(__func__, "bundle_path");
  if (!out) return null_argument(__func__, "out");
  return guarded([&] {
    *out = new graphrun_text_classifier{
        graphrun::TextClassifier::from_bundle(bundle_path, session_options(options)), {}, {}};
    return GRAPHRUN_OK;
  });
}

void graphrun_text_classifier_free(graphrun_text_classifier* classifier) { delete classifier; }

graphrun_status graphrun_text_classifier_classify(const graphrun_text_classifier* classifier, const char* text,
                                                  graphrun_text_label* out) {
  if (!classifier) return null_argument(__func__, "classifier");
  if (!text) return null_argument(__func__, "text");
  if (!out) return null_argument(__func__, "out");
  return guarded([&] {
    const graphrun::Prediction p = classifier->classifier.classify(text);
    const std::string& name = p.classes[static_cast<size_t>(p.label)];
    std::lock_guard lock(classifier->names_mutex);
    auto it = std::find(classifier->class_names.begin(), classifier->class_names.end(), name);
    if (it == classifier->class_names.end()) it = classifier->class_names.insert(it, name);
    out->label = p.label;
    out->probability = p.probabilities[static_cast<size_t>(p.label)];
    out->class_name = it->c_str();
    return GRAPHRUN_OK;
  });
}

graphrun_status graphrun_trainer_create(const char* model_path, const graphrun_train_options* options,
                                        graphrun_trainer** out) {
  if (!model_path) return null_argument(__func__, "model_path");
  if (!out) return null_argument(__func__, "out");
  return guarded([&] {
    graphrun::TrainOptions o;
    o.quiet = true;
    if (options) {
      if (options->run_dir) o.run_dir = options->run_dir;
      o.resume = options->resume != 0;
      if (options->batch_size != 0) o.batch_size = options->batch_size;
      o.threads = options->threads.inter_op_threads;
      o.intra_threads = options->threads.intra_op_threads;
    }
    *out = new graphrun_trainer{graphrun::Trainer(model_path, o)};
    return GRAPHRUN_OK;
  });
}

void graphrun_trainer_free(graphrun_trainer* trainer) { delete trainer; }

graphrun_status graphrun_trainer_train_epoch(graphrun_trainer* trainer, double* loss) {
  if (!trainer) return null_argument(__func__, "trainer");
  return guarded([&] {
    const graphrun::EpochRecord record = trainer->trainer.train_epoch();
    if (loss) *loss = record.metrics.front().second;  // metrics start with the loss
    return GRAPHRUN_OK;
  });
}

graphrun_status graphrun_trainer_step(graphrun_trainer* trainer, const graphrun_input* inputs, size_t num_inputs,
                                      double* loss) {
  if (!trainer) return null_argument(__func__, "trainer");
  if (num_inputs > 0 && !inputs) return null_argument(__func__, "inputs");
  return guarded([&] {
    const double value = trainer->trainer.step(feeds_of(inputs, num_inputs));
    if (loss) *loss = value;
    return GRAPHRUN_OK;
  });
}

graphrun_status graphrun_trainer_save_checkpoint(const graphrun_trainer* trainer) {
  if (!trainer) return null_argument(__func__, "trainer");
  return guarded([&] {
    trainer->trainer.save_checkpoint();
    return GRAPHRUN_OK;
  });
}

}  // extern "C"
