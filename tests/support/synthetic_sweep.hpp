#pragma once
// A sweep folder of synthetic run files written through RunFileWriter, with
// values chosen so that every aggregate can be computed by hand:
//   methods lora and custom_diffusion x subjects dog, cat x seeds 0, 1 (8 complete runs),
//   the lora runs also with an evaluation variant's point final_rank_2 (kVariantPoint: dino and
//   clip_i 0.125 below final, clip_t as final, objective 0.5),
//   plus one complete textual_inversion run with no metrics, params or curves,
//   one failed run and one crashed run (only its .partial is left).
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace pbench::test {

struct SyntheticRun {
  std::string run_id, method, subject;
  int64_t seed = 0;
  double dino = 0, clip_i = 0, clip_t = 0;           // /metrics/final means
  double dino_stop = 0, clip_i_stop = 0, clip_t_stop = 0;  // /metrics/dvar_stop means
  int64_t trainable = 0, delta_bytes = 0;
  int64_t steps = 0;       // last /train/step
  int64_t stop_step = -1;  // /dvar@stop_step
  double wall_time = 0;    // last /train/wall_time
  double clip_i_real = 0, dino_real = 0;
};

// The eight complete runs with metrics (in run id order).
std::vector<SyntheticRun> synthetic_runs();
constexpr const char* kFailedRunId = "f000000000000009";
constexpr const char* kFailedError = "NaN loss at step 3 (lr too high)";
constexpr const char* kPartialRunId = "e00000000000000a";
constexpr const char* kBareRunId = "d000000000000008";  // textual_inversion, complete, nothing recorded
constexpr const char* kVariantPoint = "final_rank_2";
constexpr int kSampleSize = 16;  // sample images are kSampleSize x kSampleSize
// Prompts of every run's final samples; real images: 3 per subject.
std::vector<std::string> synthetic_prompts();
// Solid colour of real image i of a subject (so grids can be checked pixel by pixel).
void real_color(const std::string& subject, int i, uint8_t rgb[3]);

// Writes <dir>/runs/*.h5 (+ one .partial) and returns dir.
std::filesystem::path write_synthetic_sweep(const std::filesystem::path& dir);

}  // namespace pbench::test
