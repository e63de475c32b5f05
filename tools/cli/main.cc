// optimum-cpp: command-line front end of the library.
#include <iostream>

#include "cli_support.h"
#include "commands.h"
#include "optimum/core/errors.h"
#include "optimum/core/version.h"
#include "optimum/models/architecture.h"

int main(int argc, char** argv) {
  optimum::models::register_architectures();  // the config, task and supported lists derive from it
  CLI::App app{"optimum-cpp: export, run and serve Hugging Face models in C++"};
  app.set_version_flag("--version", std::string("optimum-cpp ") + optimum::version());
  app.require_subcommand(1);
  optimum::cli::add_verbosity_flags(app);
  optimum::cli::add_forward_command(app);
  optimum::cli::add_info_command(app);
  optimum::cli::add_export_command(app);
  optimum::cli::add_generate_command(app);
  optimum::cli::add_push_command(app);
  optimum::cli::add_tasks_command(app);
  optimum::cli::add_run_command(app);
  optimum::cli::add_similarity_command(app);
  optimum::cli::add_embed_command(app);
  optimum::cli::add_serve_command(app);
  optimum::cli::add_archive_command(app);
  optimum::cli::add_prepare_command(app);
  optimum::cli::add_cache_command(app);
  optimum::cli::add_image_command(app);
  optimum::cli::one_value_per_option(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ExtrasError& e) {
    const std::string message = optimum::cli::unknown_options_message(app);
    if (message.empty()) return app.exit(e);
    std::cerr << message << "\n";
    return e.get_exit_code();
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const optimum::Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
