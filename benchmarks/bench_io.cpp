// Framework I/O and planning that every run goes through, without LibTorch
// compute:
//  safetensors.parse_header_1k  validate a file of 1000 small tensors held in memory (header JSON,
//                               dtype/shape/tiling checks): the per-key cost of loading a UNet
//  safetensors.load_16MiB       load_safetensors() of 64 fp32 [256,256] tensors from disk (page
//                               cache) into torch tensors: read + copy bandwidth
//  h5.append_train_100          100 rows appended to /train of an open run file
//  sweep.plan_grid              plan_sweep() of benchmarks/fixtures/sweep/plan_grid.yaml (96 points)
#include "benchmarks/support/bench_support.hpp"
#include "framework/h5/run_file.hpp"
#include "framework/io/safetensors.hpp"
#include "framework/sweep/plan.hpp"
#include "framework/tensor/safetensors_torch.hpp"

namespace {

using pbench::bench::add;
namespace st = pbench::safetensors;

// Names shaped like a UNet's state-dict keys, so the header is as long as a real one's.
std::vector<uint8_t> thousand_tensor_file() {
  static const std::vector<float> values(4, 0.5f);
  std::vector<st::TensorView> views;
  for (int i = 0; i < 1000; ++i) {
    st::TensorView v;
    v.name = "down_blocks." + std::to_string(i / 100) + ".attentions." + std::to_string(i % 100) +
             ".transformer_blocks.0.attn1.to_q.weight";
    v.shape = {2, 2};
    v.data = values.data();
    v.nbytes = values.size() * sizeof(float);
    views.push_back(v);
  }
  return st::serialize(views, {{"format", "pt"}});
}

void parse_header_1k(benchmark::State& state, int work) {
  const std::vector<uint8_t> bytes = thousand_tensor_file();
  for (auto _ : state) {
    for (int w = 0; w < work; ++w) benchmark::DoNotOptimize(st::File::parse(bytes, "bench"));
  }
}

void load_16mib(benchmark::State& state, int work) {
  const auto dir = pbench::bench::scratch_dir("safetensors");
  pbench::TensorMap tensors;
  for (int i = 0; i < 64; ++i) tensors["t" + std::to_string(i)] = torch::full({256, 256}, float(i));
  const auto path = dir / "model.safetensors";
  pbench::save_safetensors(path, tensors);
  for (auto _ : state) {
    for (int w = 0; w < work; ++w) benchmark::DoNotOptimize(pbench::load_safetensors(path));
  }
  state.SetBytesProcessed(state.iterations() * int64_t(64) * 256 * 256 * 4 * work);
  std::filesystem::remove_all(dir);
}

void append_train_100(benchmark::State& state, int work) {
  const auto dir = pbench::bench::scratch_dir("h5");
  {
    pbench::Provenance prov;
    pbench::RunFileWriter writer(dir / "run.h5", "0123456789abcdef", "bench", "a: 1\n", "a: 1\n", prov);
    int64_t step = 0;
    for (auto _ : state) {
      for (int row = 0; row < 100 * work; ++row, ++step)
        writer.append_train(step, 0.25f, 1e-4f, 0.001 * double(step));
    }
    writer.complete();
  }
  std::filesystem::remove_all(dir);
}

void plan_grid(benchmark::State& state, int work) {
  const auto experiment = pbench::bench::source_dir() / "benchmarks" / "fixtures" / "sweep" / "plan_grid.yaml";
  for (auto _ : state) {
    for (int w = 0; w < work; ++w) {
      auto plan = pbench::plan_sweep(experiment, {}, nullptr);
      if (plan.runs.size() != 96) {
        state.SkipWithError("plan_grid.yaml planned an unexpected number of runs");
        break;
      }
      benchmark::DoNotOptimize(plan);
    }
  }
}

void register_benchmarks() {
  add("safetensors.parse_header_1k", parse_header_1k);
  add("safetensors.load_16MiB", load_16mib)->Unit(benchmark::kMillisecond);
  add("h5.append_train_100", append_train_100);
  add("sweep.plan_grid", plan_grid)->Unit(benchmark::kMillisecond);
}

}  // namespace

PBENCH_BENCHMARK_MAIN()
