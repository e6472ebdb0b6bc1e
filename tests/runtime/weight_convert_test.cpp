// Recurrent weight converters (graphrun/convert.h, `graphrun convert-weights`): weights from
// PyTorch, ONNX and Keras, converted and run through graphrun's RNN / LSTM / GRU ops, give the
// outputs the source framework computed from them. The fixtures (tests/runtime/fixtures/convert)
// and their expected outputs come from make_fixtures.py beside them: torch itself, ONNX's
// operator equations, Keras' cell equations; never graphrun's own reference kernels.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>

#include "graphrun/convert.h"
#include "graphrun/graphrun.h"
#include "tests/temp_dir.h"

namespace graphrun {
namespace {

const std::filesystem::path kFixtures = std::filesystem::path(GRAPHRUN_SOURCE_DIR) / "tests/runtime/fixtures/convert";
constexpr int64_t kHidden = 3;  // the fixtures' N = 2, T = 5, C = 4, H = 3

// One fixture directory: FORMAT_CELL_DIRECTION, cell gru_reset_after meaning reset_after: true.
struct Case {
  std::string format, cell;
  bool bidirectional;

  std::string name() const {
    return fmt::format("{}_{}_{}", format, cell, bidirectional ? "bidirectional" : "forward");
  }
  std::filesystem::path dir() const { return kFixtures / name(); }
  RecurrentLayout layout() const {
    RecurrentLayout l;
    l.cell = parse_recurrent_cell(cell == "gru_reset_after" ? "gru" : cell);
    l.reset_after = cell == "gru_reset_after";
    l.bidirectional = bidirectional;
    return l;
  }
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name(); }  // gtest's name for a failing case

std::vector<Case> all_cases() {
  std::vector<Case> cases;
  const std::pair<const char*, std::vector<std::string>> formats[] = {
      {"pytorch", {"rnn", "lstm", "gru_reset_after"}},  // torch's GRU is linear-before-reset only
      {"onnx", {"rnn", "lstm", "gru", "gru_reset_after"}},
      {"keras", {"rnn", "lstm", "gru", "gru_reset_after"}},
  };
  for (const auto& [format, cells] : formats)
    for (const std::string& cell : cells)
      for (bool bidirectional : {false, true}) cases.push_back({format, cell, bidirectional});
  return cases;
}

bool is_expected_output(const std::string& stem) { return stem == "Y" || stem == "Y_h" || stem == "Y_c"; }

// The source tensors of a fixture, by the names the format uses (file stems).
std::map<std::string, Tensor> source_tensors(const Case& c) {
  std::map<std::string, Tensor> tensors;
  for (const auto& entry : std::filesystem::directory_iterator(c.dir())) {
    const std::string stem = entry.path().stem().string();
    if (!is_expected_output(stem)) tensors[stem] = read_npy(entry.path().string());
  }
  return tensors;
}

const char* op_of(const RecurrentLayout& l) {
  return l.cell == RecurrentCell::rnn ? "RNN" : l.cell == RecurrentCell::lstm ? "LSTM" : "GRU";
}

std::string shape_text(const Dims& dims) { return fmt::format("[{}]", fmt::join(dims, ", ")); }

// A model of one recurrent node over x [N, 5, 4]; W, R, B zeros, or read from
// npy_prefix_{W,R,B}.npy when npy_prefix is given.
std::string layer_model(const RecurrentLayout& l, const RecurrentWeights& w, const std::string& npy_prefix = "") {
  std::string text = "version: 1\nname: \"converted\"\ninput { name: \"x\" shape: [-1, 5, 4] }\n";
  for (const auto& [name, tensor] : {std::pair{"W", &w.W}, std::pair{"R", &w.R}, std::pair{"B", &w.B}}) {
    const std::string init =
        npy_prefix.empty() ? "" : fmt::format(" init {{ npy {{ file: \"{}_{}.npy\" }} }}", npy_prefix, name);
    text += fmt::format("parameter {{ name: \"{}\" shape: {}{} }}\n", name, shape_text(tensor->dims()), init);
  }
  const std::string outputs =
      l.cell == RecurrentCell::lstm ? "\"y\", \"y_h\", \"y_c\", \"ws\"" : "\"y\", \"y_h\", \"ws\"";
  text += fmt::format(
      "node {{ name: \"layer\" op: \"{}\" input: [\"x\", \"W\", \"R\", \"B\"] output: [{}]\n"
      "       recurrent {{ hidden_size: {} direction: {} return_sequences: true reset_after: {} }} }}\n"
      "output: \"y\"\n",
      op_of(l), outputs, kHidden, l.bidirectional ? "BIDIRECTIONAL" : "FORWARD", l.reset_after);
  return text;
}

std::vector<std::string> fetches_of(const RecurrentLayout& l) {
  if (l.cell == RecurrentCell::lstm) return {"y", "y_h", "y_c"};
  return {"y", "y_h"};
}

// Y, Y_h (and LSTM Y_c) of the graphrun op with these weights on the fixtures' x.
std::vector<Tensor> run_layer(const RecurrentLayout& l, const RecurrentWeights& w) {
  Session session(Model::parse(layer_model(l, w)));
  session.set_parameter("W", w.W);
  session.set_parameter("R", w.R);
  session.set_parameter("B", w.B);
  return session.run({{"x", read_npy((kFixtures / "x.npy").string())}}, fetches_of(l));
}

float max_abs_diff(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.dims(), b.dims());
  if (a.dims() != b.dims()) return INFINITY;
  float worst = 0;
  for (int64_t i = 0; i < a.num_elements(); ++i)
    worst = std::max(worst, std::fabs(a.data<float>()[i] - b.data<float>()[i]));
  return worst;
}

// Swaps the first two gate blocks along the last axis (in each of the two halves of a
// reset_after GRU's bias): the weights a converter with a wrong gate order would produce.
Tensor swap_first_gates(const Tensor& t, int64_t gate_block) {
  Tensor s = t.clone();
  float* v = s.data<float>();
  for (int64_t at = 0; at < s.num_elements(); at += gate_block)
    for (int64_t j = 0; j < kHidden; ++j) std::swap(v[at + j], v[at + kHidden + j]);
  return s;
}

class ConvertRecurrentWeights : public ::testing::TestWithParam<Case> {};

TEST_P(ConvertRecurrentWeights, MatchesTheSourceFramework) {
  const Case& c = GetParam();
  const RecurrentLayout layout = c.layout();
  const RecurrentWeights w = convert_recurrent_weights(parse_weight_format(c.format), layout, source_tensors(c));
  const std::vector<Tensor> got = run_layer(layout, w);
  const std::vector<std::string> expected_names = {"Y", "Y_h", "Y_c"};
  for (size_t k = 0; k < got.size(); ++k) {
    const Tensor expected = read_npy((c.dir() / (expected_names[k] + ".npy")).string());
    EXPECT_LT(max_abs_diff(got[k], expected), 1e-5f) << c.name() << " " << expected_names[k];
  }

  // The fixtures tell gate orders apart: swapping two gates moves Y far outside the tolerance.
  if (layout.cell == RecurrentCell::rnn) return;
  const int64_t GH = (layout.cell == RecurrentCell::lstm ? 4 : 3) * kHidden;
  const RecurrentWeights swapped{swap_first_gates(w.W, GH), swap_first_gates(w.R, GH), swap_first_gates(w.B, GH)};
  const Tensor expected_y = read_npy((c.dir() / "Y.npy").string());
  EXPECT_GT(max_abs_diff(run_layer(layout, swapped)[0], expected_y), 1e-3f) << c.name();
}

INSTANTIATE_TEST_SUITE_P(Fixtures, ConvertRecurrentWeights, ::testing::ValuesIn(all_cases()),
                         [](const ::testing::TestParamInfo<Case>& info) { return info.param.name(); });

TEST(ConvertRecurrentWeightsFixtures, EveryFixtureIsTested) {
  std::set<std::string> dirs, cases;
  for (const auto& entry : std::filesystem::directory_iterator(kFixtures))
    if (entry.is_directory() && entry.path().filename() != "__pycache__") dirs.insert(entry.path().filename().string());
  for (const Case& c : all_cases()) cases.insert(c.name());
  EXPECT_EQ(dirs, cases);
}

// The message of the Error `f` throws; fails the test when it throws none.
template <typename F>
std::string error_of(F f) {
  try {
    f();
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_EQ(message.find('\n'), std::string::npos) << "not one line: " << message;
    return message;
  }
  ADD_FAILURE() << "no error";
  return "";
}

RecurrentLayout layout_of(const std::string& cell, bool bidirectional = false, bool reset_after = false) {
  RecurrentLayout l;
  l.cell = parse_recurrent_cell(cell);
  l.bidirectional = bidirectional;
  l.reset_after = reset_after;
  return l;
}

Tensor zeros(Dims dims) { return Tensor(DType::f32, std::move(dims)); }

TEST(ConvertRecurrentWeightsErrors, WrongShapeNamesTheTensorAndBothShapes) {
  const std::map<std::string, Tensor> torch = {{"weight_ih_l0", zeros({12, 4})}, {"weight_hh_l0", zeros({12, 4})}};
  RecurrentLayout l = layout_of("lstm");
  l.hidden_size = 3;
  EXPECT_EQ(error_of([&] { convert_recurrent_weights(WeightFormat::pytorch, l, torch); }),
            "PyTorch LSTM: tensor 'weight_hh_l0' has shape [12,4], expected [4*H, H] = [12,3]");

  // ONNX weights of one direction for a bidirectional node.
  const std::map<std::string, Tensor> onnx = {{"W", zeros({1, 9, 4})}, {"R", zeros({1, 9, 3})}};
  EXPECT_EQ(error_of([&] { convert_recurrent_weights(WeightFormat::onnx, layout_of("gru", true), onnx); }),
            "ONNX GRU: tensor 'W' has shape [1,9,4], expected [2, 3*H, C] = [2,9,4]");

  // A Keras reset_after=True GRU's bias for a reset_after: false node says which flag is wrong.
  const std::map<std::string, Tensor> keras = {
      {"kernel", zeros({4, 9})}, {"recurrent_kernel", zeros({3, 9})}, {"bias", zeros({2, 9})}};
  const std::string message =
      error_of([&] { convert_recurrent_weights(WeightFormat::keras, layout_of("gru"), keras); });
  EXPECT_NE(message.find("Keras GRU: tensor 'bias' has shape [2,9], expected [3*H] = [9]"), std::string::npos)
      << message;
  EXPECT_NE(message.find("reset_after"), std::string::npos) << message;
  // ...and converts once the flag is right.
  EXPECT_EQ(convert_recurrent_weights(WeightFormat::keras, layout_of("gru", false, true), keras).B.dims(), Dims{18});
  // A flattened [6H] bias (CuDNNGRU's) converts too; a reset_after=False [3H] one is named as such.
  std::map<std::string, Tensor> flat = keras;
  flat["bias"] = zeros({18});
  EXPECT_EQ(convert_recurrent_weights(WeightFormat::keras, layout_of("gru", false, true), flat).B.dims(), Dims{18});
  flat["bias"] = zeros({9});
  EXPECT_NE(
      error_of([&] {
        convert_recurrent_weights(WeightFormat::keras, layout_of("gru", false, true), flat);
      }).find("Keras GRU: tensor 'bias' has shape [9], expected [2, 3*H] = [2,9] (a reset_after=False GRU's bias"),
      std::string::npos);

  const std::map<std::string, Tensor> missing = {{"kernel", zeros({4, 12})}};
  EXPECT_EQ(error_of([&] { convert_recurrent_weights(WeightFormat::keras, layout_of("lstm"), missing); }),
            "Keras LSTM: missing tensor 'recurrent_kernel' (expected kernel, recurrent_kernel, bias)");
}

TEST(ConvertRecurrentWeightsErrors, UnknownTensorsAreRefused) {
  Case c{"pytorch", "lstm", true};
  // A bidirectional layer's tensors converted as forward only: the reverse ones are not dropped silently.
  const std::string message =
      error_of([&] { convert_recurrent_weights(WeightFormat::pytorch, layout_of("lstm"), source_tensors(c)); });
  EXPECT_NE(message.find("PyTorch LSTM: unexpected tensor 'bias_hh_l0_reverse' (a bidirectional layer's"),
            std::string::npos)
      << message;
  // A second layer of a stacked torch module.
  std::map<std::string, Tensor> stacked = source_tensors({"pytorch", "lstm", false});
  stacked["weight_hh_l1"] = zeros({12, 3});
  EXPECT_NE(
      error_of([&] { convert_recurrent_weights(WeightFormat::pytorch, layout_of("lstm"), stacked); })
          .find("unexpected tensor 'weight_hh_l1' (not a name this format uses; expected weight_ih_l0, weight_hh_l0, "
                "bias_ih_l0, bias_hh_l0)"),
      std::string::npos);
}

TEST(ConvertRecurrentWeightsErrors, TorchGruToResetAfterFalseIsRefused) {
  const std::string message = error_of([&] {
    convert_recurrent_weights(WeightFormat::pytorch, layout_of("gru"),
                              source_tensors({"pytorch", "gru_reset_after", false}));
  });
  EXPECT_EQ(message.rfind("PyTorch GRU: torch's GRU is linear-before-reset", 0), 0u) << message;
  EXPECT_NE(message.find("does not convert to reset_after: false"), std::string::npos) << message;
}

TEST(ConvertRecurrentWeightsErrors, OnnxPeepholesAndNonDefaultAttributesAreRefused) {
  const Case c{"onnx", "lstm", false};
  std::map<std::string, Tensor> tensors = source_tensors(c);
  const RecurrentWeights plain = convert_recurrent_weights(WeightFormat::onnx, layout_of("lstm"), tensors);

  tensors["P"] = zeros({1, 9});  // an all-zero P is no peephole at all
  const RecurrentWeights zero_p = convert_recurrent_weights(WeightFormat::onnx, layout_of("lstm"), tensors);
  EXPECT_EQ(max_abs_diff(zero_p.B, plain.B), 0.f);
  tensors["P"].data<float>()[4] = 0.5f;
  EXPECT_EQ(error_of([&] { convert_recurrent_weights(WeightFormat::onnx, layout_of("lstm"), tensors); }),
            "ONNX LSTM: tensor 'P' holds peephole weights, which graphrun's LSTM does not have (only an all-zero P "
            "converts)");
  tensors["P"] = zeros({1, 12});
  EXPECT_EQ(error_of([&] { convert_recurrent_weights(WeightFormat::onnx, layout_of("lstm"), tensors); }),
            "ONNX LSTM: tensor 'P' has shape [1,12], expected [1, 3*H] = [1,9]");
  tensors.erase("P");

  RecurrentLayout l = layout_of("lstm");
  l.onnx.activations = {"sigmoid", "Tanh", "TANH"};  // the defaults, in any case
  EXPECT_NO_THROW(convert_recurrent_weights(WeightFormat::onnx, l, tensors));
  l.onnx.activations = {"Sigmoid", "Tanh", "Relu"};
  EXPECT_EQ(error_of([&] { convert_recurrent_weights(WeightFormat::onnx, l, tensors); }),
            "ONNX LSTM: activations [Sigmoid, Tanh, Relu] are not the defaults [Sigmoid, Tanh, Tanh] (only the default "
            "activations convert)");
  l.onnx.activations.clear();
  l.onnx.clip = 3.f;
  EXPECT_EQ(error_of([&] { convert_recurrent_weights(WeightFormat::onnx, l, tensors); }),
            "ONNX LSTM: clip 3 is not supported (graphrun's ops do not clip)");
  l.onnx.clip.reset();
  l.onnx.input_forget = true;
  EXPECT_NE(error_of([&] { convert_recurrent_weights(WeightFormat::onnx, l, tensors); }).find("input_forget"),
            std::string::npos);

  // Bidirectional GRU: one list of two activations per direction.
  RecurrentLayout gru = layout_of("gru", true, true);
  gru.onnx.activations = {"Sigmoid", "Tanh", "Sigmoid", "Tanh"};
  EXPECT_NO_THROW(
      convert_recurrent_weights(WeightFormat::onnx, gru, source_tensors({"onnx", "gru_reset_after", true})));
  gru.onnx.activations = {"Sigmoid", "Tanh", "HardSigmoid", "Tanh"};
  EXPECT_THROW(convert_recurrent_weights(WeightFormat::onnx, gru, source_tensors({"onnx", "gru_reset_after", true})),
               Error);
}

TEST(ConvertRecurrentWeights, MissingBiasesAreZeros) {
  struct Source {
    WeightFormat format;
    std::map<std::string, Tensor> tensors;
  };
  const Source sources[] = {
      {WeightFormat::pytorch, {{"weight_ih_l0", zeros({12, 4})}, {"weight_hh_l0", zeros({12, 3})}}},
      {WeightFormat::onnx, {{"W", zeros({1, 12, 4})}, {"R", zeros({1, 12, 3})}}},
      {WeightFormat::keras, {{"kernel", zeros({4, 12})}, {"recurrent_kernel", zeros({3, 12})}}},
  };
  for (const Source& s : sources) {
    const RecurrentWeights w = convert_recurrent_weights(s.format, layout_of("lstm"), s.tensors);
    EXPECT_EQ(w.W.dims(), (Dims{4, 12}));
    EXPECT_EQ(w.R.dims(), (Dims{3, 12}));
    ASSERT_EQ(w.B.dims(), Dims{12});
    for (float v : w.B.values<float>()) EXPECT_EQ(v, 0.f);
  }
  // A reset_after GRU keeps both (zero) halves.
  const RecurrentWeights gru = convert_recurrent_weights(WeightFormat::pytorch, layout_of("gru", true, true),
                                                         {{"weight_ih_l0", zeros({9, 4})},
                                                          {"weight_hh_l0", zeros({9, 3})},
                                                          {"weight_ih_l0_reverse", zeros({9, 4})},
                                                          {"weight_hh_l0_reverse", zeros({9, 3})}});
  EXPECT_EQ(gru.B.dims(), (Dims{2, 18}));
}

// The CLI: convert-weights writes PREFIX_{W,R,B}.npy, which a model loads with npy initializers.
struct CliResult {
  int exit_code;
  std::string output;
};

CliResult cli(const std::string& args) {
  static int calls = 0;  // one file per call
  const std::filesystem::path out_file = testing::fresh_temp_path(fmt::format("convert_cli_{}.txt", calls++));
  const int status = std::system(fmt::format("{} {} > {} 2>&1", GRAPHRUN_CLI, args, out_file.string()).c_str());
  std::ifstream in(out_file);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::filesystem::remove(out_file);
  return {WEXITSTATUS(status), text};
}

std::filesystem::path fresh_dir(const std::string& name) {
  const std::filesystem::path dir = testing::fresh_temp_path("convert_" + name);
  std::filesystem::create_directories(dir);
  return dir;
}

TEST(ConvertWeightsCli, WritesNpyFilesAModelLoads) {
  const Case c{"pytorch", "gru_reset_after", true};
  const auto dir = fresh_dir("cli");
  std::string args =
      "convert-weights --from pytorch --cell gru --hidden 3 --reset-after --bidirectional --out-prefix " +
      (dir / "gru").string();
  for (const auto& entry : std::filesystem::directory_iterator(c.dir()))
    if (!is_expected_output(entry.path().stem().string()))
      args += fmt::format(" --in {}={}", entry.path().stem().string(), entry.path().string());
  const CliResult r = cli(args);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("B float32[2,18] -> " + (dir / "gru_B.npy").string()), std::string::npos) << r.output;

