#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <google/protobuf/text_format.h>

#include "graphrun/npy.h"
#include "runtime/initializers.h"
#include "test_util.h"

namespace graphrun {
namespace {

using testing::temp_path;

TEST(Npy, RoundTripsFloatAndIntOfEveryRank) {
  for (const Dims& dims : {Dims{}, Dims{5}, Dims{2, 3}, Dims{2, 1, 3}}) {
    Tensor f(DType::f32, dims);
    for (int64_t i = 0; i < f.num_elements(); ++i) f.data<float>()[i] = 0.5f * static_cast<float>(i) - 1;
    write_npy(temp_path("f.npy"), f);
    Tensor g = read_npy(temp_path("f.npy"));
    ASSERT_EQ(g.dims(), dims);
    for (int64_t i = 0; i < f.num_elements(); ++i) EXPECT_EQ(g.data<float>()[i], f.data<float>()[i]);
    Tensor n(DType::i64, dims);
    for (int64_t i = 0; i < n.num_elements(); ++i) n.data<int64_t>()[i] = i * 1000000007;
    write_npy(temp_path("i.npy"), n);
    Tensor m = read_npy(temp_path("i.npy"));
    for (int64_t i = 0; i < n.num_elements(); ++i) EXPECT_EQ(m.data<int64_t>()[i], n.data<int64_t>()[i]);
  }
}

TEST(Npy, ErrorsNameTheFile) {
  const std::string path = temp_path("bad.npy");
  std::ofstream(path) << "not numpy";
  try {
    read_npy(path);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("bad magic"), std::string::npos);
  }
  EXPECT_THROW(read_npy(temp_path("missing.npy")), Error);
  // A directory is said to be one (it once read as a file with a bad magic).
  const std::string dir = temp_path("a_directory.npy");
  std::filesystem::create_directories(dir);
  try {
    read_npy(dir);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), dir + ": is a directory, not a .npy file");
  }
  // A header promising more data than the file holds.
  Tensor t(DType::f32, {4});
  write_npy(path, t);
  std::filesystem::resize_file(path, std::filesystem::file_size(path) - 4);
  EXPECT_THROW(read_npy(path), Error);
}

