#include <iostream>
#include <memory>

#include "optimum/io/json.h"  // nlohmann::json with the project's JSON_DIAGNOSTICS setup

#include "commands.h"
#include "optimum/config/config.h"
#include "optimum/models/registry.h"

namespace optimum::cli {

void add_info_command(CLI::App& app) {
  auto model = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand("info", "Print a model folder's configuration and supported tasks as JSON");
  cmd->add_option("--model", *model, "Model folder (config.json)")->required();
  cmd->callback([model] {
    const config::EncoderConfig c = config::load_config(*model);
    const models::Family& f = models::find_family(c.model_type);
    nlohmann::json out;
    out["model_type"] = c.model_type;
    out["architectures"] = c.architectures;
    out["hidden_size"] = c.hidden_size;
    out["num_hidden_layers"] = c.num_hidden_layers;
    out["num_attention_heads"] = c.num_attention_heads;
    out["vocab_size"] = c.vocab_size;
    out["num_labels"] = c.num_labels;
    std::vector<std::string> tasks;
    for (tasks::Task t : f.tasks) tasks.push_back(tasks::task_name(t));
    out["tasks"] = tasks;
    std::cout << out.dump(2) << "\n";
  });
}

}  // namespace optimum::cli
