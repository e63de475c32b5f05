// KServe Open Inference Protocol v2 over gRPC on the callback API: each RPC
// is a ServerUnaryReactor; ModelInfer hands its call to Service::infer and
// returns, and the reactor is finished from the worker that runs the batch
// (or at once on an error or a cancellation), so no gRPC thread waits on a
// model. Tensors go through the same codecs as the v2 REST front end
// (protocol.h); errors through the one status table (status.h).
#include "optimum/serving/grpc_server.h"

#include <google/protobuf/stubs/logging.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/support/proto_buffer_reader.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <climits>
#include <cstdint>
#include <cstring>
#include <iostream>
#include <mutex>
#include <string_view>
#include <utility>

#include "grpc_predict_v2.grpc.pb.h"
#include "optimum/core/errors.h"
#include "optimum/serving/protocol.h"
#include "optimum/serving/service.h"
#include "optimum/serving/status.h"

#ifndef OPTIMUM_CPP_VERSION
#define OPTIMUM_CPP_VERSION "0"
#endif

namespace optimum::serving {
namespace {

namespace pb = ::inference;
using ParameterMap = google::protobuf::Map<std::string, pb::InferParameter>;

grpc::Status status_of(const ErrorStatus& error) {
  return grpc::Status(static_cast<grpc::StatusCode>(error.grpc), error.message);
}

// Token authorization for the RPCs that name a model.
void check_auth(const Service& service, const grpc::CallbackServerContext* context) {
  if (!service.auth().enabled()) return;
  const auto& metadata = context->client_metadata();
  const auto it = metadata.find("authorization");
  std::string_view header;
  if (it != metadata.end()) header = std::string_view(it->second.data(), it->second.size());
  service.auth().check(Api::Inference, header);
}

Json parameter_json(const pb::InferParameter& parameter) {
  switch (parameter.parameter_choice_case()) {
    case pb::InferParameter::kBoolParam: return parameter.bool_param();
    case pb::InferParameter::kInt64Param: return parameter.int64_param();
    case pb::InferParameter::kStringParam: return parameter.string_param();
    case pb::InferParameter::kDoubleParam: return parameter.double_param();
    case pb::InferParameter::kUint64Param: return parameter.uint64_param();
    case pb::InferParameter::PARAMETER_CHOICE_NOT_SET: break;
  }
  return nullptr;
}

Json parameters_json(const ParameterMap& parameters) {
  Json out = Json::object();
  for (const auto& [key, value] : parameters) out[key] = parameter_json(value);
  return out;
}

// Response parameters; the REST binary extension's keys mean nothing here.
void set_parameters(const Json& parameters, ParameterMap& out) {
  if (!parameters.is_object()) return;
  for (const auto& [key, value] : parameters.items()) {
    if (key == "binary_data_size" || key == "binary_data") continue;
    pb::InferParameter& parameter = out[key];
    if (value.is_boolean()) {
      parameter.set_bool_param(value.get<bool>());
    } else if (value.is_number_unsigned()) {
      parameter.set_uint64_param(value.get<uint64_t>());
    } else if (value.is_number_integer()) {
      parameter.set_int64_param(value.get<int64_t>());
    } else if (value.is_number_float()) {
      parameter.set_double_param(value.get<double>());
    } else if (value.is_string()) {
      parameter.set_string_param(value.get<std::string>());
    } else {
      parameter.set_string_param(value.dump());
    }
  }
}

template <class Repeated>
void append_numbers(const Repeated& values, std::vector<double>& out) {
  for (const auto value : values) out.push_back(static_cast<double>(value));
}

// The gRPC request as the v2 request the shared codecs take: raw contents
// (tritonclient's default) or typed contents, never both.
V2Request to_v2_request(const pb::ModelInferRequest& request) {
  V2Request v2;
  v2.id = request.id();
  v2.parameters = parameters_json(request.parameters());
  const bool raw = request.raw_input_contents_size() > 0;
  if (raw && request.raw_input_contents_size() != request.inputs_size()) {
    throw InvalidArgument("raw_input_contents has " + std::to_string(request.raw_input_contents_size()) +
                          " entries but the request has " + std::to_string(request.inputs_size()) + " inputs");
  }
  v2.inputs.reserve(static_cast<size_t>(request.inputs_size()));
  for (int i = 0; i < request.inputs_size(); ++i) {
    const pb::ModelInferRequest::InferInputTensor& input = request.inputs(i);
    V2Tensor tensor;
    tensor.name = input.name();
    tensor.datatype = input.datatype();
    tensor.shape.assign(input.shape().begin(), input.shape().end());
    tensor.parameters = parameters_json(input.parameters());
    const std::string where = "input '" + tensor.name + "'";
    const size_t count = tensor.element_count();
    if (raw) {
      if (input.has_contents()) throw InvalidArgument(where + ": both contents and raw_input_contents are set");
      const std::string& bytes = request.raw_input_contents(i);
      if (tensor.datatype == "BYTES") {
        // Each element takes at least its 4-byte length: refuse a shape the
        // buffer cannot hold before anything is sized from it.
        if (count > bytes.size() / 4) {
          throw InvalidArgument(where + ": shape has " + std::to_string(count) + " elements but raw_input_contents[" +
                                std::to_string(i) + "] has only " + std::to_string(bytes.size()) + " bytes");
        }
        tensor.bytes = decode_bytes_raw(bytes, count, tensor.name);
      } else {
        tensor.raw = bytes;
      }
    } else {
      const pb::InferTensorContents& contents = input.contents();
      size_t given = 0;
      if (tensor.datatype == "BYTES") {
        tensor.bytes.assign(contents.bytes_contents().begin(), contents.bytes_contents().end());
        given = tensor.bytes.size();
      } else {
        append_numbers(contents.bool_contents(), tensor.numbers);
        append_numbers(contents.int_contents(), tensor.numbers);
        append_numbers(contents.int64_contents(), tensor.numbers);
        append_numbers(contents.uint_contents(), tensor.numbers);
        append_numbers(contents.uint64_contents(), tensor.numbers);
        append_numbers(contents.fp32_contents(), tensor.numbers);
        append_numbers(contents.fp64_contents(), tensor.numbers);
        given = tensor.numbers.size() + static_cast<size_t>(contents.bytes_contents_size());
      }
      if (given != count) {
        throw InvalidArgument(where + ": shape has " + std::to_string(count) + " elements but contents has " +
                              std::to_string(given));
      }
    }
    v2.inputs.push_back(std::move(tensor));
  }
  for (const auto& output : request.outputs()) v2.outputs.push_back(V2RequestedOutput{output.name(), false});
  return v2;
}

template <class T>
void put_le(std::string& out, T value) {
  char bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));
  if constexpr (std::endian::native == std::endian::big) std::reverse(bytes, bytes + sizeof(T));
  out.append(bytes, sizeof(T));
}

