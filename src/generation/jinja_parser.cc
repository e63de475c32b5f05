// Recursive-descent parser following jinja2's grammar and operator
// precedence (jinja2/parser.py): condexpr < or < and < not < compare <
// +,- < ~ < *,/,//,% < ** < unary -,+ < postfix (.attr, [item], call)
// and filters/tests.
#include <string>
#include <unordered_set>
#include <vector>

#include "jinja_internal.h"

namespace optimum::generation::jinja {
namespace {

constexpr int kMaxDepth = 200;

class Parser {
 public:
  explicit Parser(const std::vector<Token>& tokens) : t_(tokens) {}

  Body parse_template() {
    Body body = subparse({});
    if (cur().type != TokenType::kEnd) fail(cur().loc, "unexpected '" + cur().text + "'");
    return body;
  }

 private:
  struct DepthGuard {
    explicit DepthGuard(Parser& p) : p_(p) {
      if (++p_.depth_ > kMaxDepth) fail(p_.cur().loc, "template nested too deeply");
    }
    ~DepthGuard() { --p_.depth_; }
    Parser& p_;
  };

  const Token& cur() const { return t_[pos_]; }
  const Token& look() const { return t_[pos_ + 1 < t_.size() ? pos_ + 1 : pos_]; }
  const Token& next() { return t_[pos_ < t_.size() - 1 ? pos_++ : pos_]; }
  bool is_op(const char* op) const { return cur().type == TokenType::kOp && cur().text == op; }
  bool is_name(const char* name) const { return cur().type == TokenType::kName && cur().text == name; }
  bool skip_op(const char* op) {
    if (!is_op(op)) return false;
    next();
    return true;
  }
  bool skip_name(const char* name) {
    if (!is_name(name)) return false;
    next();
    return true;
  }
  static std::string describe(const Token& t) {
    switch (t.type) {
      case TokenType::kEnd: return "end of template";
      case TokenType::kVarEnd: return "'}}'";
      case TokenType::kBlockEnd: return "'%}'";
      case TokenType::kVarBegin: return "'{{'";
      case TokenType::kBlockBegin: return "'{%'";
      case TokenType::kData: return "template data";
      case TokenType::kString: return "string literal";
      default: return "'" + t.text + "'";
    }
  }
  void expect_op(const char* op) {
    if (!skip_op(op)) fail(cur().loc, std::string("expected '") + op + "', got " + describe(cur()));
  }
  std::string expect_name() {
    if (cur().type != TokenType::kName) fail(cur().loc, "expected a name, got " + describe(cur()));
    return next().text;
  }
  void expect_block_end() {
    if (cur().type != TokenType::kBlockEnd) fail(cur().loc, "expected '%}', got " + describe(cur()));
    next();
  }
  ExprPtr node(Expr::Kind kind, Location loc, std::string name = {}) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->loc = loc;
    e->name = std::move(name);
    return e;
  }

  // Statements up to a `{% <end> %}` tag named in `ends` (not consumed: the
  // position is left on the tag's name).
  Body subparse(const std::unordered_set<std::string>& ends) {
    DepthGuard guard(*this);
    Body body;
    for (;;) {
      const Token& tok = cur();
      if (tok.type == TokenType::kEnd) {
        if (!ends.empty()) {
          std::string names;
          for (const auto& n : ends) names.append(names.empty() ? "'" : " or '").append(n).append("'");
          fail(tok.loc, "unexpected end of template, expected " + names);
        }
        return body;
      }
      if (tok.type == TokenType::kData) {
        auto s = std::make_unique<Stmt>();
        s->kind = Stmt::Kind::kData;
        s->loc = tok.loc;
        s->text = tok.text;
        body.push_back(std::move(s));
        next();
      } else if (tok.type == TokenType::kVarBegin) {
        next();
        auto s = std::make_unique<Stmt>();
        s->kind = Stmt::Kind::kOutput;
        s->loc = tok.loc;
        s->expr = parse_tuple(true, false);
        if (cur().type != TokenType::kVarEnd) fail(cur().loc, "expected '}}', got " + describe(cur()));
        next();
        body.push_back(std::move(s));
      } else if (tok.type == TokenType::kBlockBegin) {
        const Token& name = look();
        if (name.type == TokenType::kName && ends.count(name.text)) {
          next();
          return body;
        }
        next();
        body.push_back(statement());
      } else {
        fail(tok.loc, "unexpected " + describe(tok));
      }
    }
  }

