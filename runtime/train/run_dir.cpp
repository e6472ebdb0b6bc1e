#include "runtime/train/run_dir.h"

#include <fmt/format.h>

#include <ctime>
#include <filesystem>
#include <fstream>

namespace graphrun {
namespace {

namespace fs = std::filesystem;

// Appended to the model copy; a copy of a copy replaces it.
constexpr const char* kCopyNote = "\n# graphrun train: relative paths resolve against the original model's directory\n";

std::string utc_stamp() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d-%H%M%S", &tm);
  return buf;
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
  return (fs::path("runs") / fmt::format("{}-{}", model_name.empty() ? "model" : model_name, utc_stamp())).string();
}

std::string RunDirectory::file(const char* name) const { return (fs::path(path_) / name).string(); }

std::string RunDirectory::kept_checkpoint() const {
  return fs::exists(best_checkpoint()) ? best_checkpoint() : last_checkpoint();
}

void RunDirectory::create(const detail::ModelData& model, const Vocabulary* vocabulary) const {
  if (fs::exists(last_checkpoint()))
    throw Error(fmt::format("{}: a run already exists here (use --resume to continue it)", path_));
  fs::create_directories(path_);
  write_text(model_copy(), model_copy_text(model, path_));
  if (vocabulary) vocabulary->save(vocabulary_file());
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