template <class T>
std::string pack(const std::vector<double>& numbers) {
  std::string out;
  out.reserve(numbers.size() * sizeof(T));
  for (const double value : numbers) put_le<T>(out, static_cast<T>(value));
  return out;
}

// A v2 output's elements in raw form (raw_output_contents).
std::string raw_contents(const V2Tensor& tensor) {
  if (tensor.raw) return *tensor.raw;
  const std::string& type = tensor.datatype;
  if (type == "BYTES") return encode_bytes_raw(tensor.bytes);
  if (type == "FP32") return pack<float>(tensor.numbers);
  if (type == "FP64") return pack<double>(tensor.numbers);
  if (type == "INT64") return pack<int64_t>(tensor.numbers);
  if (type == "INT32") return pack<int32_t>(tensor.numbers);
  if (type == "INT16") return pack<int16_t>(tensor.numbers);
  if (type == "INT8") return pack<int8_t>(tensor.numbers);
  if (type == "UINT64") return pack<uint64_t>(tensor.numbers);
  if (type == "UINT32") return pack<uint32_t>(tensor.numbers);
  if (type == "UINT16") return pack<uint16_t>(tensor.numbers);
  if (type == "UINT8" || type == "BOOL") return pack<uint8_t>(tensor.numbers);
  throw Unsupported("output '" + tensor.name + "': datatype " + type + " has no raw encoding here");
}

void fill_response(const V2Response& v2, pb::ModelInferResponse& response) {
  response.set_model_name(v2.model_name);
  response.set_model_version(v2.model_version);
  response.set_id(v2.id);
  set_parameters(v2.parameters, *response.mutable_parameters());
  for (const V2Tensor& tensor : v2.outputs) {
    pb::ModelInferResponse::InferOutputTensor* output = response.add_outputs();
    output->set_name(tensor.name);
    output->set_datatype(tensor.datatype);
    for (const int64_t dim : tensor.shape) output->add_shape(dim);
    set_parameters(tensor.parameters, *output->mutable_parameters());
    response.add_raw_output_contents(raw_contents(tensor));
  }
}

