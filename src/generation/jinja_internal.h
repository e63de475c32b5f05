// Internals of the Jinja engine: values (Python's object model reduced to what
// templates see), tokens, the syntax tree and the builtin tables.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "optimum/generation/jinja.h"

namespace optimum::generation::jinja {

// Where a token or node starts in the template (1-based).
struct Location {
  int line = 0;
  int col = 0;
};

// TemplateError at `loc`: "<name>: line L, column C: message". Errors raised
// while evaluating get the location of the innermost node that saw them.
[[noreturn]] void fail(const Location& loc, const std::string& message);

// An error without a location yet; the evaluator adds the node's.
class RenderError : public std::exception {
 public:
  explicit RenderError(std::string message) : message_(std::move(message)) {}
  const char* what() const noexcept override { return message_.c_str(); }

 private:
  std::string message_;
};

struct Value;
struct Dict;
struct CallArgs;
class Evaluator;

using List = std::vector<Value>;
using Function = std::function<Value(Evaluator&, CallArgs&)>;

// A Python value as templates see it. Lists and dicts are shared (Python
// reference semantics; only namespaces are mutated).
struct Value {
  enum class Kind { kUndefined, kNone, kBool, kInt, kFloat, kString, kList, kTuple, kDict, kNamespace, kFunction };
  Kind kind = Kind::kUndefined;
  bool b = false;
  int64_t i = 0;
  double f = 0;
  std::string s;  // the string; for undefined, the name it came from (error hints)
  std::shared_ptr<List> list;
  std::shared_ptr<Dict> dict;
  std::shared_ptr<Function> fn;
  // Container nesting (0 for scalars) and whether a namespace is inside: a
  // bound on the first keeps recursion (printing, comparing, destroying)
  // shallow; refusing namespaces inside namespaces rules out reference cycles.
  uint32_t depth = 0;
  bool holds_namespace = false;

  static Value undefined(std::string hint = {});
  static Value none();
  static Value boolean(bool v);
  static Value integer(int64_t v);
  static Value number(double v);
  static Value string(std::string v);
  static Value make_list(List items = {});
  static Value make_tuple(List items);
  static Value make_dict();
  static Value function(Function f);

  // Recomputes depth/holds_namespace of a dict from its items (after filling it).
  void refresh();

