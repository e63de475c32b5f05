#include <iostream>
#include <filesystem>
#include <memory>

#include "optimum/io/json.h"  // nlohmann::json with the project's JSON_DIAGNOSTICS setup

#include "commands.h"
#include "optimum/config/config.h"
#include "optimum/models/architecture.h"

namespace optimum::cli {

void add_info_command(CLI::App& app) {
  auto model = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand("info", "Print a model folder's configuration and supported tasks as JSON");
  cmd->add_option("--model", *model, "Model folder (config.json)")->required();
  cmd->callback([model] {
    const std::filesystem::path dir(*model);
    const std::filesystem::path file = std::filesystem::is_directory(dir) ? dir / "config.json" : dir;
    const io::Json raw = io::read_json(file);
    nlohmann::json out;
    const std::string model_type =
        raw.is_object() && raw.contains("model_type") && raw["model_type"].is_string() ? raw["model_type"].get<std::string>()
                                                                                      : std::string();
    const models::Architecture* arch = models::find_architecture(model_type);
    if (arch != nullptr && arch->is_decoder()) {
      const models::DecoderConfig c = arch->decoder->parse_config(raw, file.string());
      out["model_type"] = model_type;
      out["architectures"] = raw.value("architectures", nlohmann::json::array());
      out["hidden_size"] = c.hidden_size;
      out["num_hidden_layers"] = c.n_layers;
      out["num_attention_heads"] = c.n_heads;
      out["num_key_value_heads"] = c.n_heads_kv;
      out["vocab_size"] = c.vocab_size;
    } else {
      const config::EncoderConfig c = config::parse_config(raw, file.string());
      out["model_type"] = c.model_type;
      out["architectures"] = c.architectures;
      out["hidden_size"] = c.hidden_size;
      out["num_hidden_layers"] = c.num_hidden_layers;
      out["num_attention_heads"] = c.num_attention_heads;
      out["vocab_size"] = c.vocab_size;
      out["num_labels"] = c.num_labels;
      arch = &models::architecture(c.model_type);
    }
    out["blocks"] = models::describe(arch->blocks);
    out["tasks"] = models::architecture_tasks(*arch);
    std::cout << out.dump(2) << "\n";
  });
}

}  // namespace optimum::cli
