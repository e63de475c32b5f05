// PCRE2 behind the Onig semantics tokenizers uses for tokenizer.json
// patterns: Ruby-style line anchors, Onig's \s \w \h classes, and Onig's
// find_iter handling of empty matches.
#define PCRE2_CODE_UNIT_WIDTH 8
#include "optimum/tokenizers/regex.h"

#include <pcre2.h>

#include <cstdio>

#include "optimum/core/errors.h"
#include "optimum/tokenizers/unicode.h"

namespace optimum::tokenizers {
namespace {

struct CodeRange {
  char32_t first;
  char32_t last;
};

struct ClassExtra {
  const char* name;
  const CodeRange* ranges;  // ends with {0, 0}
};

#include "regex_tables.inc"

// Onig's White_Space (PCRE2's \s lacks U+0085 and has U+180E).
constexpr const char* kOnigSpace = "\\t\\n\\x0B\\f\\r\\x20\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}"
                                   "\\x{202F}\\x{205F}\\x{3000}";

// The body of a character class (no brackets) matching what Onig matches for
// `\w`, `\d` or `\p{<category>}`: PCRE2's own class plus the code points a
// newer Unicode adds (regex_tables.inc); empty if `name` is not one of them.
std::string class_body(const std::string& name) {
  for (const auto& extra : kClassExtras) {
    if (name != extra.name) continue;
    std::string body = name == "w" ? "\\p{L}\\p{M}\\p{Nd}\\p{Nl}\\p{Pc}" : name == "d" ? "\\p{Nd}" : "\\p{" + name + "}";
    char buffer[40];
    for (const CodeRange* r = extra.ranges; r->first != 0 || r->last != 0; ++r) {
      std::snprintf(buffer, sizeof(buffer), "\\x{%X}-\\x{%X}", static_cast<unsigned>(r->first),
                    static_cast<unsigned>(r->last));
      body += buffer;
    }
    return body;
  }
  return "";
}

bool compiles(const std::string& pattern) {
  int error = 0;
  PCRE2_SIZE offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), PCRE2_UTF | PCRE2_UCP,
                                   &error, &offset, nullptr);
  if (code == nullptr) return false;
  pcre2_code_free(code);
  return true;
}

// Rewrites Onig's classes for PCRE2 (UTF + UCP): \s \w \d \h and general
// categories \p{..} get Onig's (newer-Unicode) members; \p{Script} matches
// the Script property as in Onig, not PCRE2's Script_Extensions. A negated
// class inside brackets ([\S], [\W], [\P{L}]) keeps PCRE2's meaning.
std::string translate_onig(const std::string& pattern) {
  std::string out;
  out.reserve(pattern.size() + 16);
  bool in_class = false;
  auto emit = [&](const std::string& body, bool negated) {
    if (in_class) {
      out += body;
    } else {
      out += negated ? "[^" : "[";
      out += body;
      out += "]";
    }
  };
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      const char e = pattern[++i];
      const bool upper = e == 'S' || e == 'W' || e == 'D' || e == 'H' || e == 'P';
      if (upper && in_class) {
        // PCRE2's \S lacks U+180E, which Onig's has: add it so [\s\S] is any
        // character.
        out += c;
        out += e;
        if (e == 'S') out += "\\x{180E}";
        continue;
      }
      switch (e) {
        case 's': case 'S': emit(kOnigSpace, upper); continue;
        case 'w': case 'W': emit(class_body("w"), upper); continue;
        case 'd': case 'D': emit(class_body("d"), upper); continue;
        case 'h': case 'H': emit("0-9a-fA-F", upper); continue;
        default: break;
      }
      if (e == 'p' || e == 'P') {
        std::string name;
        size_t end = i;
        if (i + 1 < pattern.size() && pattern[i + 1] == '{') {
          end = pattern.find('}', i + 2);
          if (end == std::string::npos) end = i;
          name = pattern.substr(i + 2, end - (i + 2));
        } else if (i + 1 < pattern.size()) {
          end = i + 1;
          name = pattern.substr(i + 1, 1);
        }
        if (!name.empty()) {
          bool negated = e == 'P';
          if (name[0] == '^') {
            negated = !negated;
            name.erase(0, 1);
          }
          const std::string body = class_body(name);
          if (!body.empty() && !(negated && in_class)) {
            emit(body, negated);
            i = end;
            continue;
          }
          if (body.empty() && compiles("\\p{sc=" + name + "}")) {
            out += negated ? "\\P{sc=" : "\\p{sc=";
            out += name + "}";
            i = end;
            continue;
          }
        }
      }
      out += c;
      out += e;
      continue;
    }
    if (in_class) {
      // POSIX classes such as [:alpha:] are copied whole.
      if (c == '[' && i + 1 < pattern.size() && pattern[i + 1] == ':') {
        const size_t close = pattern.find(":]", i + 2);
        if (close != std::string::npos) {
          out.append(pattern, i, close + 2 - i);
          i = close + 1;
          continue;
        }
      }
      if (c == ']') in_class = false;
      out += c;
      continue;
    }
    out += c;
    if (c == '[') {
      in_class = true;
      // A ']' right after '[' or '[^' is a literal.
      if (i + 1 < pattern.size() && pattern[i + 1] == '^') out += pattern[++i];
      if (i + 1 < pattern.size() && pattern[i + 1] == ']') out += pattern[++i];
    }
  }
  return out;
}

