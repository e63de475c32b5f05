// Thread settings shared by every layer: the engine, oneDNN and the
// element-wise kernels all run on the same OpenMP pool.
#pragma once

namespace optimum {

// Threads used for compute; defaults to the number of cores or
// OPTIMUM_NUM_THREADS when set.
int num_threads();

// Sets the compute thread count (>= 1); 0 restores the default.
void set_num_threads(int n);

}  // namespace optimum
