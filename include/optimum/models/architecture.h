// The architecture registry: one Architecture entry per model_type, encoders
// and decoders alike, holding everything the build knows about it: its
// config spec (key names and defaults), the shared blocks it runs
// (BlockOptions), its tasks and export description, and its loader. The
// config layer's spec table, the task registry (export configs, `tasks`
// queries) and every supported list derive from these entries, so a new
// architecture is one file that builds its entry and one line in
// register_architectures() (src/models/architecture.cc).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "optimum/config/config.h"
#include "optimum/models/blocks.h"
#include "optimum/models/decoder.h"
#include "optimum/models/registry.h"
#include "optimum/models/seq2seq.h"
#include "optimum/tasks/registry.h"

namespace optimum::models {

struct Architecture {
  std::string model_type;
  BlockOptions blocks;
  // How config.json spells and defaults the config fields (model_type filled
  // by the registry). Encoders: the EncoderConfig key names and defaults.
  // Decoders: the key table (`keys`, `rope`) from which the registry derives
  // decoder->parse_config (read_decoder_config, models/decoder_spec.h).
  config::ConfigSpec config;
  // Tasks and export inputs (model_type and is_decoder filled by the
  // registry; an encoder's tasks are its loader's heads).
  tasks::ArchitectureTasks exports;
  // The loader: exactly one is set.
  std::optional<Family> encoder;
  std::optional<DecoderFamily> decoder;
  std::optional<Seq2SeqFamily> seq2seq;  // encoder-decoders (models/seq2seq.h)

  bool is_decoder() const { return decoder.has_value(); }
  bool is_seq2seq() const { return seq2seq.has_value(); }
};

// Registers every architecture, here and in the config and task layers
// (std::call_once; later calls return at once). Entry points (from_pretrained,
// the exporters, the CLI, the Python module) call it; so must code that uses
// the config or task registries directly.
void register_architectures();
// Every entry, in registration order.
const std::vector<Architecture>& architectures();
// The entry of `model_type`, or null.
const Architecture* find_architecture(const std::string& model_type);
// The entry of `model_type`; Unsupported lists the supported model types.
const Architecture& architecture(const std::string& model_type);
// Every registered model_type (encoders and decoders), sorted.
std::vector<std::string> supported_model_types();
// Canonical task names an entry serves (export tasks without -with-past).
std::vector<std::string> architecture_tasks(const Architecture& arch);

// The entry of a causal decoder: `loader` (its model_type names the entry;
// its hooks only), the blocks it runs, its config spec (the key table), and
// Optimum's export details: position_ids among the text-generation /
// feature-extraction inputs, and whether Optimum exports text-classification
// for it.
Architecture decoder_architecture(DecoderFamily loader, BlockOptions blocks, config::ConfigSpec spec,
                                  bool position_ids, bool text_classification);

// The entry of an encoder-decoder: `loader` (its model_type names the
// entry) and the blocks it runs; its task is text2text-generation (with
// Optimum's -with-past variant).
Architecture seq2seq_architecture(Seq2SeqFamily loader, BlockOptions blocks);

// Entries, one function per architecture file.
std::vector<Architecture> bert_architectures();  // bert.cc: bert, roberta, xlm-roberta, camembert, electra
Architecture distilbert_architecture();          // distilbert.cc
Architecture albert_architecture();              // albert.cc
Architecture mpnet_architecture();               // mpnet.cc
Architecture vit_architecture();                 // vit.cc
Architecture llama_architecture();               // llama.cc
Architecture mistral_architecture();             // llama.cc
Architecture qwen2_architecture();               // llama.cc
Architecture qwen3_architecture();               // llama.cc
Architecture gpt2_architecture();                // gpt2.cc
Architecture phi3_architecture();                // phi3.cc
Architecture gemma_architecture();               // gemma.cc
Architecture gemma3_text_architecture();         // gemma.cc
Architecture t5_architecture();                  // t5.cc
Architecture bart_architecture();                // bart.cc
Architecture mbart_architecture();               // bart.cc
Architecture marian_architecture();              // bart.cc

}  // namespace optimum::models
