// The one error table: every front end answers a failure through classify().
#include "optimum/serving/status.h"

#include <cstdio>
#include <new>

namespace optimum::serving {
namespace {

const char* code_name(Code code) {
  switch (code) {
    case Code::BadRequest: return "BadRequest";
    case Code::Unauthorized: return "Unauthorized";
    case Code::Forbidden: return "Forbidden";
    case Code::NotFound: return "NotFound";
    case Code::MethodNotAllowed: return "MethodNotAllowed";
    case Code::RequestTimeout: return "RequestTimeout";
    case Code::Conflict: return "Conflict";
    case Code::PayloadTooLarge: return "PayloadTooLarge";
    case Code::UnsupportedMediaType: return "UnsupportedMediaType";
    case Code::TooManyRequests: return "TooManyRequests";
    case Code::ClientClosedRequest: return "ClientClosedRequest";
    case Code::Internal: return "InternalServerError";
    case Code::NotImplemented: return "NotImplemented";
    case Code::Unavailable: return "ServiceUnavailable";
    case Code::GatewayTimeout: return "GatewayTimeout";
    case Code::InsufficientStorage: return "InsufficientStorage";
  }
  return "InternalServerError";
}

ErrorStatus internal(const char* what) {
  // The detail may hold paths or library internals: logged, never sent.
  std::fprintf(stderr, "optimum-cpp serve: internal error: %s\n", what);
  return ErrorStatus{500, GrpcCode::Internal, "InternalServerError", "internal error", 0};
}

ErrorStatus client(int http, GrpcCode grpc, const char* type, const char* what) {
  return ErrorStatus{http, grpc, type, what, 0};
}

}  // namespace

ErrorStatus classify(std::exception_ptr error) {
  if (!error) return internal("classify() called without an exception");
  try {
    std::rethrow_exception(error);
  } catch (const ServingError& e) {
    if (e.code() == Code::Internal) return internal(e.what());
    ErrorStatus s{static_cast<int>(e.code()), grpc_code(e.code()), code_name(e.code()), e.what(),
                  e.retry_after_s() > 0 ? e.retry_after_s() : 0};
    return s;
  } catch (const InvalidArgument& e) {
    return client(400, GrpcCode::InvalidArgument, "InvalidArgument", e.what());
  } catch (const FormatError& e) {
    return client(400, GrpcCode::InvalidArgument, "FormatError", e.what());
  } catch (const NotFound& e) {
    return client(404, GrpcCode::NotFound, "NotFound", e.what());
  } catch (const Unsupported& e) {
    return client(400, GrpcCode::InvalidArgument, "Unsupported", e.what());
  } catch (const IoError& e) {
    return internal(e.what());
  } catch (const std::bad_alloc&) {
    return internal("out of memory (std::bad_alloc)");
  } catch (const std::exception& e) {
    return internal(e.what());
  } catch (...) {
    return internal("an exception that is not a std::exception");
  }
}

GrpcCode grpc_code(Code code) {
  switch (code) {
    case Code::BadRequest: return GrpcCode::InvalidArgument;
    case Code::Unauthorized: return GrpcCode::Unauthenticated;
    case Code::Forbidden: return GrpcCode::PermissionDenied;
    case Code::NotFound: return GrpcCode::NotFound;
    case Code::MethodNotAllowed: return GrpcCode::Unimplemented;
    case Code::RequestTimeout: return GrpcCode::DeadlineExceeded;
    case Code::Conflict: return GrpcCode::AlreadyExists;
    case Code::PayloadTooLarge: return GrpcCode::ResourceExhausted;
    case Code::UnsupportedMediaType: return GrpcCode::InvalidArgument;
    case Code::TooManyRequests: return GrpcCode::ResourceExhausted;
    case Code::ClientClosedRequest: return GrpcCode::Cancelled;
    case Code::Internal: return GrpcCode::Internal;
    case Code::NotImplemented: return GrpcCode::Unimplemented;
    case Code::Unavailable: return GrpcCode::Unavailable;
    case Code::GatewayTimeout: return GrpcCode::DeadlineExceeded;
    case Code::InsufficientStorage: return GrpcCode::ResourceExhausted;
  }
  return GrpcCode::Internal;
}

const char* reason_phrase(int http_status) {
  switch (http_status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Entity";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 499: return "Client Closed Request";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    case 507: return "Insufficient Storage";
    default: return "Unknown";
  }
}

}  // namespace optimum::serving
