// SPDX-License-Identifier: BSD-2-Clause
// Compute threads: one count for every library that runs parallel kernels (OpenBLAS and,
// where built in, oneDNN's OpenMP runtime), so that they never oversubscribe the cores.
#pragma once

namespace fcn {

/// The thread count asked for by the environment: FCN_NUM_THREADS, else OMP_NUM_THREADS, else
/// OPENBLAS_NUM_THREADS, else every core. Values that are not positive integers are ignored.
int ThreadsFromEnvironment();

/// Sets the threads of OpenBLAS and of oneDNN's OpenMP runtime; n <= 0 means
/// ThreadsFromEnvironment(). Returns the count set.
int SetNumThreads(int n);

/// The count SetNumThreads set last (ThreadsFromEnvironment() before any call).
int NumThreads();

}  // namespace fcn
