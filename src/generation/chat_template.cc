// ChatTemplate: the context transformers builds around a conversation
// (render_jinja_template in transformers/utils/chat_template_utils.py).
#include "optimum/generation/chat_template.h"

#include <system_error>

namespace optimum::generation {
namespace {

// transformers' _alias_reasoning_fields: {"thinking": r, **message, "reasoning_content": r}.
io::OrderedJson alias_reasoning(const io::OrderedJson& message) {
  static const char* const kFields[] = {"reasoning_content", "thinking", "reasoning"};
  const io::OrderedJson* reasoning = nullptr;
  for (const char* f : kFields) {
    const auto it = message.find(f);
    if (it != message.end() && !it->is_null()) {
      reasoning = &*it;
      break;
    }
  }
  if (!reasoning) return message;
  io::OrderedJson out = io::OrderedJson::object();
  out["thinking"] = *reasoning;
  for (const auto& [k, v] : message.items()) out[k] = v;
  out["reasoning_content"] = *reasoning;
  return out;
}

}  // namespace

ChatTemplate::ChatTemplate(std::string_view source, jinja::Limits limits)
    : source_(source), template_(jinja::Template::compile(source, "chat template")), limits_(limits) {}

std::string ChatTemplate::render(const io::OrderedJson& messages, bool add_generation_prompt,
                                 const io::OrderedJson& kwargs) const {
  if (!messages.is_array()) throw InvalidArgument("chat template: messages must be a JSON array of message objects");
  if (!kwargs.is_object()) throw InvalidArgument("chat template: kwargs must be a JSON object");
  io::OrderedJson chat = io::OrderedJson::array();
  for (size_t k = 0; k < messages.size(); ++k) {
    if (!messages[k].is_object()) {
      throw InvalidArgument("chat template: messages[" + std::to_string(k) + "] is not an object (got " +
                            std::string(messages[k].type_name()) + ")");
    }
    chat.push_back(alias_reasoning(messages[k]));
  }
  io::OrderedJson context = kwargs;
  for (const char* key : {"tools", "documents"}) {
    if (!context.contains(key)) context[key] = nullptr;
  }
  if (context["documents"].is_array()) {
    for (const auto& d : context["documents"]) {
      if (!d.is_object()) throw InvalidArgument("chat template: documents should be a list of dicts with 'title' and 'text' keys");
    }
  }
  context["messages"] = std::move(chat);
  context["add_generation_prompt"] = add_generation_prompt;
  return template_.render(context, limits_);
}

io::OrderedJson parse_ordered_json(std::string_view text, const std::string& what) {
  constexpr int kMaxDepth = 512;
  const io::OrderedJson::parser_callback_t depth_check = [&](int depth, io::OrderedJson::parse_event_t,
                                                             io::OrderedJson&) {
    if (depth > kMaxDepth) throw FormatError(what + ": JSON nested deeper than " + std::to_string(kMaxDepth));
    return true;
  };
  try {
    return io::OrderedJson::parse(text.begin(), text.end(), depth_check);
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(what + ": " + e.what());
  }
}

std::optional<std::string> load_chat_template(const std::filesystem::path& dir, const std::string& name) {
  std::error_code ec;
  const auto jinja_file = dir / "chat_template.jinja";
  if (name == "default" && std::filesystem::is_regular_file(jinja_file, ec)) {
    return io::read_text_file(jinja_file, uint64_t{16} << 20);
  }
  const auto config = dir / "tokenizer_config.json";
  if (!std::filesystem::is_regular_file(config, ec)) return std::nullopt;
  const auto j = io::read_ordered_json(config);
  const auto it = j.find("chat_template");
  if (it == j.end() || it->is_null()) return std::nullopt;
  if (it->is_string()) return name == "default" ? std::optional<std::string>(it->get<std::string>()) : std::nullopt;
  if (!it->is_array()) throw FormatError(config.string() + ": chat_template must be a string or a list of {name, template}");
  for (const auto& entry : *it) {
    if (!entry.is_object() || !entry.contains("name") || !entry.contains("template") || !entry["name"].is_string() ||
        !entry["template"].is_string()) {
      throw FormatError(config.string() + ": chat_template entries must be {\"name\": str, \"template\": str}");
    }
    if (entry["name"].get<std::string>() == name) return entry["template"].get<std::string>();
  }
  return std::nullopt;
}

}  // namespace optimum::generation