// The version `version` names, or the default one when it is empty.
const ModelInfo& pick_version(const std::vector<ModelInfo>& infos, const std::string& name,
                              const std::string& version) {
  if (infos.empty()) throw NotFound("model '" + name + "' has no version '" + version + "'");
  if (!version.empty()) {
    for (const ModelInfo& info : infos)
      if (info.version == version) return info;
    throw NotFound("model '" + name + "' has no version '" + version + "'");
  }
  for (const ModelInfo& info : infos)
    if (info.is_default) return info;
  return infos.front();
}

// Requests are parsed here, not by gRPC: its callback API answers a message
// that does not parse with an empty UNIMPLEMENTED, where a malformed request
// deserves INVALID_ARGUMENT.
template <class Message>
void parse(const grpc::ByteBuffer* buffer, Message& message) {
  grpc::ProtoBufferReader reader(const_cast<grpc::ByteBuffer*>(buffer));
  if (!message.ParseFromZeroCopyStream(&reader)) {
    throw InvalidArgument("the " + message.GetTypeName() +
                          " is not a valid protocol buffer message (malformed bytes, or a string field that is not UTF-8)");
  }
}

template <class Message>
void serialize(const Message& message, grpc::ByteBuffer* out) {
  grpc::ByteBuffer buffer;
  bool own = false;
  const grpc::Status status = grpc::SerializationTraits<Message>::Serialize(message, &buffer, &own);
  if (!status.ok()) throw ServingError(Code::Internal, "cannot serialize the " + message.GetTypeName());
  out->Swap(&buffer);
}

// One ModelInfer call. Finished exactly once (by the request path's Done, an
// error, or a cancellation); freed when gRPC is done with it and the
// request path no longer holds it.
class InferReactor : public grpc::ServerUnaryReactor {
 public:
  InferReactor(Service& service, grpc::CallbackServerContext* context, grpc::ByteBuffer* out)
      : service_(service), context_(context), out_(out) {}

  void start(const grpc::ByteBuffer* in) {
    try {
      check_auth(service_, context_);
      parse(in, request_);
      const std::string& name = request_.model_name();
      const std::vector<ModelInfo> infos = service_.describe(name, request_.model_version());
      const ModelInfo& info = pick_version(infos, name, request_.model_version());
      model_ = info.name;
      version_ = info.version;
      task_ = info.task;
      v2_request_ = to_v2_request(request_);
      InferCall call = v2_call(v2_request_, task_);
      request_.Clear();  // the inputs now live in `call`
      refs_.fetch_add(1);
      auto called = std::make_shared<std::atomic<bool>>(false);
      try {
        service_.infer(model_, version_, std::move(call), cancelled_,
                       [this, called](InferResult result, std::exception_ptr error) {
                         if (called->exchange(true)) return;
                         complete(std::move(result), error);
                         release();
                       });
      } catch (...) {
        if (!called->exchange(true)) {
          release();
          throw;
        }
      }
    } catch (...) {
      fail(std::current_exception());
    }
  }

  void OnCancel() override {
    cancelled_->store(true);
    if (claim()) Finish(grpc::Status(grpc::StatusCode::CANCELLED, "the call was cancelled"));
  }

  void OnDone() override { release(); }

