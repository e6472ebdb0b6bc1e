/* graphrun's C API: load a model (with a training run's parameters, or a one-file
 * model bundle), run it on the caller's memory, classify texts, train step by step
 * and checkpoint, from any language with a C FFI. A thin layer over the C++ API (graphrun.h, train.h).
 *
 *   graphrun_session* s = NULL;
 *   if (graphrun_session_load("model.pbtxt", "runs/model", NULL, &s) != GRAPHRUN_OK) {
 *     fprintf(stderr, "%s\n", graphrun_last_error());
 *     return 1;
 *   }
 *   int64_t dims[2] = {1, 4};
 *   float x[4] = {1, 2, 3, 4}, y[3];
 *   graphrun_input in = {"x", GRAPHRUN_FLOAT32, 2, dims, x};
 *   graphrun_output out = {"probs", y, sizeof y};
 *   graphrun_status status = graphrun_session_run(s, &in, 1, &out, 1);
 *   graphrun_session_free(s);
 *
 * Errors: every function that can fail returns a graphrun_status; on failure
 * graphrun_last_error() gives the one-line message (the same text the C++ API's
 * graphrun::Error carries: the file, line, node or value at fault). No C++
 * exception ever crosses this API.
 *
 * Ownership: handles are created by *_load / *_create and released by the
 * matching *_free (which accept NULL). Strings returned by the library stay valid
 * while the handle they came from lives. Input data is copied by the call.
 *
 * Threads: a session and a text classifier may be used from any number of threads
 * at once (graphrun_session_run, graphrun_text_classifier_classify); a trainer by
 * one thread at a time. graphrun_last_error() is per thread. */
#ifndef GRAPHRUN_C_API_H_
#define GRAPHRUN_C_API_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum graphrun_status {
  GRAPHRUN_OK = 0,
  GRAPHRUN_ERROR = 1,            /* the model, its data, a file or a fed value is at fault */
  GRAPHRUN_INVALID_ARGUMENT = 2, /* a NULL handle or pointer, an index out of range, a buffer too small */
  GRAPHRUN_INTERNAL_ERROR = 3    /* out of memory, or a bug in graphrun */
} graphrun_status;

/* The message of this thread's last failed call ("" before any failure). */
const char* graphrun_last_error(void);

typedef enum graphrun_dtype { GRAPHRUN_FLOAT32 = 0, GRAPHRUN_INT64 = 1 } graphrun_dtype;

#define GRAPHRUN_MAX_RANK 8

typedef struct graphrun_session graphrun_session;
typedef struct graphrun_tensor graphrun_tensor;
typedef struct graphrun_text_classifier graphrun_text_classifier;
typedef struct graphrun_trainer graphrun_trainer;

/* Thread budget (graphrun::SessionOptions); zeros are the defaults. */
typedef struct graphrun_session_options {
  int inter_op_threads; /* independent nodes run concurrently; 0 = all cores, 1 = serial */
  int intra_op_threads; /* OpenMP threads inside each oneDNN call; 0 = automatic */
} graphrun_session_options;

/* ---- Sessions: run a model ---- */

/* Loads a .pbtxt model. run_dir NULL: parameters from the model's initialisers; else
 * a training run directory whose best (else last) checkpoint to use. options may be NULL. */
graphrun_status graphrun_session_load(const char* model_path, const char* run_dir,
                                      const graphrun_session_options* options, graphrun_session** out);
/* Loads a model bundle (`graphrun export RUN_DIR -o model.grb`): its model with its
 * trained parameters, reading no other file. options may be NULL. */
graphrun_status graphrun_session_load_bundle(const char* bundle_path, const graphrun_session_options* options,
                                             graphrun_session** out);
void graphrun_session_free(graphrun_session* session);

/* A graph input or output: its name and declared type. */
typedef struct graphrun_value_info {
  const char* name; /* valid while the session lives */
  graphrun_dtype dtype;
  int rank;
  int64_t dims[GRAPHRUN_MAX_RANK]; /* -1: known only when fed (the batch) */
} graphrun_value_info;

