// The Python methods of str, dict and list that templates call, and
// attribute/item access (jinja2's sandboxed getattr/getitem: methods that
// mutate are unsafe, a missing attribute or item is undefined with jinja2's hint).
#include <algorithm>
#include <cctype>
#include <functional>
#include <string>

#include "jinja_internal.h"

namespace optimum::generation::jinja {

static bool is_int(const Value& v) { return v.kind == Value::Kind::kInt || v.kind == Value::Kind::kBool; }
static int64_t int_of(const Value& v) { return v.kind == Value::Kind::kBool ? v.b : v.i; }

// Python's str.isspace() code points.
static bool py_space(uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F ||
         cp == 0x3000;
}

// str.strip/lstrip/rstrip: whitespace, or the code points of `chars`.
std::string py_strip(const std::string& s, const Value& chars, bool left, bool right) {
  std::vector<uint32_t> set;
  const bool custom = chars.kind == Value::Kind::kString;
  if (custom) {
    for (size_t i = 0; i < chars.s.size();) set.push_back(decode_utf8(chars.s, i));
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
    cps.push_back(decode_utf8(s, i));
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
static bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// Python's str.title(): a cased letter after an uncased character starts a word.
static std::string py_title(const std::string& s) {
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

static Value split(const std::string& s, const Value& sep, int64_t maxsplit, bool from_right) {
  std::vector<std::string> parts;
  if (sep.is_none() || sep.is_undefined()) {
    // Runs of whitespace; leading/trailing whitespace ignored.
    std::vector<std::pair<size_t, size_t>> words;
    size_t i = 0;
    while (i < s.size()) {
      size_t j = i;
      const uint32_t cp = decode_utf8(s, j);
      if (py_space(cp)) {
        i = j;
        continue;
      }
      size_t start = i;
      while (i < s.size()) {
        size_t k = i;
        if (py_space(decode_utf8(s, k))) break;
        i = k;
      }
      words.emplace_back(start, i);
    }
    if (maxsplit < 0 || static_cast<size_t>(maxsplit) + 1 >= words.size()) {
      for (auto [a, b] : words) parts.push_back(s.substr(a, b - a));
    } else if (!from_right) {
      for (size_t k = 0; k < static_cast<size_t>(maxsplit); ++k) parts.push_back(s.substr(words[k].first, words[k].second - words[k].first));
      // The rest keeps its trailing whitespace, as in Python.
      parts.push_back(s.substr(words[static_cast<size_t>(maxsplit)].first));
    } else {
      const size_t keep = words.size() - static_cast<size_t>(maxsplit);
      parts.push_back(s.substr(0, words[keep - 1].second));  // keeps its leading whitespace
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

// Python str.format with {} / {0} / {name} fields and no format specs.
static std::string brace_format(const std::string& fmt, CallArgs& args) {
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

static Value unsafe(const Value& obj, const std::string& name) {
  return Value::undefined("access to attribute '" + name + "' of '" + type_name(obj) + "' object is unsafe.");
}

static Value method(std::function<Value(Evaluator&, CallArgs&)> f) { return Value::function(std::move(f)); }

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
          if (!py_space(decode_utf8(s, i))) return Value::boolean(false);
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
          d.refresh();
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
  // jinja2's hints (object_type_repr): "'None' has no attribute 'x'", "'int object' has no attribute 'x'".
  const std::string what = obj.is_none() ? "None" : type_name(obj) + " object";
  return Value::undefined("'" + what + "' has no attribute '" + name + "'");
}

Value get_item(const Value& obj, const Value& key) {
  switch (obj.kind) {
    case Value::Kind::kDict:
    case Value::Kind::kNamespace:
      if (key.kind == Value::Kind::kString) {
        if (const Value* v = obj.dict->find(key.s)) return *v;
        return get_attr(obj, key.s);
      }
      return Value::undefined("dict object has no element " + repr(key));
    case Value::Kind::kList:
    case Value::Kind::kTuple:
    case Value::Kind::kString: {
      if (key.kind == Value::Kind::kString) return get_attr(obj, key.s);
      if (!is_int(key)) return Value::undefined(type_name(obj) + " object has no element " + repr(key));
      const bool str = obj.kind == Value::Kind::kString;
      std::vector<std::string> chars;
      if (str) chars = utf8_chars(obj.s);
      const auto n = static_cast<int64_t>(str ? chars.size() : obj.list->size());
      int64_t k = int_of(key);
      if (k < 0) k += n;
      if (k < 0 || k >= n) return Value::undefined(type_name(obj) + " object has no element " + std::to_string(int_of(key)));
      return str ? Value::string(chars[static_cast<size_t>(k)]) : (*obj.list)[static_cast<size_t>(k)];
    }
    default: return Value::undefined(std::string("'").append(type_name(obj)).append("' object is not subscriptable"));
  }
}

}  // namespace optimum::generation::jinja
