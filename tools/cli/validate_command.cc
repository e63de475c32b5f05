// Validation of an export against transformers (and ONNX Runtime for model.onnx):
// the bundled Python module optimum_cpp.validate runs in a child interpreter
// (OPTIMUM_CPP_PYTHON, else python3), which records the result in the folder's
// optimum_export.json. `export --validate transformers|auto` and `validate` use it.
#include "validate_python.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "cli_support.h"
#include "commands.h"
#include "optimum/core/progress.h"
#include "optimum/exporters/export.h"
#include "optimum/io/json.h"

extern char** environ;

namespace optimum::cli {

namespace fs = std::filesystem;

namespace {

constexpr int kExitFailed = 1, kExitUnavailable = 3;
constexpr size_t kMaxStderr = 64 * 1024;  // the child's message; the rest is dropped

// The folder to put on PYTHONPATH so that `optimum_cpp` is this build's package:
// <exe>/../python (a build tree) or <exe>/../.. (the wheel: optimum_cpp/bin/optimum-cpp).
std::string package_root() {
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return "";
  const fs::path dir = exe.parent_path();
  if (fs::is_regular_file(dir / ".." / "python" / "optimum_cpp" / "validate.py", ec)) {
    return fs::weakly_canonical(dir / ".." / "python", ec).string();
  }
  if (fs::is_regular_file(dir / ".." / "validate.py", ec)) return fs::weakly_canonical(dir / ".." / "..", ec).string();
  return "";
}

// Notes in the record that transformers was not used (auto mode without a usable interpreter).
void record_skipped(const fs::path& dir, const std::string& why) {
  const fs::path record = dir / "optimum_export.json";
  io::Json meta = fs::exists(record) ? io::read_json(record) : io::Json::object();
  io::Json& v = meta["validation"];
  if (!v.is_object()) v = io::Json::object();
  v["transformers"] = {{"skipped", why}, {"passed", nullptr}};
  if (!v.contains("references")) v["references"] = v.contains("reference") ? io::Json::array({"engine"}) : io::Json::array();
  io::write_json(record, meta);
}

}  // namespace

PythonValidationResult run_python_validation(const PythonValidation& v) {
  const char* env_python = std::getenv("OPTIMUM_CPP_PYTHON");
  const std::string python = env_python && *env_python ? env_python : "python3";
  std::vector<std::string> args = {python, "-m", "optimum_cpp.validate", "--model", v.model, "--reference", v.reference};
  if (!v.task.empty()) args.insert(args.end(), {"--task", v.task});
  if (v.atol >= 0) args.insert(args.end(), {"--atol", std::to_string(v.atol)});
  if (!v.revision.empty()) args.insert(args.end(), {"--revision", v.revision});
  if (!v.subfolder.empty()) args.insert(args.end(), {"--subfolder", v.subfolder});
  args.push_back(v.export_dir.string());

  // Environment: PYTHONPATH led by this build's package.
  std::vector<std::string> env;
  const std::string root = package_root();
  for (char** e = environ; *e; ++e) {
    if (!root.empty() && std::strncmp(*e, "PYTHONPATH=", 11) == 0) continue;
    env.emplace_back(*e);
  }
  if (!root.empty()) {
    const char* old = std::getenv("PYTHONPATH");
    env.push_back("PYTHONPATH=" + root + (old && *old ? ":" + std::string(old) : ""));
  }
  std::vector<char*> argv, envp;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);

  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) throw IoError(std::string("validate: pipe: ") + std::strerror(errno));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipefd[1], STDERR_FILENO);
  // Its summary line is the record's; the caller prints its own from the record.
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  const int rc = ::posix_spawnp(&pid, python.c_str(), &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipefd[1]);
  PythonValidationResult result;
  const std::string how = "`" + python + " -m optimum_cpp.validate`";
  if (rc != 0) {
    ::close(pipefd[0]);
    const std::string why = "cannot run " + how + ": " + python + ": " + std::strerror(rc) +
                            " (set OPTIMUM_CPP_PYTHON to a Python with torch and transformers)";
    if (v.reference == "transformers") throw Unsupported("--validate transformers: " + why);
    record_skipped(v.export_dir, why);
    result.skipped = why;
    return result;
  }
  std::string err;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(pipefd[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (err.size() < kMaxStderr) err.append(buf, static_cast<size_t>(n));
  }
  ::close(pipefd[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  while (!err.empty() && (err.back() == '\n' || err.back() == ' ')) err.pop_back();
  const std::string last = err.substr(err.rfind('\n') == std::string::npos ? 0 : err.rfind('\n') + 1);
  std::string message = last.rfind("error: ", 0) == 0 ? last.substr(7) : err;
  if (code == 0) {
    const io::Json meta = io::read_json(v.export_dir / "optimum_export.json");
    const io::Json& t = meta["validation"]["transformers"];
    if (t.contains("skipped")) result.skipped = t["skipped"].get<std::string>();
    else {
      result.reference = t["reference"].get<std::string>();
      result.runtime = t["runtime"].get<std::string>();
      result.max_abs_diff = t["max_abs_diff"].get<double>();
      result.atol = t["atol"].get<double>();
      result.cases = t["cases"].size();
    }
    return result;
  }
  if (err.find("No module named optimum_cpp") != std::string::npos ||
      err.find("No module named 'optimum_cpp") != std::string::npos) {
    message = python + " cannot import optimum_cpp (" + last + "); install the optimum-cpp wheel into it or set " +
              "OPTIMUM_CPP_PYTHON";
    if (v.reference != "transformers") {
      record_skipped(v.export_dir, message);
      result.skipped = message;
      return result;
    }
    throw Unsupported("--validate transformers: " + message);
  }
  if (code == kExitFailed) throw exporters::ValidationError(message);
  if (code == kExitUnavailable) throw Unsupported("--validate transformers: " + message);
  throw Error("validation against transformers (" + how + ") exited with status " + std::to_string(code) + ": " +
              message);
}

std::string describe(const PythonValidationResult& r) {
  if (!r.skipped.empty()) return "not validated against transformers: " + r.skipped;
  std::ostringstream s;
  s << "validated against " << r.reference << " (" << r.runtime << "): max abs diff " << r.max_abs_diff
    << " <= atol " << r.atol << " on " << r.cases << " cases";
  return s.str();
}

void add_validate_command(CLI::App& app) {
  auto v = std::make_shared<PythonValidation>();
  CLI::App* cmd = app.add_subcommand(
      "validate",
      "Validate an export folder against transformers running its source checkpoint (Optimum's grid: batch 1,3,5 "
      "x sequence 8,33,96,154 with random right padding; model.onnx runs in onnxruntime); the result goes into "
      "the folder's optimum_export.json. Runs `python3 -m optimum_cpp.validate` (OPTIMUM_CPP_PYTHON: another "
      "interpreter), which needs torch and transformers");
  cmd->add_option("--model,-m", v->model, "Source checkpoint: local folder or Hub id")->required();
  cmd->add_option("--task", v->task, "Task (default: the export record's)");
  cmd->add_option("--atol", v->atol, "Tolerance (default: the registry's ATOL for the model type)");
  cmd->add_option("--reference", v->reference,
                  "transformers (fail when torch/transformers are missing) or auto (then record why not)")
      ->check(CLI::IsMember({"transformers", "auto"}))
      ->capture_default_str();
  cmd->add_option("--revision", v->revision, "Revision of a Hub source");
  cmd->add_option("--subfolder", v->subfolder, "Subfolder of the source repository");
  cmd->add_option("export_dir", v->export_dir, "Exported folder")->required()->check(CLI::ExistingDirectory);
  cmd->callback([v] {
    PythonValidationResult r;
    {
      ProgressStep step("validation", "against transformers: " + v->export_dir.string());
      r = run_python_validation(*v);
    }
    inform(describe(r));
  });
}

}  // namespace optimum::cli
