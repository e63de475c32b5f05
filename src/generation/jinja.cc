// Template: compile (lex + parse) once, render per call with fresh state.
#include "optimum/generation/jinja.h"

#include "jinja_internal.h"

namespace optimum::generation::jinja {

Template Template::compile(std::string_view source, const std::string& name) {
  auto program = std::make_shared<Program>();
  program->name = name;
  try {
    program->body = parse(tokenize(source));
  } catch (const TemplateError& e) {
    throw TemplateError(name + ": " + e.what());
  }
  Template t;
  t.program_ = std::move(program);
  return t;
}

std::string Template::render(const io::OrderedJson& context, const Limits& limits) const {
  try {
    Evaluator ev(*program_, limits, context);
    return ev.run();
  } catch (const TemplateError& e) {
    throw TemplateError(program_->name + ": " + e.what());
  } catch (const RenderError& e) {
    throw TemplateError(program_->name + ": " + e.what());
  }
}

const std::string& Template::name() const { return program_->name; }

}  // namespace optimum::generation::jinja