  // The model names the files relative to itself, as a shipped model would.
  const RecurrentWeights shapes{zeros({2, 4, 9}), zeros({2, 3, 9}), zeros({2, 18})};
  const std::filesystem::path model = dir / "model.pbtxt";
  std::ofstream(model) << layer_model(c.layout(), shapes, "gru");
  Session session(Model::load(model.string()));
  const Tensor y = session.run({{"x", read_npy((kFixtures / "x.npy").string())}})[0];
  EXPECT_LT(max_abs_diff(y, read_npy((c.dir() / "Y.npy").string())), 1e-5f);
  std::filesystem::remove_all(dir);
}

TEST(ConvertWeightsCli, ErrorsAreOneLineWithNonZeroExit) {
  const auto dir = fresh_dir("cli_errors");
  const std::string w = (dir / "w.npy").string(), r = (dir / "r.npy").string();
  write_npy(w, zeros({4, 12}));
  write_npy(r, zeros({3, 9}));  // an LSTM's recurrent kernel would be [3, 12]
  CliResult result =
      cli(fmt::format("convert-weights --from keras --cell lstm --in kernel={} --in recurrent_kernel={} "
                      "--out-prefix {}",
                      w, r, (dir / "lstm").string()));
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(result.output,
            "graphrun: error: Keras LSTM: tensor 'recurrent_kernel' has shape [3,9], expected [H, 4*H] = [3,12]\n");
  EXPECT_FALSE(std::filesystem::exists(dir / "lstm_W.npy"));

  result = cli(fmt::format("convert-weights --from onnx --cell rnn --activations Relu --in W={} --out-prefix {}", w,
                           (dir / "rnn").string()));
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.output.find("activations [Relu] are not the defaults [Tanh]"), std::string::npos) << result.output;
  result = cli(fmt::format("convert-weights --from keras --cell lstm --in kernel {} --out-prefix x", w));
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.output.find("expected NAME=FILE.npy"), std::string::npos) << result.output;

  EXPECT_EQ(cli("convert-weights --from tensorflow --cell lstm --in kernel=k.npy --out-prefix x").exit_code, 2);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace graphrun
