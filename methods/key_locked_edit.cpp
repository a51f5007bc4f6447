#include "methods/key_locked_edit.hpp"

#include <stdexcept>

namespace pbench::peft {

void ConceptInputs::set_inputs(torch::Tensor inputs) {
  inputs_ = std::move(inputs);
  derive();
}

void ConceptInputs::set_input(int64_t k, const torch::Tensor& input) {
  inputs_[k].copy_(input);
  derive();
}

void ConceptInputs::derive() {
  if (inputs_.device().type() == torch::kMeta) return;  // shapes only: nothing is ever computed
  torch::NoGradGuard no_grad;
  const torch::Tensor metric_inputs = inverse_covariance_.matmul(inputs_.t());
  const torch::Tensor gram = inputs_.matmul(metric_inputs);
  if ((gram.diagonal() <= 0).any().item<bool>()) {  // a zero input: no concept to edit towards yet
    metric_inputs_ = inverse_gram_ = energies_ = torch::Tensor();
    return;
  }
  metric_inputs_ = metric_inputs;
  inverse_gram_ = torch::inverse(gram);
  energies_ = gram.diagonal().clone();
}

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
  const torch::Tensor& inputs = concepts_->inputs();  // [K, d]
  if (int64_t(targets_.size()) != inputs.size(0))
    throw std::logic_error("KeyLockedEdit: " + std::to_string(targets_.size()) + " targets for " +
                           std::to_string(inputs.size(0)) + " concepts");
  if (!concepts_->metric_inputs().defined())
    throw std::logic_error("KeyLockedEdit: a concept has no input yet (its superclass word or a delta sets it)");
  const Gate& gate = is_training() ? concepts_->train_gate : concepts_->eval_gate;
  const torch::Tensor projections = input.matmul(concepts_->metric_inputs());  // eᵀ C⁻¹ i*_k [..., K]
  const torch::Tensor similarity = projections / concepts_->energies();
  const torch::Tensor coefficients = projections.matmul(concepts_->inverse_gram());  // a(e), G symmetric
  const torch::Tensor gates = torch::sigmoid((similarity - gate.beta) / gate.tau);
  const torch::Tensor mapped_inputs = torch::nn::functional::linear(inputs, weight_);  // W i*_k [K, out]
  return out - coefficients.matmul(mapped_inputs) + gates.matmul(torch::stack(targets_));
}

}  // namespace pbench::peft
