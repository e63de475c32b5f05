#include "optimum/core/threading.h"

#include <omp.h>
#include <pthread.h>
#include <sched.h>

#include <cstdlib>
#include <string>
#include <thread>

#include "optimum/core/errors.h"

namespace optimum {

namespace {
int default_threads() {
  if (const char* env = std::getenv("OPTIMUM_NUM_THREADS")) {
    const int n = std::atoi(env);
    if (n <= 0) {
      throw InvalidArgument("OPTIMUM_NUM_THREADS='" + std::string(env) + "' is not a positive integer");
    }
    return n;
  }
  const unsigned hc = std::thread::hardware_concurrency();
  return hc == 0 ? 1 : static_cast<int>(hc);
}
}  // namespace

int num_threads() { return omp_get_max_threads(); }

void bind_workers() {
  static const bool enabled = [] {
    for (const char* var : {"OMP_PROC_BIND", "OMP_PLACES", "GOMP_CPU_AFFINITY"}) {
      if (std::getenv(var) != nullptr) return false;
    }
    const char* opt = std::getenv("OPTIMUM_BIND_THREADS");
    return opt == nullptr || std::string(opt) != "0";
  }();
  const int n = omp_get_max_threads();
  if (!enabled || n <= 1 || omp_in_parallel()) return;
  // Each calling thread has its own worker team and its own CPU set.
  thread_local int bound_size = 0;
  thread_local int bound_away_from = -1;
  thread_local cpu_set_t allowed;
  thread_local int allowed_count = -1;
  if (allowed_count < 0) {
    CPU_ZERO(&allowed);
    allowed_count = sched_getaffinity(0, sizeof allowed, &allowed) == 0 ? CPU_COUNT(&allowed) : 0;
  }
  if (n > allowed_count) return;  // more threads than CPUs: leave placement to the scheduler
  const int here = sched_getcpu();
  if (here < 0 || !CPU_ISSET(here, &allowed)) return;
  if (here == bound_away_from && bound_size == n) return;
  cpu_set_t others = allowed;
  CPU_CLR(here, &others);
#pragma omp parallel num_threads(n)
  {
    if (omp_get_thread_num() > 0) pthread_setaffinity_np(pthread_self(), sizeof others, &others);
  }
  bound_away_from = here;
  bound_size = n;
}

void set_num_threads(int n) {
  if (n < 0) throw InvalidArgument("thread count must be >= 0, got " + std::to_string(n));
  omp_set_num_threads(n == 0 ? default_threads() : n);
}

}  // namespace optimum