  std::unique_ptr<Stmt> statement() {
    const Token& tok = cur();
    if (tok.type != TokenType::kName) fail(tok.loc, "expected a tag name, got " + describe(tok));
    auto s = std::make_unique<Stmt>();
    s->loc = tok.loc;
    const std::string word = next().text;
    if (word == "if") {
      s->kind = Stmt::Kind::kIf;
      ExprPtr cond = parse_expression(false);
      expect_block_end();
      for (;;) {
        Body body = subparse({"elif", "else", "endif"});
        s->branches.emplace_back(std::move(cond), std::move(body));
        const std::string kw = next().text;
        if (kw == "elif") {
          cond = parse_expression(false);
          expect_block_end();
        } else if (kw == "else") {
          expect_block_end();
          s->else_body = subparse({"endif"});
          next();
          break;
        } else {
          break;
        }
      }
    } else if (word == "for") {
      s->kind = Stmt::Kind::kFor;
      s->targets = assign_targets();
      if (!skip_name("in")) fail(cur().loc, "expected 'in' in for loop, got " + describe(cur()));
      s->expr = parse_tuple(false, false);
      if (skip_name("if")) s->filter = parse_expression(true);
      if (is_name("recursive")) fail(cur().loc, "recursive for loops are not supported");
      expect_block_end();
      ++loops_;
      s->body = subparse({"endfor", "else"});
      --loops_;
      if (next().text == "else") {
        expect_block_end();
        s->else_body = subparse({"endfor"});
        next();
      }
    } else if (word == "set") {
      if (cur().type == TokenType::kName && look().type == TokenType::kOp && look().text == ".") {
        s->text = next().text;
        next();
        s->attr = expect_name();
      } else {
        s->targets = assign_targets();
        s->text = s->targets[0];
      }
      if (skip_op("=")) {
        s->kind = Stmt::Kind::kSet;
        s->expr = parse_tuple(true, false);
      } else {
        if (s->targets.size() > 1 || !s->attr.empty()) fail(cur().loc, "expected '=' after the set target");
        s->kind = Stmt::Kind::kSetBlock;
        if (is_op("|")) s->filter = filter_chain();
        expect_block_end();
        s->body = subparse({"endset"});
        next();
      }
    } else if (word == "macro") {
      s->kind = Stmt::Kind::kMacro;
      s->text = expect_name();
      expect_op("(");
      while (!skip_op(")")) {
        if (!s->params.empty()) expect_op(",");
        if (skip_op(")")) break;
        std::string param = expect_name();
        ExprPtr def;
        if (skip_op("=")) def = parse_expression(true);
        s->params.emplace_back(std::move(param), std::move(def));
      }
      expect_block_end();
      const int saved = loops_;
      loops_ = 0;
      s->body = subparse({"endmacro"});
      loops_ = saved;
      next();
    } else if (word == "filter") {
      s->kind = Stmt::Kind::kFilterBlock;
      s->filter = filter_chain(false);
      expect_block_end();
      s->body = subparse({"endfilter"});
      next();
    } else if (word == "break" || word == "continue") {
      if (loops_ == 0) fail(s->loc, "'" + word + "' outside of a for loop");
      s->kind = word == "break" ? Stmt::Kind::kBreak : Stmt::Kind::kContinue;
    } else if (word == "generation") {
      // transformers' AssistantTracker tag: renders its body unchanged.
      s->kind = Stmt::Kind::kScope;
      expect_block_end();
      s->body = subparse({"endgeneration"});
      next();
    } else {
      fail(s->loc, "unknown tag '" + word + "'");
    }
    expect_block_end();
    return s;
  }

  // `name`, `a, b` or `(a, b)`.
  std::vector<std::string> assign_targets() {
    std::vector<std::string> names;
    const bool paren = skip_op("(");
    do {
      names.push_back(expect_name());
    } while (skip_op(","));
    if (paren) expect_op(")");
    return names;
  }

