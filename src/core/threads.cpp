// SPDX-License-Identifier: BSD-2-Clause
// SetNumThreads: OpenBLAS and OpenMP (oneDNN) told the same count.
#include "fcn/threads.h"

#include <cstdlib>
#include <string>
#include <thread>

#if FCN_HAVE_OPENMP
#include <omp.h>
#endif

extern "C" void openblas_set_num_threads(int num_threads);

namespace fcn {

namespace {

int g_threads = 0;

int PositiveEnv(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return 0;
  char* end = nullptr;
  const long n = std::strtol(value, &end, 10);
  return (*end == '\0' && n > 0 && n < 4096) ? static_cast<int>(n) : 0;
}

}  // namespace

int ThreadsFromEnvironment() {
  for (const char* name : {"FCN_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"}) {
    if (const int n = PositiveEnv(name)) return n;
  }
  const unsigned cores = std::thread::hardware_concurrency();
  return cores > 0 ? static_cast<int>(cores) : 1;
}

int SetNumThreads(int n) {
  if (n <= 0) n = ThreadsFromEnvironment();
  g_threads = n;
  openblas_set_num_threads(n);
#if FCN_HAVE_OPENMP
  omp_set_num_threads(n);
#endif
  return n;
}

int NumThreads() { return g_threads > 0 ? g_threads : ThreadsFromEnvironment(); }

}  // namespace fcn