size_t graphrun_session_input_count(const graphrun_session* session);
size_t graphrun_session_output_count(const graphrun_session* session);
graphrun_status graphrun_session_input_info(const graphrun_session* session, size_t index, graphrun_value_info* out);
graphrun_status graphrun_session_output_info(const graphrun_session* session, size_t index, graphrun_value_info* out);

/* A fed value: dims[0] * ... * dims[rank-1] elements of dtype, row-major. */
typedef struct graphrun_input {
  const char* name;
  graphrun_dtype dtype;
  int rank;
  const int64_t* dims;
  const void* data;
} graphrun_input;

/* A fetched value. The caller sets name, and either buffer (its own memory of
 * buffer_bytes, which must hold the whole value) or buffer NULL, in which case the
 * call sets tensor to a library-owned tensor (graphrun_tensor_data; free it with
 * graphrun_tensor_free). The call sets dtype, rank and dims either way. */
typedef struct graphrun_output {
  const char* name;
  void* buffer;
  size_t buffer_bytes;
  graphrun_tensor* tensor;
  graphrun_dtype dtype;
  int rank;
  int64_t dims[GRAPHRUN_MAX_RANK];
} graphrun_output;

/* Runs the model once. On failure no output is written and no tensor is returned. */
graphrun_status graphrun_session_run(const graphrun_session* session, const graphrun_input* inputs, size_t num_inputs,
                                     graphrun_output* outputs, size_t num_outputs);

const void* graphrun_tensor_data(const graphrun_tensor* tensor);
size_t graphrun_tensor_bytes(const graphrun_tensor* tensor);
void graphrun_tensor_free(graphrun_tensor* tensor);

/* ---- Text classifiers: a trained text model with its run's vocabulary ---- */

graphrun_status graphrun_text_classifier_load(const char* model_path, const char* run_dir,
                                              const graphrun_session_options* options, graphrun_text_classifier** out);
/* The same from a model bundle: its model, parameters and vocabulary in one file. */
graphrun_status graphrun_text_classifier_load_bundle(const char* bundle_path, const graphrun_session_options* options,
                                                     graphrun_text_classifier** out);
void graphrun_text_classifier_free(graphrun_text_classifier* classifier);

typedef struct graphrun_text_label {
  int64_t label;          /* the most probable class */
  double probability;     /* its probability */
  const char* class_name; /* its name (or "0", "1", ...); valid while the classifier lives */
} graphrun_text_label;

graphrun_status graphrun_text_classifier_classify(const graphrun_text_classifier* classifier, const char* text,
                                                  graphrun_text_label* out);

/* ---- Trainers: the training loop, driven by the host ---- */

typedef struct graphrun_train_options {
  const char* run_dir; /* NULL: runs/<model name>-<UTC time> */
  int resume;          /* nonzero: continue the run in run_dir from its last checkpoint */
  int batch_size;      /* 0: the model's train.batch_size */
  graphrun_session_options threads;
} graphrun_train_options;

/* Reads the model's train block and data, creates the run directory (or resumes it). options may be NULL. */
graphrun_status graphrun_trainer_create(const char* model_path, const graphrun_train_options* options,
                                        graphrun_trainer** out);
void graphrun_trainer_free(graphrun_trainer* trainer);
/* One epoch over the model's training data, as `graphrun train` runs it; *loss (may be NULL) gets its mean loss. */
graphrun_status graphrun_trainer_train_epoch(graphrun_trainer* trainer, double* loss);
/* One optimizer step on a batch the caller feeds (every input the loss needs, labels included). */
graphrun_status graphrun_trainer_step(graphrun_trainer* trainer, const graphrun_input* inputs, size_t num_inputs,
                                      double* loss);
/* Writes RUN_DIR/last.ckpt; the run directory then loads with graphrun_session_load. */
graphrun_status graphrun_trainer_save_checkpoint(const graphrun_trainer* trainer);

#ifdef __cplusplus
}
#endif

#endif /* GRAPHRUN_C_API_H_ */
