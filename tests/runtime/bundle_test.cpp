// Model bundles (`graphrun export`, load_bundle): a bundle gives exactly what its run
// directory gives (parameters, outputs and labels, bit for bit), loads with the run,
// its data, word vectors and npy files gone, and a damaged or foreign file is a
// one-line error naming it, never a crash or a huge allocation.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "graphrun/train.h"
#include "runtime/train/bundle.h"
#include "runtime/train/framed_file.h"
#include "test_util.h"

namespace graphrun {
namespace {

namespace fs = std::filesystem;
const std::string kSource = GRAPHRUN_SOURCE_DIR;
const std::string kTinyModel = kSource + "/tests/runtime/models/tiny_text.pbtxt";
const std::vector<std::string> kTexts = {"I love you",
                                         "lets play baseball tonight",
                                         "food is ready",
                                         "this is the worst day of my life",
                                         "zzz unknown words only",
                                         ""};

std::string fresh_dir(const std::string& name) {
  const fs::path dir = testing::fresh_temp_path("bundle_" + name);
  fs::create_directories(dir);
  return dir.string();
}

TrainOptions quiet(const std::string& run_dir) {
  TrainOptions o;
  o.run_dir = run_dir;
  o.quiet = true;
  return o;
}

void expect_same_bits(const Tensor& a, const Tensor& b, const std::string& what) {
  ASSERT_EQ(a.type_string(), b.type_string()) << what;
  EXPECT_EQ(std::memcmp(a.raw_data(), b.raw_data(), a.num_bytes()), 0) << what;
}

// Every parameter of the two sessions, and every text's prediction by the two classifiers, equal bit for bit.
void expect_same_model(const Session& run, const Session& bundle, const TextClassifier& run_classifier,
                       const TextClassifier& bundle_classifier) {
  for (const std::string& name : run.model().parameter_names())
    expect_same_bits(run.parameter(name), bundle.parameter(name), name);
  for (const std::string& text : kTexts) {
    const Prediction want = run_classifier.classify(text), got = bundle_classifier.classify(text);
    EXPECT_EQ(got.tokens, want.tokens) << text;
    expect_same_bits(got.token_ids, want.token_ids, text);
    EXPECT_EQ(got.classes, want.classes) << text;
    EXPECT_EQ(got.probabilities, want.probabilities) << text;  // doubles made from the same floats: exact
    EXPECT_EQ(got.label, want.label) << text;
    EXPECT_EQ(got.attention, want.attention) << text;
    const std::string fetch = run.model().output_names()[0];
    expect_same_bits(bundle.run({{"tokens", want.token_ids}}, {fetch})[0],
                     run.run({{"tokens", want.token_ids}}, {fetch})[0], text);
  }
}

TEST(Bundle, ATinyTextRunAndItsBundleAgreeBitForBit) {
  const std::string dir = fresh_dir("tiny");
  train(kTinyModel, quiet(dir + "/run"));
  const BundleSummary summary = export_bundle(dir + "/run", dir + "/tiny.grb");
  EXPECT_EQ(summary.parameters, 4);
  EXPECT_EQ(summary.values, 400 * 16 + 16 * 5 + 5 + 16);
  EXPECT_TRUE(summary.has_vocabulary);
  EXPECT_EQ(summary.bytes, static_cast<int64_t>(fs::file_size(dir + "/tiny.grb")));
  EXPECT_FALSE(fs::exists(dir + "/tiny.grb.tmp"));
  expect_same_model(load_trained(kTinyModel, dir + "/run"), load_bundle(dir + "/tiny.grb"),
                    TextClassifier(kTinyModel, dir + "/run"), TextClassifier::from_bundle(dir + "/tiny.grb"));
}

// Emojifier V1's GloVe table is frozen, so not in its checkpoints: the bundle carries the table load_trained reads.
TEST(Bundle, EmojifierV1CarriesItsFrozenGloveTable) {
  const std::string dir = fresh_dir("emojify_v1");
  const std::string model = kSource + "/examples/emojify/v1.pbtxt";
  TrainOptions o = quiet(dir + "/run");
  o.epochs = 2;
  o.limit_examples = 40;
  train(model, o);
  const BundleSummary summary = export_bundle(dir + "/run", dir + "/v1.grb");
  EXPECT_EQ(summary.values, 30016 * 100 + 100 * 5 + 5 + 1);
  const Session bundle = load_bundle(dir + "/v1.grb");
  int64_t nonzero = 0;
  const Tensor glove = bundle.parameter("glove");  // a copy: the loop must not outlive it
  for (float v : glove.values<float>()) nonzero += v != 0;
  EXPECT_GT(nonzero, 30000 * 90);
  expect_same_model(load_trained(model, dir + "/run"), bundle, TextClassifier(model, dir + "/run"),
                    TextClassifier::from_bundle(dir + "/v1.grb"));
}

// A model whose data, word vectors (a frozen table) and npy initialiser (a frozen bias) sit beside it, all
// deleted after the export: the bundle still loads and classifies as the run did.
TEST(Bundle, LoadsWithTheRunDataWordVectorsAndNpyFilesGone) {
  const std::string dir = fresh_dir("self_contained");
  fs::copy_file(kSource + "/examples/emojify/data/train_emoji.csv", dir + "/train.csv");
  std::ofstream(dir + "/vectors.txt") << "i 0.5 0.5 0.5\nyou -0.5 0.25 1\nlove 1 -1 0.5\nfood 0 2 0\n";
  write_npy(dir + "/bias.npy", Tensor::from_floats({5}, std::vector<float>{0.1f, -0.2f, 0.3f, 0.f, 0.5f}));
  fs::copy_file(kSource + "/tests/runtime/models/word_vector_bag.pbtxt", dir + "/model.pbtxt");
  train(dir + "/model.pbtxt", quiet(dir + "/run"));
  const std::string bundle = testing::fresh_temp_path("bundle_self_contained.grb");
  EXPECT_NE(testing::cli("export " + dir + "/run -o " + bundle).output.find(" parameters ("), std::string::npos);
  std::vector<Prediction> want;
  const TextClassifier from_run(dir + "/model.pbtxt", dir + "/run");
  for (const std::string& text : kTexts) want.push_back(from_run.classify(text));
  const Tensor emb = load_trained(dir + "/model.pbtxt", dir + "/run").parameter("emb");

  fs::remove_all(dir);
  const TextClassifier from_bundle = TextClassifier::from_bundle(bundle);
  for (size_t i = 0; i < kTexts.size(); ++i) {
    const Prediction got = from_bundle.classify(kTexts[i]);
    EXPECT_EQ(got.probabilities, want[i].probabilities) << kTexts[i];
    EXPECT_EQ(got.classes[static_cast<size_t>(got.label)], want[i].classes[static_cast<size_t>(want[i].label)]);
  }
  expect_same_bits(load_bundle(bundle).parameter("emb"), emb, "emb");
  expect_same_bits(load_bundle(bundle).parameter("b"),
                   Tensor::from_floats({5}, std::vector<float>{0.1f, -0.2f, 0.3f, 0.f, 0.5f}), "b");
  fs::remove(bundle);
}

TEST(Bundle, TheCommandLineExportsAndTakesABundleWhereTheModelGoes) {
  const std::string dir = fresh_dir("cli");
  train(kTinyModel, quiet(dir + "/run"));
  const testing::CliResult exported = testing::cli("export " + dir + "/run -o " + dir + "/out/tiny.grb");
  ASSERT_EQ(exported.exit_code, 0) << exported.output;
  EXPECT_EQ(exported.output, dir + "/out/tiny.grb: 4 parameters (6501 values) and the vocabulary, " +
                                 std::to_string(fs::file_size(dir + "/out/tiny.grb")) + " bytes\n");

  const std::string texts = " --text 'I love you' --text 'food is ready'";
  const testing::CliResult from_run = testing::cli("predict " + kTinyModel + " --checkpoint " + dir + "/run" + texts);
  const testing::CliResult from_bundle = testing::cli("predict " + dir + "/out/tiny.grb" + texts);
  ASSERT_EQ(from_bundle.exit_code, 0) << from_bundle.output;
  EXPECT_EQ(from_bundle.output, from_run.output);

  write_npy(dir + "/ids.npy", Tensor::from_ints({2, 12}, std::vector<int64_t>(24, 3)));
  ASSERT_EQ(testing::cli("run " + kTinyModel + " --checkpoint " + dir + "/run -i tokens=" + dir + "/ids.npy -o " + dir +
                         "/by_run")
                .exit_code,
            0);
  const testing::CliResult run =
      testing::cli("run " + dir + "/out/tiny.grb -i tokens=" + dir + "/ids.npy -o " + dir + "/by_bundle");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(testing::file_text(dir + "/by_bundle/probs.npy"), testing::file_text(dir + "/by_run/probs.npy"));

  // A bundle holds its run: --checkpoint beside one is a usage error, and so is --split (no training data).
  EXPECT_EQ(testing::cli("predict " + dir + "/out/tiny.grb --checkpoint " + dir + "/run --text hi").exit_code, 2);
  EXPECT_EQ(testing::cli("run " + dir + "/out/tiny.grb --split test").exit_code, 2);
  EXPECT_EQ(testing::cli("predict " + kTinyModel + " --text hi").exit_code, 2);  // a .pbtxt needs its run
}

// What load_bundle says of the file `bytes` (written to `path`), or "loaded".
std::string bundle_error(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  try {
    load_bundle(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "loaded";
}

std::string little_endian(uint64_t value, int bytes) {
  std::string out;
  for (int i = 0; i < bytes; ++i) out += static_cast<char>((value >> (8 * i)) & 0xff);
  return out;
}

TEST(Bundle, DamagedOrForeignFilesAreOneLineErrors) {
  const std::string dir = fresh_dir("hostile");
  TrainOptions o = quiet(dir + "/run");
  o.epochs = 1;
  train(kTinyModel, o);
  export_bundle(dir + "/run", dir + "/good.grb");
  const std::string good = testing::file_text(dir + "/good.grb");
  const std::string path = dir + "/bad.grb";
  ASSERT_GT(good.size(), 1000u);

  std::string flipped = good;
  flipped[good.size() / 2] ^= 0x20;
  EXPECT_EQ(bundle_error(path, flipped), path + ": checksum mismatch: the file is corrupt");
  EXPECT_EQ(bundle_error(path, good.substr(0, good.size() - 7)),
            path + ": truncated: " + std::to_string(good.size() - 7) + " bytes, the bundle header says " +
                std::to_string(good.size()));
  EXPECT_EQ(bundle_error(path, good.substr(0, 11)), path + ": truncated: 11 bytes, the bundle header alone is 20");
  EXPECT_EQ(bundle_error(path, ""), path + ": truncated: the file is empty");
  EXPECT_EQ(bundle_error(path, good + "extra"), path + ": checksum mismatch: the file is corrupt");
  EXPECT_EQ(bundle_error(path, "GRBX" + good.substr(4)),
            path + ": not a graphrun bundle (wrong magic: it does not start with \"GRBN\")");
  EXPECT_EQ(bundle_error(path, testing::file_text(dir + "/run/last.ckpt")),
            path + ": not a graphrun bundle (wrong magic: it does not start with \"GRBN\")");
  EXPECT_EQ(bundle_error(path, "GRBN" + little_endian(2, 4) + good.substr(8)),
            path + ": bundle format 2 (this graphrun reads format 1): written by a newer graphrun");
  // A header claiming 2^62 bytes is refused against the file's size, before anything that size is allocated.
  EXPECT_EQ(bundle_error(path, "GRBN" + little_endian(1, 4) + little_endian(uint64_t{1} << 62, 8) +
                                   little_endian(0, 4) + "0123456789"),
            path + ": truncated: 30 bytes, the bundle header says " + std::to_string((uint64_t{1} << 62) + 20));
  // A sound frame around bytes that are no bundle.
  write_framed_file(path, {.magic = "GRBN", .version = 1, .what = "bundle"}, "\xff\xff\xff not protobuf");
  EXPECT_EQ(bundle_error(path, testing::file_text(path)), path + ": not a graphrun bundle (its contents do not parse)");
  // A parameter field (field 2, length-delimited) claiming 2^31 - 1 bytes in a payload of 9: refused
  // before a buffer that size is allocated (parameters are read into buffers of their stated size).
  write_framed_file(path, {.magic = "GRBN", .version = 1, .what = "bundle"},
                    std::string("\x12\xff\xff\xff\xff\x07" "abc"));
  EXPECT_EQ(bundle_error(path, testing::file_text(path)), path + ": not a graphrun bundle (its contents do not parse)");
  try {
    load_bundle(dir + "/missing.grb");
    ADD_FAILURE() << "a missing bundle loaded";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), dir + "/missing.grb: cannot open bundle");
  }

  // A sound file whose model and parameters disagree: a parameter missing (initialising it could read files
  // beside a model the bundle stands in for), of another shape, or foreign.
  pb::Bundle bundle;
  ASSERT_TRUE(bundle.ParseFromString(read_framed_file(dir + "/good.grb", {.magic = "GRBN", .what = "bundle"})));
  pb::Bundle missing = bundle;
  missing.mutable_parameter()->RemoveLast();
  write_bundle(path, missing);
  EXPECT_EQ(bundle_error(path, testing::file_text(path)), path + ": no value of parameter 'wa' (float32[16,1])");
  pb::Bundle reshaped = bundle;
  reshaped.mutable_parameter(3)->set_name("b");
  write_bundle(path, reshaped);
  EXPECT_EQ(bundle_error(path, testing::file_text(path)),
            path + ": parameter 'b' is float32[16,1], its model declares float32[5]");
  pb::Bundle foreign = bundle;
  foreign.mutable_parameter(3)->set_name("probs");
  write_bundle(path, foreign);
  EXPECT_EQ(bundle_error(path, testing::file_text(path)), path + ": parameter 'probs' is not one its model declares");

  // The command line reports each as one line.
  std::ofstream(path, std::ios::binary | std::ios::trunc) << flipped;
  const testing::CliResult r = testing::cli("predict " + path + " --text hi");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.output, "graphrun: error: " + path + ": checksum mismatch: the file is corrupt\n");
}

}  // namespace
}  // namespace graphrun
