// `pbench` with the test workloads registered (tests only).
#include "framework/run/pbench_app.hpp"
#include "framework/util/thread_env.hpp"
#include "tests/support/test_workloads.hpp"

int main(int argc, char** argv) {
  pbench::ensure_thread_environment(argv);
  pbench::test::register_test_workloads(pbench::workloads());
  return pbench::pbench_main(argc, argv);
}
