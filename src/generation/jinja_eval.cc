// The evaluator: statements write into an output string, expressions follow
// Python's semantics (jinja2 compiles to Python). Scoping as jinja2's: each
// for-loop iteration and macro call has its own frame (so `set` inside a loop
// does not leak; namespace() objects carry state out), `if` has none.
#include <cmath>
#include <string>

#include "jinja_internal.h"

namespace optimum::generation::jinja {

Evaluator::Evaluator(const Program& program, const Limits& limits, const io::OrderedJson& context)
    : program_(program), limits_(limits) {
  frames_.emplace_back();
  if (!context.is_object()) throw InvalidArgument(program.name + ": the render context must be a JSON object");
  for (const auto& [k, v] : context.items()) frames_.back().emplace_back(k, from_json(v));
}

std::string Evaluator::run() {
  std::string out;
  exec(program_.body, out);
  return out;
}

void Evaluator::check_size(size_t bytes) const {
  if (bytes > limits_.max_output_bytes) {
    throw RenderError("string of " + std::to_string(bytes) + " bytes exceeds the limit of " +
                      std::to_string(limits_.max_output_bytes));
  }
}

void Evaluator::count_iterations(size_t n) {
  iterations_ += n;
  if (iterations_ > limits_.max_loop_iterations) {
    throw RenderError("more than " + std::to_string(limits_.max_loop_iterations) + " loop iterations");
  }
}

void Evaluator::append(std::string& out, std::string_view text) const {
  check_size(out.size() + text.size());
  out += text;
}

Value Evaluator::lookup(const std::string& name) const {
  for (auto f = frames_.rbegin(); f != frames_.rend(); ++f) {
    for (auto it = f->rbegin(); it != f->rend(); ++it) {
      if (it->first == name) return it->second;
    }
  }
  Value g = global(name);
  if (g.is_undefined()) g.s = "'" + name + "' is undefined";
  return g;
}

void Evaluator::assign(const std::string& name, Value v) {
  for (auto& [k, x] : frames_.back()) {
    if (k == name) {
      x = std::move(v);
      return;
    }
  }
  frames_.back().emplace_back(name, std::move(v));
}

void Evaluator::assign_targets(const std::vector<std::string>& targets, const Value& v) {
  if (targets.size() == 1) {
    assign(targets[0], v);
    return;
  }
  const List items = iterate(v);
  if (items.size() != targets.size()) {
    throw RenderError(items.size() > targets.size()
                          ? "too many values to unpack (expected " + std::to_string(targets.size()) + ")"
                          : "not enough values to unpack (expected " + std::to_string(targets.size()) + ", got " +
                                std::to_string(items.size()) + ")");
  }
  for (size_t k = 0; k < targets.size(); ++k) assign(targets[k], items[k]);
}

Evaluator::Flow Evaluator::exec(const Body& body, std::string& out) {
  for (const auto& s : body) {
    const Flow flow = exec_stmt(*s, out);
    if (flow != Flow::kNormal) return flow;
  }
  return Flow::kNormal;
}

namespace {
// Pushes a frame for the lifetime of the guard.
struct FrameGuard {
  explicit FrameGuard(std::vector<std::vector<std::pair<std::string, Value>>>& frames) : frames_(frames) {
    frames_.emplace_back();
  }
  ~FrameGuard() { frames_.pop_back(); }
  std::vector<std::vector<std::pair<std::string, Value>>>& frames_;
};
}  // namespace

Evaluator::Flow Evaluator::exec_stmt(const Stmt& s, std::string& out) {
  try {
    switch (s.kind) {
      case Stmt::Kind::kData: append(out, s.text); break;
      case Stmt::Kind::kOutput: append(out, to_str(eval(*s.expr))); break;
      case Stmt::Kind::kIf:
        for (const auto& [cond, body] : s.branches) {
          if (truthy(eval(*cond))) return exec(body, out);
        }
        return exec(s.else_body, out);
      case Stmt::Kind::kFor: return exec_for(s, out);
      case Stmt::Kind::kSet: {
        Value v = eval(*s.expr);
        if (!s.attr.empty()) {
          Value ns = lookup(s.text);
          if (ns.kind != Value::Kind::kNamespace) throw RenderError("cannot assign attribute on non-namespace object");
          if (v.kind == Value::Kind::kNamespace || v.holds_namespace) {
            throw RenderError("a namespace attribute cannot hold a namespace");
          }
          if (s.attr[0] == '_') {
            throw RenderError("Chat templates cannot store underscore-prefixed attributes on a namespace, but got '" +
                              s.attr + "'");
          }
          ns.dict->set(s.attr, std::move(v));
        } else {
          assign_targets(s.targets, v);
        }
        break;
      }
      case Stmt::Kind::kSetBlock: {
        std::string text;
        {
          FrameGuard frame(frames_);
          exec(s.body, text);
        }
        Value v = Value::string(std::move(text));
        if (s.filter) {
          block_value_ = std::move(v);
          v = eval(*s.filter);
        }
        assign(s.text, std::move(v));
        break;
      }
      case Stmt::Kind::kMacro: assign(s.text, make_macro(s)); break;
      case Stmt::Kind::kFilterBlock: {
        std::string text;
        {
          FrameGuard frame(frames_);
          exec(s.body, text);
        }
        block_value_ = Value::string(std::move(text));
        append(out, to_str(eval(*s.filter)));
        break;
      }
      case Stmt::Kind::kBreak: return Flow::kBreak;
      case Stmt::Kind::kContinue: return Flow::kContinue;
      case Stmt::Kind::kScope: {
        FrameGuard frame(frames_);
        return exec(s.body, out);
      }
      case Stmt::Kind::kCallBlock: throw RenderError("call blocks are not supported");
    }
  } catch (const RenderError& e) {
    fail(s.loc, e.what());
  }
  return Flow::kNormal;
}

Evaluator::Flow Evaluator::exec_for(const Stmt& s, std::string& out) {
  List items = iterate(eval(*s.expr));
  if (s.filter) {
    List kept;
    for (auto& item : items) {
      count_iterations(1);
      FrameGuard frame(frames_);
      assign_targets(s.targets, item);
      if (truthy(eval(*s.filter))) kept.push_back(std::move(item));
    }
    items = std::move(kept);
  }
  if (items.empty()) {
    return exec(s.else_body, out);
  }
  const auto n = static_cast<int64_t>(items.size());
  for (int64_t k = 0; k < n; ++k) {
    count_iterations(1);
    FrameGuard frame(frames_);
    Value loop = Value::make_dict();
    Dict& d = *loop.dict;
    d.items.reserve(12);
    d.items.emplace_back("index0", Value::integer(k));
    d.items.emplace_back("index", Value::integer(k + 1));
    d.items.emplace_back("revindex0", Value::integer(n - k - 1));
    d.items.emplace_back("revindex", Value::integer(n - k));
    d.items.emplace_back("first", Value::boolean(k == 0));
    d.items.emplace_back("last", Value::boolean(k == n - 1));
    d.items.emplace_back("length", Value::integer(n));
    d.items.emplace_back("depth", Value::integer(1));
    d.items.emplace_back("depth0", Value::integer(0));
    d.items.emplace_back("previtem",
                         k > 0 ? items[static_cast<size_t>(k - 1)] : Value::undefined("there is no previous item"));
    d.items.emplace_back("nextitem",
                         k + 1 < n ? items[static_cast<size_t>(k + 1)] : Value::undefined("there is no next item"));
    d.items.emplace_back("cycle", Value::function([k](Evaluator&, CallArgs& a) {
                           if (a.args.empty()) throw RenderError("no items for cycling given");
                           return a.args[static_cast<size_t>(k) % a.args.size()];
                         }));
    loop.refresh();
    assign_targets(s.targets, items[static_cast<size_t>(k)]);
    assign("loop", std::move(loop));
    const Flow flow = exec(s.body, out);
    if (flow == Flow::kBreak) break;
  }
  return Flow::kNormal;
}

Value Evaluator::make_macro(const Stmt& s) {
  const Stmt* macro = &s;
  return Value::function([macro](Evaluator& ev, CallArgs& args) { return ev.call_macro(*macro, args); });
}

Value Evaluator::call_macro(const Stmt& s, CallArgs& args) {
  if (depth_ >= limits_.max_call_depth) {
    throw RenderError("macro calls nested deeper than " + std::to_string(limits_.max_call_depth));
  }
  if (args.args.size() > s.params.size()) {
    throw RenderError("macro '" + s.text + "' takes not more than " + std::to_string(s.params.size()) +
                      " argument(s)");
  }
  ++depth_;
  struct DepthRestore {
    size_t& d;
    ~DepthRestore() { --d; }
  } restore{depth_};
  FrameGuard frame(frames_);
  for (size_t k = 0; k < s.params.size(); ++k) {
    const auto& [name, def] = s.params[k];
    Value v = args.get(k, name);
    if (v.is_undefined() && k >= args.args.size() && def) v = eval(*def);
    if (v.is_undefined()) v.s = "'" + name + "' is undefined";
    assign(name, std::move(v));
  }
  args.check_done("macro '" + s.text + "'");
  std::string out;
  exec(s.body, out);
  return Value::string(std::move(out));
}

Value Evaluator::eval(const Expr& e) {
  try {
    return eval_inner(e);
  } catch (const RenderError& err) {
    fail(e.loc, err.what());
  }
}

Value Evaluator::call(const Value& callee, CallArgs& args) {
  if (callee.kind == Value::Kind::kFunction) return (*callee.fn)(*this, args);
  if (callee.is_undefined()) throw RenderError(callee.s.empty() ? "undefined value is not callable" : callee.s);
  throw RenderError("'" + type_name(callee) + "' object is not callable");
}

namespace {

[[noreturn]] void unsupported_operands(const std::string& op, const Value& a, const Value& b) {
  throw RenderError("unsupported operand type(s) for " + op + ": '" + type_name(a) + "' and '" + type_name(b) + "'");
}

int64_t int_of(const Value& v) { return v.kind == Value::Kind::kBool ? v.b : v.i; }
bool is_int(const Value& v) { return v.kind == Value::Kind::kInt || v.kind == Value::Kind::kBool; }

Value repeat(const Evaluator& ev, const Value& seq, int64_t n) {
  if (n < 0) n = 0;
  if (seq.kind == Value::Kind::kString) {
    ev.check_size(seq.s.size() * static_cast<size_t>(n));
    std::string out;
    for (int64_t k = 0; k < n; ++k) out += seq.s;
    return Value::string(std::move(out));
  }
  ev.check_size(seq.list->size() * static_cast<size_t>(n));
  List out;
  for (int64_t k = 0; k < n; ++k) out.insert(out.end(), seq.list->begin(), seq.list->end());
  return seq.kind == Value::Kind::kTuple ? Value::make_tuple(std::move(out)) : Value::make_list(std::move(out));
}

bool contains(const Value& container, const Value& item) {
  switch (container.kind) {
    case Value::Kind::kString:
      if (item.kind != Value::Kind::kString) {
        throw RenderError("'in <string>' requires string as left operand, not " + type_name(item));
      }
      return container.s.find(item.s) != std::string::npos;
    case Value::Kind::kList:
    case Value::Kind::kTuple:
      for (const auto& x : *container.list) {
        if (equals(x, item)) return true;
      }
      return false;
    case Value::Kind::kDict:
    case Value::Kind::kNamespace:
      return item.kind == Value::Kind::kString && container.dict->find(item.s) != nullptr;
    case Value::Kind::kUndefined: return false;
    default: throw RenderError("argument of type '" + type_name(container) + "' is not iterable");
  }
}

}  // namespace

Value binary_op(const Evaluator& ev, const std::string& op, const Value& a, const Value& b) {
  if (op == "~") {
    std::string s = to_str(a);
    const std::string t = to_str(b);
    ev.check_size(s.size() + t.size());
    return Value::string(s + t);
  }
  if (op == "==") return Value::boolean(equals(a, b));
  if (op == "!=") return Value::boolean(!equals(a, b));
  if (op == "<") return Value::boolean(compare(a, b) < 0);
  if (op == "<=") return Value::boolean(compare(a, b) <= 0);
  if (op == ">") return Value::boolean(compare(a, b) > 0);
  if (op == ">=") return Value::boolean(compare(a, b) >= 0);
  if (op == "in") return Value::boolean(contains(b, a));
  if (op == "not in") return Value::boolean(!contains(b, a));
  const bool numbers = a.is_number() && b.is_number();
  const bool ints = numbers && is_int(a) && is_int(b);
  if (op == "+") {
    if (ints) {
      int64_t r;
      if (__builtin_add_overflow(int_of(a), int_of(b), &r)) throw RenderError("integer overflow in +");
      return Value::integer(r);
    }
    if (numbers) return Value::number(a.as_double() + b.as_double());
    if (a.kind == Value::Kind::kString && b.kind == Value::Kind::kString) {
      ev.check_size(a.s.size() + b.s.size());
      return Value::string(a.s + b.s);
    }
    if (a.is_sequence() && a.kind == b.kind) {
      ev.check_size(a.list->size() + b.list->size());
      List out = *a.list;
      out.insert(out.end(), b.list->begin(), b.list->end());
      return a.kind == Value::Kind::kTuple ? Value::make_tuple(std::move(out)) : Value::make_list(std::move(out));
    }
    if (a.kind == Value::Kind::kString) {
      throw RenderError("can only concatenate str (not \"" + type_name(b) + "\") to str");
    }
    unsupported_operands(op, a, b);
  }
  if (op == "-") {
    if (ints) {
      int64_t r;
      if (__builtin_sub_overflow(int_of(a), int_of(b), &r)) throw RenderError("integer overflow in -");
      return Value::integer(r);
    }
    if (numbers) return Value::number(a.as_double() - b.as_double());
    unsupported_operands(op, a, b);
  }
  if (op == "*") {
    if (ints) {
      int64_t r;
      if (__builtin_mul_overflow(int_of(a), int_of(b), &r)) throw RenderError("integer overflow in *");
      return Value::integer(r);
    }
    if (numbers) return Value::number(a.as_double() * b.as_double());
    if ((a.kind == Value::Kind::kString || a.is_sequence()) && is_int(b)) return repeat(ev, a, int_of(b));
    if ((b.kind == Value::Kind::kString || b.is_sequence()) && is_int(a)) return repeat(ev, b, int_of(a));
    unsupported_operands(op, a, b);
  }
  if (op == "/") {
    if (!numbers) unsupported_operands(op, a, b);
    if (b.as_double() == 0) throw RenderError("division by zero");
    return Value::number(a.as_double() / b.as_double());
  }
  if (op == "//" || op == "%") {
    if (!numbers) {
      if (op == "%" && a.kind == Value::Kind::kString) {
        CallArgs args;
        if (b.kind == Value::Kind::kTuple) {
          args.args = *b.list;
        } else {
          args.args.push_back(b);
        }
        return apply_filter(const_cast<Evaluator&>(ev), "format", a, args);
      }
      unsupported_operands(op, a, b);
    }
    if (b.as_double() == 0) throw RenderError(op == "%" ? "modulo by zero" : "integer division or modulo by zero");
    if (ints) {
      const int64_t x = int_of(a), y = int_of(b);
      if (x == INT64_MIN && y == -1) throw RenderError("integer overflow in " + op);
      int64_t q = x / y, r = x % y;
      if (r != 0 && ((r < 0) != (y < 0))) {
        --q;
        r += y;
      }
      return Value::integer(op == "//" ? q : r);
    }
    const double x = a.as_double(), y = b.as_double();
    if (op == "//") return Value::number(std::floor(x / y));
    double r = std::fmod(x, y);
    if (r != 0 && ((r < 0) != (y < 0))) r += y;
    if (r == 0) r = std::copysign(0.0, y);  // Python: the sign of the divisor
    return Value::number(r);
  }
  if (op == "**") {
    if (!numbers) unsupported_operands(op, a, b);
    if (ints && int_of(b) >= 0) {
      int64_t r = 1, base = int_of(a);
      for (int64_t e = int_of(b); e > 0; e >>= 1) {
        if (e & 1) {
          if (__builtin_mul_overflow(r, base, &r)) throw RenderError("integer overflow in **");
        }
        if (e > 1 && __builtin_mul_overflow(base, base, &base)) throw RenderError("integer overflow in **");
      }
      return Value::integer(r);
    }
    return Value::number(std::pow(a.as_double(), b.as_double()));
  }
  throw RenderError("unknown operator " + op);
}

namespace {

// Python's slice index adjustment for a sequence of `len` items.
std::vector<size_t> slice_indices(int64_t len, const Value& start_v, const Value& stop_v, const Value& step_v) {
  const auto as_int = [](const Value& v, const char* what) -> std::optional<int64_t> {
    if (v.is_none() || v.is_undefined()) return std::nullopt;
    if (!is_int(v)) throw RenderError(std::string("slice ") + what + " must be an integer or None");
    return int_of(v);
  };
  const int64_t step = as_int(step_v, "step").value_or(1);
  if (step == 0) throw RenderError("slice step cannot be zero");
  const auto adjust = [&](std::optional<int64_t> v, int64_t dflt) {
    if (!v) return dflt;
    int64_t x = *v;
    if (x < 0) {
      x += len;
      if (x < 0) x = step < 0 ? -1 : 0;
    } else if (x >= len) {
      x = step < 0 ? len - 1 : len;
    }
    return x;
  };
  const int64_t start = adjust(as_int(start_v, "start"), step < 0 ? len - 1 : 0);
  const int64_t stop = adjust(as_int(stop_v, "stop"), step < 0 ? -1 : len);
  std::vector<size_t> out;
  for (int64_t k = start; step > 0 ? k < stop : k > stop; k += step) out.push_back(static_cast<size_t>(k));
  return out;
}

}  // namespace

Value Evaluator::eval_inner(const Expr& e) {
  switch (e.kind) {
    case Expr::Kind::kLiteral: return e.literal;
    case Expr::Kind::kName: return lookup(e.name);
    case Expr::Kind::kGetAttr: {
      const Value obj = eval(*e.children[0]);
      if (obj.is_undefined()) throw RenderError(obj.s.empty() ? "undefined value has no attribute '" + e.name + "'" : obj.s);
      return get_attr(obj, e.name);
    }
    case Expr::Kind::kGetItem: {
      const Value obj = eval(*e.children[0]);
      if (obj.is_undefined()) throw RenderError(obj.s.empty() ? "undefined value is not subscriptable" : obj.s);
      const Expr& key = *e.children[1];
      if (key.kind == Expr::Kind::kSlice) {
        const auto part = [&](size_t k) { return key.children[k] ? eval(*key.children[k]) : Value::none(); };
        const Value start = part(0), stop = part(1), step = part(2);
        if (obj.kind == Value::Kind::kString) {
          const auto chars = utf8_chars(obj.s);
          std::string out;
          for (size_t k : slice_indices(static_cast<int64_t>(chars.size()), start, stop, step)) out += chars[k];
          return Value::string(std::move(out));
        }
        if (obj.is_sequence()) {
          List out;
          for (size_t k : slice_indices(static_cast<int64_t>(obj.list->size()), start, stop, step)) {
            out.push_back((*obj.list)[k]);
          }
          return obj.kind == Value::Kind::kTuple ? Value::make_tuple(std::move(out)) : Value::make_list(std::move(out));
        }
        return Value::undefined("'" + type_name(obj) + "' object is not subscriptable");
      }
      return get_item(obj, eval(key));
    }
    case Expr::Kind::kSlice: throw RenderError("a slice is only valid inside [ ]");
    case Expr::Kind::kCall: {
      const Value callee = eval(*e.children[0]);
      CallArgs args;
      for (size_t k = 1; k < e.children.size(); ++k) args.args.push_back(eval(*e.children[k]));
      for (const auto& [name, x] : e.kwargs) args.kwargs.emplace_back(name, eval(*x));
      return call(callee, args);
    }
    case Expr::Kind::kFilter: {
      Value operand = e.children[0] ? eval(*e.children[0]) : block_value_;
      CallArgs args;
      for (size_t k = 1; k < e.children.size(); ++k) args.args.push_back(eval(*e.children[k]));
      for (const auto& [name, x] : e.kwargs) args.kwargs.emplace_back(name, eval(*x));
      return apply_filter(*this, e.name, operand, args);
    }
    case Expr::Kind::kTest: {
      const Value operand = eval(*e.children[0]);
      CallArgs args;
      for (size_t k = 1; k < e.children.size(); ++k) args.args.push_back(eval(*e.children[k]));
      for (const auto& [name, x] : e.kwargs) args.kwargs.emplace_back(name, eval(*x));
      return Value::boolean(apply_test(*this, e.name, operand, args) != e.negated);
    }
    case Expr::Kind::kNot: return Value::boolean(!truthy(eval(*e.children[0])));
    case Expr::Kind::kNeg:
    case Expr::Kind::kPos: {
      const Value v = eval(*e.children[0]);
      const bool neg = e.kind == Expr::Kind::kNeg;
      if (is_int(v)) {
        if (neg && int_of(v) == INT64_MIN) throw RenderError("integer overflow in unary -");
        return Value::integer(neg ? -int_of(v) : int_of(v));
      }
      if (v.kind == Value::Kind::kFloat) return Value::number(neg ? -v.f : v.f);
      throw RenderError(std::string("bad operand type for unary ") + (neg ? "-" : "+") + ": '" + type_name(v) + "'");
    }
    case Expr::Kind::kBinary: {
      const Value a = eval(*e.children[0]);
      const Value b = eval(*e.children[1]);
      return binary_op(*this, e.name, a, b);
    }
    case Expr::Kind::kAnd: {
      Value a = eval(*e.children[0]);
      return truthy(a) ? eval(*e.children[1]) : a;
    }
    case Expr::Kind::kOr: {
      Value a = eval(*e.children[0]);
      return truthy(a) ? a : eval(*e.children[1]);
    }
    case Expr::Kind::kCond:
      if (truthy(eval(*e.children[0]))) return eval(*e.children[1]);
      return e.children[2] ? eval(*e.children[2]) : Value::undefined("the inline if-expression evaluated to false and no else section was defined");
    case Expr::Kind::kList:
    case Expr::Kind::kTuple: {
      List items;
      for (const auto& c : e.children) items.push_back(eval(*c));
      return e.kind == Expr::Kind::kList ? Value::make_list(std::move(items)) : Value::make_tuple(std::move(items));
    }
    case Expr::Kind::kDict: {
      Value d = Value::make_dict();
      for (size_t k = 0; k + 1 < e.children.size(); k += 2) {
        const Value key = eval(*e.children[k]);
        d.dict->set(key.kind == Value::Kind::kString ? key.s : to_str(key), eval(*e.children[k + 1]));
      }
      d.refresh();
      return d;
    }
  }
  throw RenderError("unknown expression");
}

}  // namespace optimum::generation::jinja
