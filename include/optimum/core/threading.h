// Thread settings shared by every layer: the engine, oneDNN and the
// element-wise kernels all run on the same OpenMP pool.
#pragma once

namespace optimum {

// Threads used for compute; defaults to the number of cores or
// OPTIMUM_NUM_THREADS when set.
int num_threads();

// Sets the compute thread count (>= 1); 0 restores the default.
void set_num_threads(int n);

// Keeps the calling thread's OpenMP workers off the caller's current CPU:
// their CPU set becomes the process's minus that CPU, re-set when a forward
// starts on another CPU (one short parallel region then; the caller itself
// stays free to move). Linux may wake a sleeping worker on the waking
// thread's CPU; GOMP workers then spin there, beside the thread they wait
// for, until a scheduler tick: on a 2-core VM MiniLM int8 1x16 after a 20 ms
// idle pause took 11.8 ms (0.7 ms back to back), 1.4 ms with this. (Pinning
// each worker to one fixed CPU, tried first, was 3x worse with several busy
// processes: a caller that moved onto its worker's CPU stayed there.)
// OPTIMUM_BIND_THREADS=0 turns it off; skipped when OMP_PROC_BIND, OMP_PLACES
// or GOMP_CPU_AFFINITY set a binding, or with more threads than CPUs. Called
// by the model forward passes.
void bind_workers();

}  // namespace optimum
