// The error table: every exception type to its HTTP and gRPC status.
#include <gtest/gtest.h>

#include <new>
#include <stdexcept>

#include "optimum/serving/status.h"

namespace optimum::serving {
namespace {

template <class E>
ErrorStatus of(E e) {
  return classify(std::make_exception_ptr(e));
}

TEST(Status, ProjectErrorsMapToClientStatuses) {
  auto s = of(InvalidArgument("input 'text': bad"));
  EXPECT_EQ(s.http, 400);
  EXPECT_EQ(s.grpc, GrpcCode::InvalidArgument);
  EXPECT_EQ(s.type, "InvalidArgument");
  EXPECT_EQ(s.message, "input 'text': bad");
  s = of(FormatError("body: malformed"));
  EXPECT_EQ(s.http, 400);
  EXPECT_EQ(s.type, "FormatError");
  s = of(NotFound("model 'm'"));
  EXPECT_EQ(s.http, 404);
  EXPECT_EQ(s.grpc, GrpcCode::NotFound);
  EXPECT_EQ(s.message, "model 'm'");
  s = of(Unsupported("fp8"));
  EXPECT_EQ(s.http, 400);
  EXPECT_EQ(s.type, "Unsupported");
}

TEST(Status, ServingErrorsCarryTheirCodeAndRetryAfter) {
  auto s = of(ServingError(Code::TooManyRequests, "queue of 'm' is full", 2));
  EXPECT_EQ(s.http, 429);
  EXPECT_EQ(s.grpc, GrpcCode::ResourceExhausted);
  EXPECT_EQ(s.retry_after_s, 2);
  EXPECT_EQ(s.message, "queue of 'm' is full");
  EXPECT_EQ(s.type, "TooManyRequests");
  s = of(ServingError(Code::Unauthorized, "Token Authorization failed"));
  EXPECT_EQ(s.http, 401);
  EXPECT_EQ(s.grpc, GrpcCode::Unauthenticated);
  EXPECT_EQ(s.retry_after_s, 0);
  s = of(ServingError(Code::GatewayTimeout, "timeout"));
  EXPECT_EQ(s.http, 504);
  EXPECT_EQ(s.grpc, GrpcCode::DeadlineExceeded);
  s = of(ServingError(Code::PayloadTooLarge, "body"));
  EXPECT_EQ(s.http, 413);
}

TEST(Status, InternalErrorsAreNotEchoed) {
  for (const auto& e : {std::make_exception_ptr(IoError("/secret/path: permission denied")),
                        std::make_exception_ptr(std::runtime_error("/secret/path")),
                        std::make_exception_ptr(std::bad_alloc()), std::make_exception_ptr(42),
                        std::make_exception_ptr(ServingError(Code::Internal, "/secret/path"))}) {
    const auto s = classify(e);
    EXPECT_EQ(s.http, 500);
    EXPECT_EQ(s.grpc, GrpcCode::Internal);
    EXPECT_EQ(s.message, "internal error");
  }
  EXPECT_EQ(classify(nullptr).http, 500);
}

TEST(Status, EveryCodeHasAGrpcCodeAndAReasonPhrase) {
  for (Code c : {Code::BadRequest, Code::Unauthorized, Code::Forbidden, Code::NotFound, Code::MethodNotAllowed,
                 Code::RequestTimeout, Code::Conflict, Code::PayloadTooLarge, Code::UnsupportedMediaType,
                 Code::TooManyRequests, Code::ClientClosedRequest, Code::Internal, Code::NotImplemented,
                 Code::Unavailable, Code::GatewayTimeout, Code::InsufficientStorage}) {
    EXPECT_STRNE(reason_phrase(static_cast<int>(c)), "Unknown") << static_cast<int>(c);
    EXPECT_NE(grpc_code(c), GrpcCode::Ok);
  }
  EXPECT_STREQ(reason_phrase(200), "OK");
  EXPECT_STREQ(reason_phrase(429), "Too Many Requests");
  EXPECT_STREQ(reason_phrase(599), "Unknown");
  EXPECT_EQ(grpc_code(Code::Unavailable), GrpcCode::Unavailable);
  EXPECT_EQ(grpc_code(Code::NotFound), GrpcCode::NotFound);
  EXPECT_EQ(grpc_code(Code::Forbidden), GrpcCode::PermissionDenied);
}

}  // namespace
}  // namespace optimum::serving
