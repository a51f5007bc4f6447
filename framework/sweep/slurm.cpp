#include "framework/sweep/slurm.hpp"

#include <fstream>
#include <set>
#include <sstream>

#include "framework/h5/run_file.hpp"
#include "framework/sweep/process.hpp"
#include "framework/util/errors.hpp"

namespace fs = std::filesystem;

namespace pbench {
namespace {

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

fs::path slurm_dir(const fs::path& sweep_dir) { return fs::absolute(sweep_dir) / "slurm"; }

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  std::istringstream in(s);
  while (std::getline(in, cur, sep)) out.push_back(cur);
  return out;
}

struct Submission {
  std::string job;
  fs::path ids_file;
};

std::vector<Submission> read_submissions(const fs::path& sweep_dir) {
  std::vector<Submission> out;
  std::ifstream in(slurm_dir(sweep_dir) / "submissions.tsv");
  std::string line;
  while (std::getline(in, line)) {
    auto f = split(line, '\t');
    if (f.size() >= 2 && !f[0].empty() && f[0][0] != '#') out.push_back({f[0], f[1]});
  }
  return out;
}

std::vector<std::string> read_lines(const fs::path& file) {
  std::vector<std::string> out;
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::string join_ids(const std::vector<Submission>& subs) {
  std::string out;
  for (const auto& s : subs) out += (out.empty() ? "" : ",") + s.job;
  return out;
}

}  // namespace

SlurmArray slurm_array_script(const SlurmOptions& o, const std::string& sweep, const fs::path& sweep_dir,
                              const fs::path& worker, const std::vector<std::pair<std::string, std::string>>& env,
                              size_t tasks, int n) {
  SlurmArray a;
  fs::path dir = slurm_dir(sweep_dir);
  a.script = dir / ("submit-" + std::to_string(n) + ".sbatch");
  a.ids_file = dir / ("runs-" + std::to_string(n) + ".txt");
  a.logs = dir / "logs";
  a.tasks = tasks;
  std::ostringstream s;
  s << "#!/bin/bash\n"
    << "# Written by run_sweep --launcher slurm for sweep " << sweep << " (submission " << n << "):\n"
    << "# array task i runs `pbench run` of the run id on line i+1 of " << a.ids_file.filename().string() << ".\n"
    << "#SBATCH --job-name=pbench-" << sweep << "\n"
    << "#SBATCH --array=0-" << (tasks ? tasks - 1 : 0) << (o.max_parallel > 0 ? "%" + std::to_string(o.max_parallel) : "")
    << "\n"
    << "#SBATCH --output=" << (a.logs / "%A_%a.out").string() << "\n"
    << "#SBATCH --error=" << (a.logs / "%A_%a.err").string() << "\n"
    << "#SBATCH --ntasks=1\n"
    << "#SBATCH --cpus-per-task=" << o.cpus_per_task << "\n";
  if (!o.partition.empty()) s << "#SBATCH --partition=" << o.partition << "\n";
  if (!o.account.empty()) s << "#SBATCH --account=" << o.account << "\n";
  if (!o.time.empty()) s << "#SBATCH --time=" << o.time << "\n";
  if (o.gpus_per_task > 0) s << "#SBATCH --gpus-per-task=" << o.gpus_per_task << "\n";
  if (!o.mem.empty()) s << "#SBATCH --mem=" << o.mem << "\n";
  for (const auto& extra : o.sbatch_args) s << "#SBATCH " << extra << "\n";
  s << "set -euo pipefail\n"
    << "run_id=$(sed -n \"$((SLURM_ARRAY_TASK_ID + 1))p\" " << shell_quote(a.ids_file.string()) << ")\n"
    << "[ -n \"$run_id\" ] || { echo \"no run id for array task $SLURM_ARRAY_TASK_ID\" >&2; exit 2; }\n";
  // The same thread environment a local run gets (TRAPS.md: set before the libraries load).
  for (const auto& [k, v] : env) s << "export " << k << "=" << shell_quote(v) << "\n";
  s << "exec " << shell_quote(fs::absolute(worker).string()) << " run "
    << shell_quote((fs::absolute(sweep_dir) / "configs").string() + "/") << "\"$run_id\"'.yaml'\n";
  a.text = s.str();
  return a;
}

int next_submission_number(const fs::path& sweep_dir) { return int(read_submissions(sweep_dir).size()) + 1; }

std::string submit_slurm_array(const SlurmArray& a, const std::vector<std::string>& run_ids,
                               const fs::path& sweep_dir) {
  fs::create_directories(a.logs);
  {
    std::ofstream ids(a.ids_file);
    for (const auto& id : run_ids) ids << id << "\n";
    std::ofstream script(a.script);
    script << a.text;
  }
  CapturedRun r = run_capture({"sbatch", "--parsable", a.script.string()});
  if (r.exit_code == 127)
    throw InputError("sbatch: not found on PATH (run run_sweep --launcher slurm on a Slurm login node, "
                     "or use --launcher local)");
  if (r.exit_code != 0)
    throw InputError("sbatch " + a.script.string() + " failed (exit " + std::to_string(r.exit_code) +
                     "): " + r.output);
  // --parsable prints "<job id>[;<cluster>]".
  std::string job = r.output.substr(0, r.output.find_first_of(";\n"));
  if (job.empty() || job.find_first_not_of("0123456789") != std::string::npos)
    throw InputError("sbatch printed no job id: " + r.output);
  std::ofstream log(slurm_dir(sweep_dir) / "submissions.tsv", std::ios::app);
  log << job << "\t" << a.ids_file.string() << "\t" << iso8601_utc_now() << "\t" << run_ids.size() << "\n";
  return job;
}

bool slurm_task_active(const std::string& state) {
  static const std::set<std::string> active = {"PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "REQUEUED",
                                               "RESIZING", "SUSPENDED", "REQUEUE_HOLD", "REQUEUE_FED"};
  return active.count(state) > 0;
}

std::map<std::string, SlurmTask> slurm_tasks(const fs::path& sweep_dir) {
  std::map<std::string, SlurmTask> by_run;
  auto subs = read_submissions(sweep_dir);
  if (subs.empty()) return by_run;
  // (job, task) -> run id, later submissions overriding earlier ones.
  std::map<std::pair<std::string, std::string>, std::string> run_of;
  for (const auto& sub : subs) {
    auto ids = read_lines(sub.ids_file);
    for (size_t i = 0; i < ids.size(); ++i) {
      run_of[{sub.job, std::to_string(i)}] = ids[i];
      by_run[ids[i]] = {sub.job, std::to_string(i), ""};
    }
  }
  auto note = [&](const std::string& job, const std::string& task, const std::string& state) {
    auto it = run_of.find({job, task});
    if (it == run_of.end()) return;
    SlurmTask& t = by_run[it->second];
    if (t.job == job && t.task == task) t.state = state;  // only the run's latest task counts
  };
  // How finished tasks ended (accounting may be off: then sacct fails and says nothing).
  CapturedRun acct = run_capture({"sacct", "-n", "-P", "-X", "-o", "JobID,State", "-j", join_ids(subs)});
  if (acct.exit_code == 0)
    for (const auto& line : split(acct.output, '\n')) {
      auto f = split(line, '|');
      if (f.size() < 2) continue;
      auto us = f[0].find('_');
      if (us == std::string::npos) continue;
      note(f[0].substr(0, us), f[0].substr(us + 1), split(f[1], ' ')[0]);  // "CANCELLED by 0" -> CANCELLED
    }
  // Queued and running tasks, one line each (-r). Selected by job name, not -j: squeue
  // refuses the whole list when one job id is already purged; note() keeps ours only.
  std::string name = "pbench-" + fs::absolute(sweep_dir).filename().string();
  CapturedRun queue = run_capture({"squeue", "-h", "-r", "-n", name, "-o", "%F %K %T"});
  if (queue.exit_code == 0)
    for (const auto& line : split(queue.output, '\n')) {
      auto f = split(line, ' ');
      if (f.size() >= 3) note(f[0], f[1], f[2]);
    }
  return by_run;
}

}  // namespace pbench
