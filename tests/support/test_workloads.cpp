#include "tests/support/test_workloads.hpp"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <ostream>
#include <thread>

#include "framework/config/access.hpp"
#include "framework/util/errors.hpp"
#include "framework/util/seeds.hpp"

namespace pbench::test {

void register_test_workloads(Registry<Workload>& registry) {
  registry.add(
      EntryInfo{"test_steps", "test-only: writes curves step by step; can fail or crash on request",
                yaml_defaults("test:\n  steps: 5\n  step_ms: 10\n  fail_at: -1\n  crash_at: -1\n  loss_scale: 1.0\n"
                "lr: 0.001\nrate: 0.1\n"
                // Top-level keys the sweep fixtures (tests/fixtures/sweep/) carry: a key no
                // workload declares is refused (validate_run_config).
                "label: ''\neps: 0.0\nbig: 0.0\nnote: ''\nvariant:\n  name: a\n  rank: 4\n")},
      Workload{[](RunContext& ctx) {
        const cfg::Node& c = ctx.config;
        int64_t steps = cfg::get_int(c, "test.steps", 5);
        int64_t step_ms = cfg::get_int(c, "test.step_ms", 10);
        int64_t fail_at = cfg::get_int(c, "test.fail_at", -1);
        int64_t crash_at = cfg::get_int(c, "test.crash_at", -1);
        double scale = cfg::get_double(c, "test.loss_scale", 1.0);
        double rate = cfg::get_double(c, "rate", 0.1);
        float lr = float(cfg::get_double(c, "lr", 1e-3));
        uint64_t noise = derive_seed(ctx.seed, "test.noise");
        ctx.file.set_params("params", ParamCounts{"test_steps", 10, 100, 40, 20});
        ctx.file.set_params("params/sd15", ParamCounts{"test_steps", 1000, 859520964, 4000, 2000});
        auto start = std::chrono::steady_clock::now();
        for (int64_t step = 1; step <= steps; ++step) {
          if (step == crash_at) {
            ctx.file.flush();
            raise(SIGKILL);
          }
          if (step == fail_at) throw RunFailure("test workload: failure injected at step " + std::to_string(step));
          std::this_thread::sleep_for(std::chrono::milliseconds(step_ms));
          double jitter = double((noise >> (step % 50)) & 0xff) / 2550.0;
          float loss = float(scale * std::exp(-rate * double(step)) + jitter);
          double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
          ctx.file.append_train(step, loss, lr, wall);
          ctx.file.append_dvar(step, loss * 0.5f, 1.0f);
          ctx.file.flush();
          ctx.log << "step " << step << "/" << steps << " loss " << loss << "\n";
        }
      }, nullptr, nullptr, {}});
}

}  // namespace pbench::test
