#include "datasets/dataset.hpp"
#include "framework/run/catalog.hpp"
#include "framework/sweep/run_sweep_app.hpp"

int main(int argc, char** argv) {
  pbench::install_builtin_group_options();
  pbench::SweepHooks hooks{pbench::validate_run_config, pbench::expand_all_subjects, pbench::catalog};
  return pbench::run_sweep_main(argc, argv, hooks);
}
