#include "optimum/core/threading.h"

#include <omp.h>

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

void set_num_threads(int n) {
  if (n < 0) throw InvalidArgument("thread count must be >= 0, got " + std::to_string(n));
  omp_set_num_threads(n == 0 ? default_threads() : n);
}

}  // namespace optimum
