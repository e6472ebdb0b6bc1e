// The graphrun command line. It uses only the public API (include/graphrun/) and its
// own formatting of results (format.h).
//
//   graphrun run MODEL.pbtxt --input x=x.npy --output out/   run and write outputs as .npy
//                                                             (x=image.png, x=DIR of PNGs; --png y: y_0000.png, ...)
//   graphrun export RUN_DIR -o model.grb                      a trained run as one file (a model bundle); run,
//                                                             predict and the APIs take model.grb as the model
//   graphrun check MODEL.pbtxt                                validate; per-node table with parameter counts
//   graphrun dot MODEL.pbtxt [-o graph.dot]                   Graphviz drawing of the graph
//   graphrun montage A.npy [B.npy|DIR ...] -o grid.png         images as one PNG grid (B's under A's)
//   graphrun latent-grid --layout A|B|C --dims 16 -o z.npy     latent codes of a 2-D grid, for a decoder
//   graphrun ops                                              the op reference, from the registry
//   graphrun profile MODEL.pbtxt [--steps N] [--trace t.json]   where a training step's time goes, per node
//   graphrun train MODEL.pbtxt [--run-dir DIR] [--resume] [--epochs N] [--batch-size N]   train with the model's train
//   block graphrun eval MODEL.pbtxt --checkpoint RUN_DIR [--split test]        score a run's checkpoint graphrun
//   predict MODEL.pbtxt --checkpoint RUN_DIR [--text "..."] [--html FILE]   (stdin lines without --text) graphrun grad
//   MODEL.pbtxt                                 the training graph autodiff builds, as .pbtxt graphrun gradcheck
//   MODEL.pbtxt                            numeric check of the model's gradients graphrun convert-weights --from
//   pytorch --cell lstm --in weight_ih_l0=w.npy ... --out-prefix lstm
//                                                             Keras/PyTorch/ONNX recurrent weights -> lstm_W/R/B.npy
//
// Every error is one line on stderr and a non-zero exit code (1 for errors in
// the model or data, 2 for bad command-line usage).
#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <span>

#include "format.h"
#include "graphrun/convert.h"
#include "graphrun/graphrun.h"
#include "graphrun/image_grid.h"
#include "graphrun/profile.h"
#include "graphrun/train.h"

namespace {

// Counts that must be at least 1. CLI::PositiveNumber would print its upper
// bound, the largest double, as a 309-digit number.
const CLI::Validator kPositiveCount(
    [](std::string& input) {
      int64_t value = 0;
      if (CLI::detail::lexical_cast(input, value) && value >= 1) return std::string();
      return "Value " + input + " is not a positive integer";
    },
    "POSITIVE");

// Thread counts: 0 picks automatically; a huge team would crash the OpenMP runtime.
const CLI::Range kThreadCount(0, graphrun::kMaxThreads);

struct RunArgs {
  std::string model;
  std::vector<std::string> inputs;  // name=file.npy, name=image.png or name=directory of PNGs
  std::vector<std::string> fetches;
  std::vector<std::string> png_outputs;  // fetched values also written as one PNG per batch row
  std::string output_dir = ".";
  std::string checkpoint;  // a training run directory: its parameters instead of the initialisers
  std::string split;       // feed the inputs from this split of the model's training data
  int threads = 0;
  int intra_threads = 0;
};

// FILE.npy as it is, FILE.png as [1, H, W, C], a directory as its *.png files sorted by name, [N, H, W, C].
graphrun::Tensor read_input(const std::string& path) {
  if (std::filesystem::is_directory(path)) return graphrun::read_png_dir(path);
  if (std::filesystem::path(path).extension() == ".png") {
    const graphrun::Tensor image = graphrun::read_png(path);
    graphrun::Dims dims = image.dims();
    dims.insert(dims.begin(), 1);
    return image.reshaped(dims);
  }
  return graphrun::read_npy(path);
}

// A model argument naming a bundle (`graphrun export`) rather than a .pbtxt: it holds the trained parameters.
bool is_bundle(const std::string& path) { return std::filesystem::path(path).extension() == ".grb"; }

// Output files may name directories that do not exist yet.
void create_parent_directory(const std::string& path) {
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent);
}

