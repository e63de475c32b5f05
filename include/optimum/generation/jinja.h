// A Jinja2 template engine for chat templates: the subset of Jinja that Hugging
// Face chat templates use, with the environment transformers renders them in
// (trim_blocks, lstrip_blocks, loop controls, raise_exception, strftime_now,
// namespace(), the tojson filter of json.dumps with ensure_ascii=False).
// Templates are untrusted: rendering is bounded in loop iterations, call
// depth, range() sizes, string sizes and output size, and every error names
// the template line and column.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "optimum/core/errors.h"
#include "optimum/io/json.h"

namespace optimum::generation::jinja {

// A template that does not parse, fails while rendering, or calls
// raise_exception(message) (what() then contains the message).
class TemplateError : public InvalidArgument {
 public:
  using InvalidArgument::InvalidArgument;
};

// Bounds of one render; past any of them the render fails with TemplateError.
struct Limits {
  size_t max_output_bytes = size_t{16} << 20;  // rendered text, and any one string built
  size_t max_loop_iterations = 1'000'000;      // for-loop iterations of the whole render
  size_t max_call_depth = 64;                  // nested macro calls
  size_t max_range = 100'000;                  // items of one range() (jinja2's sandbox MAX_RANGE)
};

struct Program;

// A compiled template: parse once, render many times from any thread.
class Template {
 public:
  // Parses `source`; TemplateError "<name>: line L, column C: ..." on a syntax error.
  static Template compile(std::string_view source, const std::string& name = "template");

  // Renders with the top-level variables of the JSON object `context`.
  std::string render(const io::OrderedJson& context, const Limits& limits = {}) const;

  const std::string& name() const;

 private:
  std::shared_ptr<const Program> program_;
};

}  // namespace optimum::generation::jinja
