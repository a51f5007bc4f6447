#pragma once
// Failpoints: named places where a test can kill the process with SIGKILL, to
// show that nothing is lost when a machine dies exactly there (the chaos test,
// tests/python/test_sweep_chaos.py). Off unless the environment asks:
//   PBENCH_FAILPOINT=<name>[:<n>]   SIGKILL the n-th time (default: the first)
//                                   this process reaches failpoint(<name>).
// Names in use: run_file.write (between two HDF5 writes of a metrics group),
// run_file.rename (the .partial closed, before the rename to the final name),
// run_file.renamed (after the rename, before the worker exits).
namespace pbench {
void failpoint(const char* name);
}  // namespace pbench
