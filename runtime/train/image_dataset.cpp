#include "runtime/train/image_dataset.h"

#include <fmt/format.h>

#include <cstring>
#include <filesystem>
#include <vector>

#include "graph/shape.h"
#include "graphrun/data/shuffle.h"
#include "graphrun/png.h"
#include "runtime/train/dataset.h"

namespace graphrun {
namespace {

namespace fs = std::filesystem;

// Every image of the directories, in order, as one [N, H, W, C] tensor (empty without directories).
Tensor read_dirs(const google::protobuf::RepeatedPtrField<std::string>& dirs, const std::string& base) {
  std::vector<std::string> paths;
  for (const std::string& d : dirs) {
    const std::vector<std::string> files = list_png_dir(fs::path(d).is_relative() ? (fs::path(base) / d).string() : d);
    paths.insert(paths.end(), files.begin(), files.end());
  }
  return paths.empty() ? Tensor() : read_png_batch(paths);
}

// The images `rows` of `images`, in that order.
Tensor take(const Tensor& images, const std::vector<size_t>& rows) {
  Dims dims = images.dims();
  const size_t bytes = images.num_bytes() / static_cast<size_t>(dims[0]);
  dims[0] = static_cast<int64_t>(rows.size());
  Tensor out = Tensor::uninitialized(DType::f32, dims);
  for (size_t r = 0; r < rows.size(); ++r)
    std::memcpy(static_cast<char*>(out.raw_data()) + r * bytes,
                static_cast<const char*>(images.raw_data()) + rows[r] * bytes, bytes);
  return out;
}

}  // namespace

ImageDataset load_image_dataset(const pb::DataConfig& config, const std::string& base_dir, uint64_t seed,
                                const std::string& only_split) {
  if (config.train_size() == 0) throw Error("training config: data.train names no directory");
  const bool split_from_train = config.validation_size() == 0 && config.validation_split() > 0;
  const bool all = only_split.empty();
  ImageDataset ds;
  if (all || only_split == "train" || (only_split == "validation" && split_from_train))
    ds.train = read_dirs(config.train(), base_dir);
  if (all || only_split == "validation") ds.validation = read_dirs(config.validation(), base_dir);
  if (all || only_split == "test") ds.test = read_dirs(config.test(), base_dir);

  if (!ds.train.empty() && split_from_train) {
    if (config.split_rule() != pb::DataConfig::STRATIFIED)
      throw Error(
          "training config: format PNG_DIR has no labels to stratify; its validation_split takes split_rule "
          "STRATIFIED");
    // The text data's stratified rule with every image in one class.
    const data::Split split =
        validation_rows(config, std::vector<int64_t>(static_cast<size_t>(ds.train.dims()[0]), 0), seed);
    ds.validation = split.validation.empty() ? Tensor() : take(ds.train, split.validation);
    ds.train = take(ds.train, split.train);
  }
  // Every split feeds one graph input, so all must have the training images' H, W and C.
  for (const auto& [name, split, dirs] :
       {std::tuple{"validation", &ds.validation, &config.validation()}, std::tuple{"test", &ds.test, &config.test()}}) {
    if (split->empty() || ds.train.empty() || dirs->empty()) continue;
    const Dims a(ds.train.dims().begin() + 1, ds.train.dims().end()), b(split->dims().begin() + 1, split->dims().end());
    if (a != b)
      throw Error(fmt::format("{}: {} images are {} [H, W, C] but the training images ({}) are {}", dirs->Get(0), name,
                              dims_str(b), config.train(0), dims_str(a)));
  }
  return ds;
}

}  // namespace graphrun
