#pragma once
// Thread environment (TRAPS.md): at 2 threads the OpenMP and OpenBLAS pools
// spin against each other unless GOMP_SPINCOUNT and OPENBLAS_THREAD_TIMEOUT
// are set before the libraries load. Launchers pass these to children; a
// program started directly re-executes itself once with them set.
#include <string>
#include <utility>
#include <vector>

namespace pbench {

// Cores this process may use (affinity mask), at least 1.
int available_cores();

// Variables for a child that will run with `threads` intra-op threads.
std::vector<std::pair<std::string, std::string>> thread_environment(int threads);

// If the spin settings are missing from the environment, sets them and
// re-executes the current program with the same arguments (returns only when
// nothing needed doing or the re-exec failed).
void ensure_thread_environment(char** argv);

}  // namespace pbench
