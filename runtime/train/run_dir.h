// A training run's directory: what `graphrun train` writes, and the rules for
// reading it back (`eval`, `predict`, `--resume`, load_trained).
//
//   model.pbtxt   the model as trained: the original's text plus a data_dir line
//                 pointing at the original's directory, so the copy reads the same
//                 data, word vectors and npy files (and can be given to eval or --resume)
//   vocab.txt     text data: the vocabulary, so eval/predict tokenize as training did
//   metrics.csv   one row per epoch
//   last.ckpt     the last epoch's checkpoint (or, after SIGINT/SIGTERM, the interrupted epoch's progress);
//                 best.ckpt, with keep_best, the best epoch's
//   train.log     the console output
//   data.manifest the data files read (CRC-32, size, path), so --resume refuses data that changed
//   .lock         held by the process writing the directory; records who that is
#pragma once

#include <string>
#include <utility>

#include "runtime/model_data.h"
#include "runtime/train/text_dataset.h"

namespace graphrun {

// An exclusive flock(2) on a run directory's .lock file, released when this is
// destroyed or the process ends however it ends (a kill -9 leaves no stale lock).
class RunDirectoryLock {
 public:
  RunDirectoryLock(RunDirectoryLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  RunDirectoryLock& operator=(RunDirectoryLock&&) = delete;
  ~RunDirectoryLock();

 private:
  friend class RunDirectory;
  explicit RunDirectoryLock(int fd) : fd_(fd) {}
  int fd_;
};

class RunDirectory {
 public:
  explicit RunDirectory(std::string path) : path_(std::move(path)) {}
  static std::string default_path(const std::string& model_name);  // runs/<name>-<UTC time>

  const std::string& path() const { return path_; }
  std::string model_copy() const { return file("model.pbtxt"); }
  std::string vocabulary_file() const { return file("vocab.txt"); }
  std::string metrics_csv() const { return file("metrics.csv"); }
  std::string log() const { return file("train.log"); }
  std::string last_checkpoint() const { return file("last.ckpt"); }
  std::string best_checkpoint() const { return file("best.ckpt"); }
  std::string lock_file() const { return file(".lock"); }
  std::string data_manifest_file() const { return file("data.manifest"); }
  // The checkpoint a finished run is used by: best.ckpt when keep_best wrote one, else last.ckpt.
  std::string kept_checkpoint() const;

  // Everything that writes the directory holds its lock for as long as it writes:
  // creates the directory when missing (only a new run: a resumed one must exist),
  // takes the lock and records this process as its holder. When another process
  // holds it: an Error naming that process, and no file in the directory touched.
  // Readers (eval, predict) need no lock.
  enum class Missing { create, refuse };
  [[nodiscard]] RunDirectoryLock lock(Missing missing = Missing::create) const;

  // A new run, under the directory's lock: refuses a directory that already holds
  // one, then writes the model copy and, for text data, the vocabulary.
  void create(const RunDirectoryLock& held, const detail::ModelData& model, const Vocabulary* vocabulary) const;
  // Resuming: the run has a last checkpoint, and `model` is the one it started
  // with (the original model file, or the run's own copy).
  void check_resumable(const detail::ModelData& model) const;
  // Resuming: the data files are as data.manifest recorded them, else an Error naming
  // the first that changed, unless `allow_change` (then the manifest records the data
  // as it is now). Returns a line for the log, or "": a change allowed, or no manifest
  // (a run from before manifests: the data as it is now is recorded).
  std::string check_data(const detail::ModelData& model, bool allow_change) const;
  Vocabulary load_vocabulary() const;

 private:
  std::string file(const char* name) const;
  std::string path_;
};

// The text of `model`'s copy in run directory `run_dir`.
std::string model_copy_text(const detail::ModelData& model, const std::string& run_dir);

void write_text(const std::string& path, const std::string& text);  // whole file; Error naming it when it fails

}  // namespace graphrun
