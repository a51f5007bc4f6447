#include "methods/key_locked_edit.hpp"

#include <stdexcept>

namespace pbench::peft {

KeyLockedEdit::KeyLockedEdit(std::shared_ptr<ConceptInputs> concepts, torch::Tensor base_weight)
    : concepts_(std::move(concepts)), weight_(std::move(base_weight)) {}

void KeyLockedEdit::add_target(const torch::Tensor& target, bool trained) {
  const std::string name = "target_" + std::to_string(targets_.size());
  if (trained)
    targets_.push_back(register_parameter(name, target.detach().clone().set_requires_grad(true)));
  else
    targets_.push_back(register_buffer(name, target.detach().clone()));
}

torch::Tensor KeyLockedEdit::output(const torch::Tensor& input, const torch::Tensor& out) {
  const torch::Tensor& inputs = concepts_->inputs;  // [K, d]
  if (int64_t(targets_.size()) != inputs.size(0))
    throw std::logic_error("KeyLockedEdit: " + std::to_string(targets_.size()) + " targets for " +
                           std::to_string(inputs.size(0)) + " concepts");
  const Gate& gate = is_training() ? concepts_->train_gate : concepts_->eval_gate;
  const torch::Tensor metric_inputs = concepts_->inverse_covariance.matmul(inputs.t());  // C⁻¹ Iᵀ [d, K]
  const torch::Tensor gram = inputs.matmul(metric_inputs);                              // G [K, K]
  const torch::Tensor projections = input.matmul(metric_inputs);                        // eᵀ C⁻¹ i*_k [..., K]
  const torch::Tensor similarity = projections / gram.diagonal();
  const torch::Tensor coefficients = projections.matmul(torch::inverse(gram));  // a(e), G symmetric
  const torch::Tensor gates = torch::sigmoid((similarity - gate.beta) / gate.tau);
  const torch::Tensor mapped_inputs = torch::nn::functional::linear(inputs, weight_);  // W i*_k [K, out]
  return out - coefficients.matmul(mapped_inputs) + gates.matmul(torch::stack(targets_));
}

}  // namespace pbench::peft
