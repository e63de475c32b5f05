// KServe Open Inference Protocol v2 (REST JSON and the binary-tensor
// extension), as tritonclient.http writes and reads it.
#include <cctype>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

#include "optimum/core/dtype.h"
#include "optimum/core/errors.h"
#include "optimum/serving/protocol.h"
#include "optimum/serving/status.h"
#include "protocol_util.h"

namespace optimum::serving {
namespace {

static_assert(std::endian::native == std::endian::little, "the raw tensor codecs assume a little-endian host");

// Bounds on what one request may declare, checked before anything is allocated.
constexpr size_t kMaxTensors = 1024;
constexpr size_t kMaxRank = 32;
constexpr uint64_t kMaxElements = uint64_t{1} << 40;

// Bytes per element of a fixed-size datatype; 0 for BYTES; nullopt if unknown.
std::optional<size_t> datatype_size(const std::string& t) {
  if (t == "BYTES") return 0;
  if (t == "BOOL" || t == "UINT8" || t == "INT8") return 1;
  if (t == "UINT16" || t == "INT16" || t == "FP16" || t == "BF16") return 2;
  if (t == "UINT32" || t == "INT32" || t == "FP32") return 4;
  if (t == "UINT64" || t == "INT64" || t == "FP64") return 8;
  return std::nullopt;
}

bool is_float_type(const std::string& t) { return t == "FP16" || t == "BF16" || t == "FP32" || t == "FP64"; }
bool is_unsigned_type(const std::string& t) { return t.starts_with("UINT"); }

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// Range of an integer datatype, as doubles (exact for <= 32-bit types).
std::pair<double, double> integer_range(const std::string& t) {
  if (t == "UINT8") return {0, 255};
  if (t == "UINT16") return {0, 65535};
  if (t == "UINT32") return {0, 4294967295.0};
  if (t == "UINT64") return {0, 18446744073709551615.0};
  if (t == "INT8") return {-128, 127};
  if (t == "INT16") return {-32768, 32767};
  if (t == "INT32") return {-2147483648.0, 2147483647.0};
  return {-9223372036854775808.0, 9223372036854775807.0};
}

// Appends the scalars of `data` (flat or nested arrays) in row-major order;
// stops with an error as soon as there are more than `expected`.
void flatten(const Json& data, V2Tensor& t, size_t expected, const std::string& where) {
  if (data.is_array()) {
    for (const auto& v : data) flatten(v, t, expected, where);
    return;
  }
  if (t.bytes.size() + t.numbers.size() >= expected) {
    throw InvalidArgument(where + ": \"data\" holds more elements than shape " + shape_text(t.shape) + " (" +
                          std::to_string(expected) + ")");
  }
  if (t.datatype == "BYTES") {
    if (!data.is_string()) throw InvalidArgument(where + ": BYTES \"data\" elements must be strings");
    t.bytes.push_back(data.get<std::string>());
  } else if (t.datatype == "BOOL") {
    if (!data.is_boolean()) throw InvalidArgument(where + ": BOOL \"data\" elements must be true or false");
    t.numbers.push_back(data.get<bool>() ? 1.0 : 0.0);
  } else if (is_float_type(t.datatype)) {
    if (!data.is_number()) throw InvalidArgument(where + ": " + t.datatype + " \"data\" elements must be numbers");
    t.numbers.push_back(data.get<double>());
  } else {
    if (!data.is_number_integer()) {
      throw InvalidArgument(where + ": " + t.datatype + " \"data\" elements must be integers");
    }
    const double v = data.is_number_unsigned() ? static_cast<double>(data.get<uint64_t>())
                                               : static_cast<double>(data.get<int64_t>());
    const auto [lo, hi] = integer_range(t.datatype);
    if (v < lo || v > hi || (is_unsigned_type(t.datatype) && data.is_number_integer() && !data.is_number_unsigned() &&
                             data.get<int64_t>() < 0)) {
      throw InvalidArgument(where + ": " + data.dump() + " is out of range for " + t.datatype);
    }
    t.numbers.push_back(v);
  }
}

const Json* find_member(const Json& object, const char* key) {
  auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

std::string get_string(const Json& object, const char* key, const std::string& where, bool required) {
  const Json* v = find_member(object, key);
  if (!v) {
    if (required) throw InvalidArgument(where + ": missing \"" + key + "\"");
    return {};
  }
  if (!v->is_string()) throw InvalidArgument(where + ": \"" + key + "\" must be a string");
  return v->get<std::string>();
}

Json get_parameters(const Json& object, const std::string& where) {
  const Json* p = find_member(object, "parameters");
  if (!p || p->is_null()) return Json::object();
  if (!p->is_object()) throw InvalidArgument(where + ": \"parameters\" must be an object");
  return *p;
}

bool get_bool_parameter(const Json& parameters, const char* key, const std::string& where) {
  const Json* v = find_member(parameters, key);
  if (!v) return false;
  if (!v->is_boolean()) throw InvalidArgument(where + ": parameter \"" + key + "\" must be true or false");
  return v->get<bool>();
}

V2Tensor parse_input(const Json& j, const std::string& where, std::string_view binary, size_t& binary_used) {
  if (!j.is_object()) throw InvalidArgument(where + ": must be an object");
  V2Tensor t;
  t.name = get_string(j, "name", where, true);
  const std::string named = where + " ('" + t.name + "')";
  t.datatype = get_string(j, "datatype", named, true);
  const auto element_size = datatype_size(t.datatype);
  if (!element_size) throw InvalidArgument(named + ": unknown datatype '" + t.datatype + "'");
  const Json* shape = find_member(j, "shape");
  if (!shape) throw InvalidArgument(named + ": missing \"shape\"");
  if (!shape->is_array()) throw InvalidArgument(named + ": \"shape\" must be an array of integers");
  if (shape->size() > kMaxRank) {
    throw InvalidArgument(named + ": \"shape\" has " + std::to_string(shape->size()) + " dimensions, more than " +
                          std::to_string(kMaxRank));
  }
  for (const auto& d : *shape) {
    if (!d.is_number_integer() || (d.is_number_unsigned() && d.get<uint64_t>() > uint64_t(INT64_MAX))) {
      throw InvalidArgument(named + ": \"shape\" must be an array of integers, got " + d.dump());
    }
    t.shape.push_back(d.get<int64_t>());
  }
  size_t count = 0;
  try {
    count = t.element_count();
  } catch (const InvalidArgument& e) {
    throw InvalidArgument(named + ": " + e.what());
  }
  t.parameters = get_parameters(j, named);
  if (t.parameters.contains("shared_memory_region")) {
    throw Unsupported(named + ": shared memory inputs are not supported");
  }
  const Json* data = find_member(j, "data");
  const Json* binary_size = find_member(t.parameters, "binary_data_size");
  if (binary_size) {
    if (data) throw InvalidArgument(named + ": both \"data\" and parameters.binary_data_size");
    if (!binary_size->is_number_unsigned()) {
      throw InvalidArgument(named + ": parameters.binary_data_size must be a non-negative integer");
    }
    const uint64_t size = binary_size->get<uint64_t>();
    const size_t left = binary.size() - binary_used;
    if (size > left) {
      throw InvalidArgument(named + ": binary_data_size " + std::to_string(size) + " exceeds the " +
                            std::to_string(left) + " bytes of binary data left in the body");
    }
    const std::string_view raw = binary.substr(binary_used, size);
    binary_used += size;
    if (*element_size == 0) {
      t.bytes = decode_bytes_raw(raw, count, t.name);
    } else {
      if (size != uint64_t(count) * *element_size) {
        throw InvalidArgument(named + ": binary_data_size " + std::to_string(size) + " does not match shape " +
                              shape_text(t.shape) + " of " + t.datatype + " (" +
                              std::to_string(uint64_t(count) * *element_size) + " bytes)");
      }
      t.raw = std::string(raw);
    }
    return t;
  }
  if (!data) throw InvalidArgument(named + ": no \"data\" and no parameters.binary_data_size");
  flatten(*data, t, count, named);
  const size_t got = t.bytes.size() + t.numbers.size();
  if (got != count) {
    throw InvalidArgument(named + ": \"data\" holds " + std::to_string(got) + " elements, shape " +
                          shape_text(t.shape) + " needs " + std::to_string(count));
  }
  return t;
}

// Row-major little-endian bytes of `numbers` as `datatype`.
std::string encode_numbers(const std::vector<double>& numbers, const std::string& datatype) {
  const auto size = datatype_size(datatype);
  if (!size || *size == 0) throw ServingError(Code::Internal, "no numeric encoding for datatype " + datatype);
  std::string out(numbers.size() * *size, '\0');
  char* p = out.data();
  auto put = [&](auto v) {
    std::memcpy(p, &v, sizeof v);
    p += sizeof v;
  };
  for (double v : numbers) {
    if (datatype == "FP32") put(static_cast<float>(v));
    else if (datatype == "FP64") put(v);
    else if (datatype == "FP16") put(float_to_half(static_cast<float>(v)));
    else if (datatype == "BF16") put(float_to_bf16(static_cast<float>(v)));
    else if (datatype == "BOOL") put(static_cast<uint8_t>(v != 0));
    else if (datatype == "UINT8") put(static_cast<uint8_t>(v));
    else if (datatype == "UINT16") put(static_cast<uint16_t>(v));
    else if (datatype == "UINT32") put(static_cast<uint32_t>(v));
    else if (datatype == "UINT64") put(static_cast<uint64_t>(v));
    else if (datatype == "INT8") put(static_cast<int8_t>(v));
    else if (datatype == "INT16") put(static_cast<int16_t>(v));
    else if (datatype == "INT32") put(static_cast<int32_t>(v));
    else put(static_cast<int64_t>(v));
  }
  return out;
}

Json numbers_json(const std::vector<double>& numbers, const std::string& datatype) {
  Json data = Json::array();
  for (double v : numbers) {
    if (datatype == "BOOL") data.push_back(v != 0);
    else if (datatype == "FP32") data.push_back(static_cast<double>(static_cast<float>(v)));
    else if (is_float_type(datatype)) data.push_back(v);
    else if (is_unsigned_type(datatype)) data.push_back(static_cast<uint64_t>(v));
    else data.push_back(static_cast<int64_t>(v));
  }
  return data;
}

const V2Tensor* find_input(const V2Request& request, const std::string& name) {
  for (const auto& t : request.inputs) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

// The elements of a BYTES input of shape [N] or [N, 1].
const std::vector<std::string>& byte_elements(const V2Tensor& t) {
  const std::string where = "input '" + t.name + "'";
  if (t.datatype != "BYTES") throw InvalidArgument(where + ": datatype " + t.datatype + ", expected BYTES");
  if (!(t.shape.size() == 1 || (t.shape.size() == 2 && t.shape[1] == 1))) {
    throw InvalidArgument(where + ": shape " + shape_text(t.shape) + ", expected [N] or [N, 1]");
  }
  if (t.bytes.empty()) throw InvalidArgument(where + ": no elements");
  return t.bytes;
}

// Base64 text (RFC 4648 alphabet, padded to a multiple of 4): no encoded image starts so.
bool looks_base64(const std::string& e) {
  if (e.empty() || e.size() % 4 != 0) return false;
  for (const char c : e) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/' || c == '=')) return false;
  }
  return true;
}

// The texts of a BYTES input of shape [N] or [N, 1].
const std::vector<std::string>& text_elements(const V2Tensor& t) {
  const std::string where = "input '" + t.name + "'";
  byte_elements(t);
  for (size_t i = 0; i < t.bytes.size(); ++i) {
    detail::require_utf8(t.bytes[i], where + " element " + std::to_string(i));
  }
  return t.bytes;
}

}  // namespace

size_t V2Tensor::element_count() const {
  uint64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) throw InvalidArgument("shape " + shape_text(shape) + " has a negative dimension");
    if (d != 0 && n > kMaxElements / static_cast<uint64_t>(d)) {
      throw InvalidArgument("shape " + shape_text(shape) + " has more than " + std::to_string(kMaxElements) +
                            " elements");
    }
    n *= static_cast<uint64_t>(d);
  }
  return static_cast<size_t>(n);
}

