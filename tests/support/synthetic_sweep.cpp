#include "tests/support/synthetic_sweep.hpp"

#include "framework/h5/run_file.hpp"

namespace fs = std::filesystem;

namespace pbench::test {

std::vector<SyntheticRun> synthetic_runs() {
  // dino: lora 0.50 0.60 0.70 0.80, custom_diffusion 0.40 0.40 0.46 0.46 (see test_make_table.cpp).
  // custom_diffusion's seed-1 run of cat never stops (stop_step -1).
  return {
      {"a000000000000001", "lora", "cat", 0, 0.50, 0.70, 0.30, 0.45, 0.68, 0.31, 800000, 3200000, 40, 20, 10.0, 0.85, 0.75},
      {"a000000000000002", "lora", "cat", 1, 0.60, 0.72, 0.28, 0.50, 0.70, 0.29, 800000, 3200000, 40, 30, 12.0, 0.85, 0.75},
      {"a000000000000003", "lora", "dog", 0, 0.70, 0.74, 0.26, 0.60, 0.70, 0.27, 800000, 3200000, 40, 20, 14.0, 0.90, 0.80},
      {"a000000000000004", "lora", "dog", 1, 0.80, 0.76, 0.24, 0.80, 0.76, 0.24, 800000, 3200000, 40, 40, 16.0, 0.90, 0.80},
      {"b000000000000005", "custom_diffusion", "cat", 0, 0.40, 0.60, 0.31, 0.38, 0.60, 0.31, 19000000, 76000000, 40, 30, 20.0, 0.85, 0.75},
      {"b000000000000006", "custom_diffusion", "cat", 1, 0.40, 0.62, 0.32, 0.40, 0.62, 0.32, 19000000, 76000000, 40, -1, 22.0, 0.85, 0.75},
      {"b000000000000007", "custom_diffusion", "dog", 0, 0.46, 0.64, 0.33, 0.44, 0.63, 0.33, 19000000, 76000000, 40, 20, 24.0, 0.90, 0.80},
      {"c000000000000008", "custom_diffusion", "dog", 1, 0.46, 0.66, 0.34, 0.40, 0.66, 0.34, 19000000, 76000000, 40, 10, 26.0, 0.90, 0.80},
  };
}

std::vector<std::string> synthetic_prompts() { return {"a photo of sks dog, on the beach", "sks in a bucket"}; }

void real_color(const std::string& subject, int i, uint8_t rgb[3]) {
  rgb[0] = uint8_t(subject == "dog" ? 200 : 20);
  rgb[1] = uint8_t(40 * i + 10);
  rgb[2] = 90;
}

namespace {

std::string resolved_yaml(const std::string& method, const std::string& subject, int64_t seed) {
  return "method:\n  name: " + method + "\n  rank: 4\ndataset:\n  name: dreambooth\n  subject: " + subject +
         "\nseed: " + std::to_string(seed) + "\n";
}

std::vector<uint8_t> solid_images(int n, uint8_t r, uint8_t g, uint8_t b) {
  std::vector<uint8_t> px(size_t(n) * kSampleSize * kSampleSize * 3);
  for (size_t i = 0; i < px.size(); i += 3) {
    px[i] = r;
    px[i + 1] = g;
    px[i + 2] = b;
  }
  return px;
}

void write_complete(const fs::path& runs, const SyntheticRun& s) {
  std::string yaml = resolved_yaml(s.method, s.subject, s.seed);
  RunFileWriter w(runs / (s.run_id + ".h5"), s.run_id, "synthetic", yaml, yaml, current_provenance());
  w.set_params("params", {s.method, s.trainable, 1000000000, s.delta_bytes, s.delta_bytes / 2});
  w.set_params("params/sd15", {s.method, s.trainable * 2, 1000000000, s.delta_bytes * 2, s.delta_bytes});
  for (int64_t step = 1; step <= s.steps; ++step) {
    // Loss decays with noise of known sign; wall time grows linearly to s.wall_time.
    float loss = float(0.1 * s.dino + 0.5 / double(step) + double((step % 3) - 1) * 0.02);
    w.append_train(step, loss, 1e-4f, s.wall_time * double(step) / double(s.steps));
  }
  for (int64_t step = 5; step <= s.steps; step += 5)
    // Offset by the run's DINO so that the curves of different runs do not overlap in the figures.
    w.append_dvar(step, float(0.1 * s.dino + 0.4 / double(step)), step <= 10 ? 1.0f : float(s.dino / double(step - 9)));
  w.set_dvar({4, 0.05, "monitor", s.stop_step});
  // Training cost per step in UNet image evaluations: lora a batch of 2; custom_diffusion a batch
  // of 2 and its prior term's 2, each forward and backward.
  w.set_train_cost(s.method == "lora" ? 2 : 4, s.method == "lora" ? 2 : 4);
  h5::set_attr(w.root(), "peak_rss_bytes", int64_t(300) * 1024 * 1024 + s.trainable);
  // Per-image values mean exactly to the chosen number (+d and -d around it).
  auto point = [](double dino, double clip_i, double clip_t, int64_t step) {
    MetricPoint m;
    m.step = step;
    m.scores = {{"dino", {dino - 0.25, dino + 0.25}},
                {"clip_i", {clip_i - 0.25, clip_i + 0.25}},
                {"clip_t", {clip_t - 0.125, clip_t + 0.125}}};
    m.clip_backbone = "builtin:tiny-clip";
    m.dino_backbone = "builtin:tiny-dino";
    return m;
  };
  w.set_metrics("final", point(s.dino, s.clip_i, s.clip_t, s.steps));
  w.set_metrics("dvar_stop", point(s.dino_stop, s.clip_i_stop, s.clip_t_stop, s.stop_step));
  if (s.method == "lora") {
    MetricPoint v = point(s.dino - 0.125, s.clip_i - 0.125, s.clip_t, s.steps);
    v.variant = "rank_2";
    v.objective = 0.5;
    w.set_metrics(kVariantPoint, v);
  }
  // The frozen model's class-word baseline belongs to (subject, seed): the same in both methods' runs.
  const double base_dino = (s.subject == "dog" ? 0.30 : 0.20) + 0.02 * double(s.seed);
  w.set_metrics("baseline", point(base_dino, 0.50, 0.35, 0));
  // CLIP early stopping: lora's runs stop at step 25 (0.05 DINO below final), custom_diffusion's never.
  ClipStopSettings clip{"monitor", 5, 8, 25, 5, 0.05, s.method == "lora" ? 25 : -1};
  for (int64_t step = 5; step <= s.steps; step += 5) w.append_clip_stop(step, s.clip_i);
  w.set_clip_stop(clip);
  if (s.method == "lora") w.set_metrics("clip_stop", point(s.dino - 0.05, s.clip_i, s.clip_t + 0.01, 25));
  w.set_real_baselines({{"clip_i", s.clip_i_real}, {"dino", s.dino_real}});
  uint8_t shade = uint8_t(s.method == "lora" ? 60 : 180);
  auto prompts = synthetic_prompts();
  w.set_samples("final", solid_images(int(prompts.size()), shade, shade, uint8_t(s.seed * 100)), int64_t(prompts.size()),
                kSampleSize, kSampleSize, prompts, {s.seed, s.seed + 1});
  std::vector<uint8_t> real;
  for (int i = 0; i < 3; ++i) {
    uint8_t c[3];
    real_color(s.subject, i, c);
    auto one = solid_images(1, c[0], c[1], c[2]);
    real.insert(real.end(), one.begin(), one.end());
  }
  w.set_samples("real", real, 3, kSampleSize, kSampleSize, {}, {});
  w.complete();
}

}  // namespace

fs::path write_synthetic_sweep(const fs::path& dir) {
  fs::path runs = dir / "runs";
  fs::create_directories(runs);
  for (const auto& s : synthetic_runs()) write_complete(runs, s);
  {
    std::string yaml = resolved_yaml("textual_inversion", "dog", 0);
    RunFileWriter w(runs / (std::string(kBareRunId) + ".h5"), kBareRunId, "synthetic", yaml, yaml, current_provenance());
    w.complete();
  }
  {
    std::string yaml = resolved_yaml("lora", "dog", 7);
    RunFileWriter w(runs / (std::string(kFailedRunId) + ".h5"), kFailedRunId, "synthetic", yaml, yaml, current_provenance());
    w.append_train(1, 0.5f, 1e-4f, 0.1);
    w.fail(kFailedError);
  }
  {
    std::string yaml = resolved_yaml("lora", "cat", 7);
    // Destroyed unfinished: leaves only the .partial, as a crash would.
    RunFileWriter w(runs / (std::string(kPartialRunId) + ".h5"), kPartialRunId, "synthetic", yaml, yaml, current_provenance());
  }
  return dir;
}

}  // namespace pbench::test
