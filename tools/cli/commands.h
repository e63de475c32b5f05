// Subcommands of the optimum-cpp CLI; each file adds one to the app.
#pragma once

#include <CLI/CLI.hpp>

namespace optimum::cli {

// `forward`: run a model folder on token ids and print its outputs as JSON.
void add_forward_command(CLI::App& app);
// `info`: print a model folder's configuration, tasks and inputs.
void add_info_command(CLI::App& app);
// `generate`: text generation with a causal LM (folder, Hub id or GGUF file).
void add_generate_command(CLI::App& app);
// `export`: export a checkpoint to the native format, with validation.
void add_export_command(CLI::App& app);
// `push`: upload an exported folder to a Hub repository.
void add_push_command(CLI::App& app);
// `tasks`: print the export registry.
void add_tasks_command(CLI::App& app);
// `run`: a task pipeline over texts or JSON lines, JSON lines out.
void add_run_command(CLI::App& app);
// `similarity`: embed sentences with a sentence-transformers model, print their similarity matrix.
void add_similarity_command(CLI::App& app);
// `embed`: embed sentences with a sentence-transformers model, one JSON line each.
void add_embed_command(CLI::App& app);
// `serve`: the HTTP/gRPC model server (TorchServe, KServe v2/v1, OpenAI routes).
void add_serve_command(CLI::App& app);

// `archive`: package an exported folder as a model archive (torch-model-archiver's flags), or check one.
void add_archive_command(CLI::App& app);
// `preprocess-image`: decode images and run a folder's image processor on them.
void add_image_command(CLI::App& app);
// `cache list|clean`: the export cache.
void add_cache_command(CLI::App& app);
// `prepare`: TorchServe's setup_config.json to a saved model and its archive.
void add_prepare_command(CLI::App& app);

}  // namespace optimum::cli
