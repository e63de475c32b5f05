// Builtin filters, tests and globals: jinja2's defaults plus transformers'
// environment (tojson as json.dumps(ensure_ascii=False), raise_exception,
// strftime_now, namespace, dict) in an ImmutableSandboxedEnvironment.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <optional>
#include <ctime>
#include <functional>
#include <map>
#include <string>
#include <unordered_map>

#include "jinja_internal.h"

namespace optimum::generation::jinja {
namespace {

using FilterFn = std::function<Value(Evaluator&, const Value&, CallArgs&)>;
using TestFn = std::function<bool(Evaluator&, const Value&, CallArgs&)>;

bool is_int(const Value& v) { return v.kind == Value::Kind::kInt || v.kind == Value::Kind::kBool; }
int64_t int_of(const Value& v) { return v.kind == Value::Kind::kBool ? v.b : v.i; }

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_alnum_byte(char c) { return is_alpha(c) || (c >= '0' && c <= '9') || static_cast<unsigned char>(c) >= 0x80; }

// jinja2's title filter: words start after whitespace, '-', '(', '{', '[', '<'.
std::string jinja_title(const std::string& s) {
  std::string out;
  bool word_start = true;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool sep = c == '-' || c == '(' || c == '{' || c == '[' || c == '<' || c == ' ' || c == '\t' ||
                     c == '\n' || c == '\r' || c == '\f' || c == '\v';
    if (sep) {
      out += c;
      word_start = true;
    } else if (word_start) {
      out += ascii_upper(std::string(1, c));
      word_start = false;
    } else {
      out += ascii_lower(std::string(1, c));
    }
  }
  return out;
}

// Python %-formatting of the common conversions (%s %r %d %i %f %x %%).
std::string percent_format(const std::string& fmt, const List& args) {
  std::string out;
  size_t next = 0;
  for (size_t i = 0; i < fmt.size(); ++i) {
    if (fmt[i] != '%') {
      out += fmt[i];
      continue;
    }
    size_t j = i + 1;
    std::string spec = "%";
    while (j < fmt.size() && std::strchr("-+ 0#", fmt[j])) spec += fmt[j++];
    while (j < fmt.size() && std::isdigit(static_cast<unsigned char>(fmt[j]))) spec += fmt[j++];
    if (j < fmt.size() && fmt[j] == '.') {
      spec += fmt[j++];
      while (j < fmt.size() && std::isdigit(static_cast<unsigned char>(fmt[j]))) spec += fmt[j++];
    }
    if (j >= fmt.size()) throw RenderError("incomplete format");
    const char conv = fmt[j];
    i = j;
    if (conv == '%') {
      out += '%';
      continue;
    }
    if (next >= args.size()) throw RenderError("not enough arguments for format string");
    const Value& a = args[next++];
    char buf[512];
    if (conv == 's' || conv == 'r') {
      const std::string text = conv == 's' ? to_str(a) : repr(a);
      if (spec == "%") {
        out += text;
      } else {
        std::snprintf(buf, sizeof(buf), (spec + "s").c_str(), text.c_str());
        out += buf;
      }
    } else if (conv == 'd' || conv == 'i' || conv == 'x' || conv == 'X' || conv == 'o') {
      if (!a.is_number()) throw RenderError("%" + std::string(1, conv) + " format: a real number is required, not " + type_name(a));
      const long long v = is_int(a) ? int_of(a) : static_cast<long long>(a.as_double());
      std::snprintf(buf, sizeof(buf), (spec + "ll" + (conv == 'i' ? 'd' : conv)).c_str(), v);
      out += buf;
    } else if (conv == 'f' || conv == 'F' || conv == 'e' || conv == 'E' || conv == 'g' || conv == 'G') {
      if (!a.is_number()) throw RenderError("must be real number, not " + type_name(a));
      std::snprintf(buf, sizeof(buf), (spec + conv).c_str(), a.as_double());
      out += buf;
    } else {
      throw RenderError(std::string("unsupported format character '") + conv + "'");
    }
  }
  if (next < args.size()) throw RenderError("not all arguments converted during string formatting");
  return out;
}

}  // namespace

