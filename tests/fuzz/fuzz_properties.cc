// Fuzz target: config.properties (Java-properties syntax, TorchServe's keys),
// and its addresses through ListenAddress::parse.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_util.h"
#include "optimum/serving/server_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  using namespace optimum::serving;
  optimum::fuzz::accept_or_refuse([&] {
    const ServerConfig config = ServerConfig::from_properties_text(text, "config.properties");
    for (const auto& m : config.load_models) optimum::fuzz::touch(m.data(), m.size());
    for (const auto* a : {&config.inference_address, &config.management_address, &config.metrics_address}) {
      const ListenAddress address = ListenAddress::parse(*a, "address");
      optimum::fuzz::touch(address.host.data(), address.host.size());
    }
  });
  optimum::fuzz::accept_or_refuse([&] { ListenAddress::parse(text, "address"); });
  return 0;
}