std::vector<std::string> decode_bytes_raw(std::string_view raw, size_t expected_count, const std::string& tensor) {
  std::vector<std::string> out;
  out.reserve(std::min(expected_count, raw.size() / 4));
  size_t pos = 0;
  while (pos < raw.size()) {
    if (out.size() == expected_count) {
      throw InvalidArgument("BYTES tensor '" + tensor + "': " + std::to_string(raw.size() - pos) +
                            " bytes left after the " + std::to_string(expected_count) + " elements of its shape");
    }
    if (raw.size() - pos < 4) {
      throw InvalidArgument("BYTES tensor '" + tensor + "': element " + std::to_string(out.size()) +
                            ": truncated 4-byte length at byte " + std::to_string(pos));
    }
    uint32_t len = 0;
    std::memcpy(&len, raw.data() + pos, 4);
    pos += 4;
    if (len > raw.size() - pos) {
      throw InvalidArgument("BYTES tensor '" + tensor + "': element " + std::to_string(out.size()) + ": length " +
                            std::to_string(len) + " past the end of the data (" + std::to_string(raw.size() - pos) +
                            " bytes left)");
    }
    out.emplace_back(raw.substr(pos, len));
    pos += len;
  }
  if (out.size() != expected_count) {
    throw InvalidArgument("BYTES tensor '" + tensor + "': " + std::to_string(out.size()) + " elements, its shape needs " +
                          std::to_string(expected_count));
  }
  return out;
}

