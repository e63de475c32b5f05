// optimum-cpp: command-line front end of the library.
#include <iostream>

#include "commands.h"
#include "optimum/core/errors.h"
#include "optimum/models/architecture.h"

int main(int argc, char** argv) {
  optimum::models::register_architectures();  // the config, task and supported lists derive from it
  CLI::App app{"optimum-cpp: export, run and serve Hugging Face models in C++"};
  app.set_version_flag("--version", std::string("optimum-cpp ") + "0.1.0");
  app.require_subcommand(1);
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
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const optimum::Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
