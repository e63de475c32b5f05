// Progress of long steps (download, export, accuracy guard, validation,
// archive, ...), reported through one process-wide callback. The library
// never draws anything by itself through this: with no sink installed a
// ProgressStep costs a clock read. The CLI installs terminal_progress_sink();
// other front ends install their own callback.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>

namespace optimum {

// One report of a step, as delivered to the sink.
struct ProgressEvent {
  enum class Kind {
    Begin,   // a step started
    Update,  // `done` (or `detail`) changed; rate-limited to ~10 per second per step
    End,     // the step finished (`failed`: it is being unwound by an exception)
    Note,    // a message for the user (`detail`), not tied to a step's progress
  };
  Kind kind = Kind::Begin;
  std::string step;    // what runs: "download", "export", "accuracy guard", "validation", ...
  std::string detail;  // which item: a file name, a layer, a phase
  uint64_t done = 0;   // units done
  uint64_t total = 0;  // units in all; 0: unknown
  bool bytes = false;  // units are bytes (else items)
  double elapsed_s = 0;  // since Begin
  bool failed = false;   // End only
  int depth = 0;         // steps open around this one on this thread
};

using ProgressSink = std::function<void(const ProgressEvent&)>;

// Installs the process-wide sink (empty: none); returns the previous one.
// Events from any thread are delivered one at a time.
ProgressSink set_progress_sink(ProgressSink sink);

// Whether a sink is installed.
bool progress_sink_installed();

// A message for the user: delivered to the sink as a Note; with no sink it
// is written to stderr as "<text>\n" (the library's warnings stay visible).
void progress_note(const std::string& text);

// A step: Begin when constructed, End when destroyed (failed when destroyed
// by an exception), Update from update()/advance()/set_detail().
class ProgressStep {
 public:
  ProgressStep(std::string step, std::string detail = {}, uint64_t total = 0, bool bytes = false);
  ~ProgressStep();
  ProgressStep(const ProgressStep&) = delete;
  ProgressStep& operator=(const ProgressStep&) = delete;

  // Sets the units done (absolute).
  void update(uint64_t done);
  // Adds `n` units done.
  void advance(uint64_t n = 1) { update(event_.done + n); }
  // Sets the units in all (0: unknown).
  void set_total(uint64_t total);
  // Sets what the step works on now (always delivered).
  void set_detail(std::string detail);
  // Units in all (0: unknown).
  uint64_t total() const { return event_.total; }
  // Seconds since the step began.
  double elapsed() const;

 private:
  void emit(ProgressEvent::Kind kind, bool force);
  ProgressEvent event_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_update_;
  int uncaught_ = 0;
  bool active_ = false;
};

// How terminal_progress_sink draws.
struct TerminalProgressOptions {
  // A bar redrawn in place ("\r"); false: plain lines (logs, pipes).
  bool tty = false;
  // Also a line with each step's duration when it ends.
  bool verbose = false;
  // Plain mode: at most one progress line per step this often (seconds).
  double line_interval_s = 5;
  // Stream written to.
  std::FILE* out = stderr;
};

// A sink that writes progress to a terminal or a log: on a TTY one line
// redrawn in place with a bar for the innermost step, otherwise a line when a
// step begins and a line with its percentage at most every line_interval_s.
ProgressSink terminal_progress_sink(const TerminalProgressOptions& options);

}  // namespace optimum