// An --input NAME=FILE.npy|FILE.png|DIR option: the input's name and its value.
std::pair<std::string, graphrun::Tensor> read_input_spec(const std::string& spec) {
  const size_t eq = spec.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size())
    throw graphrun::Error(fmt::format("--input '{}': expected NAME=FILE.npy, NAME=FILE.png or NAME=DIR", spec));
  return {spec.substr(0, eq), read_input(spec.substr(eq + 1))};
}

int run_command(const RunArgs& args) {
  const graphrun::SessionOptions options{args.threads, args.intra_threads};
  const graphrun::Session session = is_bundle(args.model) ? graphrun::load_bundle(args.model, options)
                                    : args.checkpoint.empty()
                                        ? graphrun::Session(graphrun::Model::load(args.model), options)
                                        : graphrun::load_trained(args.model, args.checkpoint, options);
  const graphrun::Model& model = session.model();
  std::map<std::string, graphrun::Tensor> feeds;
  if (!args.split.empty()) feeds = graphrun::split_inputs(model, args.checkpoint, args.split);  // never a bundle
  for (const std::string& spec : args.inputs) {
    auto [name, value] = read_input_spec(spec);
    if (feeds.count(name))
      throw graphrun::Error(
          fmt::format("--input '{}': input '{}' is fed by --split {} already", spec, name, args.split));
    feeds[name] = std::move(value);
  }
  std::vector<std::string> fetches = args.fetches.empty() ? model.output_names() : args.fetches;
  for (const std::string& name : args.png_outputs)  // --png NAME fetches NAME too
    if (std::find(fetches.begin(), fetches.end(), name) == fetches.end()) fetches.push_back(name);
  const std::vector<graphrun::Tensor> results = session.run(feeds, fetches);
  // Check every --png value before writing anything.
  for (const std::string& name : args.png_outputs) {
    const graphrun::Tensor& t =
        results[static_cast<size_t>(std::find(fetches.begin(), fetches.end(), name) - fetches.begin())];
    const bool ok = t.dtype() == graphrun::DType::f32 && t.rank() == 4 && t.dims()[3] >= 1 && t.dims()[3] <= 4;
    if (!ok)
      throw graphrun::Error(
          fmt::format("--png '{}': value '{}' is {}; PNG output needs float32 [N, H, W, C] with C in 1..4", name, name,
                      t.type_string()));
  }
  std::filesystem::create_directories(args.output_dir);
  for (size_t i = 0; i < results.size(); ++i) {
    // Value names may contain ':' (a node's second output); keep file names portable.
    std::string file_name = fetches[i];
    for (char& c : file_name)
      if (c == ':' || c == '/') c = '_';
    const std::filesystem::path stem = std::filesystem::path(args.output_dir) / file_name;
    const std::string path = stem.string() + ".npy";
    graphrun::write_npy(path, results[i]);
    std::cout << fmt::format("{} {} -> {}\n", fetches[i], results[i].type_string(), path);
    if (std::find(args.png_outputs.begin(), args.png_outputs.end(), fetches[i]) == args.png_outputs.end()) continue;
    const graphrun::Dims& d = results[i].dims();
    const int64_t per_image = d[1] * d[2] * d[3];
    for (int64_t n = 0; n < d[0]; ++n) {
      // One image is a copy of batch row n (Tensor has no views).
      const graphrun::Tensor image = graphrun::Tensor::from_floats(
          {d[1], d[2], d[3]},
          std::span<const float>(results[i].data<float>() + n * per_image, static_cast<size_t>(per_image)));
      graphrun::write_png(fmt::format("{}_{:04d}.png", stem.string(), n), image);
    }
    std::cout << fmt::format("{} -> {}_NNNN.png, {} image{}\n", fetches[i], stem.string(), d[0], d[0] == 1 ? "" : "s");
  }
  return 0;
}

struct PredictArgs {
  std::string model, run, html;
  std::vector<std::string> texts;
  std::vector<std::string> inputs;  // other graph inputs, as run's --input
  graphrun::PredictOptions options;
  std::string candidates;  // a PNG directory: the ranked candidates' names and pictures, in file name order
  std::string strip_dir;   // one PNG per text: its top candidates' pictures in a row
};