std::string encode_bytes_raw(const std::vector<std::string>& elements) {
  size_t total = 0;
  for (const auto& e : elements) total += 4 + e.size();
  std::string out;
  out.reserve(total);
  for (const auto& e : elements) {
    if (e.size() > std::numeric_limits<uint32_t>::max()) {
      throw InvalidArgument("BYTES element of " + std::to_string(e.size()) + " bytes does not fit a 4-byte length");
    }
    const uint32_t len = static_cast<uint32_t>(e.size());
    out.append(reinterpret_cast<const char*>(&len), 4);
    out += e;
  }
  return out;
}

V2Request parse_v2_request(std::string_view body, std::optional<size_t> json_header_length) {
  std::string_view json_text = body;
  std::string_view binary;
  if (json_header_length) {
    if (*json_header_length > body.size()) {
      throw InvalidArgument("Inference-Header-Content-Length " + std::to_string(*json_header_length) +
                            " exceeds the body size " + std::to_string(body.size()));
    }
    json_text = body.substr(0, *json_header_length);
    binary = body.substr(*json_header_length);
  }
  if (detail::trim(json_text).empty()) throw InvalidArgument("v2 inference request: empty JSON body");
  const Json j = detail::parse_body_json(json_text, "v2 inference request");
  if (!j.is_object()) throw InvalidArgument("v2 inference request: the body must be a JSON object");
  V2Request request;
  if (const Json* id = find_member(j, "id")) {
    if (!id->is_string()) throw InvalidArgument("v2 inference request: \"id\" must be a string");
    request.id = id->get<std::string>();
  }
  request.parameters = get_parameters(j, "v2 inference request");
  request.binary_data_output = get_bool_parameter(request.parameters, "binary_data_output", "v2 inference request");
  const Json* inputs = find_member(j, "inputs");
  if (!inputs) throw InvalidArgument("v2 inference request: missing \"inputs\"");
  if (!inputs->is_array()) throw InvalidArgument("v2 inference request: \"inputs\" must be an array");
  if (inputs->empty()) throw InvalidArgument("v2 inference request: \"inputs\" is empty");
  if (inputs->size() > kMaxTensors) {
    throw InvalidArgument("v2 inference request: " + std::to_string(inputs->size()) + " inputs, more than " +
                          std::to_string(kMaxTensors));
  }
  size_t binary_used = 0;
  request.inputs.reserve(inputs->size());
  for (size_t i = 0; i < inputs->size(); ++i) {
    request.inputs.push_back(parse_input((*inputs)[i], "inputs[" + std::to_string(i) + "]", binary, binary_used));
  }
  if (binary_used != binary.size()) {
    throw InvalidArgument("v2 inference request: " + std::to_string(binary.size() - binary_used) +
                          " bytes of binary data after the inputs' binary_data_size total " +
                          std::to_string(binary_used));
  }
  if (const Json* outputs = find_member(j, "outputs")) {
    if (!outputs->is_array()) throw InvalidArgument("v2 inference request: \"outputs\" must be an array");
    if (outputs->size() > kMaxTensors) {
      throw InvalidArgument("v2 inference request: " + std::to_string(outputs->size()) + " outputs, more than " +
                            std::to_string(kMaxTensors));
    }
    for (size_t i = 0; i < outputs->size(); ++i) {
      const Json& o = (*outputs)[i];
      const std::string where = "outputs[" + std::to_string(i) + "]";
      if (!o.is_object()) throw InvalidArgument(where + ": must be an object");
      V2RequestedOutput out;
      out.name = get_string(o, "name", where, true);
      for (const auto& earlier : request.outputs) {
        // Each repeat would copy the whole output into the response.
        if (earlier.name == out.name) throw InvalidArgument(where + ": output '" + out.name + "' requested twice");
      }
      const Json params = get_parameters(o, where);
      out.binary_data = get_bool_parameter(params, "binary_data", where);
      if (params.contains("shared_memory_region")) {
        throw Unsupported(where + " ('" + out.name + "'): shared memory outputs are not supported");
      }
      if (const Json* c = find_member(params, "classification"); c && !(c->is_number_integer() && c->get<int64_t>() == 0)) {
        throw Unsupported(where + " ('" + out.name + "'): the classification extension is not supported");
      }
      request.outputs.push_back(std::move(out));
    }
  }
  return request;
}

