// Whisper's short-form generate (generation/whisper.h), after transformers'
// WhisperGenerationMixin: _retrieve_init_tokens, detect_language,
// _retrieve_logit_processors and _set_max_new_tokens_and_length.
#include "optimum/generation/whisper.h"

#include <algorithm>
#include <cctype>
#include <limits>
#include <utility>

#include "optimum/core/errors.h"

namespace optimum::generation {

namespace {

// transformers' TO_LANGUAGE_CODE.
const std::vector<std::pair<std::string, std::string>>& language_codes() {
  static const std::vector<std::pair<std::string, std::string>> table = {
      {"english", "en"}, {"chinese", "zh"}, {"german", "de"}, {"spanish", "es"}, {"russian", "ru"}, {"korean", "ko"}, {"french", "fr"}, {"japanese", "ja"}, {"portuguese", "pt"}, {"turkish", "tr"}, {"polish", "pl"}, {"catalan", "ca"}, {"dutch", "nl"}, {"arabic", "ar"}, {"swedish", "sv"}, {"italian", "it"}, {"indonesian", "id"}, {"hindi", "hi"}, {"finnish", "fi"}, {"vietnamese", "vi"}, {"hebrew", "he"}, {"ukrainian", "uk"}, {"greek", "el"}, {"malay", "ms"}, {"czech", "cs"}, {"romanian", "ro"}, {"danish", "da"}, {"hungarian", "hu"}, {"tamil", "ta"}, {"norwegian", "no"}, {"thai", "th"}, {"urdu", "ur"}, {"croatian", "hr"}, {"bulgarian", "bg"}, {"lithuanian", "lt"}, {"latin", "la"}, {"maori", "mi"}, {"malayalam", "ml"}, {"welsh", "cy"}, {"slovak", "sk"}, {"telugu", "te"}, {"persian", "fa"}, {"latvian", "lv"}, {"bengali", "bn"}, {"serbian", "sr"}, {"azerbaijani", "az"}, {"slovenian", "sl"}, {"kannada", "kn"}, {"estonian", "et"}, {"macedonian", "mk"}, {"breton", "br"}, {"basque", "eu"}, {"icelandic", "is"}, {"armenian", "hy"}, {"nepali", "ne"}, {"mongolian", "mn"}, {"bosnian", "bs"}, {"kazakh", "kk"}, {"albanian", "sq"}, {"swahili", "sw"}, {"galician", "gl"}, {"marathi", "mr"}, {"punjabi", "pa"}, {"sinhala", "si"}, {"khmer", "km"}, {"shona", "sn"}, {"yoruba", "yo"}, {"somali", "so"}, {"afrikaans", "af"}, {"occitan", "oc"}, {"georgian", "ka"}, {"belarusian", "be"}, {"tajik", "tg"}, {"sindhi", "sd"}, {"gujarati", "gu"}, {"amharic", "am"}, {"yiddish", "yi"}, {"lao", "lo"}, {"uzbek", "uz"}, {"faroese", "fo"}, {"haitian creole", "ht"}, {"pashto", "ps"}, {"turkmen", "tk"}, {"nynorsk", "nn"}, {"maltese", "mt"}, {"sanskrit", "sa"}, {"luxembourgish", "lb"}, {"myanmar", "my"}, {"tibetan", "bo"}, {"tagalog", "tl"}, {"malagasy", "mg"}, {"assamese", "as"}, {"tatar", "tt"}, {"hawaiian", "haw"}, {"lingala", "ln"}, {"hausa", "ha"}, {"bashkir", "ba"}, {"javanese", "jw"}, {"sundanese", "su"}, {"cantonese", "yue"}, {"burmese", "my"}, {"valencian", "ca"}, {"flemish", "nl"}, {"haitian", "ht"}, {"letzeburgesch", "lb"}, {"pushto", "ps"}, {"panjabi", "pa"}, {"moldavian", "ro"}, {"moldovan", "ro"}, {"sinhalese", "si"}, {"castilian", "es"}, {"mandarin", "zh"}};
  return table;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

int64_t language_to_id(const WhisperGenerationConfig& w, const std::string& language) {
  const std::string l = lower(language);
  std::string token;
  if (w.lang_to_id.count(l) != 0) {
    token = l;
  } else {
    for (const auto& [name, code] : language_codes()) {
      if (l == name || l == code) {
        token = "<|" + code + "|>";
        break;
      }
    }
  }
  if (token.empty()) {
    throw InvalidArgument("Unsupported language: " + language +
                          ". Language should be a code ('en'), a token ('<|en|>') or a name ('english')");
  }
  const auto it = w.lang_to_id.find(token);
  if (it == w.lang_to_id.end()) {
    throw InvalidArgument(token + " is not supported by this specific model as it is not in the "
                          "generation config's lang_to_id");
  }
  return it->second;
}

int64_t int_value(const io::Json& v, const std::string& source, const std::string& key) {
  if (!v.is_number_integer()) throw FormatError(source + ": " + key + " must be an integer");
  return v.get<int64_t>();
}

}  // namespace

WhisperGenerationConfig WhisperGenerationConfig::from_json(const io::Json& j, const std::string& source) {
  WhisperGenerationConfig w;
  if (!j.is_object()) return w;
  for (const char* key : {"lang_to_id", "task_to_id"}) {
    if (!j.contains(key) || j.at(key).is_null()) continue;
    if (!j.at(key).is_object()) throw FormatError(source + ": " + key + " must be an object of token ids");
    auto& dst = std::string(key) == "lang_to_id" ? w.lang_to_id : w.task_to_id;
    for (const auto& [k, v] : j.at(key).items()) dst[k] = int_value(v, source, std::string(key) + "." + k);
  }
  if (j.contains("no_timestamps_token_id") && !j.at("no_timestamps_token_id").is_null()) {
    w.no_timestamps_token_id = int_value(j.at("no_timestamps_token_id"), source, "no_timestamps_token_id");
  }
  if (j.contains("max_initial_timestamp_index") && !j.at("max_initial_timestamp_index").is_null()) {
    w.max_initial_timestamp_index =
        int_value(j.at("max_initial_timestamp_index"), source, "max_initial_timestamp_index");
  }
  if (j.contains("is_multilingual") && j.at("is_multilingual").is_boolean()) {
    w.is_multilingual = j.at("is_multilingual").get<bool>();
  }
  if (j.contains("return_timestamps") && j.at("return_timestamps").is_boolean()) {
    w.return_timestamps = j.at("return_timestamps").get<bool>();
  }
  for (const char* key : {"language", "task"}) {
    if (!j.contains(key) || j.at(key).is_null()) continue;
    if (!j.at(key).is_string()) throw FormatError(source + ": " + key + " must be a string");
    (std::string(key) == "language" ? w.language : w.task) = j.at(key).get<std::string>();
  }
  if (j.contains("forced_decoder_ids") && !j.at("forced_decoder_ids").is_null()) {
    const io::Json& f = j.at("forced_decoder_ids");
    if (!f.is_array()) throw FormatError(source + ": forced_decoder_ids must be a list of [index, token] pairs");
    for (const io::Json& pair : f) {
      if (!pair.is_array() || pair.size() != 2) {
        throw FormatError(source + ": forced_decoder_ids must be a list of [index, token] pairs");
      }
      std::optional<int64_t> token;
      if (!pair[1].is_null()) token = int_value(pair[1], source, "forced_decoder_ids");
      w.forced_decoder_ids.emplace_back(int_value(pair[0], source, "forced_decoder_ids"), token);
    }
  }
  return w;
}

std::vector<WhisperOutput> generate_whisper(const std::shared_ptr<const models::Seq2SeqModel>& model,
                                            const float* features, int64_t batch, int64_t mel_bins, int64_t frames,
                                            GenerationConfig config, const WhisperGenerationConfig& w,
                                            const WhisperCallOptions& call, const GenerateOptions& options) {
  const models::Seq2SeqConfig& mc = model->config();
  if (!mc.audio_encoder) throw InvalidArgument("generate_whisper: " + mc.model_type + " is not a speech model");
  if (batch <= 0) return {};
  const bool timestamps = call.return_timestamps.value_or(w.return_timestamps);
  if (timestamps && !w.no_timestamps_token_id) {
    throw InvalidArgument("return_timestamps: the generation config has no no_timestamps_token_id");
  }
  const std::optional<std::string> language = call.language ? call.language : w.language;
  const std::optional<std::string> task = call.task ? call.task : w.task;
  if (w.is_multilingual && !*w.is_multilingual && (language || task)) {
    throw InvalidArgument("Cannot specify task or language for an English-only model (is_multilingual is false)");
  }
  if (language && w.lang_to_id.empty()) {
    throw InvalidArgument("language: the generation config has no lang_to_id");
  }
  if (task && w.task_to_id.empty()) throw InvalidArgument("task: the generation config has no task_to_id");
  config.validate();

  // _retrieve_init_tokens.
  const int64_t start = config.decoder_start_token_id.value_or(mc.decoder_start_token_id);
  std::vector<std::optional<int64_t>> init{start};
  if (!language && !task && !w.forced_decoder_ids.empty() && w.forced_decoder_ids.front().first == 1) {
    size_t i = 0;
    while (i < w.forced_decoder_ids.size() && w.forced_decoder_ids[i].first == static_cast<int64_t>(i) + 1) {
      init.push_back(w.forced_decoder_ids[i].second);
      ++i;
    }
    if (i < w.forced_decoder_ids.size()) {
      throw InvalidArgument("forced_decoder_ids do not follow whisper's prompt pattern (an entry for every index "
                            "from 1 up to " + std::to_string(w.forced_decoder_ids[i].first) + ")");
    }
  }
  const bool lang_undefined = init.size() <= 1 || !init[1].has_value();

  models::EncoderOutput encoded = model->encode_features(features, batch, mel_bins, frames);
  const int64_t per = Generator::slots_needed(config);
  const auto decoder = model->bind(std::move(encoded), per);

  std::vector<std::optional<int64_t>> lang_ids(static_cast<size_t>(batch));
  bool have_lang = false;
  if (language) {
    const int64_t id = language_to_id(w, *language);
    std::fill(lang_ids.begin(), lang_ids.end(), id);
    have_lang = true;
  } else if (!w.lang_to_id.empty() && lang_undefined) {
    // detect_language: argmax over the language tokens after [decoder_start].
    auto cache = decoder->new_cache(batch * per, 1);
    std::vector<models::StepSegment> segs;
    for (int64_t b = 0; b < batch; ++b) segs.push_back({b * per, &start, 1});
    const Tensor logits = decoder->step(*cache, segs);
    const int64_t V = mc.vocab_size;
    for (int64_t b = 0; b < batch; ++b) {
      const float* row = logits.data<float>() + b * V;
      int64_t best = -1;
      for (const auto& entry : w.lang_to_id) {
        const int64_t id = entry.second;
        if (id < 0 || id >= V) continue;
        // torch's argmax: the first maximal index.
        if (best < 0 || row[id] > row[best] || (row[id] == row[best] && id < best)) best = id;
      }
      lang_ids[static_cast<size_t>(b)] = best;
    }
    have_lang = true;
  }
  std::vector<std::vector<int64_t>> prompts;
  for (int64_t b = 0; b < batch; ++b) {
    std::vector<std::optional<int64_t>> t = init;
    if (have_lang) {
      if (t.size() > 1) {
        t[1] = lang_ids[static_cast<size_t>(b)];
      } else {
        t.push_back(lang_ids[static_cast<size_t>(b)]);
      }
    }
    auto contains = [&](int64_t id) { return std::find(t.begin(), t.end(), std::optional<int64_t>(id)) != t.end(); };
    if (task) {
      const auto it = w.task_to_id.find(*task);
      if (*task != "transcribe" && *task != "translate") {
        throw InvalidArgument("The '" + *task + "' task is not supported. The task should be one of "
                              "['translate', 'transcribe']");
      }
      if (it == w.task_to_id.end()) throw InvalidArgument("task '" + *task + "' is not in task_to_id");
      // transformers appends the task id, then replaces any task id by it.
      t.push_back(it->second);
      for (auto& tok : t) {
        if (!tok) continue;
        for (const auto& kv : w.task_to_id) {
          if (*tok == kv.second) tok = it->second;
        }
      }
    } else if (language && !w.task_to_id.empty()) {
      bool any = false;
      for (const auto& kv : w.task_to_id) any = any || contains(kv.second);
      if (!any) {
        const auto it = w.task_to_id.find("transcribe");
        if (it == w.task_to_id.end()) throw InvalidArgument("task_to_id has no 'transcribe'");
        t.push_back(it->second);
      }
    }
    if (!timestamps && w.no_timestamps_token_id && t.back() != w.no_timestamps_token_id) {
      t.push_back(*w.no_timestamps_token_id);
    } else if (timestamps && w.no_timestamps_token_id && t.back() == w.no_timestamps_token_id) {
      t.pop_back();
    }
    std::vector<int64_t> p;
    for (const auto& tok : t) {
      if (tok) p.push_back(*tok);
    }
    for (const int64_t id : p) {
      if (id < 0 || id >= mc.vocab_size) {
        throw InvalidArgument("whisper prompt token " + std::to_string(id) + " is outside the vocabulary");
      }
    }
    prompts.push_back(std::move(p));
  }

  // _set_max_new_tokens_and_length (one prompt length for all items).
  const auto n_init = static_cast<int64_t>(prompts.front().size());
  const int64_t max_target = mc.max_position_embeddings;
  if (config.max_new_tokens) {
    if (*config.max_new_tokens + n_init > max_target) {
      throw InvalidArgument("The length of the decoder prompt (" + std::to_string(n_init) + ") plus max_new_tokens (" +
                            std::to_string(*config.max_new_tokens) + ") exceeds max_target_positions " +
                            std::to_string(max_target));
    }
  } else {
    const int64_t num_initial = std::min(max_target / 2 - 1, n_init);
    config.max_length = std::min(config.max_length.value_or(20) + num_initial, max_target);
  }
  config.return_timestamps = timestamps;
  config.no_timestamps_token_id = w.no_timestamps_token_id;
  config.max_initial_timestamp_index = w.max_initial_timestamp_index;

  std::vector<GenerationOutput> out = generate(decoder, prompts, config, options);
  std::vector<WhisperOutput> result;
  for (size_t i = 0; i < out.size(); ++i) result.push_back({prompts[i], std::move(out[i])});
  return result;
}

}  // namespace optimum::generation
