#include "cli_support.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "optimum/core/errors.h"
#include "optimum/core/progress.h"

namespace optimum::cli {

namespace {

bool quiet_flag = false;
bool verbose_flag = false;

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

// Every option spelling of `app` and of the apps whose options it falls through to.
std::vector<std::string> option_names(const CLI::App* app) {
  std::vector<std::string> names;
  for (; app != nullptr; app = app->get_parent()) {
    for (const CLI::Option* o : app->get_options()) {
      for (const std::string& n : o->get_lnames()) names.push_back("--" + n);
      for (const std::string& n : o->get_snames()) names.push_back("-" + n);
    }
  }
  return names;
}

// The deepest parsed subcommand.
const CLI::App* parsed_command(const CLI::App& app) {
  const CLI::App* at = &app;
  for (bool deeper = true; deeper;) {
    deeper = false;
    for (const CLI::App* sub : at->get_subcommands()) {
      at = sub;
      deeper = true;
      break;
    }
  }
  return at;
}

}  // namespace

void add_verbosity_flags(CLI::App& app) {
  app.fallthrough();  // the flags are accepted after the subcommand and its arguments too
  app.add_flag("-q,--quiet", quiet_flag, "Print nothing but results and errors (no progress, no notes)");
  app.add_flag("--verbose", verbose_flag, "Also print how long each step took");
  app.parse_complete_callback([] {
    if (quiet_flag && verbose_flag) throw CLI::ValidationError("--quiet and --verbose exclude each other");
    if (quiet_flag) {  // a sink that drops everything: no progress, no notes
      set_progress_sink([](const ProgressEvent&) {});
      return;
    }
    TerminalProgressOptions o;
    o.tty = ::isatty(STDERR_FILENO) != 0;
    o.verbose = verbose_flag;
    set_progress_sink(terminal_progress_sink(o));
  });
}

Verbosity verbosity() {
  return quiet_flag ? Verbosity::Quiet : verbose_flag ? Verbosity::Verbose : Verbosity::Normal;
}

void inform(const std::string& text) {
  if (quiet_flag) return;
  if (progress_sink_installed()) {
    progress_note(text);  // keeps a progress bar drawn on a terminal intact
  } else {
    std::cerr << text << "\n";
  }
}

void report_error(const std::string& text) {
  if (!quiet_flag && progress_sink_installed()) {
    progress_note(text);
  } else {
    std::cerr << text << "\n";
  }
}

bool looks_like_local_path(const std::string& id) {
  if (id == "." || id == ".." || id == "~") return true;
  if (id.starts_with("./") || id.starts_with("../") || id.starts_with("/") || id.starts_with("~/")) return true;
  if (id.find('\\') != std::string::npos) return true;
  return std::count(id.begin(), id.end(), '/') > 1;
}

std::string check_local_path(const std::string& id, const std::string& option) {
  if (!looks_like_local_path(id)) return id;
  std::string path = id;
  if (path == "~" || path.starts_with("~/")) {
    const char* home = std::getenv("HOME");
    if (home != nullptr) path = std::string(home) + path.substr(1);
  }
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    const std::filesystem::path parent = std::filesystem::path(path).parent_path();
    std::string hint;
    if (!parent.empty() && std::filesystem::is_directory(parent, ec)) {
      // The closest name in the parent folder: the usual typo.
      const std::string name = std::filesystem::path(path).filename().string();
      std::string best;
      size_t best_d = name.size() / 2 + 1;
      for (const auto& entry : std::filesystem::directory_iterator(parent, ec)) {
        const std::string candidate = entry.path().filename().string();
        const size_t d = edit_distance(name, candidate);
        if (d < best_d) {
          best_d = d;
          best = candidate;
        }
      }
      if (!best.empty()) hint = "; did you mean '" + (parent / best).string() + "'?";
    }
    throw NotFound(option + ": no such folder or file '" + id +
                   "' (it is a local path, so the Hub is not asked; a Hub id looks like 'org/name')" + hint);
  }
  return path;
}

void one_value_per_option(CLI::App& app) {
  const std::vector<CLI::Option*> options = app.get_options();
  // Only where positional arguments could be swallowed: `serve --models a=x b=y` keeps TorchServe's form.
  const bool positionals = std::any_of(options.begin(), options.end(), [](const CLI::Option* o) {
    return o->get_positional() && o->get_lnames().empty() && o->get_snames().empty();
  });
  for (CLI::Option* o : options) {
    if (positionals && !o->get_positional() && o->get_items_expected_max() > 1) o->allow_extra_args(false);
  }
  for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) one_value_per_option(*sub);
}

std::string unknown_options_message(const CLI::App& app) {
  const CLI::App* cmd = parsed_command(app);
  std::vector<std::string> extras = app.remaining(true);
  const std::string where = cmd == &app ? "optimum-cpp" : "optimum-cpp " + cmd->get_name();
  const std::vector<std::string> names = option_names(cmd);
  std::string message;
  for (const std::string& arg : extras) {
    if (arg.size() < 2 || arg[0] != '-' || std::isdigit(static_cast<unsigned char>(arg[1])) != 0) continue;
    const std::string name = arg.substr(0, arg.find('='));
    std::string best;
    size_t best_d = std::max<size_t>(3, name.size() / 3) + 1;
    for (const std::string& n : names) {
      const size_t d = edit_distance(name, n);
      if (d < best_d) {
        best_d = d;
        best = n;
      }
    }
    if (!message.empty()) message += "\n";
    message += "error: unknown option '" + name + "' for '" + where + "'" +
               (best.empty() ? "" : "; did you mean '" + best + "'?") + " (see '" + where + " --help')";
  }
  return message;
}

}  // namespace optimum::cli
