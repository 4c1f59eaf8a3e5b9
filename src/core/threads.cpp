// SPDX-License-Identifier: BSD-2-Clause
// SetNumThreads: OpenBLAS and OpenMP (oneDNN) told the same count.
#include "fcn/threads.h"

#include <thread>

#if FCN_HAVE_OPENMP
#include <omp.h>
#endif

extern "C" void openblas_set_num_threads(int num_threads);
extern "C" int openblas_get_num_threads(void);

namespace fcn {

int SetNumThreads(int n) {
  if (n <= 0) {
    const unsigned cores = std::thread::hardware_concurrency();
    n = cores > 0 ? static_cast<int>(cores) : 1;
  }
  openblas_set_num_threads(n);
#if FCN_HAVE_OPENMP
  omp_set_num_threads(n);
#endif
  return n;
}

int NumThreads() { return openblas_get_num_threads(); }

}  // namespace fcn
