// Chat templates: a model's Jinja template (tokenizer_config.json's
// "chat_template" or chat_template.jinja) rendered over a conversation exactly
// as transformers' tokenizer.apply_chat_template(..., tokenize=False) does.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "optimum/generation/jinja.h"
#include "optimum/io/json.h"

namespace optimum::generation {

// A compiled chat template; immutable, shared by threads.
class ChatTemplate {
 public:
  // Compiles `source`; jinja::TemplateError naming line and column on a syntax error.
  explicit ChatTemplate(std::string_view source, jinja::Limits limits = {});

  // Renders `messages` (a JSON array of message objects) with
  // add_generation_prompt and the template kwargs `kwargs` (an object:
  // bos_token, eos_token, tools, documents, enable_thinking, ...). tools and
  // documents are None when absent, as in transformers; a message's reasoning
  // under "reasoning_content", "thinking" or "reasoning" is copied to
  // "thinking" and "reasoning_content" as transformers does.
  std::string render(const io::OrderedJson& messages, bool add_generation_prompt = false,
                     const io::OrderedJson& kwargs = io::OrderedJson::object()) const;

  const std::string& source() const { return source_; }

 private:
  std::string source_;
  jinja::Template template_;
  jinja::Limits limits_;
};

// Parses JSON text keeping key order (Python's dict order matters to tojson
// and to iteration); FormatError naming `what` when malformed or nested
// deeper than 512 levels.
io::OrderedJson parse_ordered_json(std::string_view text, const std::string& what);

// The chat template of a model folder: chat_template.jinja if present, else
// tokenizer_config.json's "chat_template" (a string, or a list of
// {"name", "template"} entries of which `name` is taken); nullopt if none.
std::optional<std::string> load_chat_template(const std::filesystem::path& dir, const std::string& name = "default");

}  // namespace optimum::generation
