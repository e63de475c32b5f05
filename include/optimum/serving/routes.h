// The REST front ends over one Service: the inference listener (TorchServe
// /ping and /predictions, /api-description, KServe v2 and v1, OpenAI
// /v1/embeddings and /v1/models), the management listener (TorchServe's
// management API) and the metrics listener (Prometheus text).
#pragma once

#include <memory>

#include "optimum/serving/http.h"
#include "optimum/serving/service.h"

namespace optimum::serving {

class Routes {
 public:
  explicit Routes(Service& service);
  ~Routes();
  HttpHandler inference();
  HttpHandler management();
  HttpHandler metrics();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace optimum::serving
