// TorchServe /predictions body conventions and multipart/form-data.
#include "optimum/core/errors.h"
#include "optimum/serving/protocol.h"
#include "optimum/serving/status.h"
#include "protocol_util.h"

namespace optimum::serving {
namespace {

using detail::lower;
using detail::trim;

// Largest header block of one multipart part (Content-Disposition, Content-Type).
constexpr size_t kMaxPartHeaderBytes = 16 * 1024;

void check_count(size_t count, size_t max, const char* what) {
  if (count > max) {
    throw InvalidArgument(std::string(what) + ": " + std::to_string(count) + " inputs, more than the limit of " +
                          std::to_string(max));
  }
}

// Text of a part or a body: UTF-8, named in the error.
Json text_input(std::string_view data, const std::string& field) {
  detail::require_utf8(data, field);
  return Json(std::string(data));
}

void add_inputs(InferCall& call, const Json& value, size_t max_inputs, const char* what) {
  if (value.is_array()) {
    check_count(value.size(), max_inputs, what);
    if (value.empty()) throw InvalidArgument(std::string(what) + ": empty list, no inputs");
    call.batched = true;
    call.inputs.reserve(value.size());
    for (const auto& v : value) call.inputs.push_back(v);
  } else if (value.is_null()) {
    throw InvalidArgument(std::string(what) + ": null, no inputs");
  } else {
    call.inputs.push_back(value);
  }
}

}  // namespace

std::vector<FormPart> parse_multipart(std::string_view content_type, std::string_view body, size_t max_parts) {
  const auto boundary_value = detail::header_parameter(content_type, "boundary");
  if (!boundary_value || boundary_value->empty()) {
    throw InvalidArgument("multipart/form-data: no boundary parameter in Content-Type '" +
                          std::string(content_type.substr(0, 200)) + "'");
  }
  if (boundary_value->size() > 70) {
    throw InvalidArgument("multipart/form-data: boundary longer than 70 characters (RFC 2046)");
  }
  const std::string delimiter = "--" + *boundary_value;
  const std::string next_delimiter = "\r\n" + delimiter;

  // The first delimiter starts the body or a line of it (a preamble is allowed).
  size_t pos = 0;
  if (body.substr(0, delimiter.size()) != delimiter) {
    pos = body.find(next_delimiter);
    if (pos == std::string_view::npos) {
      throw InvalidArgument("multipart/form-data: the body has no boundary '" + *boundary_value + "'");
    }
    pos += 2;
  }
  std::vector<FormPart> parts;
  for (;;) {
    pos += delimiter.size();
    if (body.substr(pos, 2) == "--") break;  // close delimiter; the epilogue is ignored
    while (pos < body.size() && (body[pos] == ' ' || body[pos] == '\t')) ++pos;
    if (body.substr(pos, 2) != "\r\n") {
      throw InvalidArgument("multipart/form-data: no CRLF after the boundary at byte " + std::to_string(pos));
    }
    pos += 2;
    if (parts.size() == max_parts) {
      throw InvalidArgument("multipart/form-data: more than " + std::to_string(max_parts) + " parts");
    }
    const std::string where = "multipart/form-data part " + std::to_string(parts.size());
    FormPart part;
    // Headers up to an empty line.
    const size_t headers_end = body.find("\r\n\r\n", pos);
    const bool no_headers = body.substr(pos, 2) == "\r\n";
    if (!no_headers && headers_end == std::string_view::npos) {
      throw InvalidArgument(where + ": unterminated headers");
    }
    const size_t content_start = no_headers ? pos + 2 : headers_end + 4;
    if (!no_headers) {
      if (headers_end - pos > kMaxPartHeaderBytes) {
        throw InvalidArgument(where + ": headers longer than " + std::to_string(kMaxPartHeaderBytes) + " bytes");
      }
      std::string_view headers = body.substr(pos, headers_end - pos);
      while (!headers.empty()) {
        const size_t eol = headers.find("\r\n");
        const std::string_view line = headers.substr(0, eol);
        headers = eol == std::string_view::npos ? std::string_view() : headers.substr(eol + 2);
        const size_t colon = line.find(':');
        if (colon == std::string_view::npos) {
          throw InvalidArgument(where + ": header line without ':'");
        }
        const std::string name = lower(trim(line.substr(0, colon)));
        const std::string_view value = trim(line.substr(colon + 1));
        detail::require_utf8(value, where + " header " + name);
        if (name == "content-disposition") {
          part.name = detail::header_parameter(value, "name").value_or("");
          part.filename = detail::header_parameter(value, "filename").value_or("");
        } else if (name == "content-type") {
          part.content_type = std::string(value);
        }
      }
    }
    const size_t content_end = body.find(next_delimiter, content_start);
    if (content_end == std::string_view::npos) {
      throw InvalidArgument(where + ": unterminated (no closing boundary '" + *boundary_value + "')");
    }
    part.data = std::string(body.substr(content_start, content_end - content_start));
    parts.push_back(std::move(part));
    pos = content_end + 2;
  }
  if (parts.empty()) throw InvalidArgument("multipart/form-data: no parts");
  return parts;
}

InferCall torchserve_call(std::string_view content_type, std::string_view body, size_t max_inputs, bool images) {
  const std::string type = detail::media_type(content_type);
  InferCall call;
  if (type == "multipart/form-data") {
    const auto parts = parse_multipart(content_type, body, max_inputs);
    call.batched = parts.size() > 1;
    call.inputs.reserve(parts.size());
    for (size_t i = 0; i < parts.size(); ++i) {
      const auto& p = parts[i];
      const std::string field = "multipart part " + std::to_string(i) + (p.name.empty() ? "" : " ('" + p.name + "')");
      if (detail::media_type(p.content_type) == "application/json") {
        call.inputs.push_back(detail::parse_body_json(p.data, field));
      } else if (images) {
        if (p.data.empty()) throw InvalidArgument(field + ": empty, no image");
        call.inputs.push_back(Json::binary(Json::binary_t::container_type(p.data.begin(), p.data.end())));
      } else {
        call.inputs.push_back(text_input(p.data, field));
      }
    }
    return call;
  }
  const bool json = type == "application/json" || (type.size() > 5 && type.ends_with("+json"));
  if (images && !json) {
    if (body.empty()) throw InvalidArgument("request body is empty (expected an encoded image)");
    call.inputs.push_back(Json::binary(Json::binary_t::container_type(body.begin(), body.end())));
    return call;
  }
  if (trim(body).empty()) throw InvalidArgument("request body is empty");
  if (json) {
    const Json value = detail::parse_body_json(body, "request body (application/json)");
    if (value.is_object()) {
      for (const char* key : {"inputs", "data", "body"}) {
        if (auto it = value.find(key); it != value.end()) {
          const std::string what = std::string("request body: \"") + key + "\"";
          add_inputs(call, *it, max_inputs, what.c_str());
          if (auto p = value.find("parameters"); p != value.end()) {
            if (!p->is_object()) throw InvalidArgument("request body: \"parameters\" must be an object");
            call.options = *p;
          }
          return call;
        }
      }
    }
    add_inputs(call, value, max_inputs, "request body");
    return call;
  }
  call.inputs.push_back(text_input(body, "request body"));
  return call;
}

std::string torchserve_response(const InferCall& call, const InferResult& result) {
  if (result.outputs.size() != call.inputs.size()) {
    throw ServingError(Code::Internal, "torchserve_response: " + std::to_string(result.outputs.size()) + " results for " +
                           std::to_string(call.inputs.size()) + " inputs");
  }
  if (!call.batched && result.outputs.size() == 1) return detail::dump_json(result.outputs[0]);
  return detail::dump_json(Json(result.outputs));
}

}  // namespace optimum::serving
