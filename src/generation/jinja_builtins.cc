// Builtin filters, tests, globals and the Python methods of str, dict and
// list that templates call, as jinja2's defaults plus transformers'
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

uint32_t next_cp(std::string_view s, size_t& i) {
  const auto c = static_cast<unsigned char>(s[i]);
  const int n = c < 0x80 ? 0 : (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : -1;
  bool ok = n > 0 && i + static_cast<size_t>(n) < s.size();
  for (int k = 1; ok && k <= n; ++k) ok = (static_cast<unsigned char>(s[i + static_cast<size_t>(k)]) & 0xC0) == 0x80;
  if (!ok) {
    ++i;
    return c;
  }
  uint32_t cp = c & (0x3F >> n);
  for (int k = 1; k <= n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + static_cast<size_t>(k)]) & 0x3F);
  i += static_cast<size_t>(n) + 1;
  return cp;
}

// Python's str.isspace() code points.
bool py_space(uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F ||
         cp == 0x3000;
}

// str.strip/lstrip/rstrip: whitespace, or the code points of `chars`.
std::string py_strip(const std::string& s, const Value& chars, bool left, bool right) {
  std::vector<uint32_t> set;
  const bool custom = chars.kind == Value::Kind::kString;
  if (custom) {
    for (size_t i = 0; i < chars.s.size();) set.push_back(next_cp(chars.s, i));
  } else if (!chars.is_none() && !chars.is_undefined()) {
    throw RenderError("strip arg must be None or str");
  }
  const auto strip_cp = [&](uint32_t cp) {
    return custom ? std::find(set.begin(), set.end(), cp) != set.end() : py_space(cp);
  };
  std::vector<size_t> starts;
  std::vector<uint32_t> cps;
  for (size_t i = 0; i < s.size();) {
    starts.push_back(i);
    cps.push_back(next_cp(s, i));
  }
  size_t b = 0, e = cps.size();
  if (left) {
    while (b < e && strip_cp(cps[b])) ++b;
  }
  if (right) {
    while (e > b && strip_cp(cps[e - 1])) --e;
  }
  const size_t from = b < starts.size() ? starts[b] : s.size();
  const size_t to = e < starts.size() ? starts[e] : s.size();
  return s.substr(from, to - from);
}

std::string ascii_lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}
std::string ascii_upper(std::string s) {
  for (char& c : s) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return s;
}
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_alnum_byte(char c) { return is_alpha(c) || (c >= '0' && c <= '9') || static_cast<unsigned char>(c) >= 0x80; }

// Python's str.title(): a cased letter after an uncased character starts a word.
std::string py_title(const std::string& s) {
  std::string out = s;
  bool prev_cased = false;
  for (char& c : out) {
    if (is_alpha(c)) {
      c = prev_cased ? static_cast<char>(std::tolower(static_cast<unsigned char>(c)))
                     : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      prev_cased = true;
    } else {
      prev_cased = static_cast<unsigned char>(c) >= 0x80 && prev_cased;
    }
  }
  return out;
}

std::string capitalize(const std::string& s) {
  std::string out = ascii_lower(s);
  if (!out.empty() && out[0] >= 'a' && out[0] <= 'z') out[0] = static_cast<char>(out[0] - 'a' + 'A');
  return out;
}

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

std::string py_replace(const Evaluator& ev, const std::string& s, const std::string& old, const std::string& repl,
                       int64_t count) {
  std::string out;
  if (old.empty()) {
    const auto chars = utf8_chars(s);
    int64_t done = 0;
    for (const auto& ch : chars) {
      if (count < 0 || done < count) {
        out += repl;
        ++done;
      }
      out += ch;
      ev.check_size(out.size());
    }
    if (count < 0 || done < count) out += repl;
    return out;
  }
  size_t pos = 0;
  int64_t done = 0;
  for (;;) {
    const size_t at = (count >= 0 && done >= count) ? std::string::npos : s.find(old, pos);
    if (at == std::string::npos) break;
    out.append(s, pos, at - pos);
    out += repl;
    ev.check_size(out.size());
    pos = at + old.size();
    ++done;
  }
  out.append(s, pos, std::string::npos);
  ev.check_size(out.size());
  return out;
}

