// config.properties, listen addresses and token authorization.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "optimum/io/json.h"
#include "optimum/serving/server_config.h"
#include "optimum/serving/status.h"
#include "test_util.h"

namespace optimum::serving {
namespace {

using test_util::throws_with;

TEST(ServerConfig, TorchServeKeys) {
  const std::string text =
      "# TorchServe config\n"
      "! another comment\n"
      "inference_address=http://0.0.0.0:9080\n"
      "management_address : http://127.0.0.1:9081\n"
      "metrics_address http://127.0.0.1:9082\n"
      "grpc_inference_port=0\n"
      "model_store = /models/store  \n"
      "load_models=a=a.mar, b.mar,\\\n"
      "    c.mar\n"
      "default_workers_per_model=2\r\n"
      "job_queue_size=10\n"
      "max_request_size=100\n"
      "max_response_size=200\n"
      "allowed_urls=file://.*,http(s)?://huggingface\\\\.co/.*\n"
      "disable_token_authorization=true\n"
      "enable_model_api=TRUE\n"
      "number_of_netty_threads=4\n"
      "default_response_timeout=30\n"
      "key_file=/tmp/k.json\n"
      "max_connections=100\n"
      "vmargs=-Xmx4g\n";
  const auto c = ServerConfig::from_properties_text(text, "config.properties");
  EXPECT_EQ(c.inference_address, "http://0.0.0.0:9080");
  EXPECT_EQ(c.management_address, "http://127.0.0.1:9081");
  EXPECT_EQ(c.metrics_address, "http://127.0.0.1:9082");
  EXPECT_EQ(c.grpc_inference_port, 0);
  EXPECT_EQ(c.model_store, "/models/store");
  EXPECT_EQ(c.load_models, (std::vector<std::string>{"a=a.mar", "b.mar", "c.mar"}));
  EXPECT_EQ(c.default_workers_per_model, 2);
  EXPECT_EQ(c.job_queue_size, 10u);
  EXPECT_EQ(c.max_request_size, 100u);
  EXPECT_EQ(c.max_response_size, 200u);
  EXPECT_EQ(c.allowed_urls, (std::vector<std::string>{"file://.*", "http(s)?://huggingface\\.co/.*"}));
  EXPECT_TRUE(c.disable_token_authorization);
  EXPECT_TRUE(c.enable_model_api);
  EXPECT_EQ(c.number_of_netty_threads, 4);
  EXPECT_EQ(c.default_response_timeout, 30);
  EXPECT_EQ(c.key_file, "/tmp/k.json");
  EXPECT_EQ(c.max_connections, 100u);

  const auto d = ServerConfig::from_properties_text("", "empty");
  EXPECT_EQ(d.inference_address, "http://127.0.0.1:8080");
  EXPECT_FALSE(d.disable_token_authorization);
  EXPECT_EQ(ServerConfig::from_properties_text("model_store=a\\u00e9\\tb", "x").model_store, "a\xc3\xa9\tb");
}

TEST(ServerConfig, BadValuesNameFileLineAndKey) {
  auto bad = [](const std::string& text, std::vector<std::string> needles) {
    return throws_with<FormatError>([&] { ServerConfig::from_properties_text(text, "cfg.properties"); }, needles);
  };
  EXPECT_TRUE(bad("\n\njob_queue_size=ten\n", {"cfg.properties:3", "job_queue_size", "'ten'"}));
  EXPECT_TRUE(bad("job_queue_size=0", {"job_queue_size"}));
  EXPECT_TRUE(bad("grpc_inference_port=70000", {"grpc_inference_port"}));
  EXPECT_TRUE(bad("grpc_inference_port=-2", {"grpc_inference_port"}));
  EXPECT_EQ(ServerConfig::from_properties_text("grpc_inference_port=-1", "c").grpc_inference_port, -1);
  EXPECT_TRUE(bad("default_workers_per_model=-1", {"default_workers_per_model"}));
  EXPECT_TRUE(bad("max_request_size=99999999999999999999999", {"max_request_size"}));
  EXPECT_TRUE(bad("disable_token_authorization=yes", {"disable_token_authorization", "true or false"}));
  EXPECT_TRUE(bad("inference_address=localhost", {"cfg.properties:1", "inference_address", "host:port"}));
  EXPECT_TRUE(bad("allowed_urls=file://(.*", {"allowed_urls", "invalid regular expression"}));
  EXPECT_TRUE(bad("allowed_urls=" + std::string(40, '(') + std::string(40, ')'), {"allowed_urls", "nests"}));
  EXPECT_TRUE(bad("model_store=", {"model_store", "empty"}));
  EXPECT_TRUE(bad("model_store=\\u12", {"\\uXXXX"}));
  EXPECT_TRUE(throws_with<Unsupported>(
      [] { ServerConfig::from_properties_text("inference_address=https://0.0.0.0:8443", "c"); },
      {"c:1", "https", "TLS"}));
}

TEST(ServerConfig, File) {
  test_util::TempDir dir;
  test_util::write_bytes(dir / "config.properties", "management_address=http://127.0.0.1:0\n");
  EXPECT_EQ(ServerConfig::from_properties_file(dir / "config.properties").management_address, "http://127.0.0.1:0");
  EXPECT_THROW(ServerConfig::from_properties_file(dir / "missing.properties"), NotFound);
}

TEST(ListenAddress, Forms) {
  auto a = ListenAddress::parse("http://127.0.0.1:8080", "inference_address");
  EXPECT_EQ(a.host, "127.0.0.1");
  EXPECT_EQ(a.port, 8080);
  a = ListenAddress::parse("0.0.0.0:8081", "k");
  EXPECT_EQ(a.host, "0.0.0.0");
  EXPECT_EQ(a.port, 8081);
  a = ListenAddress::parse("http://[::1]:0/", "k");
  EXPECT_EQ(a.host, "::1");
  EXPECT_EQ(a.port, 0);
  a = ListenAddress::parse("localhost:1", "k");
  EXPECT_EQ(a.host, "localhost");
  EXPECT_TRUE(throws_with<Unsupported>([] { ListenAddress::parse("https://0.0.0.0:443", "inference_address"); },
                                       {"inference_address", "https", "TLS"}));
  for (const char* bad : {"", "http://", "127.0.0.1", "127.0.0.1:", ":8080", "127.0.0.1:65536", "127.0.0.1:8x",
                          "::1:80", "[::1]80", "a b:80", "http://h:80/path", "127.0.0.1:-1"}) {
    EXPECT_TRUE(throws_with<InvalidArgument>([&] { ListenAddress::parse(bad, "metrics_address"); },
                                             {"metrics_address"}))
        << bad;
  }
}

TEST(Auth, KeyFileAndChecks) {
  test_util::TempDir dir;
  const auto path = dir / "key_file.json";
  Auth auth(true, path);
  EXPECT_TRUE(auth.enabled());
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  const auto j = io::read_json(path);
  const std::string management = j.at("management").at("key");
  const std::string inference = j.at("inference").at("key");
  EXPECT_TRUE(j.at("management").contains("expiration time"));
  EXPECT_TRUE(j.at("inference").contains("expiration time"));
  EXPECT_GE(j.at("API").at("key").get<std::string>().size(), 8u);
  EXPECT_EQ(management, auth.key(Api::Management));
  EXPECT_EQ(inference, auth.key(Api::Inference));
  EXPECT_GE(management.size(), 8u);
  EXPECT_NE(management, inference);
  for (char c : management + inference) {
    EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') << c;
  }
  auth.check(Api::Management, "Bearer " + management);
  auth.check(Api::Inference, "Bearer " + inference);
  auth.check(Api::Inference, "bearer " + inference);
  auto refused = [&](Api api, const std::string& header, std::vector<std::string> needles) {
    try {
      auth.check(api, header);
    } catch (const ServingError& e) {
      if (e.code() != Code::Unauthorized) return ::testing::AssertionFailure() << "code " << int(e.code());
    }
    return throws_with<ServingError>([&] { auth.check(api, header); }, needles);
  };
  EXPECT_TRUE(refused(Api::Management, "", {"Token Authorization failed for the management API"}));
  EXPECT_TRUE(refused(Api::Inference, "Bearer " + management, {"inference API", "wrong key"}));
  EXPECT_TRUE(refused(Api::Management, "Bearer " + inference, {"management API"}));
  EXPECT_TRUE(refused(Api::Management, management, {"Bearer"}));
  EXPECT_TRUE(refused(Api::Management, "Bearer " + management.substr(1), {"wrong key"}));
  EXPECT_TRUE(refused(Api::Management, "Bearer " + management + "x", {"wrong key"}));
  EXPECT_TRUE(refused(Api::Management, "Bearer ", {"management API"}));
  // A second server start writes new keys.
  Auth again(true, path);
  EXPECT_NE(again.key(Api::Management), management);
  EXPECT_EQ(io::read_json(path).at("management").at("key"), again.key(Api::Management));
}

TEST(Auth, Disabled) {
  test_util::TempDir dir;
  Auth auth(false, dir / "key_file.json");
  EXPECT_FALSE(auth.enabled());
  auth.check(Api::Management, "");
  auth.check(Api::Inference, "Bearer nonsense");
  EXPECT_FALSE(std::filesystem::exists(dir / "key_file.json"));
}

}  // namespace
}  // namespace optimum::serving
