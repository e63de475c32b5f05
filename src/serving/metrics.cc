#include "optimum/serving/metrics.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace optimum::serving {

namespace {

std::vector<double> latency_bounds() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}
std::vector<double> batch_bounds() { return {1, 2, 4, 8, 16, 32, 64, 128, 256}; }

// Prometheus label values escape backslash, quote and newline.
std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

std::string hostname() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "localhost";
  return buf;
}

size_t resident_bytes() {
  std::ifstream in("/proc/self/statm");
  size_t pages = 0, resident = 0;
  in >> pages >> resident;
  return resident * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

const char* stage_name(size_t i) {
  static const char* names[] = {"queue", "tokenize", "compute", "postprocess"};
  return names[i];
}

}  // namespace

void Metrics::Histogram::observe(double v) {
  if (counts.empty()) counts.assign(bounds.size() + 1, 0);
  const size_t i = static_cast<size_t>(std::lower_bound(bounds.begin(), bounds.end(), v) - bounds.begin());
  ++counts[i];
  sum += v;
  ++count;
}

Metrics::PerModel& Metrics::entry(const std::string& model, const std::string& version) {
  auto [it, inserted] = models_.try_emplace({model, version});
  if (inserted) {
    for (auto& h : it->second.stages) h.bounds = latency_bounds();
    it->second.batch_size.bounds = batch_bounds();
  }
  it->second.live = true;
  return it->second;
}

void Metrics::request(const std::string& model, const std::string& version, int status, double latency_us) {
  std::lock_guard lock(mutex_);
  auto& m = entry(model, version);
  ++m.requests;
  m.latency_us += latency_us;
  ++m.by_status[status];
}

void Metrics::stage(const std::string& model, const std::string& version, Stage stage, double seconds) {
  std::lock_guard lock(mutex_);
  auto& m = entry(model, version);
  m.stages[static_cast<size_t>(stage)].observe(seconds);
  if (stage == Stage::Queue) m.queue_us += seconds * 1e6;
}

void Metrics::batch(const std::string& model, const std::string& version, size_t inputs, size_t padded_tokens) {
  std::lock_guard lock(mutex_);
  auto& m = entry(model, version);
  m.batch_size.observe(static_cast<double>(inputs));
  m.padded_tokens += padded_tokens;
}

void Metrics::queue_depth(const std::string& model, const std::string& version, size_t depth) {
  std::lock_guard lock(mutex_);
  entry(model, version).queue_depth = depth;
}

void Metrics::workers(const std::string& model, const std::string& version, size_t count) {
  std::lock_guard lock(mutex_);
  entry(model, version).workers = count;
}

void Metrics::generation(const std::string& model, const std::string& version, const GenerationStats& stats) {
  std::lock_guard lock(mutex_);
  auto& m = entry(model, version);
  m.has_generation = true;
  m.generation = stats;
}

void Metrics::forget(const std::string& model, const std::string& version) {
  std::lock_guard lock(mutex_);
  auto it = models_.find({model, version});
  if (it != models_.end()) {
    it->second.live = false;
    it->second.queue_depth = 0;
    it->second.workers = 0;
    it->second.generation.queued = it->second.generation.running = 0;
    it->second.generation.cache_bytes = 0;
  }
}

