// The progress reporter (optimum/core/progress.h): events a step sends to
// the installed sink, nesting, failure while unwinding, rate limiting, and
// the terminal sink's plain and in-place output.
#include "optimum/core/progress.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace optimum {
namespace {

// Installs a sink recording every event for the test's duration.
class Recorder {
 public:
  Recorder() {
    previous_ = set_progress_sink([this](const ProgressEvent& e) { events.push_back(e); });
  }
  ~Recorder() { set_progress_sink(previous_); }
  std::vector<ProgressEvent> events;

 private:
  ProgressSink previous_;
};

// What a terminal sink writes, through a temporary file.
class Captured {
 public:
  Captured() : file_(std::tmpfile()) {}
  ~Captured() { std::fclose(file_); }
  std::FILE* file() { return file_; }
  std::string text() {
    std::fflush(file_);
    std::rewind(file_);
    std::string out;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof(buf), file_)) > 0) out.append(buf, n);
    return out;
  }

 private:
  std::FILE* file_;
};

TEST(Progress, NoSinkNoEvents) {
  ASSERT_FALSE(progress_sink_installed());
  ProgressStep step("work", "", 3);
  step.advance();  // nothing to deliver to, nothing drawn
  EXPECT_GT(step.elapsed(), -1.0);
}

TEST(Progress, BeginUpdateEndWithNesting) {
  Recorder rec;
  {
    ProgressStep outer("export", "model");
    {
      ProgressStep inner("validation", "", 2);
      inner.advance();
      inner.advance();  // reaching the total is always delivered
    }
  }
  ASSERT_GE(rec.events.size(), 4u);
  EXPECT_EQ(rec.events.front().kind, ProgressEvent::Kind::Begin);
  EXPECT_EQ(rec.events.front().step, "export");
  EXPECT_EQ(rec.events.front().depth, 0);
  EXPECT_EQ(rec.events[1].step, "validation");
  EXPECT_EQ(rec.events[1].depth, 1);
  EXPECT_EQ(rec.events[1].total, 2u);
  const ProgressEvent& last_update = rec.events[rec.events.size() - 3];
  EXPECT_EQ(last_update.kind, ProgressEvent::Kind::Update);
  EXPECT_EQ(last_update.done, 2u);
  EXPECT_EQ(rec.events[rec.events.size() - 2].kind, ProgressEvent::Kind::End);
  EXPECT_EQ(rec.events[rec.events.size() - 2].step, "validation");
  EXPECT_EQ(rec.events.back().step, "export");
  EXPECT_FALSE(rec.events.back().failed);
}

TEST(Progress, UpdatesAreRateLimited) {
  Recorder rec;
  {
    ProgressStep step("download", "file", 1000000, true);
    for (int i = 0; i < 1000; ++i) step.advance(10);  // well under 100 ms
  }
  size_t updates = 0;
  for (const auto& e : rec.events) updates += e.kind == ProgressEvent::Kind::Update ? 1 : 0;
  EXPECT_LE(updates, 2u);
}

TEST(Progress, EndIsFailedWhileUnwinding) {
  Recorder rec;
  try {
    ProgressStep step("guard");
    throw std::runtime_error("boom");
  } catch (const std::runtime_error&) {
  }
  ASSERT_EQ(rec.events.size(), 2u);
  EXPECT_TRUE(rec.events.back().failed);
  // A step opened inside a catch block ends normally.
  try {
    throw std::runtime_error("x");
  } catch (const std::runtime_error&) {
    ProgressStep step("recover");
  }
  EXPECT_FALSE(rec.events.back().failed);
}

TEST(Progress, NotesGoToTheSink) {
  Recorder rec;
  progress_note("accuracy guard: kept 2 layers");
  ASSERT_EQ(rec.events.size(), 1u);
  EXPECT_EQ(rec.events[0].kind, ProgressEvent::Kind::Note);
  EXPECT_EQ(rec.events[0].detail, "accuracy guard: kept 2 layers");
}

TEST(Progress, TerminalSinkPlainLines) {
  Captured out;
  TerminalProgressOptions o;
  o.tty = false;
  o.verbose = true;
  o.out = out.file();
  const ProgressSink previous = set_progress_sink(terminal_progress_sink(o));
  {
    ProgressStep outer("export", "m");
    ProgressStep inner("validation", "", 4);
    inner.update(4);
    progress_note("a note");
  }
  set_progress_sink(previous);
  const std::string text = out.text();
  EXPECT_EQ(text.find('\r'), std::string::npos) << text;
  EXPECT_NE(text.find("export: m\n"), std::string::npos) << text;
  EXPECT_NE(text.find("  validation (4 steps)\n"), std::string::npos) << text;
  EXPECT_NE(text.find("a note\n"), std::string::npos) << text;
  EXPECT_NE(text.find("  validation: done in "), std::string::npos) << text;
  EXPECT_NE(text.find("export m: done in "), std::string::npos) << text;
}

TEST(Progress, TerminalSinkBarInPlace) {
  Captured out;
  TerminalProgressOptions o;
  o.tty = true;
  o.out = out.file();
  const ProgressSink previous = set_progress_sink(terminal_progress_sink(o));
  {
    ProgressStep step("archive", "x.mar", 2000, true);
    step.update(1000);
    std::this_thread::sleep_for(std::chrono::milliseconds(120));
    step.update(2000);
  }
  set_progress_sink(previous);
  const std::string text = out.text();
  EXPECT_NE(text.find("\rarchive |"), std::string::npos) << text;
  EXPECT_NE(text.find("| 100% (2.0kB/2.0kB)"), std::string::npos) << text;
  EXPECT_NE(text.find("\r\033[K"), std::string::npos) << text;  // cleared when it ends
  EXPECT_EQ(text.find('\n'), std::string::npos) << text;        // not verbose: no lines left behind
}

}  // namespace
}  // namespace optimum