int predict_command(PredictArgs& args) {
  if (args.texts.empty())
    for (std::string line; std::getline(std::cin, line);)
      if (!line.empty()) args.texts.push_back(line);
  if (args.options.rank_value.empty() && (!args.candidates.empty() || !args.strip_dir.empty()))
    throw graphrun::Error("--candidates and --strip show ranked candidates: name their scores with --rank VALUE");
  if (!args.strip_dir.empty() && args.candidates.empty())
    throw graphrun::Error("--strip needs --candidates DIR, the pictures of the ranked candidates");
  for (const std::string& spec : args.inputs) args.options.inputs.push_back(read_input_spec(spec));
  const std::vector<std::string> pictures =
      args.candidates.empty() ? std::vector<std::string>{} : graphrun::list_png_dir(args.candidates);
  std::vector<std::string> names;
  for (const std::string& path : pictures) names.push_back(std::filesystem::path(path).stem().string());

  const graphrun::TextClassifier classifier = is_bundle(args.model)
                                                  ? graphrun::TextClassifier::from_bundle(args.model, {}, args.options)
                                                  : graphrun::TextClassifier(args.model, args.run, {}, args.options);
  std::vector<graphrun::Prediction> predictions;
  for (const std::string& text : args.texts) predictions.push_back(classifier.classify(text));
  for (size_t i = 0; i < predictions.size(); ++i) {
    const graphrun::Prediction& p = predictions[i];
    // The pictures name the candidates in order: a count that differs would mislabel them all.
    if (!pictures.empty() && static_cast<size_t>(p.candidates) != pictures.size())
      throw graphrun::Error(fmt::format("--candidates {}: {} pictures, but '{}' scores {} candidates", args.candidates,
                                        pictures.size(), args.options.rank_value, p.candidates));
    std::cout << graphrun::format_prediction(p, names) << "\n";
    if (args.strip_dir.empty() || p.ranked.empty()) continue;
    std::vector<std::string> top;
    for (const auto& [index, score] : p.ranked) top.push_back(pictures[static_cast<size_t>(index)]);
    std::filesystem::create_directories(args.strip_dir);
    const std::string path = (std::filesystem::path(args.strip_dir) / fmt::format("top_{:04d}.png", i)).string();
    graphrun::write_png(
        path, graphrun::image_grid({graphrun::read_png_batch(top)}, {.columns = static_cast<int64_t>(top.size())}));
    std::cout << fmt::format("  -> {}\n", path);
  }
  if (!args.html.empty()) {
    std::ofstream html(args.html);
    if (!html || !(html << graphrun::predictions_html(predictions)))
      throw graphrun::Error(fmt::format("{}: cannot write", args.html));
  }
  return 0;
}

struct ConvertArgs {
  std::string from, cell;
  graphrun::RecurrentLayout layout;
  std::vector<std::string> inputs;  // name=file.npy
  std::vector<std::string> activations;
  std::string out_prefix;
};

int convert_weights_command(const ConvertArgs& args) {
  graphrun::RecurrentLayout layout = args.layout;
  layout.cell = graphrun::parse_recurrent_cell(args.cell);
  const graphrun::WeightFormat from = graphrun::parse_weight_format(args.from);
  if (!args.activations.empty() && from != graphrun::WeightFormat::onnx)
    throw graphrun::Error("--activations describes an ONNX node; it takes --from onnx");
  layout.onnx.activations = args.activations;
  std::map<std::string, graphrun::Tensor> tensors;
  for (const std::string& spec : args.inputs) {
    const size_t eq = spec.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size())
      throw graphrun::Error(fmt::format("--in '{}': expected NAME=FILE.npy", spec));
    if (!tensors.emplace(spec.substr(0, eq), graphrun::read_npy(spec.substr(eq + 1))).second)
      throw graphrun::Error(fmt::format("--in '{}': tensor '{}' given twice", spec, spec.substr(0, eq)));
  }
  const graphrun::RecurrentWeights w = graphrun::convert_recurrent_weights(from, layout, tensors);
  create_parent_directory(args.out_prefix);
  for (const auto& [name, tensor] : {std::pair{"W", &w.W}, std::pair{"R", &w.R}, std::pair{"B", &w.B}}) {
    const std::string path = fmt::format("{}_{}.npy", args.out_prefix, name);
    graphrun::write_npy(path, *tensor);
    std::cout << fmt::format("{} {} -> {}\n", name, tensor->type_string(), path);
  }
  return 0;
}

