// Fuzz target: the Hub's answers on the upload side (optimum/hub/lfs_protocol.h):
// the input is read as a preupload reply and as an LFS batch reply, and each
// upload action found is turned into a multipart plan and header lines.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_util.h"
#include "optimum/hub/lfs_protocol.h"

namespace {

constexpr const char* kEndpoint = "http://127.0.0.1:8080";
// Two objects the seeds answer for (sha256 of "a" and of "b").
constexpr const char* kOidA = "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb";
constexpr const char* kOidB = "3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  using namespace optimum::hub::lfs;
  optimum::fuzz::accept_or_refuse([&] {
    for (const auto& [path, mode] : parse_preupload_reply(text, {"config.json", "model.safetensors"})) {
      optimum::fuzz::touch(path.data(), path.size());
    }
  });
  optimum::fuzz::accept_or_refuse([&] {
    const auto objects = parse_batch_reply(text, {{kOidA, 300'000}, {kOidB, 1}}, kEndpoint);
    for (const auto& [oid, object] : objects) {
      for (const auto* action : {&object.upload, &object.verify}) {
        if (!*action) continue;
        optimum::fuzz::touch((*action)->href.data(), (*action)->href.size());
        optimum::fuzz::accept_or_refuse([&] {
          for (const std::string& line : action_headers(**action))
            optimum::fuzz::touch(line.data(), line.size());
        });
        for (const uint64_t bytes : {uint64_t{1}, uint64_t{300'000}, uint64_t{1} << 40, ~uint64_t{0}}) {
          optimum::fuzz::accept_or_refuse([&] {
            const auto plan = multipart_plan(**action, bytes, kEndpoint);
            if (plan) {
              for (const std::string& url : plan->part_urls) optimum::fuzz::touch(url.data(), url.size());
            }
          });
        }
      }
    }
  });
  return 0;
}
