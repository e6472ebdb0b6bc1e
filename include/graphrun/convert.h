// Recurrent weights from Keras, PyTorch and ONNX into the layout of graphrun's RNN, LSTM
// and GRU ops (`graphrun convert-weights` on the command line):
//
//   std::map<std::string, graphrun::Tensor> torch = {{"weight_ih_l0", graphrun::read_npy("w_ih.npy")}, ...};
//   graphrun::RecurrentWeights w = graphrun::convert_recurrent_weights(
//       graphrun::WeightFormat::pytorch, {.cell = graphrun::RecurrentCell::lstm}, torch);
//   session.set_parameter("W", w.W);  // likewise R and B
//
// graphrun's layout (ops/rnn/rnn.cpp), G gates (RNN 1, LSTM 4, GRU 3), H = hidden size:
// W [C, G*H], R [H, G*H], B [G*H] (GRU reset_after: [2*3H], input then recurrent bias),
// gates in Keras order (LSTM i,f,c,o; GRU z,r,h); a bidirectional layer stacks the forward
// and the reverse direction on a leading dim of 2.
//
// The source tensors, by name (G*H = the gate blocks in the source's own order):
//   pytorch  one layer of nn.RNN / nn.LSTM / nn.GRU's state_dict: weight_ih_l0 [G*H, C],
//            weight_hh_l0 [G*H, H], bias_ih_l0 and bias_hh_l0 [G*H] (absent with bias=False);
//            the reverse direction the same with the suffix "_reverse". LSTM gates i,f,g,o;
//            GRU r,z,n, linear-before-reset, so it converts only to reset_after: true.
//   onnx     the RNN / LSTM / GRU operator's inputs W [D, G*H, C], R [D, G*H, H] and the
//            optional B [D, 2*G*H] (Wb then Rb), D = 2 when bidirectional. LSTM gates i,o,f,c;
//            GRU z,r,h; linear_before_reset 1 converts to reset_after: true, 0 to false. An
//            all-zero peephole input P is accepted, any other P refused.
//   keras    kernel [C, G*H], recurrent_kernel [H, G*H], the optional bias [G*H] (GRU
//            reset_after=True: [2, 3H], or flattened [6H]); a Bidirectional wrapper's weights as
//            forward_kernel, forward_recurrent_kernel, forward_bias, backward_kernel,
//            backward_recurrent_kernel, backward_bias.
// Biases that graphrun's equations add together (RNN, LSTM, GRU reset_after false) are summed;
// missing biases are zeros. Only the default activations convert (tanh, and sigmoid for the
// gates): PyTorch's nonlinearity='relu', Keras' hard_sigmoid or ONNX's other activations
// change the equations, not the weights. Tensors the format does not name are refused, as
// is every tensor of the wrong shape: errors are one line naming the tensor.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "graphrun/error.h"
#include "graphrun/tensor.h"

namespace graphrun {

enum class WeightFormat { keras, pytorch, onnx };
enum class RecurrentCell { rnn, lstm, gru };

// ONNX node attributes that change the equations. The converter checks them and refuses
// anything but the defaults, which are what graphrun's ops compute.
struct OnnxRecurrentAttributes {
  std::vector<std::string> activations;  // as in the node; empty = the defaults
  std::optional<float> clip;             // graphrun does not clip: refused when set
  bool input_forget = false;             // LSTM coupled input and forget gates: refused
};

// The graphrun node the weights are for.
struct RecurrentLayout {
  RecurrentCell cell = RecurrentCell::lstm;
  int64_t hidden_size = 0;       // 0: taken from the recurrent weights; else checked against them
  bool bidirectional = false;    // direction: BIDIRECTIONAL (ONNX direction "reverse" converts as forward)
  bool reset_after = false;      // GRU: the node's recurrent.reset_after
  OnnxRecurrentAttributes onnx;  // read only when converting from ONNX
};

// Parameters for the node's inputs W, R and B, float32, in graphrun's layout.
struct RecurrentWeights {
  Tensor W, R, B;
};

RecurrentWeights convert_recurrent_weights(WeightFormat from, const RecurrentLayout& layout,
                                           const std::map<std::string, Tensor>& tensors);

// The tensor names a format takes for this layout, optional ones included (for messages).
std::vector<std::string> recurrent_weight_names(WeightFormat from, const RecurrentLayout& layout);

// "keras", "pytorch", "onnx" / "rnn", "lstm", "gru"; anything else throws Error.
WeightFormat parse_weight_format(const std::string& name);
RecurrentCell parse_recurrent_cell(const std::string& name);

}  // namespace graphrun