struct MontageArgs {
  std::vector<std::string> inputs;  // FILE.npy, FILE.png or a directory of PNGs
  std::string output;
  graphrun::GridOptions grid;
};

int montage_command(const MontageArgs& args) {
  std::vector<graphrun::Tensor> batches;
  for (const std::string& path : args.inputs) batches.push_back(read_input(path));
  const graphrun::Tensor grid = graphrun::image_grid(batches, args.grid, args.inputs);
  create_parent_directory(args.output);
  graphrun::write_png(args.output, grid);
  std::cout << fmt::format("{} images -> {}, {}\n", batches.size() * static_cast<size_t>(batches[0].dims()[0]),
                           args.output, grid.type_string());
  return 0;
}

struct LatentGridArgs {
  std::string layout, output;
  int64_t dims = 0, steps = 20;
  std::vector<double> range = {-2, 2};
};

int latent_grid_command(const LatentGridArgs& args) {
  const graphrun::Tensor codes =
      graphrun::latent_grid(args.layout, args.dims, args.steps, args.range[0], args.range[1]);
  create_parent_directory(args.output);
  graphrun::write_npy(args.output, codes);
  std::cout << fmt::format("codes {} -> {}\n", codes.type_string(), args.output);
  return 0;
}

int export_command(const std::string& run_dir, const std::string& output, const std::string& model) {
  create_parent_directory(output);
  const graphrun::BundleSummary s = graphrun::export_bundle(run_dir, output, model);
  std::cout << fmt::format("{}: {} parameters ({} values){}, {} bytes\n", output, s.parameters, s.values,
                           s.has_vocabulary ? " and the vocabulary" : "", s.bytes);
  return 0;
}

int check_command(const std::string& path) {
  graphrun::Model model = graphrun::Model::load(path);
  graphrun::check_train_config(model);
  std::cout << fmt::format("Model: {} ({})\n", model.name().empty() ? "(unnamed)" : model.name(), path);
  std::cout << model.summary().to_string();
  return 0;
}

