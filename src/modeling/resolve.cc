#include <iostream>

#include "optimum/core/errors.h"
#include "optimum/modeling/modeling.h"

namespace optimum::modeling {

namespace fs = std::filesystem;

ResolvedModel resolve(const std::string& model_id, const ResolveOptions& options) {
  std::error_code ec;
  if (fs::is_directory(model_id, ec)) {
    ResolvedModel r;
    r.folder = options.subfolder.empty() ? fs::path(model_id) : fs::path(model_id) / options.subfolder;
    if (!fs::is_directory(r.folder, ec)) {
      throw NotFound("subfolder '" + options.subfolder + "' not found in " + model_id);
    }
    // config.json falls back to the top level, as Optimum does.
    r.config_dir = fs::exists(r.folder / "config.json", ec) ? r.folder : fs::path(model_id);
    return r;
  }
  throw NotFound("model '" + model_id + "' is not a local folder, and Hub downloads are not wired in yet");
}

}  // namespace optimum::modeling
