// Validation against transformers through the bundled Python module
// (python -m optimum_cpp.validate), shared by `export --validate` and `validate`.
#pragma once

#include <filesystem>
#include <sstream>
#include <string>

namespace optimum::cli {

struct PythonValidation {
  std::string model;                  // source checkpoint: local folder or Hub id
  std::filesystem::path export_dir;   // the exported folder (its optimum_export.json is updated)
  std::string task;                   // empty: the export record's
  double atol = -1;                   // < 0: the registry's
  std::string reference = "transformers";  // transformers (missing packages fail) or auto (recorded, passes)
  std::string revision;
  std::string subfolder;
};

struct PythonValidationResult {
  std::string skipped;  // non-empty: transformers was not used (auto), and why
  std::string reference, runtime;
  double max_abs_diff = 0, atol = 0;
  size_t cases = 0;
};

// Runs the validation; exporters::ValidationError names the output and the
// difference, Unsupported says what is missing (python, torch, transformers).
PythonValidationResult run_python_validation(const PythonValidation& v);

// One line for the user.
std::string describe(const PythonValidationResult& r);

}  // namespace optimum::cli
