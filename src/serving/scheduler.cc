#include "scheduler.h"

#include <algorithm>
#include <iostream>

#include "optimum/core/errors.h"
#include "optimum/core/threading.h"
#include "optimum/serving/status.h"

namespace optimum::serving::detail {

namespace {

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::exception_ptr serving_error(Code code, const std::string& message, int retry_after_s = 0) {
  return std::make_exception_ptr(ServingError(code, message, retry_after_s));
}

}  // namespace

// ---------------- ThreadPool ----------------

ThreadPool::ThreadPool(size_t threads) {
  for (size_t i = 0; i < std::max<size_t>(threads, 1); ++i) {
    threads_.emplace_back([this] {
      // Tokenize and post-process never start an OpenMP team here: each team
      // would keep its own sleeping worker threads, and once libgomp manages
      // more threads than there are CPUs it stops spinning between parallel
      // regions (GOMP's throttled spin count), so every region of the compute
      // team's forward pays a futex wake-up (see run_compute_team below).
      optimum::set_num_threads(1);
      for (;;) {
        std::function<void()> task;
        {
          std::unique_lock lock(mutex_);
          cv_.wait(lock, [&] { return stop_ || !tasks_.empty(); });
          if (tasks_.empty()) return;
          task = std::move(tasks_.front());
          tasks_.pop_front();
        }
        task();
      }
    });
  }
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

void ThreadPool::post(std::function<void()> task) {
  {
    std::lock_guard lock(mutex_);
    tasks_.push_back(std::move(task));
  }
  cv_.notify_one();
}

// ---------------- Request ----------------

bool Request::finish(InferResult result, std::exception_ptr error) {
  if (finished.exchange(true)) return false;
  int status = 200;
  if (error) status = classify(error).http;
  if (metrics != nullptr) metrics->request(model, version, status, seconds_since(start) * 1e6);
  try {
    done(std::move(result), error);
  } catch (const std::exception& e) {
    std::cerr << "serving: a response callback failed: " << e.what() << "\n";
  }
  return true;
}

void Request::complete(size_t index, io::Json output, size_t n_tokens) {
  bool last = false;
  {
    std::lock_guard lock(mutex);
    if (finished.load()) return;
    outputs[index] = std::move(output);
    tokens[index] = n_tokens;
    last = --remaining == 0;
  }
  if (last) finish(InferResult{std::move(outputs), std::move(tokens)}, nullptr);
}

// ---------------- ServedModel ----------------

ServedModel::ServedModel(ModelInfo identity, std::shared_ptr<const pipelines::Pipeline> pipeline,
                         Metrics& metrics, ThreadPool& pool)
    : info_(std::move(identity)), pipeline_(std::move(pipeline)), metrics_(metrics), pool_(pool) {}

ServedModel::~ServedModel() { stop("model unloaded"); }

int ServedModel::threads_per_worker() const {
  if (info_.config.threads_per_worker > 0) return info_.config.threads_per_worker;
  const int workers = std::max({info_.config.min_workers, 1});
  return std::max(1, optimum::num_threads() / workers);
}

void ServedModel::submit(const std::shared_ptr<Request>& request) {
  const size_t n = request->call.inputs.size();
  if (n == 0) throw InvalidArgument("the request has no inputs");
  {
    std::lock_guard lock(mutex_);
    if (stopping_) throw ServingError(Code::Unavailable, "model " + info_.name + " is " + stop_reason_);
    if (workers_.empty())
      throw ServingError(Code::Unavailable, "model " + info_.name + " version " + info_.version +
                                                " has no workers (scale it with min_worker >= 1)");
    const size_t limit = static_cast<size_t>(std::max(info_.config.job_queue_size, 1));
    if (queue_.size() + pending_ + n > limit)
      throw ServingError(Code::TooManyRequests,
                         "model " + info_.name + " queue is full (" + std::to_string(limit) + " inputs)", 1);
    pending_ += n;
  }
  request->outputs.assign(n, nullptr);
  request->tokens.assign(n, 0);
  request->remaining = n;
  pool_.post([this, self = shared_from_this(), request, n] {
    const auto t0 = Clock::now();
    std::vector<Job> jobs;
    jobs.reserve(n);
    std::exception_ptr error;
    try {
      for (size_t i = 0; i < n; ++i) {
        Job job;
        job.request = request;
        job.index = i;
        job.input = pipeline_->preprocess(request->call.inputs[i], request->call.options);
        jobs.push_back(std::move(job));
      }
    } catch (...) {
      error = std::current_exception();
    }
    metrics_.stage(info_.name, info_.version, Stage::Tokenize, seconds_since(t0));
    if (error) {
      {
        std::lock_guard lock(mutex_);
        pending_ -= n;
      }
      request->fail(error);
      return;
    }
    enqueue(std::move(jobs), request);
  });
}

void ServedModel::enqueue(std::vector<Job> jobs, const std::shared_ptr<Request>& request) {
  const size_t n = jobs.size();
  {
    std::lock_guard lock(mutex_);
    pending_ -= n;
    if (stopping_) {
      request->fail(serving_error(Code::Unavailable, "model " + info_.name + " is " + stop_reason_));
      return;
    }
    const auto now = Clock::now();
    for (auto& j : jobs) {
      j.enqueued = now;
      queue_.push_back(std::move(j));
    }
    metrics_.queue_depth(info_.name, info_.version, queue_.size());
  }
  cv_.notify_all();
}

std::vector<Job> ServedModel::next_batch(Worker& worker) {
  // Dropped inputs of requests whose client left: those requests are answered
  // 499 once the lock is released (never dropped unanswered, uncounted).
  std::vector<std::shared_ptr<Request>> left;
  struct AnswerLeft {
    std::vector<std::shared_ptr<Request>>& requests;
    void operator()() {
      for (auto& r : requests)
        r->fail(serving_error(Code::ClientClosedRequest, "the client closed the connection before the answer"));
      requests.clear();
    }
    ~AnswerLeft() { (*this)(); }
  } answer_left{left};
  auto drop_front = [&] {
    if (!queue_.front().request->finished.load()) left.push_back(queue_.front().request);
    queue_.pop_front();
  };
  std::unique_lock lock(mutex_);
  const auto& cfg = info_.config;
  const size_t batch_size = static_cast<size_t>(std::max(cfg.batch_size, 1));
  const size_t budget = cfg.max_batch_tokens > 0 ? cfg.max_batch_tokens : batch_size * 512;
  for (;;) {
    if (!left.empty()) {  // before waiting again
      lock.unlock();
      answer_left();
      lock.lock();
    }
    cv_.wait(lock, [&] { return worker.stop.load() || stopping_ || !queue_.empty(); });
    if (worker.stop.load() || stopping_) return {};
    // Drop what nobody waits for any more.
    while (!queue_.empty() && queue_.front().request->cancelled_or_finished()) drop_front();
    if (queue_.empty()) continue;
    // Wait for the batch to fill, at most max_batch_delay after its first
    // input arrived, and only up to as many inputs as the last batch had
    // (plus what is being tokenized): a lone client is not kept waiting for
    // batch mates that do not exist, a crowd still fills the batch (each
    // batch takes every queued input, so the target follows the load up).
    const size_t fill_target =
        std::min(batch_size, std::max<size_t>({last_batch_inputs_, pending_ + queue_.size(), 1}));
    if (batch_size > 1 && queue_.size() < fill_target) {
      const auto fill_until = queue_.front().enqueued + std::chrono::milliseconds(cfg.max_batch_delay_ms);
      cv_.wait_until(lock, fill_until,
                     [&] { return worker.stop.load() || stopping_ || queue_.size() >= fill_target; });
      if (worker.stop.load() || stopping_) return {};
      while (!queue_.empty() && queue_.front().request->cancelled_or_finished()) drop_front();
      if (queue_.empty()) continue;
    }
    // Pack in arrival order while rows x longest stays within the token budget.
    std::vector<Job> batch;
    size_t longest = 0;
    while (!queue_.empty() && batch.size() < batch_size) {
      Job& next = queue_.front();
      if (next.request->cancelled_or_finished()) {
        drop_front();
        continue;
      }
      const size_t len = std::max<size_t>(next.input->max_length(), 1);
      const size_t rows = batch.size() + std::max<size_t>(next.input->encodings.size(), 1);
      if (!batch.empty() && rows * std::max(longest, len) > budget) break;
      longest = std::max(longest, len);
      batch.push_back(std::move(next));
      queue_.pop_front();
    }
    metrics_.queue_depth(info_.name, info_.version, queue_.size());
    if (!batch.empty()) {
      last_batch_inputs_ = batch.size();
      worker.busy = true;
      return batch;
    }
  }
}

void ServedModel::compute(std::vector<Job> batch) {
  const auto now = Clock::now();
  size_t longest = 0, rows = 0;
  for (const auto& job : batch) {
    metrics_.stage(info_.name, info_.version, Stage::Queue, std::chrono::duration<double>(now - job.enqueued).count());
    longest = std::max(longest, job.input->max_length());
    rows += job.input->encodings.size();
  }
  metrics_.batch(info_.name, info_.version, batch.size(), rows * longest);
  std::vector<pipelines::PreparedInput*> inputs;
  inputs.reserve(batch.size());
  for (auto& job : batch) inputs.push_back(job.input.get());
  try {
    pipeline_->forward(std::span<pipelines::PreparedInput* const>(inputs.data(), inputs.size()));
  } catch (...) {
    if (batch.size() == 1) {
      batch[0].request->fail(std::current_exception());
      return;
    }
    // One input's error must not fail its batch mates (nor show them another
    // client's error): each input again, alone; only those that fail alone fail.
    std::vector<Job> ok;
    for (auto& job : batch) {
      if (job.request->finished.load()) continue;
      pipelines::PreparedInput* one = job.input.get();
      try {
        pipeline_->forward(std::span<pipelines::PreparedInput* const>(&one, 1));
        ok.push_back(std::move(job));
      } catch (...) {
        job.request->fail(std::current_exception());
      }
    }
    if (ok.empty()) return;
    batch = std::move(ok);
  }
  metrics_.stage(info_.name, info_.version, Stage::Compute, seconds_since(now));
  auto shared = std::make_shared<std::vector<Job>>(std::move(batch));
  pool_.post([this, self = shared_from_this(), shared] {
    const auto t0 = Clock::now();
    for (auto& job : *shared) {
      if (job.request->finished.load()) continue;
      try {
        job.request->complete(job.index, pipeline_->postprocess(*job.input), job.input->tokens());
      } catch (...) {
        job.request->fail(std::current_exception());
      }
    }
    metrics_.stage(info_.name, info_.version, Stage::Postprocess, seconds_since(t0));
  });
}

void ServedModel::run_worker(Worker& worker) {
  optimum::set_num_threads(threads_per_worker());
  for (;;) {
    std::vector<Job> batch = next_batch(worker);
    if (batch.empty()) break;
    compute(std::move(batch));
    worker.busy = false;
  }
  worker.exited = true;
  cv_.notify_all();
}

void ServedModel::join_exited() {
  // Called with mutex_ not held.
  std::vector<std::unique_ptr<Worker>> done;
  {
    std::lock_guard lock(mutex_);
    for (auto it = workers_.begin(); it != workers_.end();) {
      if ((*it)->exited.load()) {
        done.push_back(std::move(*it));
        it = workers_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& w : done)
    if (w->thread.joinable()) w->thread.join();
}

void ServedModel::scale(int min_workers, int max_workers) {
  if (min_workers < 0 || max_workers < 0)
    throw InvalidArgument("min_worker and max_worker must be >= 0, got " + std::to_string(min_workers) + " and " +
                          std::to_string(max_workers));
  if (max_workers < min_workers)
    throw InvalidArgument("max_worker (" + std::to_string(max_workers) + ") is below min_worker (" +
                          std::to_string(min_workers) + ")");
  std::lock_guard scaling(scale_mutex_);
  std::vector<Worker*> stopping;
  {
    std::lock_guard lock(mutex_);
    if (stopping_) throw ServingError(Code::Unavailable, "model " + info_.name + " is " + stop_reason_);
    info_.config.min_workers = min_workers;
    info_.config.max_workers = max_workers;
    std::vector<Worker*> running;
    for (auto& w : workers_)
      if (!w->stop.load()) running.push_back(w.get());
    const auto target = static_cast<size_t>(min_workers);
    while (running.size() > target) {
      running.back()->stop = true;
      stopping.push_back(running.back());
      running.pop_back();
    }
    for (size_t i = running.size(); i < target; ++i) {
      auto w = std::make_unique<Worker>();
      w->id = next_worker_id_++;
      Worker* raw = w.get();
      workers_.push_back(std::move(w));
      raw->thread = std::thread([this, raw] { run_worker(*raw); });
    }
    metrics_.workers(info_.name, info_.version, target);
  }
  cv_.notify_all();
  // Stopped workers finish their batch first; wait for them.
  for (;;) {
    bool all = true;
    {
      std::lock_guard lock(mutex_);
      for (Worker* w : stopping) all = all && w->exited.load();
    }
    if (all) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  join_exited();
}

void ServedModel::reap(Clock::time_point now) {
  std::vector<std::shared_ptr<Request>> expired, cancelled;
  {
    std::lock_guard lock(mutex_);
    for (auto it = queue_.begin(); it != queue_.end();) {
      const auto& r = it->request;
      if (r->finished.load()) {
        it = queue_.erase(it);
      } else if (r->cancelled && r->cancelled->load()) {
        cancelled.push_back(r);
        it = queue_.erase(it);
      } else if (now >= r->deadline) {
        expired.push_back(r);
        it = queue_.erase(it);
      } else {
        ++it;
      }
    }
    metrics_.queue_depth(info_.name, info_.version, queue_.size());
  }
  for (auto& r : cancelled)
    r->fail(serving_error(Code::ClientClosedRequest, "the client closed the connection before the answer"));
  for (auto& r : expired)
    r->fail(serving_error(Code::GatewayTimeout, "model " + info_.name + " did not answer within its response timeout (" +
                                                     std::to_string(info_.config.response_timeout_s) + " s)"));
}

void ServedModel::stop(const std::string& why) {
  if (generation_) generation_->stop();
  std::lock_guard scaling(scale_mutex_);
  std::deque<Job> dropped;
  {
    std::lock_guard lock(mutex_);
    if (stopping_ && workers_.empty()) return;
    stopping_ = true;
    stop_reason_ = why;
    dropped.swap(queue_);
    for (auto& w : workers_) w->stop = true;
  }
  cv_.notify_all();
  for (auto& job : dropped)
    job.request->fail(serving_error(Code::Unavailable, "model " + info_.name + " is " + why));
  for (;;) {
    bool all = true;
    {
      std::lock_guard lock(mutex_);
      for (auto& w : workers_) all = all && w->exited.load();
    }
    if (all) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  join_exited();
  metrics_.forget(info_.name, info_.version);
}

ModelInfo ServedModel::info() const {
  std::lock_guard lock(mutex_);
  ModelInfo out = info_;
  out.ready = !stopping_ && !workers_.empty();
  if (generation_) out.generation = generation_->stats();
  const int threads = threads_per_worker();
  for (const auto& w : workers_) {
    if (w->stop.load()) continue;
    out.workers.push_back(WorkerInfo{w->id, w->busy.load() ? "BUSY" : "READY", threads});
  }
  return out;
}

bool ServedModel::ready() const {
  std::lock_guard lock(mutex_);
  if (stopping_) return false;
  for (const auto& w : workers_)
    if (!w->stop.load()) return true;
  return false;
}

}  // namespace optimum::serving::detail
