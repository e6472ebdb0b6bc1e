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

}  // namespace graphrun
