#include "framework/run/pbench_app.hpp"
#include "framework/util/thread_env.hpp"

int main(int argc, char** argv) {
  pbench::ensure_thread_environment(argv);
  return pbench::pbench_main(argc, argv);
}