std::string npy_error(const std::string& path) {
  try {
    read_npy(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(Npy, HeaderShapesThatOverflowOrAreNegativeAreErrors) {
  const std::string path = temp_path("hostile.npy");
  // 4611686018427387907 * 4 wraps int64 to 12: a 176-byte file holds "all" 12 float32s.
  testing::write_raw_npy(path, "{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387907, 4), }", 48);
  ASSERT_EQ(std::filesystem::file_size(path), 176u);
  EXPECT_EQ(npy_error(path), path + ": shape [4611686018427387907,4] has more than 2^40 elements");
  testing::write_raw_npy(path, "{'descr': '<f4', 'fortran_order': False, 'shape': (-3, 4), }", 48);
  EXPECT_EQ(npy_error(path), path + ": dimension -3 of shape [-3,4] is negative");
  testing::write_raw_npy(path, "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", 0);
  EXPECT_EQ(npy_error(path), path + ": npy header dimension 99999999999999999999 is out of range");
}

TEST(Npy, DataSizeIsCheckedAgainstTheFileBeforeAllocating) {
  const std::string path = temp_path("short.npy");
  // The header claims 400 MB; the file holds 48 bytes. The message is the size
  // check's, which runs before anything the header sizes is allocated.
  testing::write_raw_npy(path, "{'descr': '<f4', 'fortran_order': False, 'shape': (100000000,), }", 48);
  EXPECT_EQ(npy_error(path),
            path + ": holds 48 bytes of data, but the shape [100000000] of '<f4' its header declares needs 400000000");
  // 2^39 int64s (4 TiB) could not be allocated at all: only the check can answer.
  testing::write_raw_npy(path, "{'descr': '<i8', 'fortran_order': False, 'shape': (549755813888,), }", 0);
  EXPECT_EQ(
      npy_error(path),
      path + ": holds 0 bytes of data, but the shape [549755813888] of '<i8' its header declares needs 4398046511104");
  // Bytes beyond the declared data mean the header is wrong too.
  testing::write_raw_npy(path, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 12);
  EXPECT_EQ(npy_error(path), path + ": holds 12 bytes of data, but the shape [2] of '<f4' its header declares needs 8");
  // A version 2.0 header length of 4 GiB in a 12-byte file.
  std::ofstream(path, std::ios::binary) << std::string("\x93NUMPY\x02\x00\xff\xff\xff\xff", 12);
  EXPECT_EQ(npy_error(path), path + ": truncated .npy header");
}

TEST(Npy, LongHeadersParseWithoutDeepRecursion) {
  // A 60000-character descr once overflowed the stack (the header was parsed with std::regex).
  const std::string path = temp_path("long_header.npy");
  const std::string descr(60000, 'f');
  testing::write_raw_npy(path, "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (3,), }", 12);
  EXPECT_EQ(npy_error(path),
            path + ": unsupported element type '" + descr + "' (use float32, float64, int32 or int64)");
  // Spaces around the colons, a 1-tuple and a 0-d shape parse as NumPy writes them.
  testing::write_raw_npy(path, "{'descr' : '<i4',  'fortran_order':False, 'shape':  (3,) }", 12);
  EXPECT_EQ(read_npy(path).dims(), Dims{3});
  testing::write_raw_npy(path, "{'descr': '<f8', 'fortran_order': False, 'shape': (), }", 8);
  EXPECT_EQ(read_npy(path).dims(), Dims{});
  testing::write_raw_npy(path, "{'descr': '<f4', 'fortran_order': False, 'shape': [3], }", 12);
  EXPECT_EQ(npy_error(path), path + ": npy header has no 'shape'");
}

pb::Parameter param(const std::string& text) {
  pb::Parameter p;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &p));
  return p;
}

TEST(Initializers, GlorotUniformWithinKerasLimitAndDeterministic) {
  const pb::Parameter p = param("name: 'w' shape: [50, 400] init { glorot_uniform {} }");
  const Tensor a = initialize_parameter(p, 1, "");
  const float limit = std::sqrt(6.f / 450.f);
  float lo = 1, hi = -1;
  for (float v : a.values<float>()) lo = std::min(lo, v), hi = std::max(hi, v);
  EXPECT_GE(lo, -limit);
  EXPECT_LE(hi, limit);
  EXPECT_LT(lo, -0.9f * limit);  // actually spans the range
  EXPECT_GT(hi, 0.9f * limit);
  const Tensor b = initialize_parameter(p, 1, "");
  EXPECT_TRUE(std::equal(a.values<float>().begin(), a.values<float>().end(), b.values<float>().begin()));
  const Tensor c = initialize_parameter(p, 2, "");
  EXPECT_NE(a.values<float>()[0], c.values<float>()[0]);
}

TEST(Initializers, OrthogonalHasOrthonormalRows) {
  // Keras' recurrent kernel shape: [units, 4 * units]; rows are orthonormal.
  const Tensor q = initialize_parameter(param("name: 'u' shape: [10, 40] init { orthogonal {} }"), 3, "");
  const float* v = q.data<float>();
  for (int i = 0; i < 10; ++i)
    for (int j = 0; j < 10; ++j) {
      double dot = 0;
      for (int k = 0; k < 40; ++k) dot += double(v[i * 40 + k]) * v[j * 40 + k];
      EXPECT_NEAR(dot, i == j ? 1.0 : 0.0, 1e-5) << i << "," << j;
    }
}

TEST(Initializers, BatchDimsMakeEachMatrixItsOwn) {
  // A bidirectional kernel [2, 50, 400]: the Keras limit is per direction, sqrt(6 / 450).
  const Tensor w =
      initialize_parameter(param("name: 'w' shape: [2, 50, 400] init { glorot_uniform {} batch_dims: 1 }"), 1, "");
  float hi = 0;
  for (float v : w.values<float>()) hi = std::max(hi, std::fabs(v));
  EXPECT_LE(hi, std::sqrt(6.f / 450.f));
  EXPECT_GT(hi, 0.9f * std::sqrt(6.f / 450.f));
  // Orthogonal per direction: each [10, 40] block has orthonormal rows.
  const Tensor q =
      initialize_parameter(param("name: 'r' shape: [2, 10, 40] init { orthogonal {} batch_dims: 1 }"), 3, "");
  for (int m = 0; m < 2; ++m) {
    const float* v = q.data<float>() + m * 400;
    for (int i = 0; i < 10; ++i) {
      double dot = 0;
      for (int k = 0; k < 40; ++k) dot += double(v[i * 40 + k]) * v[((i + 1) % 10) * 40 + k];
      EXPECT_NEAR(dot, 0.0, 1e-5);
    }
  }
  EXPECT_THROW(initialize_parameter(param("name: 'w' shape: [4] init { glorot_uniform {} batch_dims: 1 }"), 1, ""),
               Error);
}

TEST(Initializers, UnitForgetBiasSetsTheForgetQuarterOfEachRow) {
  const Tensor b = initialize_parameter(param("name: 'b' shape: [2, 8] init { unit_forget_bias {} }"), 0, "");
  const float expected[] = {0, 0, 1, 1, 0, 0, 0, 0};
  for (int row = 0; row < 2; ++row)
    for (int k = 0; k < 8; ++k) EXPECT_EQ(b.data<float>()[row * 8 + k], expected[k]) << row << "," << k;
  EXPECT_THROW(initialize_parameter(param("name: 'b' shape: [6] init { unit_forget_bias {} }"), 0, ""), Error);
}

TEST(Initializers, ConstantsNormalAndNpy) {
  EXPECT_EQ(
      initialize_parameter(param("name: 'b' shape: [3] init { constant { value: 2.5 } }"), 0, "").data<float>()[2],
      2.5f);
  EXPECT_EQ(initialize_parameter(param("name: 'b' shape: [3]"), 0, "").data<float>()[1], 0.f);
  const Tensor n = initialize_parameter(param("name: 'n' shape: [20000] init { normal { mean: 1 stddev: 2 } }"), 0, "");
  double sum = 0, sq = 0;
  for (float v : n.values<float>()) sum += v, sq += double(v) * v;
  const double mean = sum / 20000, var = sq / 20000 - mean * mean;
  EXPECT_NEAR(mean, 1.0, 0.05);
  EXPECT_NEAR(std::sqrt(var), 2.0, 0.05);

  Tensor t = Tensor::from_floats({2}, std::vector<float>{3.f, 4.f});
  write_npy(temp_path("p.npy"), t);
  const pb::Parameter from_file = param("name: 'e' shape: [2] init { npy { file: 'p.npy' } }");
  EXPECT_EQ(initialize_parameter(from_file, 0, testing::process_temp_dir().string()).data<float>()[1], 4.f);
  const pb::Parameter wrong_shape = param("name: 'e' shape: [3] init { npy { file: 'p.npy' } }");
  try {
    initialize_parameter(wrong_shape, 0, testing::process_temp_dir().string());
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("parameter 'e'"), std::string::npos);
  }
}

}  // namespace
}  // namespace graphrun