 private:
  // The one right to finish the call; after it, gRPC may free `out_`.
  bool claim() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (finished_) return false;
    finished_ = true;
    return true;
  }

  void release() {
    if (refs_.fetch_sub(1) == 1) delete this;
  }

  void fail(std::exception_ptr error) {
    if (!claim()) return;
    const ErrorStatus status = classify(error);
    if (status.retry_after_s > 0) context_->AddTrailingMetadata("retry-after", std::to_string(status.retry_after_s));
    Finish(status_of(status));
  }

  // Runs on the request path's worker.
  void complete(InferResult result, std::exception_ptr error) {
    if (error) return fail(error);
    if (!claim()) return;
    grpc::Status status;
    try {
      pb::ModelInferResponse response;
      fill_response(v2_response(v2_request_, result, model_, version_, task_), response);
      const size_t size = response.ByteSizeLong();
      const size_t limit = service_.config().max_response_size;
      if (size > limit) {
        status = grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                              "response of " + std::to_string(size) + " bytes is over max_response_size (" +
                                  std::to_string(limit) + ")");
      } else {
        serialize(response, out_);
      }
    } catch (...) {
      status = status_of(classify(std::current_exception()));
    }
    Finish(status);
  }

  Service& service_;
  grpc::CallbackServerContext* context_;
  grpc::ByteBuffer* out_;
  pb::ModelInferRequest request_;
  CancelFlag cancelled_ = std::make_shared<std::atomic<bool>>(false);
  std::atomic<int> refs_{1};  // gRPC's (until OnDone) + the request path's (until Done)
  std::mutex mutex_;
  bool finished_ = false;
  V2Request v2_request_;
  std::string model_, version_, task_;
};

// Every method takes and answers raw bytes (see parse()).
using Gen = pb::GRPCInferenceService;
using RawService = Gen::WithRawCallbackMethod_ServerLive<Gen::WithRawCallbackMethod_ServerReady<
    Gen::WithRawCallbackMethod_ModelReady<Gen::WithRawCallbackMethod_ServerMetadata<
        Gen::WithRawCallbackMethod_ModelMetadata<Gen::WithRawCallbackMethod_ModelInfer<Gen::Service>>>>>>;

class InferenceService final : public RawService {
 public:
  // (Inside this class, `Service` names gRPC's generated base.)
  explicit InferenceService(serving::Service& service) : service_(service) {}

  grpc::ServerUnaryReactor* ServerLive(grpc::CallbackServerContext* context, const grpc::ByteBuffer* in,
                                       grpc::ByteBuffer* out) override {
    return unary<pb::ServerLiveRequest, pb::ServerLiveResponse>(
        context, in, out, nullptr, [&](const auto&, auto& response) { response.set_live(service_.live()); });
  }

  grpc::ServerUnaryReactor* ServerReady(grpc::CallbackServerContext* context, const grpc::ByteBuffer* in,
                                        grpc::ByteBuffer* out) override {
    return unary<pb::ServerReadyRequest, pb::ServerReadyResponse>(
        context, in, out, nullptr, [&](const auto&, auto& response) { response.set_ready(service_.ready()); });
  }

  grpc::ServerUnaryReactor* ServerMetadata(grpc::CallbackServerContext* context, const grpc::ByteBuffer* in,
                                           grpc::ByteBuffer* out) override {
    return unary<pb::ServerMetadataRequest, pb::ServerMetadataResponse>(
        context, in, out, nullptr, [&](const auto&, auto& response) {
          response.set_name("optimum-cpp");
          response.set_version(OPTIMUM_CPP_VERSION);
        });
  }

  // An unknown model or version is not ready (no error), as Triton answers.
  grpc::ServerUnaryReactor* ModelReady(grpc::CallbackServerContext* context, const grpc::ByteBuffer* in,
                                       grpc::ByteBuffer* out) override {
    return unary<pb::ModelReadyRequest, pb::ModelReadyResponse>(
        context, in, out, &service_, [&](const pb::ModelReadyRequest& request, pb::ModelReadyResponse& response) {
          bool ready = false;
          try {
            const std::vector<ModelInfo> infos = service_.describe(request.name(), request.version());
            ready = pick_version(infos, request.name(), request.version()).ready;
          } catch (const NotFound&) {
          } catch (const ServingError& error) {
            if (error.code() != Code::NotFound) throw;
          }
          response.set_ready(ready);
        });
  }

  grpc::ServerUnaryReactor* ModelMetadata(grpc::CallbackServerContext* context, const grpc::ByteBuffer* in,
                                          grpc::ByteBuffer* out) override {
    return unary<pb::ModelMetadataRequest, pb::ModelMetadataResponse>(
        context, in, out, &service_, [&](const pb::ModelMetadataRequest& request, pb::ModelMetadataResponse& response) {
          const std::vector<ModelInfo> infos = service_.describe(request.name(), "all");  // every version
          const ModelInfo& info = pick_version(infos, request.name(), request.version());
          response.set_name(info.name);
          for (const ModelInfo& each : infos) response.add_versions(each.version);
          response.set_platform("optimum-cpp");
          const auto add = [](const TensorSpec& spec, pb::ModelMetadataResponse::TensorMetadata* tensor) {
            tensor->set_name(spec.name);
            tensor->set_datatype(spec.datatype);
            for (const int64_t dim : spec.shape) tensor->add_shape(dim);
          };
          for (const TensorSpec& spec : info.signature.inputs) add(spec, response.add_inputs());
          for (const TensorSpec& spec : info.signature.outputs) add(spec, response.add_outputs());
        });
  }

