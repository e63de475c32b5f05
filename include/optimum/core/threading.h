// Thread settings shared by every layer: the engine, oneDNN and the
// element-wise kernels all run on the same OpenMP pool.
#pragma once

namespace optimum {

// Threads used for compute; defaults to the number of cores or
// OPTIMUM_NUM_THREADS when set.
int num_threads();

// Sets the compute thread count (>= 1); 0 restores the default.
void set_num_threads(int n);

// With OPTIMUM_BIND_THREADS=1: pins the calling thread's OpenMP workers (not
// the caller) to distinct CPUs of the process's CPU set, once per team size.
// Linux may wake a sleeping worker on the waking thread's CPU; GOMP workers
// then spin there, beside the thread they wait for: after an idle pause a
// 2 ms forward took 8 ms on a 2-core VM, 2 ms pinned. Off by default: with
// several busy processes on the same CPUs, pinned workers cannot move away
// from the others' threads (measured: 1x16 medians 3x worse with 18 bench
// processes on 2 cores). Skipped when OMP_PROC_BIND, OMP_PLACES or
// GOMP_CPU_AFFINITY set a binding, or with more threads than CPUs. Called by
// the model forward passes.
void bind_workers();

}  // namespace optimum
