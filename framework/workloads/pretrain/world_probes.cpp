#include "framework/workloads/pretrain/world_probes.hpp"

#include <cstring>
#include <functional>
#include <string>

#include "datasets/mini_world_render.hpp"
#include "datasets/mini_world_subjects.hpp"

namespace pbench::pretrain {

namespace {

torch::Tensor unit_rows(const torch::Tensor& x) {
  return torch::nn::functional::normalize(x, torch::nn::functional::NormalizeFuncOptions().dim(1));
}

struct Factor {
  int values;
  std::function<void(mini::MiniScene&, int)> set;
  std::function<int(const mini::MiniScene&)> get;
};

double factor_accuracy(const models::ClipBackbone& clip, const std::vector<mini::MiniScene>& scenes,
                       const torch::Tensor& image_features, const Factor& factor) {
  int64_t correct = 0;
  for (size_t i = 0; i < scenes.size(); ++i) {
    std::vector<std::string> candidates;
    for (int v = 0; v < factor.values; ++v) {
      mini::MiniScene scene = scenes[i];
      factor.set(scene, v);
      candidates.push_back(mini::caption(scene));
    }
    const torch::Tensor texts = unit_rows(clip.encode_texts(candidates));
    const int64_t best = texts.matmul(image_features[int64_t(i)]).argmax().item<int64_t>();
    correct += best == factor.get(scenes[i]);
  }
  return double(correct) / double(scenes.size());
}

}  // namespace

ZeroShotAccuracy clip_zero_shot(const models::ClipBackbone& clip, const std::vector<mini::MiniScene>& scenes,
                                const torch::Tensor& images_u8) {
  const torch::Tensor images = unit_rows(clip.encode_images(images_u8));
  ZeroShotAccuracy out;
  out.class_accuracy = factor_accuracy(clip, scenes, images,
                                       {mini::kShapes, [](mini::MiniScene& s, int v) { s.shape = mini::Shape(v); },
                                        [](const mini::MiniScene& s) { return int(s.shape); }});
  out.colour_accuracy = factor_accuracy(clip, scenes, images,
                                        {mini::kColours, [](mini::MiniScene& s, int v) { s.colour = mini::Colour(v); },
                                         [](const mini::MiniScene& s) { return int(s.colour); }});
  out.background_accuracy =
      factor_accuracy(clip, scenes, images,
                      {mini::kBackgrounds, [](mini::MiniScene& s, int v) { s.background = mini::Background(v); },
                       [](const mini::MiniScene& s) { return int(s.background); }});
  return out;
}

double knn_class_accuracy(const torch::Tensor& bank, const std::vector<int64_t>& bank_labels,
                          const torch::Tensor& query, const std::vector<int64_t>& query_labels, int64_t k,
                          int64_t classes) {
  constexpr double kTemperature = 0.07;  // DINO's k-NN evaluation
  const torch::Tensor similarity = unit_rows(query).matmul(unit_rows(bank).t());
  const auto [top, index] = similarity.topk(std::min<int64_t>(k, bank.size(0)), 1);
  const torch::Tensor labels = torch::tensor(bank_labels, torch::kInt64).index({index});
  const torch::Tensor votes =
      torch::zeros({query.size(0), classes}).scatter_add_(1, labels, (top / kTemperature).exp());
  const torch::Tensor predicted = votes.argmax(1);
  const torch::Tensor truth = torch::tensor(query_labels, torch::kInt64);
  return predicted.eq(truth).to(torch::kFloat64).mean().item<double>();
}

SubjectImages render_subject_images(int resolution) {
  SubjectImages out;
  std::vector<torch::Tensor> images;
  const auto& subjects = mini::mini_subjects();
  for (size_t s = 0; s < subjects.size(); ++s)
    for (int i = 0; i < subjects[s].num_images; ++i) {
      const Image image = mini::render_scene(mini::subject_scene(subjects[s], i), resolution);
      torch::Tensor t = torch::empty({resolution, resolution, 3}, torch::kUInt8);
      std::memcpy(t.data_ptr<uint8_t>(), image.rgb.data(), size_t(t.numel()));
      images.push_back(t);
      out.subject.push_back(int64_t(s));
    }
  out.images_u8 = torch::stack(images);
  return out;
}

double nearest_neighbour_retrieval(const torch::Tensor& features, const std::vector<int64_t>& labels) {
  const torch::Tensor f = unit_rows(features);
  torch::Tensor similarity = f.matmul(f.t());
  similarity.fill_diagonal_(-2.0);  // never oneself
  const torch::Tensor nearest = similarity.argmax(1);
  const torch::Tensor l = torch::tensor(labels, torch::kInt64);
  return l.index({nearest}).eq(l).to(torch::kFloat64).mean().item<double>();
}

std::vector<int64_t> class_labels(const std::vector<mini::MiniScene>& scenes) {
  std::vector<int64_t> out;
  for (const auto& s : scenes) out.push_back(int64_t(s.shape));
  return out;
}

}  // namespace pbench::pretrain