namespace {

Value attribute_path(const Value& obj, const std::string& path) {
  Value v = obj;
  size_t pos = 0;
  for (;;) {
    const size_t dot = path.find('.', pos);
    const std::string part = path.substr(pos, dot == std::string::npos ? std::string::npos : dot - pos);
    if (!part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
      v = get_item(v, Value::integer(std::stoll(part)));
    } else {
      v = get_item(v, Value::string(part));
    }
    if (dot == std::string::npos) return v;
    pos = dot + 1;
  }
}

// Sort key: case-folded strings unless case_sensitive.
Value fold(const Value& v, bool case_sensitive) {
  return v.kind == Value::Kind::kString && !case_sensitive ? Value::string(ascii_lower(v.s)) : v;
}

size_t length_of(const Value& v) {
  switch (v.kind) {
    case Value::Kind::kUndefined: return 0;
    case Value::Kind::kString: return utf8_length(v.s);
    case Value::Kind::kList:
    case Value::Kind::kTuple: return v.list->size();
    case Value::Kind::kDict: return v.dict->items.size();
    default: throw RenderError("object of type '" + type_name(v) + "' has no len()");
  }
}

double python_round(double x, int64_t ndigits) {
  const double scale = std::pow(10.0, static_cast<double>(ndigits));
  const double y = x * scale;
  double r = std::nearbyint(y);  // round half to even, as Python's round()
  if (std::fabs(y - std::trunc(y)) != 0.5) r = std::round(y);
  return r / scale;
}

std::optional<std::string> indent_of(const Value& v) {
  if (v.is_none() || v.is_undefined()) return std::nullopt;
  if (v.kind == Value::Kind::kString) return v.s;
  if (is_int(v)) return std::string(static_cast<size_t>(std::max<int64_t>(0, std::min<int64_t>(int_of(v), 1024))), ' ');
  throw RenderError("tojson: indent must be an int, a str or None");
}

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

// select/reject/selectattr/rejectattr and map's shared item test.
bool item_test(Evaluator& ev, const Value& item, CallArgs& args, size_t first) {
  if (args.args.size() <= first) return truthy(item);
  if (args.args[first].kind != Value::Kind::kString) throw RenderError("test name must be a string");
  CallArgs rest;
  rest.args.assign(args.args.begin() + static_cast<std::ptrdiff_t>(first) + 1, args.args.end());
  return apply_test(ev, args.args[first].s, item, rest);
}

// select/reject (attr_filter null) and selectattr/rejectattr (attr_filter
// names the filter): the items whose test comes out `keep`.
Value select_items(Evaluator& ev, const Value& v, CallArgs& a, bool keep, const char* attr_filter) {
  if (attr_filter != nullptr && (a.args.empty() || a.args[0].kind != Value::Kind::kString)) {
    throw RenderError(std::string(attr_filter) + ": missing attribute name");
  }
  List out;
  for (const auto& x : iterate(v)) {
    const bool passed = attr_filter != nullptr ? item_test(ev, attribute_path(x, a.args[0].s), a, 1) : item_test(ev, x, a, 0);
    if (passed == keep) out.push_back(x);
  }
  return Value::make_list(std::move(out));
}

// The comparison key of max/min/sort/unique: the item or its attribute path, case-folded unless case_sensitive.
Value sort_key(const Value& x, const Value& attr, bool case_sensitive) {
  return fold(attr.kind == Value::Kind::kString ? attribute_path(x, attr.s) : x, case_sensitive);
}

// max (sign 1) and min (sign -1): the first item whose key compares furthest that way.
Value extremum(const Value& v, CallArgs& a, int sign) {
  const bool cs = truthy(a.get(0, "case_sensitive"));
  const Value attr = a.get(1, "attribute");
  const List items = iterate(v);
  if (items.empty()) return Value::undefined("No aggregated item, sequence was empty.");
  size_t best = 0;
  for (size_t k = 1; k < items.size(); ++k) {
    if (sign * compare(sort_key(items[k], attr, cs), sort_key(items[best], attr, cs)) > 0) best = k;
  }
  return items[best];
}

const std::unordered_map<std::string, FilterFn>& filters() {
  static const auto* table = new std::unordered_map<std::string, FilterFn>{
      {"abs", [](Evaluator&, const Value& v, CallArgs&) {
         if (is_int(v)) return Value::integer(int_of(v) < 0 ? -int_of(v) : int_of(v));
         if (v.kind == Value::Kind::kFloat) return Value::number(std::fabs(v.f));
         throw RenderError("bad operand type for abs(): '" + type_name(v) + "'");
       }},
      {"attr", [](Evaluator&, const Value& v, CallArgs& a) {
         const Value name = a.get(0, "name");
         if (name.kind != Value::Kind::kString) throw RenderError("attr: the name must be a string");
         return v.kind == Value::Kind::kString ? string_method(v, name.s)
                : v.kind == Value::Kind::kDict ? get_attr(v, name.s)
                                               : get_attr(v, name.s);
       }},
      {"capitalize", [](Evaluator&, const Value& v, CallArgs&) { return Value::string(capitalize(to_str(v))); }},
      {"default", [](Evaluator&, const Value& v, CallArgs& a) {
         Value d = a.get(0, "default_value");
         const Value boolean = a.get(1, "boolean");
         a.check_done("default");
         if (d.is_undefined() && a.args.empty()) d = Value::string("");
         if (v.is_undefined() || (truthy(boolean) && !truthy(v))) return d;
         return v;
       }},
      {"dictsort", [](Evaluator&, const Value& v, CallArgs& a) {
         if (v.kind != Value::Kind::kDict) throw RenderError("You can only sort by either \"key\" or \"value\"");
         const bool cs = truthy(a.get(0, "case_sensitive"));
         const Value by = a.get(1, "by");
         const bool rev = truthy(a.get(2, "reverse"));
         const bool by_value = by.kind == Value::Kind::kString && by.s == "value";
         List items;
         for (const auto& [k, x] : v.dict->items) items.push_back(Value::make_tuple({Value::string(k), x}));
         std::stable_sort(items.begin(), items.end(), [&](const Value& p, const Value& q) {
           const size_t i = by_value ? 1 : 0;
           const int c = compare(fold((*p.list)[i], cs), fold((*q.list)[i], cs));
           return rev ? c > 0 : c < 0;
         });
         return Value::make_list(std::move(items));
       }},
      {"escape", [](Evaluator&, const Value& v, CallArgs&) { return Value::string(html_escape(to_str(v))); }},
      {"first", [](Evaluator&, const Value& v, CallArgs&) {
         const List items = iterate(v);
         return items.empty() ? Value::undefined("No first item, sequence was empty.") : items.front();
       }},
      {"float", [](Evaluator&, const Value& v, CallArgs& a) {
         const Value d = a.get(0, "default");
         if (v.is_number()) return Value::number(v.as_double());
         if (v.kind == Value::Kind::kString) {
           const std::string t = py_strip(v.s, Value::none(), true, true);
           char* end = nullptr;
           const double x = std::strtod(t.c_str(), &end);
           if (!t.empty() && end == t.c_str() + t.size()) return Value::number(x);
         }
         if (v.is_undefined()) throw RenderError(v.s.empty() ? "undefined value" : v.s);
         return d.is_undefined() ? Value::number(0.0) : d;
       }},
      {"format", [](Evaluator&, const Value& v, CallArgs& a) {
         if (!a.kwargs.empty()) throw RenderError("format: keyword arguments are not supported");
         return Value::string(percent_format(to_str(v), a.args));
       }},
      {"indent", [](Evaluator&, const Value& v, CallArgs& a) {
         const Value width = a.get(0, "width");
         const bool first = truthy(a.get(1, "first"));
         const bool blank = truthy(a.get(2, "blank"));
         a.check_done("indent");
         const std::string ind = width.kind == Value::Kind::kString ? width.s
                                 : is_int(width) ? std::string(static_cast<size_t>(std::clamp<int64_t>(int_of(width), 0, 1024)), ' ')
                                                 : std::string(4, ' ');
         std::string s = to_str(v) + "\n";
         std::vector<std::string> lines;
         size_t start = 0;
         for (size_t i = 0; i < s.size(); ++i) {
           const char c = s[i];
           if (c == '\n' || c == '\r' || c == '\v' || c == '\f') {
             lines.push_back(s.substr(start, i - start));
             if (c == '\r' && i + 1 < s.size() && s[i + 1] == '\n') ++i;
             start = i + 1;
           }
         }
         std::string rv;
         for (size_t k = 0; k < lines.size(); ++k) {
           if (k) rv += "\n" + ((blank || !lines[k].empty()) ? ind : std::string());
           rv += lines[k];
         }
         if (first) rv = ind + rv;
         return Value::string(std::move(rv));
       }},
      {"int", [](Evaluator&, const Value& v, CallArgs& a) {
         const Value d = a.get(0, "default");
         const Value base = a.get(1, "base");
         if (is_int(v)) return Value::integer(int_of(v));
         if (v.kind == Value::Kind::kFloat) {
           if (!std::isfinite(v.f) || std::fabs(v.f) >= 9.2e18) throw RenderError("cannot convert float to integer");
           return Value::integer(static_cast<int64_t>(v.f));
         }
         if (v.kind == Value::Kind::kString) {
           std::string t = py_strip(v.s, Value::none(), true, true);
           t.erase(std::remove(t.begin(), t.end(), '_'), t.end());
           const int b = is_int(base) ? static_cast<int>(int_of(base)) : 10;
           char* end = nullptr;
           errno = 0;
           const long long x = std::strtoll(t.c_str(), &end, b);
           if (!t.empty() && end == t.c_str() + t.size() && errno == 0) return Value::integer(x);
           const double f = std::strtod(t.c_str(), &end);
           if (!t.empty() && end == t.c_str() + t.size() && std::isfinite(f) && std::fabs(f) < 9.2e18) {
             return Value::integer(static_cast<int64_t>(f));
           }
         }
         if (v.is_undefined()) throw RenderError(v.s.empty() ? "undefined value" : v.s);
         return d.is_undefined() ? Value::integer(0) : d;
       }},
      {"items", [](Evaluator&, const Value& v, CallArgs&) {
         if (v.is_undefined()) return Value::make_list();
         if (!v.is_mapping()) throw RenderError("Can only get item pairs from a mapping.");
         List out;
         for (const auto& [k, x] : v.dict->items) out.push_back(Value::make_tuple({Value::string(k), x}));
         return Value::make_list(std::move(out));
       }},
      {"join", [](Evaluator& ev, const Value& v, CallArgs& a) {
         const Value d = a.get(0, "d");
         const Value attr = a.get(1, "attribute");
         a.check_done("join");
         const std::string sep = d.is_undefined() ? "" : to_str(d);
         std::string out;
         bool first = true;
         for (const auto& x : iterate(v)) {
           if (!first) out += sep;
           first = false;
           out += to_str(attr.kind == Value::Kind::kString ? attribute_path(x, attr.s) : x);
           ev.check_size(out.size());
         }
         return Value::string(std::move(out));
       }},
      {"last", [](Evaluator&, const Value& v, CallArgs&) {
         const List items = iterate(v);
         return items.empty() ? Value::undefined("No last item, sequence was empty.") : items.back();
       }},
      {"length", [](Evaluator&, const Value& v, CallArgs&) { return Value::integer(static_cast<int64_t>(length_of(v))); }},
      {"list", [](Evaluator&, const Value& v, CallArgs&) { return Value::make_list(iterate(v)); }},
      {"lower", [](Evaluator&, const Value& v, CallArgs&) { return Value::string(ascii_lower(to_str(v))); }},
      {"map", [](Evaluator& ev, const Value& v, CallArgs& a) {
         const Value attr = a.get(99, "attribute");
         const Value dflt = a.get(99, "default");
         List out;
         if (attr.kind == Value::Kind::kString) {
           for (const auto& x : iterate(v)) {
             Value y = attribute_path(x, attr.s);
             out.push_back(y.is_undefined() && !dflt.is_undefined() ? dflt : y);
           }
           return Value::make_list(std::move(out));
         }
         if (a.args.empty() || a.args[0].kind != Value::Kind::kString) throw RenderError("map: a filter name or attribute= is required");
         const std::string name = a.args[0].s;
         if (!has_filter(name)) throw RenderError("no filter named '" + name + "'");
         for (const auto& x : iterate(v)) {
           CallArgs rest;
           rest.args.assign(a.args.begin() + 1, a.args.end());
           rest.kwargs = a.kwargs;
           out.push_back(apply_filter(ev, name, x, rest));
         }
         return Value::make_list(std::move(out));
       }},
      {"max", [](Evaluator&, const Value& v, CallArgs& a) { return extremum(v, a, 1); }},
      {"min", [](Evaluator&, const Value& v, CallArgs& a) { return extremum(v, a, -1); }},
      {"reject", [](Evaluator& ev, const Value& v, CallArgs& a) { return select_items(ev, v, a, false, nullptr); }},
      {"rejectattr", [](Evaluator& ev, const Value& v, CallArgs& a) { return select_items(ev, v, a, false, "rejectattr"); }},
      {"replace", [](Evaluator& ev, const Value& v, CallArgs& a) {
         const Value old = a.get(0, "old");
         const Value repl = a.get(1, "new");
         const Value count = a.get(2, "count");
         a.check_done("replace");
         return Value::string(py_replace(ev, to_str(v), to_str(old), to_str(repl), is_int(count) ? int_of(count) : -1));
       }},
      {"reverse", [](Evaluator&, const Value& v, CallArgs&) {
         if (v.kind == Value::Kind::kString) {
           auto chars = utf8_chars(v.s);
           std::string out;
           for (auto it = chars.rbegin(); it != chars.rend(); ++it) out += *it;
           return Value::string(std::move(out));
         }
         List items = iterate(v);
         std::reverse(items.begin(), items.end());
         return Value::make_list(std::move(items));
       }},
      {"round", [](Evaluator&, const Value& v, CallArgs& a) {
         const Value precision = a.get(0, "precision");
         const Value method_v = a.get(1, "method");
         a.check_done("round");
         const int64_t p = is_int(precision) ? int_of(precision) : 0;
         const std::string m = method_v.kind == Value::Kind::kString ? method_v.s : "common";
         if (!v.is_number()) throw RenderError("type " + type_name(v) + " doesn't define __round__ method");
         if (m == "common") {
           if (is_int(v)) return Value::integer(int_of(v));
           return Value::number(python_round(v.f, p));
         }
         if (m != "ceil" && m != "floor") throw RenderError("method must be common, ceil or floor");
         const double scale = std::pow(10.0, static_cast<double>(p));
         const double x = v.as_double() * scale;
         return Value::number((m == "ceil" ? std::ceil(x) : std::floor(x)) / scale);
       }},
      {"safe", [](Evaluator&, const Value& v, CallArgs&) { return Value::string(to_str(v)); }},
      {"select", [](Evaluator& ev, const Value& v, CallArgs& a) { return select_items(ev, v, a, true, nullptr); }},
      {"selectattr", [](Evaluator& ev, const Value& v, CallArgs& a) { return select_items(ev, v, a, true, "selectattr"); }},
      {"sort", [](Evaluator&, const Value& v, CallArgs& a) {
         const bool rev = truthy(a.get(0, "reverse"));
         const bool cs = truthy(a.get(1, "case_sensitive"));
         const Value attr = a.get(2, "attribute");
         a.check_done("sort");
         List items = iterate(v);
         const auto key = [&](const Value& x) { return sort_key(x, attr, cs); };
         std::stable_sort(items.begin(), items.end(), [&](const Value& p, const Value& q) {
           return rev ? compare(key(q), key(p)) < 0 : compare(key(p), key(q)) < 0;
         });
         return Value::make_list(std::move(items));
       }},
      {"string", [](Evaluator&, const Value& v, CallArgs&) { return Value::string(to_str(v)); }},
      {"sum", [](Evaluator& ev, const Value& v, CallArgs& a) {
         const Value attr = a.get(0, "attribute");
         Value total = a.get(1, "start");
         if (total.is_undefined()) total = Value::integer(0);
         for (const auto& x : iterate(v)) {
           total = binary_op(ev, "+", total, attr.kind == Value::Kind::kString ? attribute_path(x, attr.s) : x);
         }
         return total;
       }},
      {"title", [](Evaluator&, const Value& v, CallArgs&) { return Value::string(jinja_title(to_str(v))); }},
      {"tojson", [](Evaluator&, const Value& v, CallArgs& a) {
         const Value ensure_ascii = a.get(0, "ensure_ascii");
         const Value indent = a.get(1, "indent");
         const Value separators = a.get(2, "separators");
         const bool sort_keys = truthy(a.get(3, "sort_keys"));
         a.check_done("tojson");
         if (truthy(ensure_ascii)) throw RenderError("tojson: ensure_ascii=True is not supported");
         const auto ind = indent_of(indent);
         std::string item_sep = ind ? "," : ", ", key_sep = ": ";
         if (!separators.is_none() && !separators.is_undefined()) {
           if (!separators.is_sequence() || separators.list->size() != 2 ||
               (*separators.list)[0].kind != Value::Kind::kString || (*separators.list)[1].kind != Value::Kind::kString) {
             throw RenderError("tojson: separators must be a pair of strings");
           }
           item_sep = (*separators.list)[0].s;
           key_sep = (*separators.list)[1].s;
         }
         return Value::string(to_json(v, ind, sort_keys, item_sep, key_sep));
       }},
      {"trim", [](Evaluator&, const Value& v, CallArgs& a) {
         const Value chars = a.get(0, "chars");
         return Value::string(py_strip(to_str(v), chars.is_undefined() ? Value::none() : chars, true, true));
       }},
      {"unique", [](Evaluator&, const Value& v, CallArgs& a) {
         const bool cs = truthy(a.get(0, "case_sensitive"));
         const Value attr = a.get(1, "attribute");
         List out, seen;
         for (const auto& x : iterate(v)) {
           const Value k = sort_key(x, attr, cs);
           if (std::none_of(seen.begin(), seen.end(), [&](const Value& s) { return equals(s, k); })) {
             seen.push_back(k);
             out.push_back(x);
           }
         }
         return Value::make_list(std::move(out));
       }},
      {"upper", [](Evaluator&, const Value& v, CallArgs&) { return Value::string(ascii_upper(to_str(v))); }},
      {"wordcount", [](Evaluator&, const Value& v, CallArgs&) {
         const std::string s = to_str(v);
         int64_t n = 0;
         bool in_word = false;
         for (char c : s) {
           const bool w = is_alnum_byte(c) || c == '_';
           if (w && !in_word) ++n;
           in_word = w;
         }
         return Value::integer(n);
       }},
  };
  return *table;
}

const std::map<std::string, std::string>& filter_aliases() {
  static const auto* table = new std::map<std::string, std::string>{{"d", "default"}, {"e", "escape"}, {"count", "length"}};
  return *table;
}

const std::unordered_map<std::string, TestFn>& tests() {
  static const auto* table = new std::unordered_map<std::string, TestFn>{
      {"defined", [](Evaluator&, const Value& v, CallArgs&) { return !v.is_undefined(); }},
      {"undefined", [](Evaluator&, const Value& v, CallArgs&) { return v.is_undefined(); }},
      {"none", [](Evaluator&, const Value& v, CallArgs&) { return v.is_none(); }},
      {"boolean", [](Evaluator&, const Value& v, CallArgs&) { return v.kind == Value::Kind::kBool; }},
      {"true", [](Evaluator&, const Value& v, CallArgs&) { return v.kind == Value::Kind::kBool && v.b; }},
      {"false", [](Evaluator&, const Value& v, CallArgs&) { return v.kind == Value::Kind::kBool && !v.b; }},
      {"integer", [](Evaluator&, const Value& v, CallArgs&) { return v.kind == Value::Kind::kInt; }},
      {"float", [](Evaluator&, const Value& v, CallArgs&) { return v.kind == Value::Kind::kFloat; }},
      {"number", [](Evaluator&, const Value& v, CallArgs&) { return v.is_number(); }},
      {"string", [](Evaluator&, const Value& v, CallArgs&) { return v.is_string(); }},
      {"mapping", [](Evaluator&, const Value& v, CallArgs&) { return v.kind == Value::Kind::kDict; }},
      {"sequence", [](Evaluator&, const Value& v, CallArgs&) {
         return v.is_undefined() || v.is_string() || v.is_sequence() || v.kind == Value::Kind::kDict;
       }},
      {"iterable", [](Evaluator&, const Value& v, CallArgs&) {
         return v.is_undefined() || v.is_string() || v.is_sequence() || v.kind == Value::Kind::kDict;
       }},
      {"callable", [](Evaluator&, const Value& v, CallArgs&) {
         return v.kind == Value::Kind::kFunction || v.is_undefined();
       }},
      {"escaped", [](Evaluator&, const Value&, CallArgs&) { return false; }},
      {"odd", [](Evaluator&, const Value& v, CallArgs&) {
         if (!is_int(v)) throw RenderError("odd: an integer is required");
         return int_of(v) % 2 != 0;
       }},
      {"even", [](Evaluator&, const Value& v, CallArgs&) {
         if (!is_int(v)) throw RenderError("even: an integer is required");
         return int_of(v) % 2 == 0;
       }},
      {"divisibleby", [](Evaluator&, const Value& v, CallArgs& a) {
         if (!is_int(v) || a.args.empty() || !is_int(a.args[0]) || int_of(a.args[0]) == 0) {
           throw RenderError("divisibleby: integers (and a non-zero divisor) are required");
         }
         return int_of(v) % int_of(a.args[0]) == 0;
       }},
      {"eq", [](Evaluator&, const Value& v, CallArgs& a) { return equals(v, a.get(0, "other")); }},
      {"ne", [](Evaluator&, const Value& v, CallArgs& a) { return !equals(v, a.get(0, "other")); }},
      {"lt", [](Evaluator&, const Value& v, CallArgs& a) { return compare(v, a.get(0, "other")) < 0; }},
      {"le", [](Evaluator&, const Value& v, CallArgs& a) { return compare(v, a.get(0, "other")) <= 0; }},
      {"gt", [](Evaluator&, const Value& v, CallArgs& a) { return compare(v, a.get(0, "other")) > 0; }},
      {"ge", [](Evaluator&, const Value& v, CallArgs& a) { return compare(v, a.get(0, "other")) >= 0; }},
      {"in", [](Evaluator& ev, const Value& v, CallArgs& a) { return truthy(binary_op(ev, "in", v, a.get(0, "seq"))); }},
      {"sameas", [](Evaluator&, const Value& v, CallArgs& a) {
         const Value o = a.get(0, "other");
         if (v.kind != o.kind) return false;
         switch (v.kind) {
           case Value::Kind::kList:
           case Value::Kind::kTuple: return v.list == o.list;
           case Value::Kind::kDict:
           case Value::Kind::kNamespace: return v.dict == o.dict;
           case Value::Kind::kFunction: return v.fn == o.fn;
           default: return equals(v, o);
         }
       }},
      {"lower", [](Evaluator&, const Value& v, CallArgs&) {
         const std::string s = to_str(v);
         bool cased = false;
         for (char c : s) {
           if (c >= 'A' && c <= 'Z') return false;
           cased = cased || (c >= 'a' && c <= 'z');
         }
         return cased;
       }},
      {"upper", [](Evaluator&, const Value& v, CallArgs&) {
         const std::string s = to_str(v);
         bool cased = false;
         for (char c : s) {
           if (c >= 'a' && c <= 'z') return false;
           cased = cased || (c >= 'A' && c <= 'Z');
         }
         return cased;
       }},
      {"filter", [](Evaluator&, const Value& v, CallArgs&) { return v.is_string() && has_filter(v.s); }},
      {"test", [](Evaluator&, const Value& v, CallArgs&) { return v.is_string() && has_test(v.s); }},
  };
  return *table;
}

const std::map<std::string, std::string>& test_aliases() {
  static const auto* table = new std::map<std::string, std::string>{
      {"==", "eq"}, {"equalto", "eq"}, {"!=", "ne"}, {"<", "lt"}, {"lessthan", "lt"}, {"<=", "le"},
      {">", "gt"},  {"greaterthan", "gt"}, {">=", "ge"}};
  return *table;
}

std::string resolve(const std::string& name, const std::map<std::string, std::string>& aliases) {
  const auto it = aliases.find(name);
  return it == aliases.end() ? name : it->second;
}

}  // namespace

