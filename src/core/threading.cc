#include "optimum/core/threading.h"

#include <omp.h>
#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

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
    return opt != nullptr && std::string(opt) == "1";
  }();
  thread_local int bound_for = 0;  // each calling thread has its own worker team
  const int n = omp_get_max_threads();
  if (!enabled || n <= 1 || bound_for == n || omp_in_parallel()) return;
  bound_for = n;
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) return;
  std::vector<int> cpus;
  for (int c = 0; c < CPU_SETSIZE; ++c) {
    if (CPU_ISSET(c, &allowed)) cpus.push_back(c);
  }
  if (n > static_cast<int>(cpus.size())) return;
  // Workers take the CPUs after the caller's current one, so processes whose
  // callers run on different CPUs spread their workers.
  const int here = sched_getcpu();
  const auto at = std::find(cpus.begin(), cpus.end(), here);
  const size_t start = at == cpus.end() ? 0 : static_cast<size_t>(at - cpus.begin());
#pragma omp parallel num_threads(n)
  {
    const int t = omp_get_thread_num();
    if (t > 0) {
      cpu_set_t one;
      CPU_ZERO(&one);
      CPU_SET(cpus[(start + static_cast<size_t>(t)) % cpus.size()], &one);
      pthread_setaffinity_np(pthread_self(), sizeof one, &one);
    }
  }
}

void set_num_threads(int n) {
  if (n < 0) throw InvalidArgument("thread count must be >= 0, got " + std::to_string(n));
  omp_set_num_threads(n == 0 ? default_threads() : n);
}

}  // namespace optimum
