#pragma once
// Embedding rows for tokens a method adds to the tokenizer (Textual
// Inversion's placeholders, Custom Diffusion's modifier token, …): ids
// first_id .. first_id + k - 1, past the frozen table, are replaced in the
// embedding output by these trainable rows. An output rewrite rather than a
// concatenated weight, so the frozen table is never copied on the forward path
// (EmbeddingImpl::forward clamps ids past its table for the base lookup).
#include <string>

#include "framework/tensor/adaptable_layers.hpp"

namespace pbench::nn {

class AddedTokenRows : public Parameterization {
 public:
  // `init` [k, dim] becomes the parameter `param_name` (the delta key's last part).
  AddedTokenRows(torch::Tensor init, int64_t first_id, const std::string& param_name = "rows");
  torch::Tensor output(const torch::Tensor& ids, const torch::Tensor& out) override;
  bool rewrites_output() const override { return true; }
  int64_t first_id() const { return first_id_; }
  torch::Tensor rows;

 private:
  int64_t first_id_;
};

}  // namespace pbench::nn
