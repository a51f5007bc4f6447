#pragma once
// Every method of this build, one line each: X(namespace, name), where
// methods/<name>.cpp defines `void namespace::register_<name>(Registry<MethodEntry>&)`.
// Adding a method is its file, its test and one line here: the declarations
// (methods/methods.hpp) and the registry (methods/all_methods.cpp) are made from
// this list, and every list of methods elsewhere (peft_compare's `method: all`,
// the contract tests, the benchmark gate's W1.train_<method> rows, docs/methods.md's
// count table) is read from the registry. Explicit, not static self-registration:
// a static library drops objects nothing references (TRAPS.md).
#define PBENCH_METHOD_LIST(X)              \
  X(pbench, dreambooth)                    \
  X(pbench, textual_inversion)             \
  X(pbench, gradient_free_ti)              \
  X(pbench, coti)                          \
  X(pbench::peft, lora)                    \
  X(pbench::peft, c_lora)                  \
  X(pbench::peft, disenbooth)              \
  X(pbench, sine)                          \
  X(pbench::peft, cones)                   \
  X(pbench::peft, perfusion)               \
  X(pbench::peft, svdiff)                  \
  X(pbench::peft, ia3)                     \
  X(pbench::peft, loha)                    \
  X(pbench::peft, lokr)                    \
  X(pbench::peft, difffit)                 \
  X(pbench::peft, dylora)                  \
  X(pbench::peft, custom_diffusion)        \
  X(pbench::peft, houlsby_adapter)         \
  X(pbench::peft, closer_look_adapter)     \
  X(pbench, prompt_tuning)                 \
  X(pbench::peft, prefix_tuning)           \
  X(pbench, p_plus)