int dot_command(const std::string& path, const std::string& output) {
  const std::string dot = graphrun::Model::load(path).graphviz();
  if (output.empty() || output == "-") {
    std::cout << dot;
    return 0;
  }
  std::ofstream out(output);
  if (!out || !(out << dot)) throw graphrun::Error(fmt::format("{}: cannot write", output));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"graphrun: build, train and run dataflow graphs written as .pbtxt"};
  app.require_subcommand(1);

  RunArgs run_args;
  CLI::App* run =
      app.add_subcommand("run", "Run a model on .npy or PNG inputs and write its outputs as .npy (and PNG)");
  run->add_option("model", run_args.model, "Model .pbtxt, or a model bundle .grb (graphrun export)")->required();
  run->add_option("--input,-i", run_args.inputs,
                  "NAME=FILE.npy for each graph input; NAME=FILE.png feeds [1, H, W, C] (values byte/255), "
                  "NAME=DIR feeds DIR's *.png sorted by name as [N, H, W, C]");
  run->add_option("--fetch,-f", run_args.fetches, "Values to write (default: the model's outputs)");
  run->add_option("--png", run_args.png_outputs,
                  "Also write this value (float32 [N, H, W, C], C 1..4, fetched if not already) as "
                  "OUTPUT/NAME_0000.png, NAME_0001.png, ... (clipped to [0, 1]); repeatable");
  run->add_option("--output,-o", run_args.output_dir, "Directory for the output .npy (and --png) files");
  run->add_option("--checkpoint", run_args.checkpoint,
                  "Training run directory whose best (else last) checkpoint to run");
  run->add_option("--split", run_args.split,
                  "Feed the inputs from this split (train, validation, test) of the model's training data, every "
                  "example (text data: tokenized with the --checkpoint run's vocabulary)");
  run->add_option("--threads", run_args.threads, "Nodes run concurrently (0 = all cores, 1 = serial)")
      ->check(kThreadCount);
  run->add_option("--intra-threads", run_args.intra_threads, "OpenMP threads per oneDNN call (0 = default)")
      ->check(kThreadCount);

  std::string export_run, export_output, export_model;
  CLI::App* export_app = app.add_subcommand(
      "export", "Write a trained run as one file, a model bundle (.grb): graph, vocabulary and parameters");
  export_app->add_option("run_dir", export_run, "Run directory (model.pbtxt, vocab.txt, best.ckpt / last.ckpt)")
      ->required();
  export_app->add_option("--output,-o", export_output, "The bundle, e.g. model.grb")->required();
  export_app->add_option("--model", export_model,
                         "Export this model with the run's parameters, by name (default: the run's model.pbtxt)");

  std::string check_model;
  CLI::App* check = app.add_subcommand("check", "Validate a model and print its nodes and parameter counts");
  check->add_option("model", check_model, "Model .pbtxt")->required();

  std::string dot_model, dot_output;
  CLI::App* dot = app.add_subcommand("dot", "Write the graph in Graphviz format");
  dot->add_option("model", dot_model, "Model .pbtxt")->required();
  dot->add_option("--output,-o", dot_output, "Output file (default: stdout)");

  CLI::App* ops = app.add_subcommand("ops", "Print the op reference (Markdown) from the registry");

  std::string train_model;
  graphrun::TrainOptions train_options;
  int train_epochs = 0, train_batch = 0;
  CLI::App* train = app.add_subcommand("train", "Train a model with its train { ... } configuration");
  train->add_option("model", train_model, "Model .pbtxt with a train block")->required();
  train->add_option("--run-dir", train_options.run_dir, "Run directory (default: runs/<name>-<time>)");
  train->add_flag("--resume", train_options.resume, "Continue the run in --run-dir from its last checkpoint");
  train->add_flag("--allow-data-change", train_options.allow_data_change,
                  "With --resume: continue even when data files changed since the run started");
  train->add_option("--epochs", train_epochs, "Train to this many epochs in total (overrides the config)")
      ->check(kPositiveCount);
  train->add_option("--batch-size", train_batch, "Examples per step (overrides the config)")->check(kPositiveCount);
  train->add_option("--threads", train_options.threads, "Nodes run concurrently (0 = all cores, 1 = serial)")
      ->check(kThreadCount);
  train->add_option("--intra-threads", train_options.intra_threads, "OpenMP threads per oneDNN call (0 = default)")
      ->check(kThreadCount);
  train->add_flag("!--no-progress", train_options.progress, "No progress bar, one line per epoch");

  std::string eval_model, eval_run, eval_split = "test";
  CLI::App* eval = app.add_subcommand("eval", "Score a run's checkpoint (best, else last) on a data split");
  eval->add_option("model", eval_model, "Model .pbtxt")->required();
  eval->add_option("--checkpoint", eval_run, "Run directory holding best.ckpt / last.ckpt")->required();
  eval->add_option("--split", eval_split, "train, validation or test");

  PredictArgs predict_args;
  CLI::App* predict =
      app.add_subcommand("predict", "Score texts with a trained text model (one per --text, or stdin lines)");
  predict->add_option("model", predict_args.model, "Model .pbtxt with a train block, or a model bundle .grb")
      ->required();
  predict->add_option("--checkpoint", predict_args.run,
                      "Run directory (vocab.txt, best.ckpt / last.ckpt); required unless the model is a bundle");
  predict->add_option("--text,-t", predict_args.texts, "Text to score (repeatable); without it, each stdin line");
  predict->add_option("--input,-i", predict_args.inputs,
                      "NAME=FILE.npy|FILE.png|DIR: another graph input, fed as given with every text (repeatable)");
  predict->add_option("--rank", predict_args.options.rank_value,
                      "A value of one score per candidate ([1, K] per text): print its top candidates");
  predict->add_option("--top", predict_args.options.top, "How many candidates --rank prints (default 5)")
      ->check(kPositiveCount);
  predict->add_option("--candidates", predict_args.candidates,
                      "PNG directory of the K ranked candidates, in file name order: their names and pictures");
  predict->add_option("--strip", predict_args.strip_dir,
                      "Write each text's top candidates' pictures in a row as DIR/top_NNNN.png");
  predict->add_option("--html", predict_args.html,
                      "Also write the tokens highlighted by attention weight to this HTML file");

  std::string grad_model;
  CLI::App* grad = app.add_subcommand("grad", "Print the training graph (forward + gradients) as .pbtxt");
  grad->add_option("model", grad_model, "Model .pbtxt with loss terms")->required();

  std::string gradcheck_model;
  int64_t gradcheck_batch = 4;
  CLI::App* gradcheck = app.add_subcommand("gradcheck", "Compare autodiff gradients with central differences");
  gradcheck->add_option("model", gradcheck_model, "Model .pbtxt with loss terms")->required();
  gradcheck->add_option("--batch", gradcheck_batch, "Examples in the checked batch")->check(kPositiveCount);

  std::string profile_model;
  graphrun::ProfileOptions profile_options;
  int profile_batch = 0;
  CLI::App* profile = app.add_subcommand(
      "profile", "Time training steps: per node (forward, backward, update), oneDNN vs the rest, faults, allocations");
  profile->add_option("model", profile_model, "Model .pbtxt with a train block")->required();
  profile->add_option("--steps", profile_options.steps, "Timed steps, without per-node timing (default 10)")
      ->check(kPositiveCount);
  profile->add_option("--warmup", profile_options.warmup_steps, "Untimed steps first (default 2)")
      ->check(CLI::NonNegativeNumber);
  profile->add_option("--profiled-steps", profile_options.profiled_steps, "Steps timed per node (default 3)")
      ->check(CLI::NonNegativeNumber);
  profile->add_option("--batch-size", profile_batch, "Examples per step (overrides the config)")->check(kPositiveCount);
  profile->add_option("--trace", profile_options.trace_path,
                      "Write the profiled steps as a Chrome trace (JSON for chrome://tracing or Perfetto)");
  profile->add_option("--threads", profile_options.threads, "Nodes run concurrently (0 = all cores, 1 = serial)")
      ->check(kThreadCount);
  profile->add_option("--intra-threads", profile_options.intra_threads, "OpenMP threads per oneDNN call (0 = default)")
      ->check(kThreadCount);

  MontageArgs montage_args;
  CLI::App* montage =
      app.add_subcommand("montage", "Lay out images as one PNG grid; several inputs give one row each per band");
  montage
      ->add_option("inputs", montage_args.inputs,
                   "Images: FILE.npy (float32 [N, H, W, C] in [0, 1]), FILE.png or a directory of PNGs; with "
                   "several (same shape), image i of each sits under image i of the one before")
      ->required();
  montage->add_option("--output,-o", montage_args.output, "The grid, a PNG file")->required();
  montage->add_option("--cols", montage_args.grid.columns, "Images per row (default: ceil(sqrt(N)))")
      ->check(kPositiveCount);
  montage->add_option("--gap", montage_args.grid.gap, "Pixels between images (default 2)")->check(CLI::Range(0, 64));
  montage->add_option("--fill", montage_args.grid.fill, "Value of every channel in the gaps, 0..1 (default 1: white)")
      ->check(CLI::Range(0.0, 1.0));

  LatentGridArgs latent_args;
  CLI::App* latent = app.add_subcommand(
      "latent-grid", "Latent codes of a steps x steps grid over a 2-D range, for a decoder (writes [steps^2, dims])");
  latent
      ->add_option("--layout", latent_args.layout,
                   "How x and y fill the dims: A (first half x, rest y), B (x y x y ...), C (x x y y ...), or a "
                   "string of x and y, one per dim")
      ->required();
  latent->add_option("--dims", latent_args.dims, "Latent dims (A, B, C; a string of x and y gives its own)")
      ->check(kPositiveCount);
  latent->add_option("--steps", latent_args.steps, "Values per axis (default 20)")->check(CLI::Range(1, 1000));
  latent->add_option("--range", latent_args.range, "LOW,HIGH of both axes (default -2,2)")->delimiter(',')->expected(2);
  latent->add_option("--output,-o", latent_args.output, "The codes, a .npy file")->required();

  ConvertArgs convert_args;
  CLI::App* convert = app.add_subcommand(
      "convert-weights", "Convert Keras, PyTorch or ONNX recurrent weights to graphrun's W, R, B (.npy)");
  convert->add_option("--from", convert_args.from, "Source layout: keras, pytorch or onnx")
      ->required()
      ->check(CLI::IsMember({"keras", "pytorch", "onnx"}));
  convert->add_option("--cell", convert_args.cell, "rnn, lstm or gru")
      ->required()
      ->check(CLI::IsMember({"rnn", "lstm", "gru"}));
  convert
      ->add_option("--hidden", convert_args.layout.hidden_size, "Hidden size H (default: from the recurrent weights)")
      ->check(kPositiveCount);
  convert->add_flag("--reset-after", convert_args.layout.reset_after,
                    "GRU for a node with reset_after: true (PyTorch GRUs, ONNX linear_before_reset=1)");
  convert->add_flag("--bidirectional", convert_args.layout.bidirectional,
                    "Both directions, for direction: BIDIRECTIONAL");
  convert
      ->add_option("--in,-i", convert_args.inputs, "NAME=FILE.npy for each source tensor, named as the format names it")
      ->required();
  convert
      ->add_option("--activations", convert_args.activations,
                   "ONNX: the node's activations attribute, checked to be the defaults")
      ->delimiter(',');
  convert->add_option("--out-prefix,-o", convert_args.out_prefix, "Writes PREFIX_W.npy, PREFIX_R.npy, PREFIX_B.npy")
      ->required();

  try {
    app.parse(argc, argv);
    // A bundle holds its run: no --checkpoint with one, and no training data to take a --split from.
    if (*predict && predict_args.run.empty() && !is_bundle(predict_args.model))
      throw CLI::RequiredError("--checkpoint");
    for (const auto& [bundle, checkpoint] :
         {std::pair{&predict_args.model, &predict_args.run}, std::pair{&run_args.model, &run_args.checkpoint}})
      if (is_bundle(*bundle) && !checkpoint->empty())
        throw CLI::ValidationError("--checkpoint", *bundle + " is a model bundle, which holds its trained parameters");
    if (*run && is_bundle(run_args.model) && !run_args.split.empty())
      throw CLI::ValidationError("--split", run_args.model + " is a model bundle, which holds no training data");
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);  // prints help or the usage error
    return code == 0 ? 0 : 2;
  }
  try {
    if (*run) return run_command(run_args);
    if (*check) return check_command(check_model);
    if (*export_app) return export_command(export_run, export_output, export_model);
    if (*dot) return dot_command(dot_model, dot_output);
    if (*train) {
      if (train_epochs > 0) train_options.epochs = train_epochs;
      if (train_batch > 0) train_options.batch_size = train_batch;
      if (train_options.resume && train_options.run_dir.empty())
        throw graphrun::Error("--resume needs --run-dir naming the run to continue");
      train_options.stop_on_signals = true;
      const graphrun::TrainResult r = graphrun::train(train_model, train_options);
      if (r.stopped_by_signal) return 128 + r.stopped_by_signal;  // as the shell reports a signal's end
      std::cout << fmt::format("run directory: {}\n", r.run_dir);
      return 0;
    }
    if (*eval) {
      std::cout << graphrun::format_eval(graphrun::evaluate(eval_model, eval_run, eval_split));
      return 0;
    }
    if (*predict) return predict_command(predict_args);
    if (*grad) {
      std::cout << graphrun::gradient_graph_text(graphrun::Model::load(grad_model));
      return 0;
    }
    if (*convert) return convert_weights_command(convert_args);
    if (*profile) {
      if (profile_batch > 0) profile_options.batch_size = profile_batch;
      std::cout << graphrun::format_profile(graphrun::profile_training(profile_model, profile_options));
      return 0;
    }
    if (*montage) return montage_command(montage_args);
    if (*latent) return latent_grid_command(latent_args);
    if (*gradcheck) {
      const graphrun::GradCheckResult r = graphrun::gradcheck(gradcheck_model, gradcheck_batch);
      std::cout << fmt::format("{}: {} elements checked on {}, max abs error {:.3g}, max rel error {:.3g} (at {})\n",
                               r.passed ? "PASSED" : "FAILED", r.checked, r.inputs, r.max_abs_error, r.max_rel_error,
                               r.worst);
      return r.passed ? 0 : 1;
    }
    if (*ops) {
      std::cout << graphrun::op_reference_markdown();
      return 0;
    }
  } catch (const graphrun::Error& e) {
    std::cerr << "graphrun: error: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "graphrun: internal error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
