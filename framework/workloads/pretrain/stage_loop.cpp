#include "framework/workloads/pretrain/stage_loop.hpp"

#include <cmath>
#include <cstdio>
#include <iostream>

#include "framework/train/lr_schedule.hpp"
#include "framework/util/duration.hpp"
#include "framework/util/errors.hpp"
#include "framework/util/seeds.hpp"

namespace pbench::pretrain {

namespace fs = std::filesystem;

namespace {

torch::Tensor curve_tensor(const StageProgress& progress) {
  torch::Tensor t = torch::empty({int64_t(progress.curve.size()), 4}, torch::kFloat64);
  auto a = t.accessor<double, 2>();
  for (size_t i = 0; i < progress.curve.size(); ++i) {
    const CurvePoint& p = progress.curve[i];
    a[int64_t(i)][0] = double(p.step);
    a[int64_t(i)][1] = p.loss;
    a[int64_t(i)][2] = p.learning_rate;
    a[int64_t(i)][3] = p.elapsed_seconds;
  }
  return t;
}

void read_curve(const torch::Tensor& t, StageProgress& progress) {
  progress.curve.clear();
  auto a = t.accessor<double, 2>();
  for (int64_t i = 0; i < t.size(0); ++i)
    progress.curve.push_back({int64_t(std::llround(a[i][0])), a[i][1], a[i][2], a[i][3]});
}

void save_checkpoint(const fs::path& file, const StageProgress& progress, torch::nn::Module& state,
                     torch::optim::Optimizer& optimizer) {
  fs::create_directories(file.parent_path());
  torch::serialize::OutputArchive archive, model_archive, optimizer_archive;
  state.save(model_archive);
  optimizer.save(optimizer_archive);
  archive.write("step", torch::tensor(progress.steps_done));
  archive.write("train_seconds", torch::tensor(progress.train_seconds, torch::kFloat64));
  archive.write("curve", curve_tensor(progress));
  archive.write("state", model_archive);
  archive.write("optimizer", optimizer_archive);
  // Written beside the old one and renamed over it: a crash mid-write leaves
  // the previous checkpoint intact.
  const fs::path partial = file.string() + ".partial";
  archive.save_to(partial.string());
  fs::rename(partial, file);
}

void load_checkpoint(const fs::path& file, StageProgress& progress, torch::nn::Module& state,
                     torch::optim::Optimizer& optimizer) {
  torch::serialize::InputArchive archive, model_archive, optimizer_archive;
  try {
    archive.load_from(file.string());
    archive.read("state", model_archive);
    archive.read("optimizer", optimizer_archive);
    state.load(model_archive);
    optimizer.load(optimizer_archive);
    torch::Tensor step, seconds, curve;
    archive.read("step", step);
    archive.read("train_seconds", seconds);
    archive.read("curve", curve);
    progress.steps_done = step.item<int64_t>();
    progress.train_seconds = seconds.item<double>();
    read_curve(curve, progress);
  } catch (const c10::Error& e) {
    throw InputError(file.string() + ": not a checkpoint of this stage (" + std::string(e.what_without_backtrace()) +
                     "); delete it to start the stage again");
  }
}

void set_learning_rates(torch::optim::Optimizer& optimizer, double lr) {
  for (auto& group : optimizer.param_groups()) static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
}

}  // namespace

void start_average(const std::vector<torch::Tensor>& averaged, const std::vector<torch::Tensor>& trained) {
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < averaged.size(); ++i) averaged[i].copy_(trained[i]).set_requires_grad(false);
}

void update_average(const std::vector<torch::Tensor>& averaged, const std::vector<torch::Tensor>& trained, double decay) {
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < averaged.size(); ++i) averaged[i].mul_(decay).add_(trained[i], 1.0 - decay);
}

std::unique_ptr<torch::optim::AdamW> make_adamw(const std::vector<torch::Tensor>& parameters,
                                                const StageSettings& settings) {
  return std::make_unique<torch::optim::AdamW>(
      parameters, torch::optim::AdamWOptions(settings.learning_rate).weight_decay(settings.weight_decay));
}

StageProgress run_stage(const StageSettings& settings, uint64_t seed, torch::nn::Module& state,
                        torch::optim::Optimizer& optimizer, const StepFn& step_fn,
                        const std::function<void(int64_t)>& after_step) {
  using Clock = std::chrono::steady_clock;
  StageProgress progress;
  progress.steps_total = settings.steps;
  if (fs::is_regular_file(settings.checkpoint)) {
    load_checkpoint(settings.checkpoint, progress, state, optimizer);
    std::cerr << "[" << settings.name << "] resumed at step " << progress.steps_done << "/" << settings.steps
              << " from " << settings.checkpoint.string() << "\n";
  }
  const LrSchedule schedule{"cosine", settings.warmup_steps, settings.steps};
  state.train();
  const auto start = Clock::now();
  auto last_checkpoint = start;
  const int64_t first = progress.steps_done;
  const double seconds_before = progress.train_seconds;
  double loss_sum = 0.0;
  int64_t loss_count = 0;
  while (progress.steps_done < settings.steps) {
    const int64_t step = progress.steps_done + 1;
    const double lr = settings.learning_rate * schedule.factor(step);
    set_learning_rates(optimizer, lr);
    torch::Generator generator =
        at::detail::createCPUGenerator(derive_seed(int64_t(seed), settings.name + "/step/" + std::to_string(step)));
    optimizer.zero_grad();
    torch::Tensor loss = step_fn(step, generator);
    const double loss_value = loss.item<double>();
    if (!std::isfinite(loss_value))
      throw RunFailure("[" + settings.name + "] loss is not finite at step " + std::to_string(step) +
                         "; lower learning_rate, or --resume from the last checkpoint (" +
                         settings.checkpoint.string() + ")");
    loss.backward();
    optimizer.step();
    if (after_step) after_step(step);
    progress.steps_done = step;
    loss_sum += loss_value;
    ++loss_count;
    const auto now = Clock::now();
    progress.train_seconds = seconds_before + std::chrono::duration<double>(now - start).count();
    progress.curve.push_back({step, loss_value, lr, progress.train_seconds});
    const bool out_of_time = settings.deadline && now >= *settings.deadline;
    const bool last = step == settings.steps;
    if (step % settings.log_every == 0 || last || out_of_time) {
      const double elapsed = std::chrono::duration<double>(now - start).count();
      const double per_step = elapsed / double(step - first);
      std::fprintf(stderr, "[%s] step %lld/%lld  loss %.5f  lr %.2e  %.3f s/step  elapsed %s  ETA %s\n",
                   settings.name.c_str(), (long long)step, (long long)settings.steps, loss_sum / double(loss_count),
                   lr, per_step, format_duration(progress.train_seconds).c_str(),
                   format_duration(per_step * double(settings.steps - step)).c_str());
      loss_sum = 0.0;
      loss_count = 0;
    }
    const bool checkpoint_due = step % settings.checkpoint_every == 0 ||
                                std::chrono::duration<double>(now - last_checkpoint).count() >= settings.checkpoint_seconds;
    if (checkpoint_due || last || out_of_time) {
      save_checkpoint(settings.checkpoint, progress, state, optimizer);
      last_checkpoint = Clock::now();
    }
    if (out_of_time && !last) {
      std::cerr << "[" << settings.name << "] time budget reached at step " << step << "; checkpoint saved, run "
                << "again with --resume to continue\n";
      progress.outcome = StageOutcome::kOutOfTime;
      break;
    }
  }
  state.eval();
  return progress;
}

}  // namespace pbench::pretrain
