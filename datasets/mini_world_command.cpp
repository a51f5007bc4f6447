#include "datasets/mini_world_command.hpp"

#include <chrono>
#include <iostream>

#include "datasets/mini_world_writer.hpp"
#include "framework/util/cli.hpp"

namespace pbench {

int mini_world_command(int argc, char** argv) {
  CLI::App app{"Write the mini world: its 30 personalization subjects in the DreamBooth dataset's layout "
               "(<out_dir>/subjects, use as dataset.root), a captioned training set (<out_dir>/train) and a "
               "held-out set of (class, colour, background) combinations training never shows (<out_dir>/held_out). "
               "Deterministic: the same options write the same bytes. See docs/mini_world.md.",
               argv[0]};
  std::string out_dir;
  mini::MiniWorldOptions options;
  app.add_option("out_dir", out_dir, "output folder (created; files in it are overwritten)")->required();
  app.add_option("--resolution", options.resolution, "image side in pixels")->check(CLI::Range(8, 4096))->capture_default_str();
  // A million scenes is 100x the default, gigabytes of PNGs: past it is a typo (issue 41).
  app.add_option("--train-count", options.train_count, "training images")->check(count_in(0, 1000000))->capture_default_str();
  app.add_option("--held-out-count", options.held_out_count, "held-out images")->check(count_in(0, 1000000))->capture_default_str();
  app.add_option("--seed", options.seed, "seed of the training and held-out scenes (the subjects never change)")
      ->capture_default_str();
  if (auto rc = parse_command_line(app, argc, argv)) return *rc;
  try {
    auto start = std::chrono::steady_clock::now();
    auto seconds = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
    // A line per tenth of each set: enough to see it move and when it ends.
    std::string current;
    double set_start = 0;
    auto progress = [&](const std::string& what, int64_t done, int64_t total) {
      if (what != current) {
        current = what;
        set_start = seconds();
      }
      if (total >= 10 && done % (total / 10) != 0 && done != total) return;
      double elapsed = seconds() - set_start, eta = elapsed / double(done) * double(total - done);
      std::cerr << "mini-world: " << what << " " << done << "/" << total << " (" << int(seconds()) << " s"
                << (done < total ? ", this set ends in about " + std::to_string(int(eta + 0.5)) + " s" : std::string())
                << ")\n";
    };
    mini::MiniWorldCounts c = mini::write_mini_world(out_dir, options, progress);
    std::cout << "wrote the mini world to " << out_dir << ": " << c.subjects << " subjects (" << c.subject_images
              << " images) in subjects/, " << c.train_images << " training and " << c.held_out_images
              << " held-out images (" << c.bytes / 1024 << " KiB of PNG) at " << options.resolution << " px in "
              << seconds() << " s\n";
    return kExitOk;
  } catch (...) {
    return report_current_exception("pbench mini-world");
  }
}

}  // namespace pbench