  // `| f(args) | g ...` on a null operand (filter blocks, set blocks).
  ExprPtr filter_chain(bool leading_pipe = true) {
    ExprPtr e;
    bool first = true;
    while (first ? (!leading_pipe || skip_op("|")) : skip_op("|")) {
      first = false;
      e = filter(std::move(e));
    }
    return e;
  }

  // Comma-separated expressions: one is itself, several (or `()`) a tuple.
  ExprPtr parse_tuple(bool with_condexpr, bool explicit_parentheses) {
    const Location loc = cur().loc;
    std::vector<ExprPtr> items;
    bool is_tuple = false;
    for (;;) {
      if (!items.empty()) expect_op(",");
      if (cur().type == TokenType::kVarEnd || cur().type == TokenType::kBlockEnd || is_op(")") ||
          (!with_condexpr && is_name("if")))
        break;
      items.push_back(parse_expression(with_condexpr));
      if (is_op(",")) {
        is_tuple = true;
      } else {
        break;
      }
    }
    if (!is_tuple) {
      if (!items.empty()) return std::move(items[0]);
      if (!explicit_parentheses) fail(cur().loc, "expected an expression, got " + describe(cur()));
    }
    auto e = node(Expr::Kind::kTuple, loc);
    e->children = std::move(items);
    return e;
  }

  ExprPtr parse_expression(bool with_condexpr) {
    DepthGuard guard(*this);
    if (!with_condexpr) return parse_or();
    ExprPtr e = parse_or();
    while (is_name("if")) {
      const Location loc = next().loc;
      auto c = node(Expr::Kind::kCond, loc);
      ExprPtr test = parse_or();
      ExprPtr otherwise;
      if (skip_name("else")) otherwise = parse_expression(true);
      c->children.push_back(std::move(test));
      c->children.push_back(std::move(e));
      c->children.push_back(std::move(otherwise));
      e = std::move(c);
    }
    return e;
  }

  ExprPtr binary(Expr::Kind kind, Location loc, std::string op, ExprPtr a, ExprPtr b) {
    auto e = node(kind, loc, std::move(op));
    e->children.push_back(std::move(a));
    e->children.push_back(std::move(b));
    return e;
  }

  ExprPtr parse_or() {
    ExprPtr e = parse_and();
    while (is_name("or")) {
      const Location loc = next().loc;
      e = binary(Expr::Kind::kOr, loc, "or", std::move(e), parse_and());
    }
    return e;
  }

  ExprPtr parse_and() {
    ExprPtr e = parse_not();
    while (is_name("and")) {
      const Location loc = next().loc;
      e = binary(Expr::Kind::kAnd, loc, "and", std::move(e), parse_not());
    }
    return e;
  }

  ExprPtr parse_not() {
    DepthGuard guard(*this);
    if (is_name("not")) {
      auto e = node(Expr::Kind::kNot, next().loc);
      e->children.push_back(parse_not());
      return e;
    }
    return parse_compare();
  }

  ExprPtr parse_compare() {
    ExprPtr e = parse_math1();
    int n = 0;
    for (;;) {
      const Location loc = cur().loc;
      std::string op;
      if (cur().type == TokenType::kOp &&
          (cur().text == "==" || cur().text == "!=" || cur().text == "<" || cur().text == "<=" || cur().text == ">" ||
           cur().text == ">=")) {
        op = next().text;
      } else if (is_name("in")) {
        next();
        op = "in";
      } else if (is_name("not") && look().type == TokenType::kName && look().text == "in") {
        next();
        next();
        op = "not in";
      } else {
        break;
      }
      if (++n > 1) fail(loc, "chained comparisons (a < b < c) are not supported; use 'and'");
      e = binary(Expr::Kind::kBinary, loc, op, std::move(e), parse_math1());
    }
    return e;
  }

  ExprPtr parse_math1() {
    ExprPtr e = parse_concat();
    while (is_op("+") || is_op("-")) {
      const Token& t = next();
      e = binary(Expr::Kind::kBinary, t.loc, t.text, std::move(e), parse_concat());
    }
    return e;
  }

