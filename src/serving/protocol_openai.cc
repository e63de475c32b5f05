// KServe v1 (:predict) and OpenAI's /v1/embeddings.
#include <cstring>
#include <numeric>

#include "optimum/core/errors.h"
#include "optimum/serving/protocol.h"
#include "optimum/serving/status.h"
#include "protocol_util.h"

namespace optimum::serving {

namespace detail {

std::vector<float> embedding_values(const io::Json& result, size_t index) {
  const io::Json* row = &result;
  if (row->is_array() && row->size() == 1 && (*row)[0].is_array()) row = &(*row)[0];
  if (!row->is_array()) {
    throw ServingError(Code::Internal, "embedding result " + std::to_string(index) + " is not a list of numbers");
  }
  std::vector<float> values;
  values.reserve(row->size());
  for (const auto& v : *row) {
    if (!v.is_number()) {
      throw ServingError(Code::Internal, "embedding result " + std::to_string(index) + " holds a non-number");
    }
    values.push_back(v.get<float>());
  }
  return values;
}

}  // namespace detail

InferCall v1_call(std::string_view body, size_t max_inputs) {
  const Json j = detail::parse_body_json(body, "v1 predict request");
  if (!j.is_object()) throw InvalidArgument("v1 predict request: the body must be a JSON object with \"instances\"");
  const auto it = j.find("instances");
  if (it == j.end()) throw InvalidArgument("v1 predict request: missing \"instances\"");
  if (!it->is_array()) throw InvalidArgument("v1 predict request: \"instances\" must be a list");
  if (it->empty()) throw InvalidArgument("v1 predict request: \"instances\" is empty");
  if (it->size() > max_inputs) {
    throw InvalidArgument("v1 predict request: " + std::to_string(it->size()) + " instances, more than the limit of " +
                          std::to_string(max_inputs));
  }
  InferCall call;
  call.batched = true;
  call.inputs.assign(it->begin(), it->end());
  for (size_t i = 0; i < call.inputs.size(); ++i) {
    if (call.inputs[i].is_null()) {
      throw InvalidArgument("v1 predict request: instances[" + std::to_string(i) + "] is null");
    }
  }
  return call;
}

std::string v1_response(const InferResult& result) {
  return detail::dump_json(Json{{"predictions", Json(result.outputs)}});
}

EmbeddingsCall openai_embeddings_call(std::string_view body, size_t max_inputs) {
  const Json j = detail::parse_body_json(body, "embeddings request");
  if (!j.is_object()) throw InvalidArgument("embeddings request: the body must be a JSON object");
  EmbeddingsCall out;
  const auto input = j.find("input");
  if (input == j.end()) throw InvalidArgument("embeddings request: missing \"input\"");
  auto add_text = [&](const Json& v, const std::string& field) {
    if (v.is_number_integer() || v.is_array()) {
      throw InvalidArgument("embeddings request: " + field + ": token-id inputs are not supported; send text");
    }
    if (!v.is_string()) throw InvalidArgument("embeddings request: " + field + " must be a string");
    if (v.get_ref<const std::string&>().empty()) {
      throw InvalidArgument("embeddings request: " + field + " is an empty string");
    }
    out.call.inputs.push_back(v);
  };
  if (input->is_array()) {
    if (input->empty()) throw InvalidArgument("embeddings request: \"input\" is an empty list");
    if (input->size() > max_inputs) {
      throw InvalidArgument("embeddings request: \"input\" has " + std::to_string(input->size()) +
                            " items, more than the limit of " + std::to_string(max_inputs));
    }
    out.call.batched = true;
    out.call.inputs.reserve(input->size());
    for (size_t i = 0; i < input->size(); ++i) add_text((*input)[i], "input[" + std::to_string(i) + "]");
  } else {
    add_text(*input, "\"input\"");
  }
  const auto model = j.find("model");
  if (model == j.end()) throw InvalidArgument("embeddings request: missing \"model\"");
  if (!model->is_string()) throw InvalidArgument("embeddings request: \"model\" must be a string");
  out.model = model->get<std::string>();
  if (const auto f = j.find("encoding_format"); f != j.end() && !f->is_null()) {
    if (*f == "base64") out.base64 = true;
    else if (*f != "float") {
      throw InvalidArgument("embeddings request: \"encoding_format\" must be \"float\" or \"base64\", got " +
                            detail::dump_json(*f).substr(0, 100));
    }
  }
  if (const auto d = j.find("dimensions"); d != j.end() && !d->is_null()) {
    if (!d->is_number_integer() || d->get<int64_t>() <= 0 ||
        (d->is_number_unsigned() && d->get<uint64_t>() > uint64_t(INT64_MAX))) {
      throw InvalidArgument("embeddings request: \"dimensions\" must be a positive integer, got " +
                            detail::dump_json(*d).substr(0, 100));
    }
    out.dimensions = d->get<int64_t>();
  }
  if (const auto u = j.find("user"); u != j.end() && !u->is_string() && !u->is_null()) {
    throw InvalidArgument("embeddings request: \"user\" must be a string");
  }
  return out;
}

std::string openai_embeddings_response(const EmbeddingsCall& call, const InferResult& result) {
  Json data = Json::array();
  for (size_t i = 0; i < result.outputs.size(); ++i) {
    const auto values = detail::embedding_values(result.outputs[i], i);
    Json item = {{"object", "embedding"}, {"index", i}};
    if (call.base64) {
      std::string bytes(values.size() * sizeof(float), '\0');
      std::memcpy(bytes.data(), values.data(), bytes.size());  // little-endian float32 (checked in protocol_v2.cc)
      item["embedding"] = detail::base64_encode(bytes);
    } else {
      Json list = Json::array();
      for (float v : values) list.push_back(static_cast<double>(v));
      item["embedding"] = std::move(list);
    }
    data.push_back(std::move(item));
  }
  const size_t tokens = std::accumulate(result.tokens.begin(), result.tokens.end(), size_t{0});
  return detail::dump_json(Json{{"object", "list"},
                                {"data", std::move(data)},
                                {"model", call.model},
                                {"usage", {{"prompt_tokens", tokens}, {"total_tokens", tokens}}}});
}

std::string openai_error(const std::string& message, const std::string& type, int http_status) {
  return detail::dump_json(
      Json{{"error", {{"message", message}, {"type", type}, {"param", nullptr}, {"code", http_status}}}});
}

}  // namespace optimum::serving
