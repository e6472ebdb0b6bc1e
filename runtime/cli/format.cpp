#include "runtime/cli/format.h"

#include <fmt/format.h>

#include <algorithm>

#include "runtime/train/metrics.h"

namespace graphrun {
namespace {

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace

std::string format_eval(const EvalResult& r) {
  std::string out = fmt::format("{}: {} examples{}\n", r.split, r.examples, metrics_line(r.metrics));
  if (!r.confusion.empty()) out += "confusion matrix (rows: true class, columns: predicted):\n";
  for (size_t i = 0; i < r.confusion.size(); ++i) {
    out += fmt::format("{:>12}", i < r.classes.size() ? r.classes[i] : std::to_string(i));
    for (int64_t v : r.confusion[i]) out += fmt::format(" {:>6}", v);
    out += "\n";
  }
  return out;
}

std::string format_prediction(const Prediction& p, const std::vector<std::string>& candidate_names) {
  std::string out = fmt::format("{} ({:.3f})  |", p.classes[static_cast<size_t>(p.label)],
                                p.probabilities[static_cast<size_t>(p.label)]);
  for (size_t c = 0; c < p.classes.size(); ++c) out += fmt::format(" {} {:.3f}", p.classes[c], p.probabilities[c]);
  if (!p.attention.empty()) {
    out += "  | attention:";
    for (size_t t = 0; t < p.tokens.size(); ++t) out += fmt::format(" {}:{:.3f}", p.tokens[t], p.attention[t]);
  }
  if (!p.ranked.empty()) {
    out += fmt::format("\n  top {}:", p.ranked.size());
    for (const auto& [index, score] : p.ranked)
      out +=
          fmt::format(" {} {:.3f}",
                      static_cast<size_t>(index) < candidate_names.size() ? candidate_names[static_cast<size_t>(index)]
                                                                          : "#" + std::to_string(index),
                      score);
  }
  return out;
}

std::string predictions_html(const std::vector<Prediction>& predictions) {
  std::string html =
      "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>graphrun predict</title>\n"
      "<style>body{font-family:sans-serif} .t{padding:2px 3px;margin:1px;border-radius:3px} "
      ".bar{display:inline-block;height:10px;background:#4a7fd4}</style></head><body>\n";
  for (const Prediction& p : predictions) {
    double max_weight = 0;
    for (double w : p.attention) max_weight = std::max(max_weight, w);
    html += "<div style=\"margin:1em 0\"><p>";
    for (size_t t = 0; t < p.tokens.size(); ++t) {
      const double alpha = p.attention.empty() || max_weight <= 0 ? 0 : p.attention[t] / max_weight;
      html += fmt::format("<span class=\"t\" title=\"{:.3f}\" style=\"background:rgba(255,80,0,{:.2f})\">{}</span>",
                          p.attention.empty() ? 0.0 : p.attention[t], alpha, html_escape(p.tokens[t]));
    }
    html += fmt::format("</p><p><b>{}</b></p><table>\n", html_escape(p.classes[static_cast<size_t>(p.label)]));
    for (size_t c = 0; c < p.classes.size(); ++c)
      html += fmt::format("<tr><td>{}</td><td><span class=\"bar\" style=\"width:{}px\"></span> {:.3f}</td></tr>\n",
                          html_escape(p.classes[c]), static_cast<int>(200 * p.probabilities[c]), p.probabilities[c]);
    html += "</table></div>\n";
  }
  return html + "</body></html>\n";
}

std::string format_profile(const TrainingProfile& p) {
  // Times in ms, or in us for a step under a millisecond, whose nodes would all read 0.000 ms.
  const bool micro = p.step_seconds < 1e-3;
  const double scale = micro ? 1e6 : 1e3;
  const char* unit = micro ? "us" : "ms";
  std::string out =
      fmt::format("{}: batch {}, step {:.2f} {} (median of {}), {:.0f} samples/s; the optimizer's update {:.2f} {} of it\n",
                  p.model, p.batch_size, p.step_seconds * scale, unit, p.steps, p.samples_per_second,
                  p.update_seconds * scale, unit);
  out += fmt::format("per step: {:.1f} page faults, {:.1f} buffer allocations ({:.2f} MB); peak RSS {:.0f} MB\n",
                     p.minor_faults_per_step, p.buffer_allocations_per_step, p.allocated_bytes_per_step / 1e6,
                     static_cast<double>(p.peak_rss_bytes) / 1e6);
  if (p.profiled_steps == 0) return out;
  const double step = p.profiled_step_seconds;
  out += fmt::format("\n{} profiled steps, {:.2f} {} each with timing on; per step:\n", p.profiled_steps, step * scale,
                     unit);
  size_t width = 15, op_width = 2;
  for (const NodeProfile& n : p.nodes) {
    width = std::max(width, n.name.size());
    op_width = std::max(op_width, n.op.size());
  }
  out += fmt::format("{:<8}  {:<{}}  {:<{}}  {:>9}  {:>6}  {:>9}  {}\n", "phase", "node", width, "op", op_width, unit,
                     "share", fmt::format("oneDNN {}", unit), "path");
  double nodes_total = 0;
  for (const NodeProfile& n : p.nodes) {
    nodes_total += n.seconds;
    out += fmt::format("{:<8}  {:<{}}  {:<{}}  {:>9.3f}  {:>5.1f}%  {:>9.3f}  {}\n", n.phase, n.name, width, n.op,
                       op_width, n.seconds * scale, 100 * n.seconds / step, n.primitive_seconds * scale, n.note);
  }
  // Serial runs: the rest of the step is the executor's own work (plan lookup, feeds,
  // fetches, hand-offs). Overlapping nodes can sum to more than the step.
  const double between = step - nodes_total;
  out +=
      fmt::format("{:<8}  {:<{}}  {:<{}}  {:>9.3f}  {:>5.1f}%\n", "", between >= 0 ? "(between nodes)" : "(overlapped)",
                  width, "", op_width, between * scale, 100 * between / step);
  out += fmt::format("inside oneDNN primitives {:.2f} {} ({:.1f}%), everything else {:.2f} {} ({:.1f}%)\n",
                     p.primitive_seconds * scale, unit, 100 * p.primitive_seconds / step,
                     (step - p.primitive_seconds) * scale, unit, 100 * (step - p.primitive_seconds) / step);
  return out;
}

}  // namespace graphrun
