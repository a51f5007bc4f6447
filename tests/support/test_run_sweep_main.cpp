// `run_sweep` with the test workloads registered (tests only).
#include "datasets/dataset.hpp"
#include "framework/run/catalog.hpp"
#include "framework/sweep/run_sweep_app.hpp"
#include "tests/support/test_workloads.hpp"

int main(int argc, char** argv) {
  pbench::test::register_test_workloads(pbench::workloads());
  pbench::install_builtin_group_options();
  pbench::SweepHooks hooks{pbench::validate_run_config, pbench::expand_all_subjects, pbench::catalog};
  return pbench::run_sweep_main(argc, argv, hooks);
}
