// SPDX-License-Identifier: BSD-2-Clause
// Compute threads: one count for every library that runs parallel kernels (OpenBLAS and,
// where built in, oneDNN's OpenMP runtime), so that they never oversubscribe the cores.
//
// Unlike the Options of a net, this count is process-wide by the nature of those libraries:
// OpenBLAS and the OpenMP runtime each keep one count for the whole process, so two nets in
// one process share it. fcn reads no environment variable for it: fcntool sets it once from
// --threads (or FCN_NUM_THREADS / OMP_NUM_THREADS / OPENBLAS_NUM_THREADS). A program that
// uses the library and never calls SetNumThreads keeps OpenBLAS's and OpenMP's own defaults
// (which those libraries take from their own environment variables, else every core).
#pragma once

namespace fcn {

/// Sets the threads of OpenBLAS and of oneDNN's OpenMP runtime; n <= 0 means every core
/// (std::thread::hardware_concurrency). Returns the count set.
int SetNumThreads(int n);

/// The count OpenBLAS runs with now (what SetNumThreads set, or OpenBLAS's own default).
int NumThreads();

}  // namespace fcn