InferCall v2_call(const V2Request& request, const std::string& task) {
  const Signature signature = task_signature(task);
  for (const auto& t : request.inputs) {
    bool known = false;
    for (const auto& s : signature.inputs) known = known || s.name == t.name;
    if (!known) {
      std::string names;
      for (const auto& s : signature.inputs) names += (names.empty() ? "" : ", ") + s.name;
      throw InvalidArgument("unexpected input '" + t.name + "' (the " + task + " model takes: " + names + ")");
    }
  }
  for (size_t i = 0; i < request.inputs.size(); ++i) {
    for (size_t k = 0; k < i; ++k) {
      if (request.inputs[k].name == request.inputs[i].name) {
        throw InvalidArgument("input '" + request.inputs[i].name + "' given twice");
      }
    }
  }
  for (const auto& o : request.outputs) {
    bool known = false;
    for (const auto& s : signature.outputs) known = known || s.name == o.name;
    if (!known) {
      throw InvalidArgument("unknown output '" + o.name + "' (the " + task + " model has: " +
                            signature.outputs[0].name + ")");
    }
  }
  InferCall call;
  call.batched = true;
  auto required = [&](const std::string& name) -> const std::vector<std::string>& {
    const V2Tensor* t = find_input(request, name);
    if (!t) throw InvalidArgument("missing input '" + name + "'");
    return text_elements(*t);
  };
  auto same_count = [](const std::vector<std::string>& a, const std::vector<std::string>& b, const std::string& an,
                       const std::string& bn) {
    if (a.size() != b.size()) {
      throw InvalidArgument("input '" + an + "' has " + std::to_string(a.size()) + " elements and input '" + bn +
                            "' " + std::to_string(b.size()));
    }
  };
  if (task_takes_images(task)) {
    const V2Tensor* t = find_input(request, "image");
    if (!t) throw InvalidArgument("missing input 'image'");
    // Raw image bytes (the binary extension, gRPC) or, in a JSON body, base64 text (image_inputs decodes it).
    for (const auto& e : byte_elements(*t)) {
      if (looks_base64(e)) {
        call.inputs.push_back(Json(e));
      } else {
        call.inputs.push_back(Json::binary(Json::binary_t::container_type(e.begin(), e.end())));
      }
    }
  } else if (task == "question-answering") {
    const auto& questions = required("question");
    const auto& contexts = required("context");
    same_count(questions, contexts, "question", "context");
    for (size_t i = 0; i < questions.size(); ++i) {
      call.inputs.push_back(Json{{"question", questions[i]}, {"context", contexts[i]}});
    }
  } else {
    const auto& texts = required("text");
    const V2Tensor* pair = task == "text-classification" ? find_input(request, "text_pair") : nullptr;
    if (pair) {
      const auto& pairs = text_elements(*pair);
      same_count(texts, pairs, "text", "text_pair");
      for (size_t i = 0; i < texts.size(); ++i) call.inputs.push_back(Json{{"text", texts[i]}, {"text_pair", pairs[i]}});
    } else {
      for (const auto& t : texts) call.inputs.push_back(Json(t));
    }
  }
  for (const auto& [key, value] : request.parameters.items()) {
    static const char* const reserved[] = {"binary_data_output", "sequence_id", "sequence_start", "sequence_end",
                                           "priority", "timeout"};
    bool skip = key.starts_with("triton_");
    for (const char* r : reserved) skip = skip || key == r;
    if (!skip) call.options[key] = value;
  }
  return call;
}