  ExprPtr parse_concat() {
    ExprPtr e = parse_math2();
    while (is_op("~")) {
      const Token& t = next();
      e = binary(Expr::Kind::kBinary, t.loc, "~", std::move(e), parse_math2());
    }
    return e;
  }

  ExprPtr parse_math2() {
    ExprPtr e = parse_pow();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      const Token& t = next();
      e = binary(Expr::Kind::kBinary, t.loc, t.text, std::move(e), parse_pow());
    }
    return e;
  }

  ExprPtr parse_pow() {
    ExprPtr e = parse_unary(true);
    while (is_op("**")) {
      const Token& t = next();
      e = binary(Expr::Kind::kBinary, t.loc, "**", std::move(e), parse_unary(true));
    }
    return e;
  }

  ExprPtr parse_unary(bool with_filter) {
    DepthGuard guard(*this);
    ExprPtr e;
    if (is_op("-") || is_op("+")) {
      const Token& t = next();
      e = node(t.text == "-" ? Expr::Kind::kNeg : Expr::Kind::kPos, t.loc);
      e->children.push_back(parse_unary(false));
    } else {
      e = parse_primary();
    }
    e = parse_postfix(std::move(e));
    if (with_filter) e = parse_filter_expr(std::move(e));
    return e;
  }

  ExprPtr parse_primary() {
    DepthGuard guard(*this);
    const Token& t = cur();
    switch (t.type) {
      case TokenType::kName: {
        next();
        auto e = node(Expr::Kind::kLiteral, t.loc);
        if (t.text == "true" || t.text == "True") {
          e->literal = Value::boolean(true);
        } else if (t.text == "false" || t.text == "False") {
          e->literal = Value::boolean(false);
        } else if (t.text == "none" || t.text == "None") {
          e->literal = Value::none();
        } else {
          e->kind = Expr::Kind::kName;
          e->name = t.text;
        }
        return e;
      }
      case TokenType::kString: {
        auto e = node(Expr::Kind::kLiteral, t.loc);
        std::string s;
        while (cur().type == TokenType::kString) s += next().text;
        e->literal = Value::string(std::move(s));
        return e;
      }
      case TokenType::kInt:
      case TokenType::kFloat: {
        next();
        auto e = node(Expr::Kind::kLiteral, t.loc);
        e->literal = t.type == TokenType::kInt ? Value::integer(t.i) : Value::number(t.f);
        return e;
      }
      case TokenType::kOp:
        if (t.text == "(") {
          next();
          ExprPtr e = parse_tuple(true, true);
          expect_op(")");
          return e;
        }
        if (t.text == "[") {
          next();
          auto e = node(Expr::Kind::kList, t.loc);
          while (!skip_op("]")) {
            if (!e->children.empty()) expect_op(",");
            if (skip_op("]")) break;
            e->children.push_back(parse_expression(true));
          }
          return e;
        }
        if (t.text == "{") {
          next();
          auto e = node(Expr::Kind::kDict, t.loc);
          while (!skip_op("}")) {
            if (!e->children.empty()) expect_op(",");
            if (skip_op("}")) break;
            e->children.push_back(parse_expression(true));
            expect_op(":");
            e->children.push_back(parse_expression(true));
          }
          return e;
        }
        break;
      default:
        break;
    }
    fail(t.loc, "unexpected " + describe(t));
  }

  ExprPtr parse_postfix(ExprPtr e) {
    for (;;) {
      if (is_op(".") || is_op("[")) {
        e = subscript(std::move(e));
      } else if (is_op("(")) {
        e = call(std::move(e));
      } else {
        return e;
      }
    }
  }

  ExprPtr parse_filter_expr(ExprPtr e) {
    for (;;) {
      if (skip_op("|")) {
        e = filter(std::move(e));
      } else if (is_name("is")) {
        e = test(std::move(e));
      } else if (is_op("(")) {
        e = call(std::move(e));
      } else {
        return e;
      }
    }
  }

