#include <iostream>

#include "commands.h"
#include "optimum/tasks/registry.h"

namespace optimum::cli {

void add_tasks_command(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand("tasks", "Print the (model_type, task, exporter) table of the export registry");
  cmd->callback([] {
    std::cout << "model_type\ttask\texporter\n";
    for (const auto& [model_type, task, exporter] : tasks::registry_table()) {
      std::cout << model_type << "\t" << task << "\t" << exporter << "\n";
    }
  });
}

}  // namespace optimum::cli
