// Python bindings of the chat templates: apply_chat_template(template,
// messages, add_generation_prompt=False, **kwargs) -> str, rendered as
// transformers' tokenizer.apply_chat_template(..., tokenize=False).
#include <pybind11/pybind11.h>

#include <string>

#include "optimum/generation/chat_template.h"

namespace py = pybind11;
using namespace optimum;

namespace {

// Python objects to JSON text through the json module (dict order kept;
// ensure_ascii so that lone surrogates are refused by the JSON reader).
std::string dumps(const py::object& obj) {
  // Looked up per call: a static py::object would be released after the
  // interpreter finalizes.
  const py::object json_dumps = py::module_::import("json").attr("dumps");
  return json_dumps(obj, py::arg("ensure_ascii") = true).cast<std::string>();
}

std::string apply_chat_template(const std::string& source, const py::object& messages, bool add_generation_prompt,
                                const py::kwargs& kwargs) {
  const std::string messages_json = dumps(messages);
  const std::string kwargs_json = dumps(kwargs);
  py::gil_scoped_release release;
  const generation::ChatTemplate chat_template(source);
  return chat_template.render(generation::parse_ordered_json(messages_json, "messages"), add_generation_prompt,
                              generation::parse_ordered_json(kwargs_json, "chat template kwargs"));
}

// The Jinja engine alone: `template` rendered with exactly `kwargs` as its
// variables (jinja2's Template.render(**kwargs) in transformers' environment).
std::string render_jinja_template(const std::string& source, const py::kwargs& kwargs) {
  const std::string context_json = dumps(kwargs);
  py::gil_scoped_release release;
  const auto t = generation::jinja::Template::compile(source, "template");
  return t.render(generation::parse_ordered_json(context_json, "template variables"));
}

}  // namespace

void bind_chat_template(py::module_& m) {
  m.def("apply_chat_template", &apply_chat_template, py::arg("template"), py::arg("messages"),
        py::arg("add_generation_prompt") = false,
        "Renders a Jinja chat template over `messages` (a list of dicts) with the template kwargs "
        "(bos_token, eos_token, tools, documents, enable_thinking, ...), as transformers' "
        "apply_chat_template(tokenize=False).");
  m.def("render_jinja_template", &render_jinja_template, py::arg("template"),
        "Renders a Jinja template with the keyword arguments as its variables (transformers' Jinja environment).");
}
