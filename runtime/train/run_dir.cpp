#include "runtime/train/run_dir.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>

#include "runtime/train/data_manifest.h"

namespace graphrun {
namespace {

namespace fs = std::filesystem;

// Appended to the model copy; a copy of a copy replaces it.
constexpr const char* kCopyNote = "\n# graphrun train: relative paths resolve against the original model's directory\n";

std::string utc_now(const char* format) {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, format, &tm);
  return buf;
}

// What the lock file records, and a second process's error quotes.
std::string this_process_as_holder() {
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  return fmt::format("pid {} on {} (graphrun train started {})", ::getpid(), host, utc_now("%Y-%m-%dT%H:%M:%SZ"));
}

// The holder the lock file records: its first line, empty when the holder has
// not written it yet.
std::string recorded_holder(int fd) {
  char buf[512];
  const ssize_t n = ::pread(fd, buf, sizeof buf, 0);
  const std::string text(buf, n > 0 ? static_cast<size_t>(n) : 0);
  return text.substr(0, text.find('\n'));
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

std::string RunDirectory::default_path(const std::string& model_name) {
  return (fs::path("runs") / fmt::format("{}-{}", model_name.empty() ? "model" : model_name, utc_now("%Y%m%d-%H%M%S")))
      .string();
}

std::string RunDirectory::file(const char* name) const { return (fs::path(path_) / name).string(); }

std::string RunDirectory::kept_checkpoint() const {
  return fs::exists(best_checkpoint()) ? best_checkpoint() : last_checkpoint();
}

RunDirectoryLock::~RunDirectoryLock() {
  if (fd_ >= 0) ::close(fd_);  // releases the flock
}

RunDirectoryLock RunDirectory::lock(Missing missing) const {
  // A mistyped --resume directory is an error, not a new directory holding only a lock file.
  if (missing == Missing::refuse && !fs::is_directory(path_))
    throw Error(fmt::format("{}: no checkpoint to resume from (no such run directory)", last_checkpoint()));
  std::error_code ec;
  fs::create_directories(path_, ec);
  if (ec) throw Error(fmt::format("{}: cannot create the run directory: {}", path_, ec.message()));
  const std::string path = lock_file();
  // Opening an existing lock file changes nothing in it: a refused process leaves the directory as it was.
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) throw Error(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
  RunDirectoryLock held(fd);
  int locked;
  while ((locked = ::flock(fd, LOCK_EX | LOCK_NB)) != 0 && errno == EINTR) {
  }
  if (locked != 0 && errno == EWOULDBLOCK) {
    const std::string holder = recorded_holder(fd);
    throw Error(fmt::format("{}: run directory is in use by {}", path_, holder.empty() ? "another process" : holder));
  }
  if (locked != 0) throw Error(fmt::format("{}: cannot lock: {}", path, std::strerror(errno)));
  const std::string holder = this_process_as_holder() + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, holder.data(), holder.size(), 0) != static_cast<ssize_t>(holder.size()))
    throw Error(fmt::format("{}: cannot write: {}", path, std::strerror(errno)));
  return held;
}

void RunDirectory::create(const RunDirectoryLock& /*held*/, const detail::ModelData& model,
                          const Vocabulary* vocabulary) const {
  if (fs::exists(last_checkpoint()))
    throw Error(fmt::format("{}: a run already exists here (use --resume to continue it)", path_));
  write_text(model_copy(), model_copy_text(model, path_));
  if (vocabulary) vocabulary->save(vocabulary_file());
  write_text(data_manifest_file(), data_manifest(model.proto.train().data(), model.directory));
}

std::string RunDirectory::check_data(const detail::ModelData& model, bool allow_change) const {
  if (!fs::exists(data_manifest_file())) {
    write_text(data_manifest_file(), data_manifest(model.proto.train().data(), model.directory));
    return fmt::format(
        "note: {} had no data.manifest (a run from an older graphrun), so a change of its data cannot be noticed; "
        "the data as it is now is recorded for later resumes",
        path_);
  }
  const std::optional<std::string> changed = first_changed_file(read_text(data_manifest_file()));
  if (!changed) return "";
  if (!allow_change)
    throw Error(
        fmt::format("{}; resuming {} would train on other data (--allow-data-change resumes anyway)", *changed, path_));
  write_text(data_manifest_file(), data_manifest(model.proto.train().data(), model.directory));
  return fmt::format("note: resuming on changed data (--allow-data-change): {}", *changed);
}

void RunDirectory::check_resumable(const detail::ModelData& model) const {
  if (!fs::exists(last_checkpoint())) throw Error(fmt::format("{}: no checkpoint to resume from", last_checkpoint()));
  // Runs started before copies had a data_dir line hold the model verbatim.
  const std::string saved = read_text(model_copy());
  if (saved != model.text && saved != model_copy_text(model, path_))
    throw Error(
        fmt::format("{}: the model file changed since this run started (compare with {})", model.path, model_copy()));
}

Vocabulary RunDirectory::load_vocabulary() const { return Vocabulary::load(vocabulary_file()); }

std::string model_copy_text(const detail::ModelData& model, const std::string& run_dir) {
  std::string text = model.text;
  const size_t note = text.rfind(kCopyNote);
  const bool is_copy =
      note != std::string::npos && text.find('\n', note + std::string(kCopyNote).size()) == text.size() - 1;
  if (is_copy) {
    text.erase(note);
  } else if (!model.proto.data_dir().empty()) {
    return text;  // the author's own data_dir: the copy keeps it as written
  }
  if (model.path.empty()) return text;
  std::error_code ec;
  fs::path dir = fs::relative(fs::absolute(model.directory.empty() ? "." : model.directory), fs::absolute(run_dir), ec);
  if (ec || dir.empty()) dir = fs::absolute(model.directory.empty() ? "." : model.directory);
  return text + kCopyNote + "data_dir: " + quoted(dir.string()) + "\n";
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out || !(out << text)) throw Error(fmt::format("{}: cannot write", path));
}

}  // namespace graphrun