bool has_filter(const std::string& name) { return filters().count(resolve(name, filter_aliases())) > 0; }
bool has_test(const std::string& name) { return tests().count(resolve(name, test_aliases())) > 0; }

Value apply_filter(Evaluator& ev, const std::string& name, const Value& operand, CallArgs& args) {
  const auto it = filters().find(resolve(name, filter_aliases()));
  if (it == filters().end()) throw RenderError("no filter named '" + name + "'");
  return it->second(ev, operand, args);
}

bool apply_test(Evaluator& ev, const std::string& name, const Value& operand, CallArgs& args) {
  const auto it = tests().find(resolve(name, test_aliases()));
  if (it == tests().end()) throw RenderError("no test named '" + name + "'");
  return it->second(ev, operand, args);
}

Value global(const std::string& name) {
  if (name == "range") {
    return Value::function([](Evaluator& ev, CallArgs& a) {
      for (const auto& x : a.args) {
        if (!is_int(x)) throw RenderError("'" + type_name(x) + "' object cannot be interpreted as an integer");
      }
      int64_t start = 0, stop = 0, step = 1;
      if (a.args.size() == 1) {
        stop = int_of(a.args[0]);
      } else if (a.args.size() == 2 || a.args.size() == 3) {
        start = int_of(a.args[0]);
        stop = int_of(a.args[1]);
        if (a.args.size() == 3) step = int_of(a.args[2]);
      } else {
        throw RenderError("range expected 1 to 3 arguments, got " + std::to_string(a.args.size()));
      }
      if (step == 0) throw RenderError("range() arg 3 must not be zero");
      const double n = std::max(0.0, std::ceil((static_cast<double>(stop) - static_cast<double>(start)) / static_cast<double>(step)));
      if (n > static_cast<double>(ev.limits().max_range)) {
        throw RenderError("Range too big. The sandbox blocks ranges larger than MAX_RANGE (" +
                          std::to_string(ev.limits().max_range) + ").");
      }
      List out;
      for (int64_t k = 0; k < static_cast<int64_t>(n); ++k) out.push_back(Value::integer(start + k * step));
      return Value::make_list(std::move(out));
    });
  }
  if (name == "namespace" || name == "dict") {
    const bool ns = name == "namespace";
    return Value::function([ns](Evaluator&, CallArgs& a) {
      Value d = Value::make_dict();
      if (ns) d.kind = Value::Kind::kNamespace;
      for (const auto& x : a.args) {
        if (!x.is_mapping()) throw RenderError(std::string(ns ? "namespace" : "dict") + "() positional argument must be a mapping");
        if (ns && x.holds_namespace) throw RenderError("a namespace attribute cannot hold a namespace");
        for (const auto& [k, v] : x.dict->items) d.dict->set(k, v);
      }
      for (const auto& [k, v] : a.kwargs) {
        if (ns && !k.empty() && k[0] == '_') {
          throw RenderError("Chat templates cannot store underscore-prefixed attributes on a namespace, but got '" + k + "'");
        }
        if (ns && (v.kind == Value::Kind::kNamespace || v.holds_namespace)) {
          throw RenderError("a namespace attribute cannot hold a namespace");
        }
        d.dict->set(k, v);
      }
      d.refresh();
      return d;
    });
  }
  if (name == "raise_exception") {
    return Value::function([](Evaluator&, CallArgs& a) -> Value {
      throw RenderError(a.args.empty() ? std::string() : to_str(a.args[0]));
    });
  }
  if (name == "strftime_now") {
    return Value::function([](Evaluator&, CallArgs& a) {
      if (a.args.empty() || a.args[0].kind != Value::Kind::kString) throw RenderError("strftime_now(format): format must be a string");
      const std::time_t now = std::time(nullptr);
      std::tm tm{};
      localtime_r(&now, &tm);
      char buf[512];
      const size_t n = std::strftime(buf, sizeof(buf), a.args[0].s.c_str(), &tm);
      if (n == 0 && !a.args[0].s.empty()) throw RenderError("strftime_now: the formatted date is empty or too long");
      return Value::string(std::string(buf, n));
    });
  }
  return Value::undefined();
}

}  // namespace optimum::generation::jinja
