#include "framework/tensor/added_token_rows.hpp"

namespace pbench::nn {

AddedTokenRows::AddedTokenRows(torch::Tensor init, int64_t first_id, const std::string& param_name)
    : first_id_(first_id) {
  rows = register_parameter(param_name, init);
}

torch::Tensor AddedTokenRows::output(const torch::Tensor& ids, const torch::Tensor& out) {
  const int64_t k = rows.size(0);
  torch::Tensor mask = (ids >= first_id_) & (ids < first_id_ + k);
  torch::Tensor local = (ids - first_id_).clamp(0, k - 1);
  torch::Tensor added = rows.index_select(0, local.flatten()).view(out.sizes());
  return torch::where(mask.unsqueeze(-1), added, out);
}

}  // namespace pbench::nn
