// How one served model runs: TorchServe's model-config.yaml keys (and the
// management API's registration parameters) as a typed struct.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>

#include "optimum/io/json.h"

namespace optimum::serving {

struct ModelConfig {
  int min_workers = 1;
  int max_workers = 1;
  int batch_size = 1;                // inputs per forward (dynamic batching when > 1)
  int max_batch_delay_ms = 100;      // how long a batch waits to fill
  int response_timeout_s = 120;      // a request not answered by then gets 504
  size_t max_batch_tokens = 0;       // padded tokens per forward (rows x longest); 0: batch_size x 512
  int threads_per_worker = 0;        // compute threads of each worker; 0: cores / max_workers (at least 1)
  int job_queue_size = 1000;         // queued inputs beyond which requests get 429
  // Text generation (continuous batching): sequences decoded together (KV
  // cache slots; 0: batchSize when above 1, else 8) and positions per slot
  // (prompt + new tokens; 0: min(2048, the model's max_position_embeddings)).
  // The KV cache of slots x positions is allocated once when the model loads.
  int max_num_sequence = 0;
  int max_sequence_length = 0;
  io::Json handler = io::Json::object();  // the `handler:` section: task call defaults (top_k, ...)

  // Reads model-config.yaml: minWorkers, maxWorkers, batchSize,
  // maxBatchDelay, responseTimeout, maxNumSequence, maxSequenceLength, plus
  // optimum-cpp's maxBatchTokens, threadsPerWorker, jobQueueSize, and the
  // `handler` section. Unknown
  // top-level keys are warned about (TorchServe's other keys such as
  // deviceType are accepted with a warning); wrong types and out-of-range
  // values are FormatError naming the file and key.
  static ModelConfig from_yaml_file(const std::filesystem::path& file);
  static ModelConfig from_yaml_text(const std::string& text, const std::string& source);
  // Checks ranges (workers >= 0, min <= max, batch_size >= 1, ...);
  // InvalidArgument naming the field.
  void validate(const std::string& source) const;
};

}  // namespace optimum::serving
