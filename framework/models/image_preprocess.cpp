#include "framework/models/image_preprocess.hpp"

#include <cmath>
#include <vector>

#include "framework/util/errors.hpp"

namespace pbench::models {
namespace {

// Accepts [H,W,C] or [N,H,W,C] uint8 with 3 channels; returns [N,H,W,C].
torch::Tensor as_batch(const torch::Tensor& images, const char* what) {
  torch::Tensor x = images.dim() == 3 ? images.unsqueeze(0) : images;
  if (x.dim() != 4 || x.scalar_type() != torch::kUInt8 || x.size(3) != 3)
    throw InputError(std::string(what) + ": expected uint8 RGB images [H, W, 3] or [N, H, W, 3]");
  return x.contiguous();
}

double pil_filter(ResampleFilter f, double x) {
  x = std::abs(x);
  if (f == ResampleFilter::kBilinear) return x < 1.0 ? 1.0 - x : 0.0;
  const double a = -0.5;  // Pillow's bicubic constant
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
  if (x < 2.0) return (((x - 5.0) * x + 8.0) * x - 4.0) * a;
  return 0.0;
}

double pil_support(ResampleFilter f) { return f == ResampleFilter::kBilinear ? 1.0 : 2.0; }

constexpr int kPrecisionBits = 32 - 8 - 2;  // Pillow's fixed-point precision for 8-bit images

struct Taps {
  std::vector<int64_t> first, count;  // per output pixel: first input index, number of taps
  std::vector<std::vector<int64_t>> weights;  // fixed-point weights
};

// One axis of Pillow's precompute_coeffs + normalize_coeffs_8bpc.
Taps pil_taps(int64_t in_size, int64_t out_size, ResampleFilter f) {
  const double scale = double(in_size) / double(out_size);
  const double filterscale = std::max(scale, 1.0);  // widen the kernel when shrinking (antialias)
  const double support = pil_support(f) * filterscale;
  Taps taps;
  for (int64_t xx = 0; xx < out_size; ++xx) {
    const double center = (double(xx) + 0.5) * scale;
    int64_t xmin = std::max<int64_t>(int64_t(center - support + 0.5), 0);
    int64_t xmax = std::min<int64_t>(int64_t(center + support + 0.5), in_size) - xmin;
    std::vector<double> k(size_t(std::max<int64_t>(xmax, 0)));
    double sum = 0;
    for (int64_t x = 0; x < xmax; ++x) {
      k[size_t(x)] = pil_filter(f, (double(x + xmin) - center + 0.5) / filterscale);
      sum += k[size_t(x)];
    }
    std::vector<int64_t> fixed(k.size());
    for (size_t i = 0; i < k.size(); ++i) {
      double w = sum != 0 ? k[i] / sum : k[i];
      fixed[i] = int64_t(w < 0 ? -0.5 + w * (1 << kPrecisionBits) : 0.5 + w * (1 << kPrecisionBits));
    }
    taps.first.push_back(xmin);
    taps.count.push_back(xmax);
    taps.weights.push_back(std::move(fixed));
  }
  return taps;
}

uint8_t clip8(int64_t v) {
  v >>= kPrecisionBits;
  return uint8_t(v < 0 ? 0 : (v > 255 ? 255 : v));
}

// Resamples along one axis of an [H,W,C] uint8 buffer.
std::vector<uint8_t> resample_axis(const std::vector<uint8_t>& in, int64_t h, int64_t w, int64_t c, bool horizontal,
                                   int64_t out_size, ResampleFilter f) {
  Taps taps = pil_taps(horizontal ? w : h, out_size, f);
  const int64_t oh = horizontal ? h : out_size, ow = horizontal ? out_size : w;
  std::vector<uint8_t> out(size_t(oh * ow * c));
  for (int64_t y = 0; y < oh; ++y)
    for (int64_t x = 0; x < ow; ++x)
      for (int64_t ch = 0; ch < c; ++ch) {
        const int64_t o = horizontal ? x : y;
        int64_t acc = int64_t(1) << (kPrecisionBits - 1);  // rounding
        for (int64_t t = 0; t < taps.count[size_t(o)]; ++t) {
          const int64_t src = taps.first[size_t(o)] + t;
          const int64_t idx = horizontal ? (y * w + src) * c + ch : (src * w + x) * c + ch;
          acc += int64_t(in[size_t(idx)]) * taps.weights[size_t(o)][size_t(t)];
        }
        out[size_t((y * ow + x) * c + ch)] = clip8(acc);
      }
  return out;
}

}  // namespace

torch::Tensor resize_like_pil(const torch::Tensor& hwc_u8, int64_t out_h, int64_t out_w, ResampleFilter f) {
  torch::Tensor src = hwc_u8.contiguous();
  int64_t h = src.size(0), w = src.size(1), c = src.size(2);
  if (out_h <= 0 || out_w <= 0) throw InputError("resize: expected a positive output size");
  std::vector<uint8_t> buf(src.data_ptr<uint8_t>(), src.data_ptr<uint8_t>() + src.numel());
  // Pillow skips a pass whose size does not change.
  if (out_w != w) {
    buf = resample_axis(buf, h, w, c, true, out_w, f);
    w = out_w;
  }
  if (out_h != h) {
    buf = resample_axis(buf, h, w, c, false, out_h, f);
    h = out_h;
  }
  return torch::from_blob(buf.data(), {h, w, c}, torch::kUInt8).clone();
}

torch::Tensor center_crop(const torch::Tensor& hwc, int64_t height, int64_t width) {
  const int64_t h = hwc.size(0), w = hwc.size(1);
  if (height > h || width > w)
    throw InputError("center_crop: crop " + std::to_string(height) + "x" + std::to_string(width) +
                     " is larger than the image " + std::to_string(h) + "x" + std::to_string(w));
  // Python's round() rounds halves to even (torchvision computes the offsets with it).
  const int64_t top = int64_t(std::nearbyint((h - height) / 2.0)), left = int64_t(std::nearbyint((w - width) / 2.0));
  return hwc.slice(0, top, top + height).slice(1, left, left + width);
}

torch::Tensor normalize_images(const torch::Tensor& nhwc_u8, double rescale, const std::array<double, 3>& mean,
                               const std::array<double, 3>& std) {
  torch::Tensor x = nhwc_u8.permute({0, 3, 1, 2}).to(torch::kFloat32) * float(rescale);
  torch::Tensor m = torch::tensor({float(mean[0]), float(mean[1]), float(mean[2])}).view({1, 3, 1, 1});
  torch::Tensor s = torch::tensor({float(std[0]), float(std[1]), float(std[2])}).view({1, 3, 1, 1});
  return ((x - m) / s).contiguous();
}

namespace {

// Reads `size` / `crop_size` in the old (int) and new ({shortest_edge} or {height,width}) layouts.
void read_size(const JsonSection& s, const std::string& key, int64_t& shortest, int64_t& height, int64_t& width) {
  if (!s.has(key)) return;
  const nlohmann::json& v = s.json().at(key);
  if (v.is_number_integer()) {
    shortest = height = width = v.get<int64_t>();
  } else if (v.is_object()) {
    JsonSection sub = s.sub(key);
    if (sub.has("shortest_edge")) {
      shortest = sub.get_positive("shortest_edge", 0);
      height = width = 0;
    } else {
      height = sub.get_positive("height", 0);
      width = sub.get_positive("width", 0);
    }
  } else {
    s.fail(key, "expected an integer or {shortest_edge} / {height, width}");
  }
  if (shortest <= 0 && (height <= 0 || width <= 0)) s.fail(key, "expected positive sizes");
}

std::array<double, 3> three(const JsonSection& s, const std::string& key, const std::array<double, 3>& fallback) {
  std::vector<double> v = s.get_doubles(key, {fallback.begin(), fallback.end()});
  if (v.size() != 3) s.fail(key, "expected 3 values (RGB)");
  return {v[0], v[1], v[2]};
}

}  // namespace

ClipImageProcessorConfig parse_clip_image_processor(const JsonSection& s) {
  ClipImageProcessorConfig c;
  c.do_resize = s.get_bool("do_resize", true);
  int64_t shortest = 224, h = 0, w = 0;
  read_size(s, "size", shortest, h, w);
  // An int `size` in the old CLIPFeatureExtractor layout is the shortest edge.
  if (s.has("size") && s.json().at("size").is_number_integer()) h = w = 0;
  c.shortest_edge = shortest;
  c.resize_height = h;
  c.resize_width = w;
  int64_t resample = s.get_int("resample", 3);
  if (resample != 2 && resample != 3) s.fail("resample", "unsupported filter " + std::to_string(resample) +
                                                             "; expected 2 (bilinear) or 3 (bicubic)");
  c.resample = ResampleFilter(resample);
  c.do_center_crop = s.get_bool("do_center_crop", true);
  int64_t crop_short = 224, ch = 224, cw = 224;
  read_size(s, "crop_size", crop_short, ch, cw);
  if (ch <= 0 || cw <= 0) ch = cw = crop_short;
  c.crop_height = ch;
  c.crop_width = cw;
  c.do_rescale = s.get_bool("do_rescale", true);
  c.rescale_factor = s.get_double("rescale_factor", 1.0 / 255.0);
  c.do_normalize = s.get_bool("do_normalize", true);
  c.mean = three(s, "image_mean", c.mean);
  c.std = three(s, "image_std", c.std);
  for (double v : c.std)
    if (!(v > 0)) s.fail("image_std", "expected positive values");
  return c;
}

ClipImageProcessorConfig read_clip_image_processor(const std::filesystem::path& file) {
  return parse_clip_image_processor(read_json_section(file));
}

torch::Tensor clip_preprocess(const torch::Tensor& images_u8, const ClipImageProcessorConfig& c) {
  torch::Tensor batch = as_batch(images_u8, "image");
  std::vector<torch::Tensor> out;
  for (int64_t i = 0; i < batch.size(0); ++i) {
    torch::Tensor img = batch[i];
    if (c.do_resize) {
      int64_t h = img.size(0), w = img.size(1), oh = c.resize_height, ow = c.resize_width;
      if (oh == 0) {
        // torchvision Resize(int): short side -> size, long side truncated.
        if (h <= w) {
          oh = c.shortest_edge;
          ow = int64_t(double(c.shortest_edge) * double(w) / double(h));
        } else {
          ow = c.shortest_edge;
          oh = int64_t(double(c.shortest_edge) * double(h) / double(w));
        }
      }
      if (oh != h || ow != w) img = resize_like_pil(img, oh, ow, c.resample);
    }
    if (c.do_center_crop) img = center_crop(img, c.crop_height, c.crop_width);
    out.push_back(img);
  }
  torch::Tensor stacked = torch::stack(out);
  if (!c.do_normalize) return stacked.permute({0, 3, 1, 2}).to(torch::kFloat32) * float(c.do_rescale ? c.rescale_factor : 1.0);
  return normalize_images(stacked, c.do_rescale ? c.rescale_factor : 1.0, c.mean, c.std);
}

torch::Tensor dino_normalize(const torch::Tensor& images_u8, int64_t size) {
  torch::Tensor batch = as_batch(images_u8, "image");
  if (batch.size(1) != size || batch.size(2) != size)
    throw InputError("image: expected " + std::to_string(size) + "x" + std::to_string(size) +
                     " (the model's image_size) for normalisation without resize, got " +
                     std::to_string(batch.size(1)) + "x" + std::to_string(batch.size(2)));
  return normalize_images(batch, 1.0 / 255.0, kImageNetMean, kImageNetStd);
}

torch::Tensor dino_eval_preprocess(const torch::Tensor& images_u8, int64_t resize_short, int64_t crop) {
  ClipImageProcessorConfig c;
  c.shortest_edge = resize_short;
  c.crop_height = c.crop_width = crop;
  c.mean = kImageNetMean;
  c.std = kImageNetStd;
  return clip_preprocess(images_u8, c);
}

}  // namespace pbench::models
