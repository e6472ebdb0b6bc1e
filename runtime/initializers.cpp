#include "runtime/initializers.h"

#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <random>

#include "graph/shape.h"
#include "graphrun/npy.h"

namespace graphrun {
namespace {

uint64_t fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

// Uniform in [0, 1) from the top 24 bits: exact in float.
float uniform01(std::mt19937_64& rng) { return static_cast<float>(rng() >> 40) * (1.0f / 16777216.0f); }

float standard_normal(std::mt19937_64& rng) {
  // Box-Muller; 1 - u keeps the log argument in (0, 1].
  const double u1 = 1.0 - static_cast<double>(rng() >> 11) * (1.0 / 9007199254740992.0);
  const double u2 = static_cast<double>(rng() >> 11) * (1.0 / 9007199254740992.0);
  return static_cast<float>(std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2));
}

struct Fans {
  double in, out;
};

Fans fans_of(const Dims& shape) {
  if (shape.empty()) return {1, 1};
  if (shape.size() == 1) return {double(shape[0]), double(shape[0])};
  double receptive = 1;
  for (size_t i = 0; i + 2 < shape.size(); ++i) receptive *= double(shape[i]);
  return {double(shape[shape.size() - 2]) * receptive, double(shape.back()) * receptive};
}

// Keras Orthogonal: a normal (rows x cols) matrix made orthonormal along the
// smaller side. Modified Gram-Schmidt on the columns of the tall orientation
// gives the Q of a QR with a positive diagonal, as Keras' sign correction does.
void orthogonal(float* out, int64_t rows, int64_t cols, float gain, std::mt19937_64& rng) {
  const bool tall = rows >= cols;
  const int64_t n = tall ? rows : cols, k = tall ? cols : rows;  // Q is n x k
  std::vector<double> q(static_cast<size_t>(n * k));
  for (double& v : q) v = standard_normal(rng);
  auto at = [&](int64_t i, int64_t j) -> double& { return q[static_cast<size_t>(i * k + j)]; };
  for (int64_t j = 0; j < k; ++j) {
    for (int64_t p = 0; p < j; ++p) {
      double dot = 0;
      for (int64_t i = 0; i < n; ++i) dot += at(i, p) * at(i, j);
      for (int64_t i = 0; i < n; ++i) at(i, j) -= dot * at(i, p);
    }
    double norm = 0;
    for (int64_t i = 0; i < n; ++i) norm += at(i, j) * at(i, j);
    norm = std::sqrt(norm);
    for (int64_t i = 0; i < n; ++i) at(i, j) /= norm;
  }
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) out[r * cols + c] = gain * static_cast<float>(tall ? at(r, c) : at(c, r));
}

}  // namespace

Tensor initialize_parameter(const pb::Parameter& param, uint64_t model_seed, const std::string& model_dir) {
  const pb::Initializer& init = param.init();
  const Dims shape(param.shape().begin(), param.shape().end());
  const DType dtype = param.dtype() == pb::INT64 ? DType::i64 : DType::f32;
  auto fail = [&](const std::string& what) { return Error(fmt::format("parameter '{}': {}", param.name(), what)); };

  if (init.has_npy()) {
    std::filesystem::path file = init.npy().file();
    if (file.is_relative()) file = std::filesystem::path(model_dir) / file;
    Tensor t = read_npy(file.string());
    if (t.dims() != shape || t.dtype() != dtype)
      throw fail(fmt::format("{} holds {}, the parameter is {}", file.string(), t.type_string(),
                             type_str(TensorType{dtype, shape})));
    return t;
  }

  Tensor t(dtype, shape);
  if (dtype == DType::i64) {
    if (init.kind_case() != pb::Initializer::KIND_NOT_SET && !init.has_zeros())
      throw fail("int64 parameters take only zeros or npy initializers");
    return t;
  }
  std::mt19937_64 rng(init.seed() != 0 ? init.seed() : model_seed ^ fnv1a(param.name()));
  float* v = t.data<float>();
  const int64_t n = t.num_elements();
  if (init.batch_dims() >= shape.size() && init.batch_dims() > 0)
    throw fail(fmt::format("batch_dims {} leaves no matrix in shape {}", init.batch_dims(), dims_str(shape)));
  // With batch_dims, fans and orthogonality belong to each of the independent matrices.
  const Dims matrix_shape(shape.begin() + init.batch_dims(), shape.end());
  const int64_t matrices = init.batch_dims() > 0 ? n / num_elements(matrix_shape) : 1;
  const Fans fans = fans_of(matrix_shape);
  switch (init.kind_case()) {
    case pb::Initializer::KIND_NOT_SET:
    case pb::Initializer::kZeros:
      break;
    case pb::Initializer::kOnes:
      std::fill(v, v + n, 1.f);
      break;
    case pb::Initializer::kConstant:
      std::fill(v, v + n, init.constant().value());
      break;
    case pb::Initializer::kUniform: {
      const float lo = init.uniform().low(), hi = init.uniform().high();
      if (!(hi > lo)) throw fail(fmt::format("uniform needs low < high, got [{}, {}]", lo, hi));
      for (int64_t i = 0; i < n; ++i) v[i] = lo + (hi - lo) * uniform01(rng);
      break;
    }
    case pb::Initializer::kNormal:
      for (int64_t i = 0; i < n; ++i) v[i] = init.normal().mean() + init.normal().stddev() * standard_normal(rng);
      break;
    case pb::Initializer::kGlorotUniform: {
      const float limit = static_cast<float>(std::sqrt(6.0 / (fans.in + fans.out)));
      for (int64_t i = 0; i < n; ++i) v[i] = -limit + 2 * limit * uniform01(rng);
      break;
    }
    case pb::Initializer::kGlorotNormal: {
      const float stddev = static_cast<float>(std::sqrt(2.0 / (fans.in + fans.out)) / 0.87962566103423978);
      for (int64_t i = 0; i < n; ++i) {
        float z;
        do z = standard_normal(rng);
        while (std::fabs(z) > 2.f);
        v[i] = stddev * z;
      }
      break;
    }
    case pb::Initializer::kOrthogonal: {
      if (matrix_shape.size() < 2) throw fail("orthogonal needs a parameter of rank >= 2 (after batch_dims)");
      const float gain = init.orthogonal().gain() == 0 ? 1.f : init.orthogonal().gain();
      const int64_t per_matrix = n / matrices;
      for (int64_t m = 0; m < matrices; ++m)
        orthogonal(v + m * per_matrix, per_matrix / shape.back(), shape.back(), gain, rng);
      break;
    }
    case pb::Initializer::kUnitForgetBias: {
      // Gates i, f, c, o along the last dim: the second quarter is the forget gate.
      const int64_t width = shape.empty() ? 0 : shape.back();
      if (width % 4 != 0)
        throw fail(fmt::format("unit_forget_bias needs a last dim divisible by 4 (i,f,c,o), got {}", width));
      for (int64_t row = 0; row < n / width; ++row)
        std::fill(v + row * width + width / 4, v + row * width + width / 2, 1.f);
      break;
    }
    case pb::Initializer::kNpy:
      break;  // handled above
  }
  return t;
}

}  // namespace graphrun
