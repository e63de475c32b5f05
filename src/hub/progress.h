// Download progress: reported to the process-wide progress sink
// (optimum/core/progress.h) as a "download" step when one is installed;
// otherwise a one-line bar on stderr, drawn only when stderr is a terminal
// (logs and pipes stay clean). Private to the hub layer.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "optimum/core/progress.h"

namespace optimum::hub::detail {

class ProgressBar {
 public:
  // `enabled` is further ANDed with isatty(stderr). `total` may be unknown.
  ProgressBar(std::string label, std::optional<uint64_t> total, uint64_t initial, bool enabled);
  ~ProgressBar();
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  void update(uint64_t bytes);
  // Sets the count back (a server ignored a Range request and restarts).
  void reset(uint64_t done);

 private:
  void draw(bool final);
  std::string label_;
  std::optional<uint64_t> total_;
  uint64_t done_ = 0;
  bool enabled_ = false;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
  std::optional<ProgressStep> step_;  // when a sink is installed
};

}  // namespace optimum::hub::detail
