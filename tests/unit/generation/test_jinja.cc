// Unit tests of the Jinja engine's limits and errors (the rendering itself is
// compared against jinja2 in tests/generation/test_chat_template.py).
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
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
  // Nesting built by a loop is bounded (printing and destroying recurse), and
  // a namespace cannot hold itself (a reference cycle).
  EXPECT_NE(error_of("{% set ns = namespace(x=[]) %}{% for i in range(100000) %}{% set ns.x = [ns.x] %}{% endfor %}{{ ns.x }}")
                .find("nested deeper"),
            std::string::npos);
  EXPECT_NE(error_of("{% set ns = namespace() %}{% set ns.me = [ns] %}{{ ns }}").find("cannot hold a namespace"),
            std::string::npos);
  EXPECT_NE(error_of("{% set ns = namespace() %}{% set ns.me = ns %}").find("cannot hold a namespace"), std::string::npos);
  EXPECT_NE(error_of("{{ " + std::string(5000, '(') + "1" + std::string(5000, ')') + " }}").find("nested"), std::string::npos);
}

TEST(Jinja, FloatsPrintAsPython) {
  EXPECT_EQ(render("{{ 1.0 }} {{ 0.1 + 0.2 }} {{ 1e16 }} {{ 1e-5 }} {{ 0.0001 }} {{ 123.456 }} {{ -2.5e-10 }}"),
            "1.0 0.30000000000000004 1e+16 1e-05 0.0001 123.456 -2.5e-10");
}

TEST(Jinja, TojsonIsJsonDumps) {
  const Json ctx = Json::parse(R"({"d": {"b": [1, 2.0, null, true], "a": "é\n\"", "e": {}}})");
  EXPECT_EQ(render("{{ d | tojson }}", ctx), R"({"b": [1, 2.0, null, true], "a": "é\n\"", "e": {}})");
  EXPECT_EQ(render("{{ d.b | tojson(indent=1) }}", ctx), "[\n 1,\n 2.0,\n null,\n true\n]");
}

TEST(ChatTemplate, ReasoningIsAliasedAsTransformersDoes) {
  ChatTemplate t("{% for m in messages %}{{ m | tojson }}{% endfor %}");
  const Json messages = Json::parse(R"([{"role": "assistant", "content": "c", "reasoning": "r"}])");
  EXPECT_EQ(t.render(messages),
            R"({"thinking": "r", "role": "assistant", "content": "c", "reasoning": "r", "reasoning_content": "r"})");
}

TEST(ChatTemplate, ToolsAndDocumentsDefaultToNone) {
  ChatTemplate t("{{ tools is none }}{{ documents is none }}{{ add_generation_prompt }}{{ x }}");
  EXPECT_EQ(t.render(Json::array(), true, Json{{"x", 1}}), "TrueTrueTrue1");
}

TEST(ChatTemplate, LoadsFromAModelFolder) {
  const auto dir = std::filesystem::temp_directory_path() / ("jinja_load_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  EXPECT_EQ(optimum::generation::load_chat_template(dir), std::nullopt);
  std::ofstream(dir / "tokenizer_config.json")
      << R"({"chat_template": [{"name": "default", "template": "D"}, {"name": "tool_use", "template": "T"}]})";
  EXPECT_EQ(optimum::generation::load_chat_template(dir), "D");
  EXPECT_EQ(optimum::generation::load_chat_template(dir, "tool_use"), "T");
  std::ofstream(dir / "chat_template.jinja") << "J";
  EXPECT_EQ(optimum::generation::load_chat_template(dir), "J");
  std::filesystem::remove_all(dir);
}

TEST(ChatTemplate, MessagesMustBeObjects) {
  ChatTemplate t("{{ messages }}");
  EXPECT_THROW(t.render(Json::array({1})), optimum::InvalidArgument);
}

}  // namespace
