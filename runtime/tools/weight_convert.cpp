// Recurrent weights from Keras, PyTorch and ONNX into graphrun's layout (graphrun/convert.h).
//
// Every source reduces to the same parts per direction: W and R as graphrun's [K, G*H]
// (transposed from gate-major rows for PyTorch and ONNX, gate blocks put in Keras order)
// and an input and a recurrent bias of G*H each (zeros when absent). B is then their sum,
// or both side by side for a reset_after GRU, whose equations keep the recurrent bias of
// the candidate gate inside r * (.): that is why they cannot be summed there.
#include "graphrun/convert.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>

#include "graph/shape.h"

namespace graphrun {
namespace {

const char* format_name(WeightFormat f) {
  switch (f) {
    case WeightFormat::keras:
      return "Keras";
    case WeightFormat::pytorch:
      return "PyTorch";
    case WeightFormat::onnx:
      return "ONNX";
  }
  return "?";
}

const char* cell_name(RecurrentCell c) {
  switch (c) {
    case RecurrentCell::rnn:
      return "RNN";
    case RecurrentCell::lstm:
      return "LSTM";
    case RecurrentCell::gru:
      return "GRU";
  }
  return "?";
}

int64_t gates_of(RecurrentCell c) { return c == RecurrentCell::rnn ? 1 : c == RecurrentCell::lstm ? 4 : 3; }

// For each graphrun gate (LSTM i,f,c,o; GRU z,r,h), the index of the same gate in the source.
std::vector<int64_t> source_gate_of(WeightFormat f, RecurrentCell c) {
  if (f == WeightFormat::pytorch && c == RecurrentCell::gru) return {1, 0, 2};   // torch r,z,n
  if (f == WeightFormat::onnx && c == RecurrentCell::lstm) return {0, 2, 3, 1};  // ONNX i,o,f,c
  std::vector<int64_t> same(static_cast<size_t>(gates_of(c)));
  for (size_t g = 0; g < same.size(); ++g) same[g] = static_cast<int64_t>(g);
  return same;
}

// The source's tensor names for direction d (0 forward, 1 reverse).
struct Names {
  std::string W, R, b_in, b_rec;  // ONNX: B holds both biases, b_rec is unused
};

Names names_of(WeightFormat f, bool bidirectional, int d) {
  switch (f) {
    case WeightFormat::pytorch: {
      const std::string s = d == 1 ? "_reverse" : "";
      return {"weight_ih_l0" + s, "weight_hh_l0" + s, "bias_ih_l0" + s, "bias_hh_l0" + s};
    }
    case WeightFormat::onnx:
      return {"W", "R", "B", ""};
    case WeightFormat::keras: {
      const std::string p = !bidirectional ? "" : d == 0 ? "forward_" : "backward_";
      return {p + "kernel", p + "recurrent_kernel", p + "bias", ""};
    }
  }
  return {};
}

std::string lower(std::string s) {
  for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

class Converter {
 public:
  Converter(WeightFormat from, const RecurrentLayout& layout, const std::map<std::string, Tensor>& tensors)
      : from_(from),
        layout_(layout),
        tensors_(tensors),
        G_(gates_of(layout.cell)),
        D_(layout.bidirectional ? 2 : 1),
        order_(source_gate_of(from, layout.cell)),
        what_(fmt::format("{} {}", format_name(from), cell_name(layout.cell))) {}

  RecurrentWeights run() {
    check_layout();
    refuse_unknown_names();
    if (from_ == WeightFormat::onnx) check_onnx_attributes();
    take_sizes();
    const int64_t GH = G_ * H_;
    const bool split_bias = reset_after_gru();
    const auto stacked = [&](Dims dims) {
      if (D_ == 2) dims.insert(dims.begin(), 2);
      return dims;
    };
    RecurrentWeights out{Tensor(DType::f32, stacked({C_, GH})), Tensor(DType::f32, stacked({H_, GH})),
                         Tensor(DType::f32, stacked({split_bias ? 2 * GH : GH}))};
    for (int d = 0; d < D_; ++d) {
      std::vector<float> b_in(static_cast<size_t>(GH)), b_rec(static_cast<size_t>(GH));
      convert_direction(d, out.W.data<float>() + d * C_ * GH, out.R.data<float>() + d * H_ * GH, b_in, b_rec);
      float* b = out.B.data<float>() + d * (split_bias ? 2 * GH : GH);
      for (int64_t k = 0; k < GH; ++k) {
        if (split_bias) {
          b[k] = b_in[static_cast<size_t>(k)];
          b[GH + k] = b_rec[static_cast<size_t>(k)];
        } else {
          b[k] = b_in[static_cast<size_t>(k)] + b_rec[static_cast<size_t>(k)];
        }
      }
    }
    return out;
  }

 private:
  bool reset_after_gru() const { return layout_.cell == RecurrentCell::gru && layout_.reset_after; }

  [[noreturn]] void fail(const std::string& message) const { throw Error(fmt::format("{}: {}", what_, message)); }

  // "4*H" for the gate blocks' extent in messages.
  std::string gh() const { return G_ == 1 ? "H" : fmt::format("{}*H", G_); }

  void check_layout() const {
    if (layout_.hidden_size < 0) fail(fmt::format("hidden size must be positive, got {}", layout_.hidden_size));
    if (layout_.reset_after && layout_.cell != RecurrentCell::gru) fail("reset_after applies to GRU only");
    if (from_ == WeightFormat::pytorch && layout_.cell == RecurrentCell::gru && !layout_.reset_after)
      fail(
          "torch's GRU is linear-before-reset (n = tanh(W_in x + b_in + r * (W_hn h + b_hn))), which is graphrun's "
          "reset_after: true; it does not convert to reset_after: false");
  }

  std::vector<std::string> expected_names() const { return recurrent_weight_names(from_, layout_); }

  void refuse_unknown_names() const {
    const std::vector<std::string> known = expected_names();
    RecurrentLayout both = layout_;
    both.bidirectional = true;
    const std::vector<std::string> with_reverse = recurrent_weight_names(from_, both);
    const auto has = [](const std::vector<std::string>& names, const std::string& name) {
      return std::find(names.begin(), names.end(), name) != names.end();
    };
    for (const auto& [name, tensor] : tensors_) {
      if (has(known, name)) continue;
      // Say so when it is the reverse direction's: a bidirectional layer converted as one direction.
      fail(fmt::format(
          "unexpected tensor '{}' ({}; expected {})", name,
          has(with_reverse, name) ? "a bidirectional layer's: convert as bidirectional" : "not a name this format uses",
          fmt::join(known, ", ")));
    }
  }

  // ONNX's default activations per direction.
  std::vector<std::string> onnx_default_activations() const {
    switch (layout_.cell) {
      case RecurrentCell::rnn:
        return {"Tanh"};
      case RecurrentCell::lstm:
        return {"Sigmoid", "Tanh", "Tanh"};
      case RecurrentCell::gru:
        return {"Sigmoid", "Tanh"};
    }
    return {};
  }

  void check_onnx_attributes() const {
    const OnnxRecurrentAttributes& a = layout_.onnx;
    if (a.clip) fail(fmt::format("clip {} is not supported (graphrun's ops do not clip)", *a.clip));
    if (a.input_forget) fail("input_forget=1 (coupled input and forget gates) is not supported");
    if (a.activations.empty()) return;
    const std::vector<std::string> defaults = onnx_default_activations();
    // One list per direction, forward first (a single list for both is accepted too),
    // names compared without regard to case.
    const size_t n = a.activations.size();
    bool ok = n == defaults.size() || n == defaults.size() * static_cast<size_t>(D_);
    for (size_t i = 0; ok && i < n; ++i) ok = lower(a.activations[i]) == lower(defaults[i % defaults.size()]);
    if (!ok)
      fail(fmt::format("activations [{}] are not the defaults [{}] (only the default activations convert)",
                       fmt::join(a.activations, ", "), fmt::join(defaults, ", ")));
  }

  const Tensor* find(const std::string& name) const {
    const auto it = tensors_.find(name);
    return it == tensors_.end() ? nullptr : &it->second;
  }

  const Tensor& require(const std::string& name) const {
    const Tensor* t = find(name);
    if (!t) fail(fmt::format("missing tensor '{}' (expected {})", name, fmt::join(expected_names(), ", ")));
    if (t->dtype() != DType::f32) fail(fmt::format("tensor '{}' is {}, expected float32", name, t->type_string()));
    return *t;
  }

  void expect_rank(const std::string& name, const Tensor& t, int rank, const std::string& formula) const {
    if (t.rank() != rank) fail(fmt::format("tensor '{}' has shape {}, expected {}", name, dims_str(t.dims()), formula));
  }

  void expect_shape(const std::string& name, const Tensor& t, const Dims& expected, const std::string& formula,
                    const std::string& hint = "") const {
    if (t.dims() == expected) return;
    fail(fmt::format("tensor '{}' has shape {}, expected {} = {}{}", name, dims_str(t.dims()), formula,
                     dims_str(expected), hint));
  }

  // H from the recurrent weights (or the layout, checked below), C from the input weights.
  void take_sizes() {
    const Names n = names_of(from_, layout_.bidirectional, 0);
    const Tensor& R = require(n.R);
    const Tensor& W = require(n.W);
    switch (from_) {
      case WeightFormat::pytorch:
        expect_rank(n.R, R, 2, fmt::format("[{}, H]", gh()));
        expect_rank(n.W, W, 2, fmt::format("[{}, C]", gh()));
        H_ = R.dims()[1], C_ = W.dims()[1];
        break;
      case WeightFormat::onnx:
        expect_rank(n.R, R, 3, fmt::format("[{}, {}, H]", D_, gh()));
        expect_rank(n.W, W, 3, fmt::format("[{}, {}, C]", D_, gh()));
        H_ = R.dims()[2], C_ = W.dims()[2];
        break;
      case WeightFormat::keras:
        expect_rank(n.R, R, 2, fmt::format("[H, {}]", gh()));
        expect_rank(n.W, W, 2, fmt::format("[C, {}]", gh()));
        H_ = R.dims()[0], C_ = W.dims()[0];
        break;
    }
    if (layout_.hidden_size > 0) H_ = layout_.hidden_size;
    if (H_ <= 0 || C_ <= 0)
      fail(fmt::format("tensors '{}' {} and '{}' {} leave no hidden or input size", n.R, dims_str(R.dims()), n.W,
                       dims_str(W.dims())));
  }

  // dst [K, G*H] in graphrun's gate order from a gate-major source [G*H, K] (PyTorch, ONNX).
  void transpose_gates(const float* src, int64_t K, float* dst) const {
    const int64_t GH = G_ * H_;
    for (int64_t g = 0; g < G_; ++g)
      for (int64_t j = 0; j < H_; ++j) {
        const float* row = src + (order_[static_cast<size_t>(g)] * H_ + j) * K;
        for (int64_t k = 0; k < K; ++k) dst[k * GH + g * H_ + j] = row[k];
      }
  }

  void reorder_bias(const float* src, std::vector<float>& dst) const {
    for (int64_t g = 0; g < G_; ++g)
      for (int64_t j = 0; j < H_; ++j)
        dst[static_cast<size_t>(g * H_ + j)] = src[order_[static_cast<size_t>(g)] * H_ + j];
  }

  void convert_direction(int d, float* W, float* R, std::vector<float>& b_in, std::vector<float>& b_rec) const {
    const Names n = names_of(from_, layout_.bidirectional, d);
    const int64_t GH = G_ * H_;
    switch (from_) {
      case WeightFormat::pytorch: {
        const Tensor& w = require(n.W);
        const Tensor& r = require(n.R);
        expect_shape(n.W, w, {GH, C_}, fmt::format("[{}, C]", gh()));
        expect_shape(n.R, r, {GH, H_}, fmt::format("[{}, H]", gh()));
        transpose_gates(w.data<float>(), C_, W);
        transpose_gates(r.data<float>(), H_, R);
        for (const auto& [name, bias] : {std::pair{n.b_in, &b_in}, std::pair{n.b_rec, &b_rec}}) {
          if (!find(name)) continue;  // bias=False
          const Tensor& b = require(name);
          expect_shape(name, b, {GH}, fmt::format("[{}]", gh()));
          reorder_bias(b.data<float>(), *bias);
        }
        break;
      }
      case WeightFormat::onnx: {
        // One tensor holds both directions; d picks the slice.
        const Tensor& w = require(n.W);
        const Tensor& r = require(n.R);
        expect_shape(n.W, w, {D_, GH, C_}, fmt::format("[{}, {}, C]", D_, gh()));
        expect_shape(n.R, r, {D_, GH, H_}, fmt::format("[{}, {}, H]", D_, gh()));
        transpose_gates(w.data<float>() + d * GH * C_, C_, W);
        transpose_gates(r.data<float>() + d * GH * H_, H_, R);
        if (find(n.b_in)) {
          const Tensor& b = require(n.b_in);
          expect_shape(n.b_in, b, {D_, 2 * GH}, fmt::format("[{}, 2*{}]", D_, gh()));
          reorder_bias(b.data<float>() + d * 2 * GH, b_in);
          reorder_bias(b.data<float>() + d * 2 * GH + GH, b_rec);
        }
        if (d == 0 && layout_.cell == RecurrentCell::lstm && find("P")) check_onnx_peepholes();
        break;
      }
      case WeightFormat::keras: {
        const Tensor& w = require(n.W);
        const Tensor& r = require(n.R);
        expect_shape(n.W, w, {C_, GH}, fmt::format("[C, {}]", gh()));
        expect_shape(n.R, r, {H_, GH}, fmt::format("[H, {}]", gh()));
        std::copy_n(w.data<float>(), C_ * GH, W);
        std::copy_n(r.data<float>(), H_ * GH, R);
        if (find(n.b_in)) {  // use_bias=False when absent
          const Tensor& b = require(n.b_in);
          if (reset_after_gru()) {
            const bool classic_bias = b.dims() == Dims{GH};
            if (b.dims() != Dims{2 * GH})  // [6H]: already flattened
              expect_shape(n.b_in, b, {2, GH}, "[2, 3*H]",
                           classic_bias ? " (a reset_after=False GRU's bias: convert for reset_after: false)" : "");
            std::copy_n(b.data<float>(), GH, b_in.begin());        // row 0: input bias
            std::copy_n(b.data<float>() + GH, GH, b_rec.begin());  // row 1: recurrent bias
          } else {
            const bool reset_after_bias =
                layout_.cell == RecurrentCell::gru && (b.dims() == Dims{2, GH} || b.dims() == Dims{2 * GH});
            expect_shape(n.b_in, b, {GH}, fmt::format("[{}]", gh()),
                         reset_after_bias ? " (a reset_after=True GRU's bias: convert for reset_after: true)" : "");
            std::copy_n(b.data<float>(), GH, b_in.begin());
          }
        }
        break;
      }
    }
  }

  void check_onnx_peepholes() const {
    const Tensor& p = require("P");
    expect_shape("P", p, {D_, 3 * H_}, fmt::format("[{}, 3*H]", D_));
    const auto values = p.values<float>();
    if (std::any_of(values.begin(), values.end(), [](float v) { return v != 0.f; }))
      fail("tensor 'P' holds peephole weights, which graphrun's LSTM does not have (only an all-zero P converts)");
  }

  WeightFormat from_;
  const RecurrentLayout& layout_;
  const std::map<std::string, Tensor>& tensors_;
  int64_t G_;
  int D_;
  std::vector<int64_t> order_;
  std::string what_;  // "PyTorch LSTM", the prefix of every message
  int64_t H_ = 0, C_ = 0;
};

}  // namespace

RecurrentWeights convert_recurrent_weights(WeightFormat from, const RecurrentLayout& layout,
                                           const std::map<std::string, Tensor>& tensors) {
  return Converter(from, layout, tensors).run();
}

std::vector<std::string> recurrent_weight_names(WeightFormat from, const RecurrentLayout& layout) {
  std::vector<std::string> names;
  for (int d = 0; d < (layout.bidirectional ? 2 : 1); ++d) {
    const Names n = names_of(from, layout.bidirectional, d);
    for (const std::string& s : {n.W, n.R, n.b_in, n.b_rec})
      if (!s.empty() && std::find(names.begin(), names.end(), s) == names.end()) names.push_back(s);
  }
  if (from == WeightFormat::onnx && layout.cell == RecurrentCell::lstm) names.push_back("P");
  return names;
}

WeightFormat parse_weight_format(const std::string& name) {
  if (name == "keras") return WeightFormat::keras;
  if (name == "pytorch") return WeightFormat::pytorch;
  if (name == "onnx") return WeightFormat::onnx;
  throw Error(fmt::format("unknown weight format '{}' (expected keras, pytorch or onnx)", name));
}

RecurrentCell parse_recurrent_cell(const std::string& name) {
  if (name == "rnn") return RecurrentCell::rnn;
  if (name == "lstm") return RecurrentCell::lstm;
  if (name == "gru") return RecurrentCell::gru;
  throw Error(fmt::format("unknown recurrent cell '{}' (expected rnn, lstm or gru)", name));
}

}  // namespace graphrun
