#include "optimum/core/progress.h"

#include <algorithm>
#include <exception>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

namespace optimum {

namespace {

constexpr auto kUpdateInterval = std::chrono::milliseconds(100);

std::mutex& sink_mutex() {
  static std::mutex m;
  return m;
}

std::shared_ptr<ProgressSink>& sink_slot() {
  static std::shared_ptr<ProgressSink> slot;
  return slot;
}

std::shared_ptr<ProgressSink> current_sink() {
  std::lock_guard<std::mutex> lock(sink_mutex());
  return sink_slot();
}

// Events reach the sink one at a time, whatever thread sends them.
void deliver(const ProgressSink& sink, const ProgressEvent& e) {
  static std::mutex delivery;
  std::lock_guard<std::mutex> lock(delivery);
  try {
    sink(e);
  } catch (...) {  // a failing sink never breaks the work it reports on
  }
}

thread_local int open_steps = 0;

std::string human(uint64_t n, bool bytes) {
  if (!bytes) return std::to_string(n);
  static constexpr const char* kUnits[] = {"B", "kB", "MB", "GB", "TB"};
  double v = static_cast<double>(n);
  int unit = 0;
  while (v >= 1000.0 && unit < 4) {
    v /= 1000.0;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof(text), unit == 0 ? "%.0f%s" : "%.1f%s", v, kUnits[unit]);
  return text;
}

std::string seconds(double s) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.2fs", s);
  return text;
}

// terminal_progress_sink's state: the open steps by depth.
class TerminalRenderer {
 public:
  explicit TerminalRenderer(TerminalProgressOptions o) : o_(o) {}

  void operator()(const ProgressEvent& e) {
    switch (e.kind) {
      case ProgressEvent::Kind::Begin:
        open(e);
        if (o_.tty) {
          draw();
        } else {
          line(indent(e.depth) + e.step + (e.detail.empty() ? "" : ": " + e.detail) +
               (e.total > 0 ? " (" + human(e.total, e.bytes) + (e.bytes ? "" : " steps") + ")" : ""));
        }
        break;
      case ProgressEvent::Kind::Update: {
        Open* s = find(e.depth);
        if (s == nullptr) return;
        s->event = e;
        if (o_.tty) {
          draw();
        } else if (e.elapsed_s - s->last_line_s >= o_.line_interval_s) {
          s->last_line_s = e.elapsed_s;
          line(indent(e.depth) + e.step + ": " + amount(e) + (e.detail.empty() ? "" : " " + e.detail));
        }
        break;
      }
      case ProgressEvent::Kind::End: {
        if (o_.tty) clear();
        if (o_.verbose) {
          const Open* s = find(e.depth);
          const std::string detail = s != nullptr ? s->begin_detail : e.detail;
          line(indent(e.depth) + e.step + (detail.empty() ? "" : " " + detail) +
               (e.failed ? ": failed after " : ": done in ") + seconds(e.elapsed_s));
        }
        if (stack_.size() > static_cast<size_t>(e.depth)) stack_.resize(static_cast<size_t>(e.depth));
        if (o_.tty) draw();
        break;
      }
      case ProgressEvent::Kind::Note:
        if (o_.tty) clear();
        line(e.detail);
        if (o_.tty) draw();
        break;
    }
  }

 private:
  struct Open {
    ProgressEvent event;
    std::string begin_detail;  // what the step was started on (its updates may change `detail`)
    double last_line_s = 0;
  };

  void open(const ProgressEvent& e) {
    const auto d = static_cast<size_t>(std::max(0, e.depth));
    stack_.resize(d + 1);
    stack_[d] = Open{e, e.detail, 0};
  }

  Open* find(int depth) {
    const auto d = static_cast<size_t>(std::max(0, depth));
    return d < stack_.size() ? &stack_[d] : nullptr;
  }

  static std::string indent(int depth) { return std::string(static_cast<size_t>(std::max(0, depth)) * 2, ' '); }

  static std::string amount(const ProgressEvent& e) {
    if (e.total == 0) return human(e.done, e.bytes);
    const double f = std::min(1.0, static_cast<double>(e.done) / static_cast<double>(e.total));
    return std::to_string(static_cast<int>(f * 100)) + "% (" + human(e.done, e.bytes) + "/" +
           human(e.total, e.bytes) + ")";
  }

  void line(const std::string& text) {
    std::fprintf(o_.out, "%s\n", text.c_str());
    std::fflush(o_.out);
  }

