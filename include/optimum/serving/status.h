// The one table that maps what went wrong to a status: every protocol
// (TorchServe REST, KServe v2 REST and gRPC, KServe v1, OpenAI) answers an
// error through classify(), so the same failure gets the same HTTP and gRPC
// status everywhere.
#pragma once

#include <exception>
#include <string>

#include "optimum/core/errors.h"

namespace optimum::serving {

// Failures that only the server raises; each carries its HTTP status.
enum class Code {
  BadRequest = 400,
  Unauthorized = 401,
  Forbidden = 403,
  NotFound = 404,
  MethodNotAllowed = 405,
  RequestTimeout = 408,
  Conflict = 409,
  PayloadTooLarge = 413,
  UnsupportedMediaType = 415,
  TooManyRequests = 429,
  ClientClosedRequest = 499,
  Internal = 500,
  NotImplemented = 501,
  Unavailable = 503,
  GatewayTimeout = 504,
  InsufficientStorage = 507,
};

class ServingError : public Error {
 public:
  ServingError(Code code, const std::string& message, int retry_after_s = 0)
      : Error(message), code_(code), retry_after_s_(retry_after_s) {}
  Code code() const { return code_; }
  int retry_after_s() const { return retry_after_s_; }  // > 0: sent as Retry-After

 private:
  Code code_;
  int retry_after_s_;
};

// gRPC status codes (grpc::StatusCode values), so lower layers need no gRPC header.
enum class GrpcCode {
  Ok = 0,
  Cancelled = 1,
  Unknown = 2,
  InvalidArgument = 3,
  DeadlineExceeded = 4,
  NotFound = 5,
  AlreadyExists = 6,
  PermissionDenied = 7,
  ResourceExhausted = 8,
  FailedPrecondition = 9,
  Unimplemented = 12,
  Internal = 13,
  Unavailable = 14,
  Unauthenticated = 16,
};

struct ErrorStatus {
  int http = 500;
  GrpcCode grpc = GrpcCode::Internal;
  std::string type;     // "InvalidArgument", "NotFound", ... (TorchServe's "type" field)
  std::string message;  // safe to send: internal errors are not echoed
  int retry_after_s = 0;
};

// The table: ServingError -> its code; InvalidArgument, FormatError -> 400;
// NotFound -> 404; Unsupported -> 400; IoError and anything else -> 500
// ("internal error", the details logged, not sent).
ErrorStatus classify(std::exception_ptr error);
GrpcCode grpc_code(Code code);
// "Bad Request", "Too Many Requests", ... for a status line.
const char* reason_phrase(int http_status);

}  // namespace optimum::serving