std::string Metrics::render(const std::vector<std::string>& names) const {
  auto wanted = [&](const std::string& name) {
    return names.empty() || std::find(names.begin(), names.end(), name) != names.end();
  };
  static const std::string host = hostname();
  std::ostringstream out;
  std::lock_guard lock(mutex_);
  auto labels = [&](const std::pair<std::string, std::string>& key) {
    return "model_name=\"" + escape(key.first) + "\",model_version=\"" + escape(key.second) + "\",hostname=\"" +
           escape(host) + "\"";
  };
  auto counter = [&](const std::string& name, const std::string& help, const std::string& type, auto value) {
    if (!wanted(name)) return;
    out << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type << "\n";
    for (const auto& [key, m] : models_) out << name << "{" << labels(key) << "} " << num(value(m)) << "\n";
  };
  counter("ts_inference_requests_total", "Total number of inference requests.", "counter",
          [](const PerModel& m) { return static_cast<double>(m.requests); });
  counter("ts_inference_latency_microseconds", "Cumulative inference duration in microseconds.", "counter",
          [](const PerModel& m) { return m.latency_us; });
  counter("ts_queue_latency_microseconds", "Cumulative queue duration in microseconds.", "counter",
          [](const PerModel& m) { return m.queue_us; });
  counter("optimum_queue_depth", "Inputs waiting in the model's queue.", "gauge",
          [](const PerModel& m) { return static_cast<double>(m.queue_depth); });
  counter("optimum_workers", "Running workers of the model.", "gauge",
          [](const PerModel& m) { return static_cast<double>(m.workers); });
  counter("optimum_padded_tokens_total", "Tokens computed including padding.", "counter",
          [](const PerModel& m) { return static_cast<double>(m.padded_tokens); });
  auto generation = [&](const std::string& name, const std::string& help, const std::string& type, auto value) {
    if (!wanted(name)) return;
    bool any = false;
    for (const auto& [key, m] : models_) any = any || m.has_generation;
    if (!any) return;
    out << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type << "\n";
    for (const auto& [key, m] : models_)
      if (m.has_generation) out << name << "{" << labels(key) << "} " << num(static_cast<double>(value(m.generation))) << "\n";
  };
  generation("optimum_generation_requests_total", "Text-generation requests finished (answered, failed or cancelled).",
             "counter", [](const GenerationStats& g) { return g.requests; });
  generation("optimum_generation_prompt_tokens_total", "Prompt tokens of text-generation requests.", "counter",
             [](const GenerationStats& g) { return g.prompt_tokens; });
  generation("optimum_generation_tokens_total", "Tokens generated.", "counter",
             [](const GenerationStats& g) { return g.generated_tokens; });
  generation("optimum_generation_queue_depth", "Text-generation requests waiting for cache slots.", "gauge",
             [](const GenerationStats& g) { return g.queued; });
  generation("optimum_generation_running", "Sequences being decoded.", "gauge",
             [](const GenerationStats& g) { return g.running; });
  generation("optimum_generation_slots", "Sequences the KV cache holds.", "gauge",
             [](const GenerationStats& g) { return g.slots; });
  generation("optimum_generation_kv_cache_bytes", "Bytes of the preallocated KV cache.", "gauge",
             [](const GenerationStats& g) { return g.cache_bytes; });
  if (wanted("optimum_responses_total")) {
    out << "# HELP optimum_responses_total Answered inference requests by HTTP status.\n"
        << "# TYPE optimum_responses_total counter\n";
    for (const auto& [key, m] : models_)
      for (const auto& [status, n] : m.by_status)
        out << "optimum_responses_total{" << labels(key) << ",code=\"" << status << "\"} " << n << "\n";
  }
  auto histogram = [&](const std::string& name, const Histogram& h, const std::string& lbl) {
    uint64_t cumulative = 0;
    for (size_t i = 0; i < h.bounds.size(); ++i) {
      cumulative += h.counts.empty() ? 0 : h.counts[i];
      out << name << "_bucket{" << lbl << ",le=\"" << num(h.bounds[i]) << "\"} " << cumulative << "\n";
    }
    out << name << "_bucket{" << lbl << ",le=\"+Inf\"} " << h.count << "\n";
    out << name << "_sum{" << lbl << "} " << num(h.sum) << "\n";
    out << name << "_count{" << lbl << "} " << h.count << "\n";
  };
  if (wanted("optimum_stage_latency_seconds")) {
    out << "# HELP optimum_stage_latency_seconds Latency of each request stage per input (queue, tokenize) or "
           "batch (compute, postprocess).\n# TYPE optimum_stage_latency_seconds histogram\n";
    for (const auto& [key, m] : models_)
      for (size_t s = 0; s < m.stages.size(); ++s)
        histogram("optimum_stage_latency_seconds", m.stages[s],
                  labels(key) + ",stage=\"" + stage_name(s) + "\"");
  }
  if (wanted("optimum_batch_size")) {
    out << "# HELP optimum_batch_size Inputs per forward.\n# TYPE optimum_batch_size histogram\n";
    for (const auto& [key, m] : models_) histogram("optimum_batch_size", m.batch_size, labels(key));
  }
  if (wanted("optimum_process_resident_memory_bytes")) {
    out << "# HELP optimum_process_resident_memory_bytes Resident memory of the server process.\n"
        << "# TYPE optimum_process_resident_memory_bytes gauge\n"
        << "optimum_process_resident_memory_bytes " << resident_bytes() << "\n";
  }
  return out.str();
}

}  // namespace optimum::serving