Value split(const std::string& s, const Value& sep, int64_t maxsplit, bool from_right) {
  std::vector<std::string> parts;
  if (sep.is_none() || sep.is_undefined()) {
    // Runs of whitespace; leading/trailing whitespace ignored.
    std::vector<std::pair<size_t, size_t>> words;
    size_t i = 0;
    while (i < s.size()) {
      size_t j = i;
      const uint32_t cp = next_cp(s, j);
      if (py_space(cp)) {
        i = j;
        continue;
      }
      size_t start = i;
      while (i < s.size()) {
        size_t k = i;
        if (py_space(next_cp(s, k))) break;
        i = k;
      }
      words.emplace_back(start, i);
    }
    if (maxsplit < 0 || static_cast<size_t>(maxsplit) + 1 >= words.size()) {
      for (auto [a, b] : words) parts.push_back(s.substr(a, b - a));
    } else if (!from_right) {
      for (size_t k = 0; k < static_cast<size_t>(maxsplit); ++k) parts.push_back(s.substr(words[k].first, words[k].second - words[k].first));
      std::string rest = s.substr(words[static_cast<size_t>(maxsplit)].first);
      size_t e = rest.size();
      while (e > 0 && py_space(static_cast<unsigned char>(rest[e - 1]))) --e;
      parts.push_back(rest.substr(0, e));
    } else {
      const size_t keep = words.size() - static_cast<size_t>(maxsplit);
      std::string head = s.substr(0, words[keep - 1].second);
      size_t b = 0;
      while (b < head.size() && py_space(static_cast<unsigned char>(head[b]))) ++b;
      parts.push_back(head.substr(b));
      for (size_t k = keep; k < words.size(); ++k) parts.push_back(s.substr(words[k].first, words[k].second - words[k].first));
    }
  } else {
    if (sep.kind != Value::Kind::kString) throw RenderError("must be str or None, not " + type_name(sep));
    if (sep.s.empty()) throw RenderError("empty separator");
    std::vector<size_t> hits;
    for (size_t p = s.find(sep.s); p != std::string::npos; p = s.find(sep.s, p + sep.s.size())) hits.push_back(p);
    if (maxsplit >= 0 && hits.size() > static_cast<size_t>(maxsplit)) {
      if (from_right) {
        // rsplit finds separators from the right; for non-overlapping plain
        // separators the last `maxsplit` hits match those.
        hits.erase(hits.begin(), hits.end() - maxsplit);
      } else {
        hits.resize(static_cast<size_t>(maxsplit));
      }
    }
    size_t pos = 0;
    for (size_t h : hits) {
      parts.push_back(s.substr(pos, h - pos));
      pos = h + sep.s.size();
    }
    parts.push_back(s.substr(pos));
  }
  List out;
  for (auto& p : parts) out.push_back(Value::string(std::move(p)));
  return Value::make_list(std::move(out));
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

// Python str.format with {} / {0} / {name} fields and no format specs.
std::string brace_format(const std::string& fmt, CallArgs& args) {
  std::string out;
  size_t auto_index = 0;
  for (size_t i = 0; i < fmt.size(); ++i) {
    const char c = fmt[i];
    if (c == '{' && i + 1 < fmt.size() && fmt[i + 1] == '{') {
      out += '{';
      ++i;
    } else if (c == '}' && i + 1 < fmt.size() && fmt[i + 1] == '}') {
      out += '}';
      ++i;
    } else if (c == '{') {
      const size_t end = fmt.find('}', i);
      if (end == std::string::npos) throw RenderError("Single '{' encountered in format string");
      const std::string field = fmt.substr(i + 1, end - i - 1);
      if (field.find_first_of(":!.[") != std::string::npos) throw RenderError("format specs in str.format are not supported");
      const Value* v = nullptr;
      if (field.empty() || std::all_of(field.begin(), field.end(), [](char d) { return std::isdigit(static_cast<unsigned char>(d)); })) {
        const size_t idx = field.empty() ? auto_index++ : std::stoul(field);
        if (idx >= args.args.size()) throw RenderError("Replacement index " + std::to_string(idx) + " out of range");
        v = &args.args[idx];
      } else {
        for (const auto& [k, x] : args.kwargs) {
          if (k == field) v = &x;
        }
        if (!v) throw RenderError("'" + field + "'");
      }
      out += to_str(*v);
      i = end;
    } else if (c == '}') {
      throw RenderError("Single '}' encountered in format string");
    } else {
      out += c;
    }
  }
  return out;
}

Value unsafe(const Value& obj, const std::string& name) {
  return Value::undefined("access to attribute '" + name + "' of '" + type_name(obj) + "' object is unsafe.");
}

Value method(std::function<Value(Evaluator&, CallArgs&)> f) { return Value::function(std::move(f)); }

Value string_method(const Value& self, const std::string& name) {
  const std::string s = self.s;
  if (name == "startswith" || name == "endswith") {
    const bool start = name == "startswith";
    return method([s, start, name](Evaluator&, CallArgs& a) {
      if (a.args.empty()) throw RenderError(name + "() takes at least 1 argument (0 given)");
      List prefixes;
      if (a.args[0].kind == Value::Kind::kTuple) {
        prefixes = *a.args[0].list;
      } else {
        prefixes.push_back(a.args[0]);
      }
      for (const auto& p : prefixes) {
        if (p.kind != Value::Kind::kString) throw RenderError(name + " first arg must be str or a tuple of str, not " + type_name(p));
        if (p.s.size() <= s.size() && (start ? s.compare(0, p.s.size(), p.s) == 0 : s.compare(s.size() - p.s.size(), p.s.size(), p.s) == 0)) {
          return Value::boolean(true);
        }
      }
      return Value::boolean(false);
    });
  }
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    const bool left = name != "rstrip", right = name != "lstrip";
    return method([s, left, right](Evaluator&, CallArgs& a) {
      return Value::string(py_strip(s, a.args.empty() ? Value::none() : a.args[0], left, right));
    });
  }
  if (name == "split" || name == "rsplit") {
    const bool right = name == "rsplit";
    return method([s, right](Evaluator&, CallArgs& a) {
      const Value sep = a.get(0, "sep");
      const Value max = a.get(1, "maxsplit");
      a.check_done("split");
      return split(s, sep, is_int(max) ? int_of(max) : -1, right);
    });
  }
  if (name == "replace") {
    return method([s](Evaluator& ev, CallArgs& a) {
      if (a.args.size() < 2 || a.args[0].kind != Value::Kind::kString || a.args[1].kind != Value::Kind::kString) {
        throw RenderError("replace() takes two str arguments");
      }
      const int64_t count = a.args.size() > 2 && is_int(a.args[2]) ? int_of(a.args[2]) : -1;
      return Value::string(py_replace(ev, s, a.args[0].s, a.args[1].s, count));
    });
  }
  if (name == "upper") return method([s](Evaluator&, CallArgs&) { return Value::string(ascii_upper(s)); });
  if (name == "lower") return method([s](Evaluator&, CallArgs&) { return Value::string(ascii_lower(s)); });
  if (name == "title") return method([s](Evaluator&, CallArgs&) { return Value::string(py_title(s)); });
  if (name == "capitalize") return method([s](Evaluator&, CallArgs&) { return Value::string(capitalize(s)); });
  if (name == "find" || name == "rfind" || name == "index" || name == "rindex" || name == "count") {
    return method([s, name](Evaluator&, CallArgs& a) {
      if (a.args.empty() || a.args[0].kind != Value::Kind::kString) throw RenderError(name + "() argument must be str");
      const std::string& sub = a.args[0].s;
      if (name == "count") {
        if (sub.empty()) return Value::integer(static_cast<int64_t>(utf8_length(s)) + 1);
        int64_t n = 0;
        for (size_t p = s.find(sub); p != std::string::npos; p = s.find(sub, p + sub.size())) ++n;
        return Value::integer(n);
      }
      const size_t p = name[0] == 'r' ? s.rfind(sub) : s.find(sub);
      if (p == std::string::npos) {
        if (name.find("index") != std::string::npos) throw RenderError("substring not found");
        return Value::integer(-1);
      }
      return Value::integer(static_cast<int64_t>(utf8_length(std::string_view(s).substr(0, p))));
    });
  }
  if (name == "join") {
    return method([s](Evaluator& ev, CallArgs& a) {
      if (a.args.empty()) throw RenderError("join() takes exactly one argument");
      std::string out;
      bool first = true;
      for (const auto& x : iterate(a.args[0])) {
        if (x.kind != Value::Kind::kString) throw RenderError("sequence item: expected str instance, " + type_name(x) + " found");
        if (!first) out += s;
        first = false;
        out += x.s;
        ev.check_size(out.size());
      }
      return Value::string(std::move(out));
    });
  }
  if (name == "isdigit" || name == "isnumeric" || name == "isdecimal" || name == "isalpha" || name == "isalnum" ||
      name == "isspace" || name == "isupper" || name == "islower") {
    return method([s, name](Evaluator&, CallArgs&) {
      if (s.empty()) return Value::boolean(false);
      if (name == "isspace") {
        for (size_t i = 0; i < s.size();) {
          if (!py_space(next_cp(s, i))) return Value::boolean(false);
        }
        return Value::boolean(true);
      }
      if (name == "isupper" || name == "islower") {
        bool cased = false;
        for (char c : s) {
          if (is_alpha(c)) {
            cased = true;
            if ((name == "isupper") != (c >= 'A' && c <= 'Z')) return Value::boolean(false);
          }
        }
        return Value::boolean(cased);
      }
      for (char c : s) {
        const bool digit = c >= '0' && c <= '9';
        const bool ok = name == "isalpha" ? is_alpha(c) : name == "isalnum" ? (is_alpha(c) || digit) : digit;
        if (!ok) return Value::boolean(false);
      }
      return Value::boolean(true);
    });
  }
  if (name == "splitlines") {
    return method([s](Evaluator&, CallArgs&) {
      List out;
      size_t start = 0;
      for (size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        if (c == '\n' || c == '\r' || c == '\v' || c == '\f') {
          out.push_back(Value::string(s.substr(start, i - start)));
          if (c == '\r' && i + 1 < s.size() && s[i + 1] == '\n') ++i;
          start = i + 1;
        }
      }
      if (start < s.size()) out.push_back(Value::string(s.substr(start)));
      return Value::make_list(std::move(out));
    });
  }
  if (name == "format") {
    return method([s](Evaluator&, CallArgs& a) { return Value::string(brace_format(s, a)); });
  }
  if (name == "removeprefix" || name == "removesuffix") {
    const bool prefix = name == "removeprefix";
    return method([s, prefix](Evaluator&, CallArgs& a) {
      if (a.args.empty() || a.args[0].kind != Value::Kind::kString) throw RenderError("argument must be str");
      const std::string& p = a.args[0].s;
      if (p.size() <= s.size()) {
        if (prefix && s.compare(0, p.size(), p) == 0) return Value::string(s.substr(p.size()));
        if (!prefix && s.compare(s.size() - p.size(), p.size(), p) == 0) return Value::string(s.substr(0, s.size() - p.size()));
      }
      return Value::string(s);
    });
  }
  return Value::undefined("'str object' has no attribute '" + name + "'");
}

}  // namespace

