// Server metrics in the Prometheus text format (prometheus-cpp is not in
// Debian 12; the format is simple): TorchServe's metric names where they
// exist (ts_inference_requests_total, ts_inference_latency_microseconds,
// ts_queue_latency_microseconds) plus per-stage latency histograms (queue,
// tokenize, compute, postprocess), queue depth, the batch-size histogram,
// workers, responses by status and the process's memory.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace optimum::serving {

enum class Stage { Queue, Tokenize, Compute, Postprocess };

// A text-generation model's continuous-batching state (totals since load).
struct GenerationStats {
  uint64_t requests = 0;           // answered or failed requests
  uint64_t prompt_tokens = 0;
  uint64_t generated_tokens = 0;
  size_t queued = 0;               // requests waiting for slots
  size_t running = 0;              // sequences being decoded
  int64_t slots = 0;
  int64_t capacity = 0;            // positions per slot
  size_t cache_bytes = 0;          // the KV cache, allocated once
};

class Metrics {
 public:
  // One answered inference request of `model`/`version` with its HTTP status.
  void request(const std::string& model, const std::string& version, int status, double latency_us);
  void stage(const std::string& model, const std::string& version, Stage stage, double seconds);
  void batch(const std::string& model, const std::string& version, size_t inputs, size_t padded_tokens);
  void queue_depth(const std::string& model, const std::string& version, size_t depth);
  void workers(const std::string& model, const std::string& version, size_t count);
  // The latest state of a model's generation engine.
  void generation(const std::string& model, const std::string& version, const GenerationStats& stats);
  // A model that went away: its gauges are removed (counters stay).
  void forget(const std::string& model, const std::string& version);

  // The exposition text; `names` filters by metric name (empty: all).
  std::string render(const std::vector<std::string>& names = {}) const;

 private:
  struct Histogram {
    std::vector<double> bounds;
    std::vector<uint64_t> counts;  // per bucket (non-cumulative), last = +Inf
    double sum = 0;
    uint64_t count = 0;
    void observe(double v);
  };
  struct PerModel {
    uint64_t requests = 0;
    double latency_us = 0;
    double queue_us = 0;
    std::map<int, uint64_t> by_status;
    std::array<Histogram, 4> stages;
    Histogram batch_size;
    uint64_t padded_tokens = 0;
    size_t queue_depth = 0;
    size_t workers = 0;
    bool has_generation = false;
    GenerationStats generation;
    bool live = true;
  };
  PerModel& entry(const std::string& model, const std::string& version);

  mutable std::mutex mutex_;
  std::map<std::pair<std::string, std::string>, PerModel> models_;
};

}  // namespace optimum::serving
