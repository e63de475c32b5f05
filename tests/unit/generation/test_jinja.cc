// Unit tests of the Jinja engine's limits and errors (the rendering itself is
// compared against jinja2 in tests/generation/test_chat_template.py).
#include <gtest/gtest.h>

#include <string>

#include "optimum/generation/chat_template.h"
#include "optimum/generation/jinja.h"

using optimum::generation::ChatTemplate;
using optimum::generation::jinja::Limits;
using optimum::generation::jinja::Template;
using optimum::generation::jinja::TemplateError;
using Json = optimum::io::OrderedJson;

namespace {

std::string render(const std::string& src, const Json& ctx = Json::object(), const Limits& limits = {}) {
  return Template::compile(src, "t").render(ctx, limits);
}

std::string error_of(const std::string& src, const Json& ctx = Json::object(), const Limits& limits = {}) {
  try {
    render(src, ctx, limits);
  } catch (const TemplateError& e) {
    return e.what();
  }
  return "<no error>";
}

TEST(Jinja, RendersBasics) {
  EXPECT_EQ(render("{% for x in xs %}{{ loop.index }}{{ x }}{% endfor %}", Json{{"xs", {"a", "b"}}}), "1a2b");
  EXPECT_EQ(render("{{ 'a' ~ 1 }}"), "a1");
}

TEST(Jinja, SyntaxErrorsNameLineAndColumn) {
  const std::string e = error_of("ab\n{% if x %}");
  EXPECT_EQ(e.rfind("t: line 2, column 11: unexpected end of template, expected ", 0), 0u) << e;
  EXPECT_NE(e.find("'endif'"), std::string::npos) << e;
  EXPECT_EQ(error_of("{{ a +* b }}").rfind("t: line 1, column 7: unexpected '*'", 0), 0u) << error_of("{{ a +* b }}");
}

TEST(Jinja, RaiseExceptionCarriesTheMessage) {
  const std::string e = error_of("\n  {{ raise_exception('Roles must alternate') }}");
  EXPECT_NE(e.find("Roles must alternate"), std::string::npos) << e;
  EXPECT_NE(e.find("line 2"), std::string::npos) << e;
}

TEST(Jinja, HostileTemplatesAreBounded) {
  Limits limits;
  limits.max_loop_iterations = 1000;
  EXPECT_NE(error_of("{% for i in range(10) %}{% for j in range(1000) %}{% endfor %}{% endfor %}", Json::object(), limits)
                .find("loop iterations"),
            std::string::npos);
  EXPECT_NE(error_of("{{ range(1000000000) }}").find("Range too big"), std::string::npos);
  EXPECT_NE(error_of("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}").find("nested deeper"), std::string::npos);
  Limits small;
  small.max_output_bytes = 1000;
  EXPECT_NE(error_of("{{ 'x' * 100000 }}", Json::object(), small).find("exceeds the limit"), std::string::npos);
  EXPECT_NE(error_of("{% set ns = namespace(s='ab') %}{% for i in range(100) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
                     Json::object(), small)
                .find("exceeds the limit"),
            std::string::npos);
  EXPECT_NE(error_of("{{ " + std::string(5000, '(') + "1" + std::string(5000, ')') + " }}").find("nested"), std::string::npos);
}

TEST(ChatTemplate, MessagesMustBeObjects) {
  ChatTemplate t("{{ messages }}");
  EXPECT_THROW(t.render(Json::array({1})), optimum::InvalidArgument);
}

}  // namespace
