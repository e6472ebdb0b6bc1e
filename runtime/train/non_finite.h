// NaN and infinity in training. A step checks only its loss and gradients (the
// optimizer checks the gradients as it reads them, before it writes anything);
// when one is not finite, the step is run again fetching every value to name
// where the first NaN or infinity appeared.
#pragma once

#include <string>
#include <vector>

#include "graphrun/tensor.h"
#include "ops/kernel.h"

namespace graphrun {

class TrainingSetup;

// Every element is finite (an int64 tensor always is).
bool all_finite(const Tensor& tensor);

// Where a step's first non-finite value comes from, in plan order: a batch input
// ("input 'x' (the batch's data)"), a parameter, or the first node with a
// non-finite output ("node 'h' (Log) at model.pbtxt:12, output 'h'").
std::string first_non_finite(const TrainingSetup& setup, const std::vector<Tensor>& feeds, const RunContext& run);

}  // namespace graphrun
