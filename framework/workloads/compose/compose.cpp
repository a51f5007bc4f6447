// The `compose` workload (compose.hpp):
//   read each run (its resolved config, delta, subject) -> merge the deltas by the method's rule
//   -> attach the method with the first run's options (plus what the merge says to load it with)
//   -> sample compose.prompts, each {k} written as run k's method writes its subject
//   -> score the one image set against every concept's subject.
#include "framework/workloads/compose/compose.hpp"

#include <map>
#include <ostream>

#include "framework/config/access.hpp"
#include "framework/config/yaml_io.hpp"
#include "framework/h5/h5.hpp"
#include "framework/run/run_delta.hpp"
#include "framework/sample/ddim_sampling.hpp"
#include "framework/tensor/safetensors_torch.hpp"
#include "framework/util/errors.hpp"
#include "framework/workloads/compose/config.hpp"
#include "framework/workloads/personalize/evaluate.hpp"
#include "framework/workloads/personalize/setup.hpp"
#include "framework/workloads/section_checks.hpp"

namespace fs = std::filesystem;

namespace pbench {
namespace {

// One concept: a personalize run and what composing needs of it.
struct Concept {
  fs::path run;
  cfg::Node config;                  // the run's /config/resolved
  std::string method, model;         // method.name, the model spec
  SubjectData subject;               // loaded at the composed model's resolution
  std::unique_ptr<Method> prompter;  // the run's method, unattached: how it writes its subject in prompts
};

Concept read_concept(const std::string& run) {
  Concept c;
  c.run = run;
  c.config = run_resolved_config(run);
  const std::string workload = cfg::get_string(c.config, "workload", kDefaultWorkload);
  if (workload != kDefaultWorkload)
    throw InputError(run + ": a '" + workload + "' run; compose.runs are personalize runs, one concept each");
  c.method = cfg::get_string(cfg::require(c.config, "method"), "name");
  c.model = personalize::read_options(c.config).model.spec();
  c.prompter = read_method(cfg::require(c.config, "method")).build();
  return c;
}

// `section` with the keys a merged delta must be loaded with (MergedDelta::load_options, YAML values).
cfg::Node with_load_options(cfg::Node section, const std::map<std::string, std::string>& load_options) {
  for (const auto& [key, value] : load_options)
    section.set(key, cfg::parse_yaml_text(value, cfg::Origin{"the merged delta's load option " + key, 0}));
  return section;
}

// The mean over the concepts of each image's score (the concepts' points share the image set).
MetricPoint mean_over_concepts(const std::vector<MetricPoint>& points) {
  MetricPoint out = points.front();
  for (size_t m = 0; m < out.scores.size(); ++m)
    for (size_t i = 0; i < out.scores[m].per_image.size(); ++i) {
      double sum = 0;
      for (const MetricPoint& p : points) sum += p.scores[m].per_image[i];
      out.scores[m].per_image[i] = sum / double(points.size());
    }
  return out;
}

void run_compose(RunContext& ctx) {
  const compose::ComposeOptions o = compose::read_options(ctx.config);
  const fs::path cache = run_cache_dir(ctx.config);
  std::vector<Concept> concepts;
  for (const std::string& run : o.compose.runs) {
    concepts.push_back(read_concept(run));
    const Concept& c = concepts.back();
    if (c.method != concepts.front().method || c.model != concepts.front().model)
      throw InputError(run + ": a " + c.method + " run on " + c.model + "; every compose.runs entry must be a " +
                       concepts.front().method + " run on " + concepts.front().model);
  }
  const Concept& first = concepts.front();
  ctx.log << "[compose] " << concepts.size() << " " << first.method << " concepts on " << first.model << "\n";
  models::Pipeline pipeline = models::load_pipeline(first.model, pipeline_tensor_options(o.device, o.dtype, ctx.config));
  std::vector<TensorMap> deltas;
  std::vector<std::string> phrases, subject_names;
  for (Concept& c : concepts) {
    const auto dataset = chosen_entry(c.config, "dataset", datasets());
    c.subject = dataset.entry.factory.load(dataset.section, int(pipeline.resolution), cache);
    deltas.push_back(load_safetensors(run_delta_file(c.run)));
    phrases.push_back(c.subject.unique_token + " " + c.subject.class_noun);  // what the method rewrites
    subject_names.push_back(c.subject.subject);
  }
  std::vector<double> weights = o.compose.weights;
  if (weights.empty()) weights.assign(concepts.size(), 1.0);
  MergeContext merge_context(weights);
  merge_context.base_model = [&]() -> models::Pipeline& { return pipeline; };
  merge_context.class_noun = [&](size_t k) { return concepts.at(k).subject.class_noun; };
  merge_context.captions = o.compose.merge_captions;
  const MergedDelta merged = first.prompter->merge_deltas(deltas, merge_context);
  // A merge that renames the concepts' tokens (Custom Diffusion) says how each run writes its subject now.
  for (size_t k = 0; k < merged.concept_options.size(); ++k)
    concepts[k].prompter =
        read_method(with_load_options(cfg::require(concepts[k].config, "method"), merged.concept_options[k])).build();

  const ChosenMethod chosen = read_method(with_load_options(cfg::require(first.config, "method"), merged.load_options));
  std::unique_ptr<Method> method = chosen.build();
  freeze_pipeline(pipeline);
  MethodTarget target{pipeline, &concepts.front().subject, method_init_generator(ctx.seed), cache};
  method->attach(target);
  method->load_delta(merged.tensors);
  ctx.file.set_params("params", personalize::to_counts(chosen.name, counts_of_attached(*method, pipeline)));
  ctx.log << "[compose] " << method->describe() << "\n";
  {
    h5::Handle g = h5::ensure_group(ctx.file.root(), "compose");
    std::vector<std::string> runs;
    for (const Concept& c : concepts) runs.push_back(c.run.string());
    h5::write_strings(g.id(), "runs", runs);
    h5::write_strings(g.id(), "subjects", subject_names);
    h5::write_array(g.id(), "weights", h5::Type::Float64, {hsize_t(weights.size())}, weights.data());
  }

  // Each prompt names every concept as its own run's method names its subject. Each {k} is
  // rewritten alone: the concepts may share a unique token ("sks cube", "sks ball"), which a
  // method rewriting the whole prompt (Custom Diffusion: every "sks") would give to the first.
  // The recorded prompts keep the unique tokens (CLIP-T drops them).
  std::vector<std::string> method_phrases;
  for (size_t k = 0; k < concepts.size(); ++k)
    method_phrases.push_back(concepts[k].prompter->eval_prompt(phrases[k], concepts[k].subject));
  std::vector<std::string> prompts;
  std::map<std::string, std::string> method_prompt;
  for (size_t i = 0; i < o.compose.prompts.size() && int64_t(i) < o.eval.num_prompts; ++i) {
    prompts.push_back(compose::fill_prompt(o.compose.prompts[i], phrases));
    method_prompt[prompts.back()] = compose::fill_prompt(o.compose.prompts[i], method_phrases);
  }
  const sample::PromptEncoder base = sample::default_prompt_encoder(pipeline);
  const sample::PromptEncoder cond = [&](const std::string& prompt) { return base(method_prompt.at(prompt)); };
  for (const auto& [shown, sampled] : method_prompt)
    ctx.log << "[compose] \"" << shown << "\" sampled as \"" << sampled << "\"\n";
  const auto jobs = sample::grid_jobs(prompts, o.eval.images_per_prompt);
  ctx.log << "[compose] sampling " << jobs.size() << " images\n";
  const sample::SampleSet set = sample::sample_images(pipeline, jobs, ctx.seed, o.eval.sampling(), cond, base);

  const personalize::EvalBackbones backbones = personalize::load_eval_backbones(o.eval);
  std::vector<MetricPoint> points;
  for (size_t k = 0; k < concepts.size(); ++k) {
    personalize::Evaluator evaluator{o.eval, pipeline,       *method,        concepts[k].subject,
                                     ctx,    backbones.clip, backbones.dino, "[compose]"};
    ctx.log << "[compose] against " << concepts[k].subject.subject << ":\n";
    points.push_back(evaluator.score_point("subject_" + std::to_string(k + 1), set, 0, /*write_baselines=*/false));
  }
  ctx.file.set_samples("final", bytes_of(set.images), set.images.size(0), set.images.size(1), set.images.size(2),
                       set.prompts, set.seeds);
  ctx.file.set_metrics("final", mean_over_concepts(points));
}

}  // namespace

void register_compose_workload(Registry<Workload>& registry) {
  registry.add(EntryInfo{"compose",
                         "apply several personalize runs' concepts at once (the method's merge rule) and score "
                         "prompts naming them all against each concept's subject",
                         compose::compose_defaults()},
               Workload{run_compose, compose::check_config, nullptr, cfg::option_docs<compose::ComposeOptions>()});
}

}  // namespace pbench