Value get_attr(const Value& obj, const std::string& name) {
  switch (obj.kind) {
    case Value::Kind::kString: return string_method(obj, name);
    case Value::Kind::kDict: {
      const Value self = obj;
      if (name == "items" || name == "keys" || name == "values") {
        return method([self, name](Evaluator&, CallArgs&) {
          List out;
          for (const auto& [k, v] : self.dict->items) {
            if (name == "items") {
              out.push_back(Value::make_tuple({Value::string(k), v}));
            } else {
              out.push_back(name == "keys" ? Value::string(k) : v);
            }
          }
          return Value::make_list(std::move(out));
        });
      }
      if (name == "get") {
        return method([self](Evaluator&, CallArgs& a) {
          if (a.args.empty()) throw RenderError("get expected at least 1 argument, got 0");
          const Value& key = a.args[0];
          const Value* v = key.kind == Value::Kind::kString ? self.dict->find(key.s) : nullptr;
          if (v) return *v;
          return a.args.size() > 1 ? a.args[1] : Value::none();
        });
      }
      if (name == "copy") {
        return method([self](Evaluator&, CallArgs&) {
          Value d = Value::make_dict();
          *d.dict = *self.dict;
          return d;
        });
      }
      if (name == "pop" || name == "popitem" || name == "update" || name == "setdefault" || name == "clear") {
        return unsafe(obj, name);
      }
      if (const Value* v = obj.dict->find(name)) return *v;
      return Value::undefined("'dict object' has no attribute '" + name + "'");
    }
    case Value::Kind::kNamespace: {
      if (const Value* v = obj.dict->find(name)) return *v;
      return Value::undefined("'Namespace object' has no attribute '" + name + "'");
    }
    case Value::Kind::kList:
    case Value::Kind::kTuple: {
      const Value self = obj;
      if (name == "index" || name == "count") {
        return method([self, name](Evaluator&, CallArgs& a) {
          if (a.args.empty()) throw RenderError(name + "() takes exactly one argument (0 given)");
          int64_t n = 0;
          for (size_t k = 0; k < self.list->size(); ++k) {
            if (equals((*self.list)[k], a.args[0])) {
              if (name == "index") return Value::integer(static_cast<int64_t>(k));
              ++n;
            }
          }
          if (name == "index") throw RenderError(repr(a.args[0]) + " is not in list");
          return Value::integer(n);
        });
      }
      if (obj.kind == Value::Kind::kList &&
          (name == "append" || name == "extend" || name == "insert" || name == "pop" || name == "remove" ||
           name == "sort" || name == "reverse" || name == "clear")) {
        return unsafe(obj, name);
      }
      break;
    }
    default: break;
  }
  return Value::undefined("'" + type_name(obj) + " object' has no attribute '" + name + "'");
}

