// The KServe Open Inference Protocol v2 gRPC front end
// (inference.GRPCInferenceService: ServerLive, ServerReady, ModelReady,
// ServerMetadata, ModelMetadata, ModelInfer) over the server's one request
// path (service.h). Triton's extra RPCs answer UNIMPLEMENTED. RPCs that name
// a model (ModelReady, ModelMetadata, ModelInfer) need the inference key in
// the "authorization" metadata ("Bearer <key>") unless token authorization is
// off; server health and metadata do not (Kubernetes probes).
//
// The header carries no gRPC include: the generated code stays inside
// optimum_serving_grpc.
#pragma once

#include <memory>
#include <string>

namespace optimum::serving {

class Service;

class GrpcServer {
 public:
  // Binds host:port (0: an ephemeral port; IPv6 hosts without brackets are
  // accepted) and starts serving on gRPC's callback threads; message size
  // limits are the service's max_request_size / max_response_size.
  // IoError naming the address when it cannot bind. `service` must outlive
  // the server.
  GrpcServer(Service& service, const std::string& host, int port);
  // Shuts down (shutdown()).
  ~GrpcServer();
  GrpcServer(const GrpcServer&) = delete;
  GrpcServer& operator=(const GrpcServer&) = delete;

  // The bound port (the chosen one when constructed with 0).
  int port() const;
  // Stops accepting calls; calls still in flight after `grace_ms` are
  // cancelled (their clients get CANCELLED). Returns when every call has
  // finished. Idempotent, thread-safe.
  void shutdown(int grace_ms = 2000);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace optimum::serving
