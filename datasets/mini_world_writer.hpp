#pragma once
// Writes the mini world to disk (what `pbench mini-world` does):
//   <out>/subjects/dataset/prompts_and_classes.txt, <out>/subjects/dataset/<subject>/NN.png
//       the 30 subjects in the DreamBooth dataset's layout (dataset.root=<out>/subjects)
//   <out>/train/captions.jsonl + train/images/NNNNNN.png     training scenes
//   <out>/held_out/captions.jsonl + held_out/images/...       held-out triples only
//   <out>/mini_world.json                                     what was written and how
// Every caption line: {"file", "caption", "class", "colour", "pattern",
// "background", "shiny", "wet", "cube_shaped", "seed"} (seed: the scene's,
// sample_*_scene(seed) gives it back).
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include "datasets/mini_world_scene.hpp"

namespace pbench::mini {

struct MiniWorldOptions {
  int resolution = 64;
  int64_t train_count = 10000;
  int64_t held_out_count = 500;
  uint64_t seed = 0;  // training and held-out sets; the subjects never change
};

struct MiniWorldCounts {
  int64_t subjects = 0, subject_images = 0, train_images = 0, held_out_images = 0;
  int64_t bytes = 0;  // PNG bytes of the training and held-out sets
};

// Called after each image with (what, done, total): "subjects", "train" or "held_out".
using MiniWorldProgress = std::function<void(const std::string& what, int64_t done, int64_t total)>;

// The subjects folder alone; returns the number of images written.
int64_t write_mini_subjects(const std::filesystem::path& dataset_dir, int resolution);

// The prompts_and_classes.txt text, in the DreamBooth file's own format.
std::string mini_prompts_and_classes();

MiniWorldCounts write_mini_world(const std::filesystem::path& out, const MiniWorldOptions& options,
                                 const MiniWorldProgress& progress = {});

}  // namespace pbench::mini