Value get_item(const Value& obj, const Value& key) {
  switch (obj.kind) {
    case Value::Kind::kDict:
    case Value::Kind::kNamespace:
      if (key.kind == Value::Kind::kString) {
        if (const Value* v = obj.dict->find(key.s)) return *v;
        return get_attr(obj, key.s);
      }
      return Value::undefined("'dict object' has no attribute " + repr(key));
    case Value::Kind::kList:
    case Value::Kind::kTuple:
    case Value::Kind::kString: {
      if (key.kind == Value::Kind::kString) return get_attr(obj, key.s);
      if (!is_int(key)) return Value::undefined("indices must be integers");
      const bool str = obj.kind == Value::Kind::kString;
      std::vector<std::string> chars;
      if (str) chars = utf8_chars(obj.s);
      const auto n = static_cast<int64_t>(str ? chars.size() : obj.list->size());
      int64_t k = int_of(key);
      if (k < 0) k += n;
      if (k < 0 || k >= n) return Value::undefined(std::string(str ? "string" : "list") + " index out of range");
      return str ? Value::string(chars[static_cast<size_t>(k)]) : (*obj.list)[static_cast<size_t>(k)];
    }
    default: return Value::undefined("'" + type_name(obj) + "' object is not subscriptable");
  }
}

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
      {"max", [](Evaluator&, const Value& v, CallArgs& a) {
         const bool cs = truthy(a.get(0, "case_sensitive"));
         const Value attr = a.get(1, "attribute");
         const List items = iterate(v);
         if (items.empty()) return Value::undefined("No aggregated item, sequence was empty.");
         const auto key = [&](const Value& x) { return fold(attr.kind == Value::Kind::kString ? attribute_path(x, attr.s) : x, cs); };
         size_t best = 0;
         for (size_t k = 1; k < items.size(); ++k) {
           if (compare(key(items[k]), key(items[best])) > 0) best = k;
         }
         return items[best];
       }},
      {"min", [](Evaluator&, const Value& v, CallArgs& a) {
         const bool cs = truthy(a.get(0, "case_sensitive"));
         const Value attr = a.get(1, "attribute");
         const List items = iterate(v);
         if (items.empty()) return Value::undefined("No aggregated item, sequence was empty.");
         const auto key = [&](const Value& x) { return fold(attr.kind == Value::Kind::kString ? attribute_path(x, attr.s) : x, cs); };
         size_t best = 0;
         for (size_t k = 1; k < items.size(); ++k) {
           if (compare(key(items[k]), key(items[best])) < 0) best = k;
         }
         return items[best];
       }},
      {"reject", [](Evaluator& ev, const Value& v, CallArgs& a) {
         List out;
         for (const auto& x : iterate(v)) {
           if (!item_test(ev, x, a, 0)) out.push_back(x);
         }
         return Value::make_list(std::move(out));
       }},
      {"rejectattr", [](Evaluator& ev, const Value& v, CallArgs& a) {
         if (a.args.empty() || a.args[0].kind != Value::Kind::kString) throw RenderError("rejectattr: missing attribute name");
         List out;
         for (const auto& x : iterate(v)) {
           if (!item_test(ev, attribute_path(x, a.args[0].s), a, 1)) out.push_back(x);
         }
         return Value::make_list(std::move(out));
       }},
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
      {"select", [](Evaluator& ev, const Value& v, CallArgs& a) {
         List out;
         for (const auto& x : iterate(v)) {
           if (item_test(ev, x, a, 0)) out.push_back(x);
         }
         return Value::make_list(std::move(out));
       }},
      {"selectattr", [](Evaluator& ev, const Value& v, CallArgs& a) {
         if (a.args.empty() || a.args[0].kind != Value::Kind::kString) throw RenderError("selectattr: missing attribute name");
         List out;
         for (const auto& x : iterate(v)) {
           if (item_test(ev, attribute_path(x, a.args[0].s), a, 1)) out.push_back(x);
         }
         return Value::make_list(std::move(out));
       }},
      {"sort", [](Evaluator&, const Value& v, CallArgs& a) {
         const bool rev = truthy(a.get(0, "reverse"));
         const bool cs = truthy(a.get(1, "case_sensitive"));
         const Value attr = a.get(2, "attribute");
         a.check_done("sort");
         List items = iterate(v);
         const auto key = [&](const Value& x) { return fold(attr.kind == Value::Kind::kString ? attribute_path(x, attr.s) : x, cs); };
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
           const Value k = fold(attr.kind == Value::Kind::kString ? attribute_path(x, attr.s) : x, cs);
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
        for (const auto& [k, v] : x.dict->items) d.dict->set(k, v);
      }
      for (const auto& [k, v] : a.kwargs) {
        if (ns && !k.empty() && k[0] == '_') {
          throw RenderError("Chat templates cannot store underscore-prefixed attributes on a namespace, but got '" + k + "'");
        }
        d.dict->set(k, v);
      }
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
