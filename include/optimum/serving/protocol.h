// Wire formats of the server's protocols, as pure functions from request
// bodies to an InferCall and from results to response bodies: TorchServe's
// /predictions body conventions (text, JSON, multipart/form-data), the KServe
// Open Inference Protocol v2 (JSON and the binary-tensor extension; the gRPC
// front end shares its tensor codecs), KServe v1 (:predict) and OpenAI's
// /v1/embeddings. Every parser takes untrusted bytes: malformed input is an
// InvalidArgument (HTTP 400 / gRPC INVALID_ARGUMENT) naming the field, size
// and count limits are checked before anything is allocated.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "optimum/io/json.h"

namespace optimum::serving {

using io::Json;

// An inference call, whatever protocol it came in: one pipeline input per
// element of `inputs` (a string, or an object such as {"text","text_pair"} /
// {"question","context"}) and the call options (top_k, ...).
struct InferCall {
  std::vector<Json> inputs;
  Json options = Json::object();
  bool batched = false;  // the body held a list: answer a list, even of one result
};

// What the request path answers: one result per input (the pipeline's
// result for that input) and the tokens each input used.
struct InferResult {
  std::vector<Json> outputs;
  std::vector<size_t> tokens;
};

// One tensor of a model's signature; -1 in `shape` is a variable dimension.
struct TensorSpec {
  std::string name;
  std::string datatype;  // "BYTES", "FP32", ...
  std::vector<int64_t> shape;
};

// Inputs and outputs a served task shows in v2 metadata:
//   inputs:  "text" BYTES [-1] (question-answering: "question" and "context";
//            text-classification also accepts an optional "text_pair")
//   outputs: text-embedding: "embedding" FP32 [-1, dimension];
//            every other task: "output" BYTES [-1], one JSON text per input
//            (the pipeline's result).
struct Signature {
  std::vector<TensorSpec> inputs;
  std::vector<TensorSpec> outputs;
};
Signature task_signature(const std::string& task, int64_t embedding_dimension = 0);

// Tasks whose inputs are encoded images (JPEG, PNG or WebP bytes), not text:
// image-classification and image-feature-extraction. Their v2 input is
// "image" BYTES [-1], one encoded image per element.
bool task_takes_images(const std::string& task);
// What an image task takes from a client, whatever the protocol: bytes
// (a binary JSON value) stay; a string is the image in base64 (TorchServe's
// vision handlers, KServe v1), as is {"b64": ...}; anything else is an
// InvalidArgument naming the input. A string is never a file path: a client
// cannot make the server read its files.
void image_inputs(InferCall& call, const std::string& task);

// ---------------- TorchServe /predictions ----------------
// text/plain or a body without a JSON/multipart content type: one input, the
// body as UTF-8 text. application/json: a string or an object is one input;
// an array is one input per element; an object with "inputs" (or "data" /
// "body", TorchServe's keys) holds the input(s), with optional "parameters"
// as call options. multipart/form-data: one input per part, its text (or
// its JSON value when the part is application/json). Empty body, invalid
// UTF-8 or JSON: InvalidArgument naming the problem.
// With `images` (a task_takes_images model): a body that is not JSON nor
// multipart is one encoded image (image/png, image/jpeg,
// application/octet-stream, ...), a multipart part that is not JSON is one
// image (its bytes), and JSON strings are base64 images (image_inputs).
InferCall torchserve_call(std::string_view content_type, std::string_view body, size_t max_inputs = 1024,
                          bool images = false);
// One input: its result alone; several: the list (TorchServe returns one
// response per request).
std::string torchserve_response(const InferCall& call, const InferResult& result);

// ---------------- multipart/form-data ----------------
struct FormPart {
  std::string name;
  std::string filename;
  std::string content_type;
  std::string data;
};
// Splits a body by the boundary of `content_type` (RFC 7578); at most
// `max_parts` parts.
std::vector<FormPart> parse_multipart(std::string_view content_type, std::string_view body, size_t max_parts = 1024);

// ---------------- KServe Open Inference Protocol v2 ----------------
struct V2Tensor {
  std::string name;
  std::string datatype;  // BOOL, UINT8..UINT64, INT8..INT64, FP16, FP32, FP64, BYTES
  std::vector<int64_t> shape;
  Json parameters = Json::object();
  // Contents, one of: BYTES elements; numeric elements (row-major) from JSON;
  // raw little-endian bytes (the binary extension, gRPC raw_*_contents).
  std::vector<std::string> bytes;
  std::vector<double> numbers;
  std::optional<std::string> raw;
  // Element count from the shape; InvalidArgument on a negative dimension or overflow.
  size_t element_count() const;
};

struct V2RequestedOutput {
  std::string name;
  bool binary_data = false;
};

struct V2Request {
  std::string id;
  Json parameters = Json::object();
  std::vector<V2Tensor> inputs;
  std::vector<V2RequestedOutput> outputs;  // empty: all outputs
  bool binary_data_output = false;         // parameters.binary_data_output
};

struct V2Response {
  std::string model_name;
  std::string model_version;
  std::string id;
  Json parameters = Json::object();
  std::vector<V2Tensor> outputs;
  std::vector<bool> binary;  // per output: send as binary (REST binary extension)
};

// REST body: JSON, or (with the Inference-Header-Content-Length header) a
// JSON header followed by the binary tensors in input order.
V2Request parse_v2_request(std::string_view body, std::optional<size_t> json_header_length);
// The request as a call: the BYTES input(s) of the signature, shape [N] or
// [N, 1], one UTF-8 text each; "parameters" become call options.
// InvalidArgument names a missing input, a wrong datatype or shape, or
// elements that are not UTF-8.
InferCall v2_call(const V2Request& request, const std::string& task);
V2Response v2_response(const V2Request& request, const InferResult& result, const std::string& model,
                       const std::string& version, const std::string& task);
// Body and, when some output is binary, the JSON header's length (the
// Inference-Header-Content-Length response header).
std::pair<std::string, std::optional<size_t>> serialize_v2_response(const V2Response& response);
// v2 error body: {"error": message}.
std::string v2_error(const std::string& message);

// BYTES tensors in raw form: each element a 4-byte little-endian length then
// its bytes. decode checks every length against the buffer and the count.
std::vector<std::string> decode_bytes_raw(std::string_view raw, size_t expected_count, const std::string& tensor);
std::string encode_bytes_raw(const std::vector<std::string>& elements);

// ---------------- KServe v1 ----------------
// {"instances": [...]} (each instance one input) -> call; {"predictions": [...]}.
InferCall v1_call(std::string_view body, size_t max_inputs = 1024);
std::string v1_response(const InferResult& result);

// ---------------- OpenAI /v1/embeddings ----------------
struct EmbeddingsCall {
  InferCall call;
  std::string model;
  bool base64 = false;                   // encoding_format "base64" (float32 little-endian)
  std::optional<int64_t> dimensions;     // must equal the model's, when given
};
// {"input": string | [string], "model": ..., "encoding_format": "float" | "base64",
//  "dimensions": n, "user": ...}; token-id inputs are refused (InvalidArgument).
EmbeddingsCall openai_embeddings_call(std::string_view body, size_t max_inputs = 2048);
// {"object": "list", "data": [{"object": "embedding", "index", "embedding"}],
//  "model", "usage": {"prompt_tokens", "total_tokens"}}
std::string openai_embeddings_response(const EmbeddingsCall& call, const InferResult& result);
// OpenAI error body: {"error": {"message", "type", "param": null, "code"}}.
std::string openai_error(const std::string& message, const std::string& type, int http_status);

}  // namespace optimum::serving
