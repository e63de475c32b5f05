// make_model: the tokenizer.json "model" object -> Model.
#include "json_fields.h"
#include "models/bpe.h"
#include "models/unigram.h"
#include "models/wordlevel.h"
#include "models/wordpiece.h"
#include "optimum/tokenizers/components.h"

namespace optimum::tokenizers {
namespace {

// The type tokenizers' untagged deserialization would pick for a model
// object without "type": the first of BPE, WordPiece, WordLevel, Unigram
// whose required fields are all there.
std::string infer_model_type(const Json& json) {
  auto has = [&](const char* field) { return json.contains(field) && !json[field].is_null(); };
  if (has("vocab") && json["vocab"].is_object()) {
    if (has("merges")) return "BPE";
    if (has("unk_token") && has("continuing_subword_prefix") && has("max_input_chars_per_word")) return "WordPiece";
    if (has("unk_token")) return "WordLevel";
  }
  if (has("vocab") && json["vocab"].is_array()) return "Unigram";
  throw FormatError("tokenizer.json: model has no 'type' and its fields match no model (BPE needs vocab + merges, "
                    "WordPiece vocab + unk_token + continuing_subword_prefix + max_input_chars_per_word, "
                    "WordLevel vocab + unk_token, Unigram a [piece, score] vocab)");
}

std::unique_ptr<Model> make_typed_model(const Json& json) {
  Fields f(json, "model");
  const std::string& type = f.type();
  if (type == "BPE") return models::BPE::from_json(json);
  if (type == "WordPiece") return models::WordPiece::from_json(json);
  if (type == "WordLevel") return models::WordLevel::from_json(json);
  if (type == "Unigram") return models::Unigram::from_json(json);
  f.unknown_type({"BPE", "WordPiece", "WordLevel", "Unigram"});
}

}  // namespace

std::unique_ptr<Model> make_model(const Json& json) {
  if (json.is_object() && !json.contains("type")) {
    Json typed = json;
    typed["type"] = infer_model_type(json);
    return make_typed_model(typed);
  }
  return make_typed_model(json);
}

}  // namespace optimum::tokenizers
