#pragma once
// `pbench mini-world <out_dir> [--resolution N] [--train-count N] [--held-out-count N] [--seed S]`
// (docs/mini_world.md). Torch-free, so it lives with the datasets and tests can call it directly.
namespace pbench {
int mini_world_command(int argc, char** argv);
}  // namespace pbench