pcre2_code* as_code(void* p) { return static_cast<pcre2_code*>(p); }

std::string pcre2_message(int code) {
  PCRE2_UCHAR buffer[256];
  pcre2_get_error_message(code, buffer, sizeof(buffer));
  return reinterpret_cast<const char*>(buffer);
}

// A JIT stack per thread: PCRE2's default 32 KiB on the machine stack is too
// small for patterns like `\s+(?!\S)` on long runs.
struct JitState {
  pcre2_jit_stack* stack = nullptr;
  pcre2_match_context* context = nullptr;
  JitState() {
    context = pcre2_match_context_create(nullptr);
    stack = pcre2_jit_stack_create(64 * 1024, 8 * 1024 * 1024, nullptr);
    if (context != nullptr && stack != nullptr) pcre2_jit_stack_assign(context, nullptr, stack);
  }
  ~JitState() {
    if (stack != nullptr) pcre2_jit_stack_free(stack);
    if (context != nullptr) pcre2_match_context_free(context);
  }
  JitState(const JitState&) = delete;
  JitState& operator=(const JitState&) = delete;
};

pcre2_match_context* thread_match_context() {
  thread_local JitState state;
  return state.context;
}

}  // namespace

Regex::Regex(const std::string& pattern) : pattern_(pattern) {
  const std::string translated = translate_onig(pattern);
  pcre2_compile_context* ccontext = pcre2_compile_context_create(nullptr);
  pcre2_set_newline(ccontext, PCRE2_NEWLINE_LF);
  int error = 0;
  PCRE2_SIZE error_offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(translated.data()), translated.size(),
                                   PCRE2_UTF | PCRE2_UCP | PCRE2_MULTILINE, &error, &error_offset, ccontext);
  pcre2_compile_context_free(ccontext);
  if (code == nullptr) {
    throw FormatError("invalid regex '" + pattern + "' at offset " + std::to_string(error_offset) + ": " +
                      pcre2_message(error));
  }
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // falls back to the interpreter if JIT is unavailable
  code_ = code;
}

Regex::~Regex() { pcre2_code_free(as_code(code_)); }

std::vector<Offsets> Regex::find_all(std::string_view text) const {
  std::vector<Offsets> out;
  pcre2_match_data* data = pcre2_match_data_create_from_pattern(as_code(code_), nullptr);
  if (data == nullptr) throw std::bad_alloc();
  pcre2_match_context* context = thread_match_context();
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t pos = 0;
  std::optional<size_t> last_match_end;
  uint32_t options = 0;
  while (pos <= text.size()) {
    const int rc = pcre2_match(as_code(code_), subject, text.size(), pos, options, data, context);
    options = PCRE2_NO_UTF_CHECK;  // the subject was checked by the first call
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) {
      pcre2_match_data_free(data);
      throw InvalidArgument("regex '" + pattern_ + "': " + pcre2_message(rc));
    }
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(data);
    const size_t start = ovector[0];
    const size_t end = ovector[1];
    // As Onig's find_iter: an empty match right where the previous match
    // ended is skipped, and the search moves one character on.
    if (start == end && last_match_end == end) {
      if (pos >= text.size()) break;
      unicode::next_char(text, pos);
      continue;
    }
    out.emplace_back(start, end);
    pos = end;
    last_match_end = end;
  }
  pcre2_match_data_free(data);
  return out;
}

std::vector<Match> Regex::find_matches(std::string_view text) const {
  if (text.empty()) return {{0, 0, false}};
  std::vector<Match> out;
  size_t prev = 0;
  for (const auto& [start, end] : find_all(text)) {
    if (prev != start) out.push_back({prev, start, false});
    out.push_back({start, end, true});
    prev = end;
  }
  if (prev != text.size()) out.push_back({prev, text.size(), false});
  return out;
}

}  // namespace optimum::tokenizers
