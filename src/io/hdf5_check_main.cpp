// SPDX-License-Identifier: BSD-2-Clause
// fcn-hdf5-check: the process in which libfcn reads an HDF5 file first (src/io/hdf5.cpp,
// docs/reliability.md), so that libhdf5 crashing on a damaged file ends this process, not the
// one that loads the file. Started by libfcn with posix_spawn, its stdin and stdout one
// socket to it; not meant to be run by hand.
#include <unistd.h>

#include "io/hdf5.h"

// Under AddressSanitizer (the ASan and fuzz builds): a fault ends the checker by its signal,
// which is what the asking process reports, and the blocks libhdf5 keeps are not leaks to
// report at the end; a small quarantine keeps the long-lived checker small; and an allocation
// above 256 MiB fails as in the fuzz targets (fuzz/fuzz_util.cpp), where libhdf5 would
// otherwise zero-fill whatever a damaged header asks for. Unused in other builds.
extern "C" const char* __asan_default_options();
extern "C" const char* __asan_default_options() {
  return "detect_leaks=0:handle_segv=0:handle_sigbus=0:handle_sigfpe=0:handle_sigill=0:"
         "quarantine_size_mb=16:allocator_may_return_null=1:max_allocation_size_mb=256";
}

int main() { return fcn::ServeHdf5Checks(STDIN_FILENO); }