  grpc::ServerUnaryReactor* ModelInfer(grpc::CallbackServerContext* context, const grpc::ByteBuffer* in,
                                       grpc::ByteBuffer* out) override {
    auto* reactor = new InferReactor(service_, context, out);
    reactor->start(in);
    return reactor;
  }

 private:
  // A call answered on the gRPC thread (nothing here waits on a model);
  // `authorized_by`: the service whose inference key it needs, or none.
  template <class Request, class Response, class Fn>
  static grpc::ServerUnaryReactor* unary(grpc::CallbackServerContext* context, const grpc::ByteBuffer* in,
                                         grpc::ByteBuffer* out, const serving::Service* authorized_by, Fn&& fn) {
    grpc::Status status;
    try {
      if (authorized_by) check_auth(*authorized_by, context);
      Request request;
      parse(in, request);
      Response response;
      fn(request, response);
      serialize(response, out);
    } catch (...) {
      status = status_of(classify(std::current_exception()));
    }
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(status);
    return reactor;
  }

  serving::Service& service_;
};

// A client's invalid UTF-8 is answered INVALID_ARGUMENT; protobuf would also
// log it on every such request, letting any client flood stderr.
void protobuf_log(google::protobuf::LogLevel level, const char* file, int line, const std::string& message) {
  if (message.find("invalid UTF-8") != std::string::npos) return;
  static const char* const names[] = {"INFO", "WARNING", "ERROR", "FATAL"};
  const int index = std::clamp(static_cast<int>(level), 0, 3);
  std::cerr << "[libprotobuf " << names[index] << " " << file << ":" << line << "] " << message << "\n";
}

int message_limit(size_t bytes) { return bytes > static_cast<size_t>(INT_MAX) ? INT_MAX : static_cast<int>(bytes); }

}  // namespace

struct GrpcServer::Impl {
  explicit Impl(Service& service) : handler(service) {}
  InferenceService handler;
  std::unique_ptr<grpc::Server> server;
  int port = 0;
  std::once_flag shutdown_once;
};

GrpcServer::GrpcServer(Service& service, const std::string& host, int port) : impl_(std::make_unique<Impl>(service)) {
  if (port < 0 || port > 65535) throw InvalidArgument("grpc_inference_port " + std::to_string(port) + " is out of range");
  if (host.empty()) throw InvalidArgument("grpc_inference_address is empty");
  const bool ipv6 = host.find(':') != std::string::npos && host.front() != '[';
  const std::string address = (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
  grpc::ServerBuilder builder;
  // gRPC sets SO_REUSEPORT by default: two servers would share a port silently.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.SetMaxReceiveMessageSize(message_limit(service.config().max_request_size));
  // One byte over max_response_size is answered RESOURCE_EXHAUSTED by the
  // reactor with a message; this is the transport's own backstop.
  const size_t max_response = service.config().max_response_size;
  builder.SetMaxSendMessageSize(message_limit(max_response > SIZE_MAX - 1024 ? SIZE_MAX : max_response + 1024));
  builder.AddListeningPort(address, grpc::InsecureServerCredentials(), &impl_->port);
  builder.RegisterService(&impl_->handler);
  static std::once_flag log_once;
  std::call_once(log_once, [] { google::protobuf::SetLogHandler(&protobuf_log); });
  impl_->server = builder.BuildAndStart();
  if (!impl_->server || impl_->port == 0) {
    impl_->server.reset();
    throw IoError("gRPC: cannot listen on " + address + " (grpc_inference_address / grpc_inference_port)");
  }
}

GrpcServer::~GrpcServer() { shutdown(); }

int GrpcServer::port() const { return impl_->port; }

void GrpcServer::shutdown(int grace_ms) {
  std::call_once(impl_->shutdown_once, [&] {
    if (!impl_->server) return;
    impl_->server->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(grace_ms));
    impl_->server->Wait();
  });
}

}  // namespace optimum::serving