V2Response v2_response(const V2Request& request, const InferResult& result, const std::string& model,
                       const std::string& version, const std::string& task) {
  V2Response response;
  response.model_name = model;
  response.model_version = version;
  response.id = request.id;
  const size_t n = result.outputs.size();
  V2Tensor tensor;
  if (task == "text-embedding") {
    tensor.name = "embedding";
    tensor.datatype = "FP32";
    size_t dimension = 0;
    for (size_t i = 0; i < n; ++i) {
      const auto values = detail::embedding_values(result.outputs[i], i);
      if (i == 0) {
        dimension = values.size();
        tensor.numbers.reserve(n * dimension);
      } else if (values.size() != dimension) {
        throw ServingError(Code::Internal, "embedding " + std::to_string(i) + " has " +
                                               std::to_string(values.size()) + " values, embedding 0 has " +
                                               std::to_string(dimension));
      }
      tensor.numbers.insert(tensor.numbers.end(), values.begin(), values.end());
    }
    tensor.shape = {static_cast<int64_t>(n), static_cast<int64_t>(dimension)};
  } else {
    tensor.name = "output";
    tensor.datatype = "BYTES";
    tensor.shape = {static_cast<int64_t>(n)};
    tensor.bytes.reserve(n);
    for (const auto& o : result.outputs) tensor.bytes.push_back(detail::dump_json(o));
  }
  if (request.outputs.empty()) {
    response.outputs.push_back(std::move(tensor));
    response.binary.push_back(request.binary_data_output);
  } else {
    for (const auto& o : request.outputs) {
      if (o.name != tensor.name) throw InvalidArgument("unknown output '" + o.name + "'");
      response.outputs.push_back(tensor);
      response.binary.push_back(o.binary_data);
    }
  }
  return response;
}

