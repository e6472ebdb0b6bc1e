// graphrun::Error: the one error type of the whole codebase.
//
// Every failure that user input can trigger (a bad .pbtxt, a shape mismatch, a
// missing data file, a malformed CSV row) is reported by throwing Error with a
// one-line message that names the place at fault: file:line:column for text,
// node name and op for graph problems. The CLI catches it, prints the message on
// one line and exits non-zero. Nothing user input can trigger may abort.
#pragma once

#include <stdexcept>
#include <string>

namespace graphrun {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace graphrun
