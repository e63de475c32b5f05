// Per-model scheduling (private to src/serving): a bounded queue of
// preprocessed inputs, batches packed by a token budget after waiting up to
// max_batch_delay, worker threads (replicas) each with their own compute
// thread count, and every request answered exactly once.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "optimum/pipelines/pipeline.h"
#include "optimum/serving/metrics.h"
#include "optimum/serving/service.h"
#include "generation_model.h"

namespace optimum::serving::detail {

using Clock = std::chrono::steady_clock;

// A fixed set of threads running posted tasks in order (tokenize and
// post-process run here, off the compute threads).
class ThreadPool {
 public:
  explicit ThreadPool(size_t threads);
  ~ThreadPool();
  void post(std::function<void()> task);

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

// One inference call in flight.
struct Request {
  std::string model, version;
  InferCall call;
  Service::Done done;
  CancelFlag cancelled;
  Clock::time_point start, deadline;
  Metrics* metrics = nullptr;
  std::mutex mutex;
  std::vector<io::Json> outputs;
  std::vector<size_t> tokens;
  size_t remaining = 0;
  std::atomic<bool> finished{false};

  // Answers once: the first call wins (returns true), later ones are dropped.
  bool finish(InferResult result, std::exception_ptr error);
  bool fail(std::exception_ptr error) { return finish({}, std::move(error)); }
  // Stores the result of input `index`; answers when it was the last one.
  void complete(size_t index, io::Json output, size_t tokens);
  bool cancelled_or_finished() const { return finished.load() || (cancelled && cancelled->load()); }
};

struct Job {
  std::shared_ptr<Request> request;
  size_t index = 0;
  std::unique_ptr<pipelines::PreparedInput> input;
  Clock::time_point enqueued;
};

// Pool tasks hold a reference: the model outlives the tokenize/post-process
// work queued for it, whenever it is unregistered.
class ServedModel : public std::enable_shared_from_this<ServedModel> {
 public:
  ServedModel(ModelInfo identity, std::shared_ptr<const pipelines::Pipeline> pipeline, Metrics& metrics,
              ThreadPool& pool);
  ~ServedModel();

  // Preprocesses the request's inputs on the pool and queues them; a full
  // queue answers 429.
  void submit(const std::shared_ptr<Request>& request);
  // Runs `min_workers` workers (at least one when min is 0 and max > 0 is not
  // asked: 0 workers means not ready). `wait`: returns when they run.
  void scale(int min_workers, int max_workers);
  // Drops queued inputs whose request finished, was cancelled or timed out.
  void reap(Clock::time_point now);
  // Stops accepting, fails what is queued with 503 and joins the workers
  // (and stops the generation engine).
  void stop(const std::string& why);
  // Text generation: the continuous-batching engine next to the pipeline.
  void set_generation(std::shared_ptr<GenerationModel> generation) { generation_ = std::move(generation); }
  const std::shared_ptr<GenerationModel>& generation() const { return generation_; }

  ModelInfo info() const;
  bool ready() const;
  const std::string& name() const { return info_.name; }
  const std::string& version() const { return info_.version; }
  const std::string& task() const { return info_.task; }  // set once at load
  const ModelConfig& config() const { return info_.config; }

 private:
  struct Worker {
    int id = 0;
    std::thread thread;
    std::atomic<bool> stop{false};
    std::atomic<bool> busy{false};
    std::atomic<bool> exited{false};
  };
  void enqueue(std::vector<Job> jobs, const std::shared_ptr<Request>& request);
  void run_worker(Worker& worker);
  std::vector<Job> next_batch(Worker& worker);
  void compute(std::vector<Job> batch);
  void join_exited();
  int threads_per_worker() const;

  ModelInfo info_;
  std::shared_ptr<const pipelines::Pipeline> pipeline_;
  std::shared_ptr<GenerationModel> generation_;
  Metrics& metrics_;
  ThreadPool& pool_;
  mutable std::mutex mutex_;
  // One scale() or stop() at a time: each waits for the workers it stopped
  // and joins them (two at once would free each other's workers).
  std::mutex scale_mutex_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  size_t pending_ = 0;  // inputs accepted but not yet queued (being tokenized)
  size_t last_batch_inputs_ = 1;  // size of the last batch formed: how many inputs a batch waits for
  std::list<std::unique_ptr<Worker>> workers_;
  int next_worker_id_ = 9000;  // TorchServe numbers workers from 9000
  bool stopping_ = false;
  std::string stop_reason_;
};

}  // namespace optimum::serving::detail
