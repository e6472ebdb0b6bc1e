// How the command line prints results of the library: `graphrun eval`'s text,
// `graphrun predict`'s lines and its --html page. Not library API: a host formats
// EvalResult and Prediction as it likes.
#pragma once

#include <string>
#include <vector>

#include "graphrun/profile.h"
#include "graphrun/train.h"

namespace graphrun {

std::string format_eval(const EvalResult& result);  // metrics and the confusion matrix as text
// The label and class scores, token weights, and the ranked candidates (named by
// `candidate_names` when given, else by index) on a second line.
std::string format_prediction(const Prediction& p, const std::vector<std::string>& candidate_names = {});
std::string predictions_html(const std::vector<Prediction>& predictions);  // tokens highlighted by weight
// `graphrun profile`'s report: the step time, one row per node (and the update) with its
// share of the profiled step, the time between nodes, oneDNN primitive time, faults, allocations.
std::string format_profile(const TrainingProfile& profile);

}  // namespace graphrun
