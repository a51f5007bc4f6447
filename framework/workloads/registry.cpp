// The workloads `pbench run` knows (framework/run/workload.hpp declares the
// table), listed here as methods/registry.cpp lists the methods: the engine in
// framework/run/ never includes a workload (tests/python/check_layers.py).
#include "framework/run/workload.hpp"
#include "framework/workloads/compose/compose.hpp"
#include "framework/workloads/continual/continual.hpp"
#include "framework/workloads/edit/edit.hpp"
#include "framework/workloads/invert/invert.hpp"
#include "framework/workloads/personalize/personalize.hpp"

namespace pbench {

Registry<Workload>& workloads() {
  static Registry<Workload>* registry = [] {
    auto* r = new Registry<Workload>("workload");
    register_personalize_workload(*r);
    register_invert_workload(*r);
    register_edit_workload(*r);
    register_continual_workload(*r);
    register_compose_workload(*r);
    return r;
  }();
  return *registry;
}

}  // namespace pbench