  bool is_undefined() const { return kind == Kind::kUndefined; }
  bool is_none() const { return kind == Kind::kNone; }
  bool is_string() const { return kind == Kind::kString; }
  bool is_number() const { return kind == Kind::kInt || kind == Kind::kFloat || kind == Kind::kBool; }
  bool is_sequence() const { return kind == Kind::kList || kind == Kind::kTuple; }
  bool is_mapping() const { return kind == Kind::kDict || kind == Kind::kNamespace; }
  double as_double() const { return kind == Kind::kFloat ? f : static_cast<double>(kind == Kind::kBool ? b : i); }
};

// Deepest container nesting a value may have.
constexpr uint32_t kMaxNesting = 600;

// An insertion-ordered str-keyed dict (Python's dict order).
struct Dict {
  std::vector<std::pair<std::string, Value>> items;
  const Value* find(std::string_view key) const;
  void set(const std::string& key, Value value);
};

// Positional and keyword arguments of a call.
struct CallArgs {
  List args;
  std::vector<std::pair<std::string, Value>> kwargs;
  // The argument at `pos` or named `name` (removed from kwargs), else undefined.
  Value get(size_t pos, std::string_view name);
  // Fails when keywords are left that the callee does not take.
  void check_done(std::string_view callee) const;
};

// --- conversions (jinja_value.cc) ---
Value from_json(const io::OrderedJson& j);
bool truthy(const Value& v);
std::string type_name(const Value& v);        // Python's type name: 'str', 'dict', ...
std::string to_str(const Value& v);           // str(v)
std::string repr(const Value& v);             // repr(v)
std::string format_float(double v);           // float.__repr__
bool equals(const Value& a, const Value& b);  // ==
int compare(const Value& a, const Value& b);  // <, raising TypeError like Python for mixed types
// json.dumps(v, ensure_ascii=False, indent, separators, sort_keys) as transformers' tojson.
std::string to_json(const Value& v, const std::optional<std::string>& indent, bool sort_keys, const std::string& item_sep,
                    const std::string& key_sep);
// Items of an iterable (a string gives its characters, a dict its keys).
List iterate(const Value& v);
// Code points of UTF-8 `s` as separate UTF-8 strings.
std::vector<std::string> utf8_chars(std::string_view s);
// Decodes one UTF-8 code point at s[i] (advancing i); invalid bytes are taken alone.
uint32_t decode_utf8(std::string_view s, size_t& i);
size_t utf8_length(std::string_view s);

// --- tokens (jinja_lexer.cc) ---
enum class TokenType { kData, kVarBegin, kVarEnd, kBlockBegin, kBlockEnd, kName, kString, kInt, kFloat, kOp, kEnd };

struct Token {
  TokenType type;
  std::string text;  // data, name, operator, decoded string literal
  int64_t i = 0;
  double f = 0;
  Location loc;
};

std::vector<Token> tokenize(std::string_view source);

// --- syntax tree ---
struct Expr {
  enum class Kind {
    kLiteral, kName, kGetAttr, kGetItem, kSlice, kCall, kFilter, kTest, kNot, kNeg, kPos,
    kBinary, kAnd, kOr, kCond, kList, kTuple, kDict
  };
  Kind kind;
  Location loc;
  std::string name;  // variable, attribute, filter/test name, binary operator
  Value literal;
  bool negated = false;                 // `is not`
  std::vector<std::unique_ptr<Expr>> children;  // operands; may hold nullptr (slice parts, missing else)
  std::vector<std::pair<std::string, std::unique_ptr<Expr>>> kwargs;
};
using ExprPtr = std::unique_ptr<Expr>;

struct Stmt;
using Body = std::vector<std::unique_ptr<Stmt>>;

struct Stmt {
  enum class Kind { kData, kOutput, kIf, kFor, kSet, kSetBlock, kMacro, kCallBlock, kFilterBlock, kBreak, kContinue, kScope };
  Kind kind;
  Location loc;
  std::string text;                  // data; set/macro name
  std::string attr;                  // set ns.attr
  std::vector<std::string> targets;  // for / set targets (several unpack a tuple)
  ExprPtr expr;                      // output, set value, for iterable, filter/call expression
  ExprPtr filter;                    // for ... if <filter>
  std::vector<std::pair<ExprPtr, Body>> branches;  // if / elif (else has a null condition)
  Body body, else_body;
  std::vector<std::pair<std::string, ExprPtr>> params;  // macro parameters and defaults
};

struct Program {
  std::string name;
  Body body;
};

// --- parsing (jinja_parser.cc) ---
Body parse(const std::vector<Token>& tokens);

// --- builtins (jinja_builtins.cc) ---
Value apply_filter(Evaluator& ev, const std::string& name, const Value& operand, CallArgs& args);
bool apply_test(Evaluator& ev, const std::string& name, const Value& operand, CallArgs& args);
bool has_filter(const std::string& name);
bool has_test(const std::string& name);
// obj.name: a method bound to `obj` or a dict item, else undefined.
Value get_attr(const Value& obj, const std::string& name);
// obj[key] (ints index sequences and strings; negative from the end).
Value get_item(const Value& obj, const Value& key);
Value global(const std::string& name);

// --- Python string helpers (jinja_methods.cc) ---
std::string py_strip(const std::string& s, const Value& chars, bool left, bool right);  // str.strip(chars)
std::string ascii_lower(std::string s);  // str.lower() of ASCII letters (others unchanged)
std::string ascii_upper(std::string s);  // str.upper() of ASCII letters (others unchanged)
std::string capitalize(const std::string& s);  // str.capitalize()
std::string py_replace(const Evaluator& ev, const std::string& s, const std::string& old, const std::string& repl,
                       int64_t count);  // str.replace(old, new, count); count < 0: all
Value string_method(const Value& self, const std::string& name);  // 'abc'.name, bound to 'abc'

// The evaluator: the variables, the limits and the render's counters.
class Evaluator {
 public:
  Evaluator(const Program& program, const Limits& limits, const io::OrderedJson& context);
  std::string run();

  Value eval(const Expr& e);
  Value call(const Value& callee, CallArgs& args);
  const Limits& limits() const { return limits_; }
  void check_size(size_t bytes) const;
  void count_iterations(size_t n);
  Value call_macro(const Stmt& s, CallArgs& args);

 private:
  enum class Flow { kNormal, kBreak, kContinue };
  Flow exec(const Body& body, std::string& out);
  Flow exec_stmt(const Stmt& s, std::string& out);
  Flow exec_for(const Stmt& s, std::string& out);
  Value eval_inner(const Expr& e);
  Value lookup(const std::string& name) const;
  void assign(const std::string& name, Value v);
  void assign_targets(const std::vector<std::string>& targets, const Value& v);
  Value make_macro(const Stmt& s);
  void append(std::string& out, std::string_view text) const;

  const Program& program_;
  Limits limits_;
  std::vector<std::vector<std::pair<std::string, Value>>> frames_;
  size_t iterations_ = 0;
  size_t depth_ = 0;
  Value block_value_;  // the rendered body a filter block or set block filters
};

// `a op b` for the binary operators (+ - * / // % ** ~ == != < <= > >= in, not in).
Value binary_op(const Evaluator& ev, const std::string& op, const Value& a, const Value& b);

}  // namespace optimum::generation::jinja