std::pair<std::string, std::optional<size_t>> serialize_v2_response(const V2Response& response) {
  Json header = {{"model_name", response.model_name}, {"model_version", response.model_version}, {"id", response.id}};
  if (!response.parameters.empty()) header["parameters"] = response.parameters;
  Json outputs = Json::array();
  std::string binary;
  bool any_binary = false;
  for (size_t i = 0; i < response.outputs.size(); ++i) {
    const V2Tensor& t = response.outputs[i];
    Json o = {{"name", t.name}, {"datatype", t.datatype}, {"shape", t.shape}};
    Json parameters = t.parameters.is_object() ? t.parameters : Json::object();
    const bool as_binary = i < response.binary.size() && response.binary[i];
    if (as_binary) {
      any_binary = true;
      std::string raw;
      if (t.raw) raw = *t.raw;
      else if (t.datatype == "BYTES") raw = encode_bytes_raw(t.bytes);
      else raw = encode_numbers(t.numbers, t.datatype);
      parameters["binary_data_size"] = raw.size();
      binary += raw;
    } else if (t.datatype == "BYTES") {
      o["data"] = t.bytes;
    } else if (t.raw) {
      throw ServingError(Code::Internal, "output '" + t.name + "': raw contents cannot be sent as JSON");
    } else {
      o["data"] = numbers_json(t.numbers, t.datatype);
    }
    if (!parameters.empty()) o["parameters"] = std::move(parameters);
    outputs.push_back(std::move(o));
  }
  header["outputs"] = std::move(outputs);
  std::string body = detail::dump_json(header);
  if (!any_binary) return {std::move(body), std::nullopt};
  const size_t header_length = body.size();
  body += binary;
  return {std::move(body), header_length};
}

std::string v2_error(const std::string& message) { return detail::dump_json(Json{{"error", message}}); }

}  // namespace optimum::serving