  void clear() {
    if (!drawn_) return;
    std::fprintf(o_.out, "\r\033[K");
    drawn_ = false;
  }

  // One line: the open steps as a path, the innermost's bar, count and time.
  void draw() {
    if (stack_.empty()) {
      clear();
      std::fflush(o_.out);
      return;
    }
    std::string path;
    for (const Open& s : stack_) path += (path.empty() ? "" : " > ") + s.event.step;
    const ProgressEvent& e = stack_.back().event;
    std::string text = path + " ";
    if (e.total > 0) {
      const double f = std::min(1.0, static_cast<double>(e.done) / static_cast<double>(e.total));
      constexpr int kWidth = 24;
      const int filled = static_cast<int>(f * kWidth);
      text.push_back('|');
      text.append(static_cast<size_t>(filled), '#');
      text.append(static_cast<size_t>(kWidth - filled), ' ');
      text.append("| ");
      text.append(amount(e));
    } else if (e.done > 0) {
      text += human(e.done, e.bytes);
    } else {
      static constexpr const char* kSpin = "|/-\\";
      text += kSpin[spin_++ % 4];
    }
    text.push_back(' ');
    text.append(seconds(e.elapsed_s));
    if (!e.detail.empty()) {
      text.append("  ");
      text.append(e.detail);
    }
    if (text.size() > 110) {
      text.resize(107);
      text.append("...");
    }
    std::fprintf(o_.out, "\r%s\033[K", text.c_str());
    std::fflush(o_.out);
    drawn_ = true;
  }

  TerminalProgressOptions o_;
  std::vector<Open> stack_;
  bool drawn_ = false;
  unsigned spin_ = 0;
};

}  // namespace

ProgressSink set_progress_sink(ProgressSink sink) {
  auto next = sink ? std::make_shared<ProgressSink>(std::move(sink)) : nullptr;
  std::lock_guard<std::mutex> lock(sink_mutex());
  std::shared_ptr<ProgressSink> previous = std::exchange(sink_slot(), std::move(next));
  return previous ? *previous : ProgressSink{};
}

bool progress_sink_installed() { return current_sink() != nullptr; }

void progress_note(const std::string& text) {
  if (auto sink = current_sink()) {
    ProgressEvent e;
    e.kind = ProgressEvent::Kind::Note;
    e.detail = text;
    e.depth = open_steps;
    deliver(*sink, e);
    return;
  }
  std::fprintf(stderr, "%s\n", text.c_str());
  std::fflush(stderr);
}

ProgressStep::ProgressStep(std::string step, std::string detail, uint64_t total, bool bytes)
    : start_(std::chrono::steady_clock::now()), uncaught_(std::uncaught_exceptions()) {
  event_.step = std::move(step);
  event_.detail = std::move(detail);
  event_.total = total;
  event_.bytes = bytes;
  event_.depth = open_steps++;
  last_update_ = start_;
  active_ = true;
  emit(ProgressEvent::Kind::Begin, true);
}

ProgressStep::~ProgressStep() {
  if (!active_) return;
  --open_steps;
  event_.failed = std::uncaught_exceptions() > uncaught_;
  emit(ProgressEvent::Kind::End, true);
}

double ProgressStep::elapsed() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void ProgressStep::update(uint64_t done) {
  event_.done = done;
  emit(ProgressEvent::Kind::Update, event_.total > 0 && done >= event_.total);
}

void ProgressStep::set_total(uint64_t total) {
  event_.total = total;
  emit(ProgressEvent::Kind::Update, true);
}

void ProgressStep::set_detail(std::string detail) {
  event_.detail = std::move(detail);
  emit(ProgressEvent::Kind::Update, true);
}

void ProgressStep::emit(ProgressEvent::Kind kind, bool force) {
  const auto now = std::chrono::steady_clock::now();
  if (!force && now - last_update_ < kUpdateInterval) return;
  auto sink = current_sink();
  if (!sink) return;
  last_update_ = now;
  event_.kind = kind;
  event_.elapsed_s = std::chrono::duration<double>(now - start_).count();
  deliver(*sink, event_);
}

ProgressSink terminal_progress_sink(const TerminalProgressOptions& options) {
  auto renderer = std::make_shared<TerminalRenderer>(options);
  return [renderer](const ProgressEvent& e) { (*renderer)(e); };
}

}  // namespace optimum
