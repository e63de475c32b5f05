#include "progress.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace optimum::hub::detail {

namespace {

constexpr auto kRedrawInterval = std::chrono::milliseconds(100);
constexpr size_t kMaxLabel = 40;

std::string human_bytes(double bytes) {
  static constexpr const char* kUnits[] = {"B", "kB", "MB", "GB", "TB"};
  int unit = 0;
  while (bytes >= 1000.0 && unit < 4) {
    bytes /= 1000.0;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof(text), unit == 0 ? "%.0f%s" : "%.1f%s", bytes, kUnits[unit]);
  return text;
}

}  // namespace

ProgressBar::ProgressBar(std::string label, std::optional<uint64_t> total, uint64_t initial, bool enabled)
    : label_(std::move(label)),
      total_(total),
      done_(initial),
      enabled_(enabled && !progress_sink_installed() && ::isatty(STDERR_FILENO) != 0) {
  if (enabled && progress_sink_installed()) {
    step_.emplace("download", label_, total.value_or(0), true);
    if (initial > 0) step_->update(initial);
  }
  if (label_.size() > kMaxLabel) label_ = "(...)" + label_.substr(label_.size() - kMaxLabel);
  start_ = std::chrono::steady_clock::now();
  last_draw_ = start_ - kRedrawInterval;
}

ProgressBar::~ProgressBar() {
  if (enabled_ && drawn_) draw(true);
}

void ProgressBar::update(uint64_t bytes) {
  done_ += bytes;
  if (step_) step_->update(done_);
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_draw_ >= kRedrawInterval) {
    last_draw_ = now;
    draw(false);
  }
}

void ProgressBar::reset(uint64_t done) {
  done_ = done;
  if (step_) step_->update(done_);
}

void ProgressBar::draw(bool final) {
  drawn_ = true;
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const std::string rate = seconds > 0 ? human_bytes(static_cast<double>(done_) / seconds) + "/s" : "";
  std::string line = label_ + ": ";
  if (total_ && *total_ > 0) {
    const double fraction = std::min(1.0, static_cast<double>(done_) / static_cast<double>(*total_));
    constexpr int kWidth = 30;
    const int filled = static_cast<int>(fraction * kWidth);
    char percent[16];
    std::snprintf(percent, sizeof(percent), "%3d%% |", static_cast<int>(fraction * 100));
    line += percent + std::string(filled, '#') + std::string(kWidth - filled, ' ') + "| " +
            human_bytes(static_cast<double>(done_)) + "/" + human_bytes(static_cast<double>(*total_));
  } else {
    line += human_bytes(static_cast<double>(done_));
  }
  line += "  " + rate;
  std::fprintf(stderr, "\r%s\033[K%s", line.c_str(), final ? "\n" : "");
  std::fflush(stderr);
}

}  // namespace optimum::hub::detail