  ExprPtr subscript(ExprPtr obj) {
    const Token& t = next();
    if (t.text == ".") {
      const Token& attr = cur();
      if (attr.type == TokenType::kName) {
        next();
        auto e = node(Expr::Kind::kGetAttr, attr.loc, attr.text);
        e->children.push_back(std::move(obj));
        return e;
      }
      if (attr.type == TokenType::kInt) {
        next();
        auto e = node(Expr::Kind::kGetItem, attr.loc);
        auto key = node(Expr::Kind::kLiteral, attr.loc);
        key->literal = Value::integer(attr.i);
        e->children.push_back(std::move(obj));
        e->children.push_back(std::move(key));
        return e;
      }
      fail(attr.loc, "expected an attribute name after '.', got " + describe(attr));
    }
    auto e = node(Expr::Kind::kGetItem, t.loc);
    e->children.push_back(std::move(obj));
    std::vector<ExprPtr> parts;
    do {
      if (is_op("]")) break;
      parts.push_back(subscribed());
    } while (skip_op(","));
    expect_op("]");
    if (parts.size() == 1) {
      e->children.push_back(std::move(parts[0]));
    } else {
      auto tuple = node(Expr::Kind::kTuple, t.loc);
      tuple->children = std::move(parts);
      e->children.push_back(std::move(tuple));
    }
    return e;
  }

  ExprPtr subscribed() {
    const Location loc = cur().loc;
    ExprPtr start;
    if (!is_op(":")) {
      start = parse_expression(true);
      if (!is_op(":")) return start;
    }
    next();
    auto s = node(Expr::Kind::kSlice, loc);
    s->children.push_back(std::move(start));
    s->children.push_back(is_op(":") || is_op("]") || is_op(",") ? nullptr : parse_expression(true));
    if (skip_op(":")) {
      s->children.push_back(is_op("]") || is_op(",") ? nullptr : parse_expression(true));
    } else {
      s->children.push_back(nullptr);
    }
    return s;
  }

  void call_args(Expr& e) {
    expect_op("(");
    bool first = true;
    while (!skip_op(")")) {
      if (!first) expect_op(",");
      first = false;
      if (skip_op(")")) break;
      if (is_op("*") || is_op("**")) fail(cur().loc, "*args and **kwargs in calls are not supported");
      if (cur().type == TokenType::kName && look().type == TokenType::kOp && look().text == "=") {
        std::string key = next().text;
        next();
        e.kwargs.emplace_back(std::move(key), parse_expression(true));
      } else {
        if (!e.kwargs.empty()) fail(cur().loc, "positional argument after a keyword argument");
        e.children.push_back(parse_expression(true));
      }
    }
  }

  ExprPtr call(ExprPtr callee) {
    auto e = node(Expr::Kind::kCall, cur().loc);
    e->children.push_back(std::move(callee));
    call_args(*e);
    return e;
  }

  ExprPtr filter(ExprPtr operand) {
    const Location loc = cur().loc;
    std::string name = expect_name();
    while (skip_op(".")) name.append(".").append(expect_name());
    if (!has_filter(name)) fail(loc, "no filter named '" + name + "'");
    auto e = node(Expr::Kind::kFilter, loc, name);
    e->children.push_back(std::move(operand));
    if (is_op("(")) call_args(*e);
    return e;
  }

  ExprPtr test(ExprPtr operand) {
    next();  // is
    const bool negated = skip_name("not");
    const Location loc = cur().loc;
    std::string name = expect_name();
    while (skip_op(".")) name.append(".").append(expect_name());
    if (!has_test(name)) fail(loc, "no test named '" + name + "'");
    auto e = node(Expr::Kind::kTest, loc, name);
    e->negated = negated;
    e->children.push_back(std::move(operand));
    const Token& t = cur();
    if (is_op("(")) {
      call_args(*e);
    } else if ((t.type == TokenType::kName || t.type == TokenType::kString || t.type == TokenType::kInt ||
                t.type == TokenType::kFloat || is_op("[") || is_op("{")) &&
               !is_name("else") && !is_name("or") && !is_name("and")) {
      if (is_name("is")) fail(t.loc, "you cannot chain multiple tests with 'is'");
      e->children.push_back(parse_postfix(parse_primary()));
    }
    return e;
  }

  const std::vector<Token>& t_;
  size_t pos_ = 0;
  int depth_ = 0;
  int loops_ = 0;
};

}  // namespace

Body parse(const std::vector<Token>& tokens) { return Parser(tokens).parse_template(); }

}  // namespace optimum::generation::jinja
