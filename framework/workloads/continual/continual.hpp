#pragma once
// The `continual` workload: one method learns a sequence of subjects, one task each, and after
// every task the model is sampled and scored on every subject learnt so far (C-LoRA's protocol,
// arXiv 2304.06027 §5). The run file keeps each point (/metrics/task_<t>_subject_<s>), the full
// task x subject matrix of every metric (/continual) and, as /metrics/final, the last task's
// model on all subjects; make_table reports average accuracy and forgetting from the matrix.
// How a task continues from the earlier ones is the method's (Method::continual_task): C-LoRA
// gets a new token and the earlier deltas as its frozen past; every other method fine-tunes
// sequentially, starting from the previous task's delta with the same options.
#include "framework/run/workload.hpp"

namespace pbench {
void register_continual_workload(Registry<Workload>& registry);
}  // namespace pbench
