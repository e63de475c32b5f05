// Thread settings shared by every layer: the engine, oneDNN and the
// element-wise kernels all run on the same OpenMP pool.
#pragma once

namespace optimum {

// Threads used for compute; defaults to the number of cores or
// OPTIMUM_NUM_THREADS when set.
int num_threads();

// Sets the compute thread count (>= 1); 0 restores the default.
void set_num_threads(int n);

// Pins the calling thread's OpenMP workers (not the caller) to distinct CPUs
// of the process's CPU set, once per team size. Linux wakes a sleeping worker
// on the waking thread's CPU when that looks idle; GOMP workers then spin
// there, beside the thread they wait for: after an idle pause a 2 ms forward
// took 8 ms on a 2-core VM. Pinned workers stay on their own CPUs. Skipped
// when OMP_PROC_BIND, OMP_PLACES or GOMP_CPU_AFFINITY set a binding, when
// OPTIMUM_BIND_THREADS=0, or with more threads than CPUs. Called by the model
// forward passes.
void bind_workers();

}  // namespace optimum
