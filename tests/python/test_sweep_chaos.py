"""Chaos test of run_sweep (issue 23): a sweep of 16 short runs on builtin:tiny is
killed with SIGKILL at 20 points and restarted each time, then run to the end.

Every restart ends with run_sweep itself killed T seconds after it started (its workers die with
it: PDEATHSIG), T drawn with a fixed seed; before that, by kind (the list is printed):
  parent     nothing else
  worker     one running `pbench run` worker killed at 0.6 T
  failpoint  every worker of that restart dies at a failpoint (framework/util/failpoint.hpp):
             run_file.write (between two HDF5 writes), run_file.rename (the .partial closed,
             before the rename), run_file.renamed (after the rename, before the worker exits)
After every restart: every run file completed before is byte-identical and has the same inode
(none is rerun or rewritten), every final file opens with h5py and says complete or failed, and
no process of the sweep outlives run_sweep (.partial files of killed runs are counted; a restart
removes them). At the end: no .partial, the same run ids as an uninterrupted sweep, all complete,
with identical numbers.
Usage: test_sweep_chaos.py <build dir>   (Debian's /usr/bin/python3, h5py)."""
import glob
import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from run_files import h5_numbers

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build"))
RUN_SWEEP = os.path.join(BUILD, "bin", "run_sweep")
SWEEP = [os.path.join(ROOT, "experiments", "tiny.yaml"), "method=lora", "dataset.subject=red_cube,blue_ball",
         "seed=range(0,8)", "train.steps=6", "eval.num_prompts=1", "eval.steps=2", "+runtime.threads=1",
         "sweep.name=chaos", "--jobs", "2"]
KILLS = 20
RUNS = 16
FAILPOINTS = ["run_file.write", "run_file.rename", "run_file.renamed"]


def sweep_cmd(results):
    return [RUN_SWEEP, *SWEEP, "--results", results]


def run_files(results):
    return sorted(glob.glob(os.path.join(results, "chaos", "runs", "*.h5")))


def fingerprint(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest(), os.stat(path).st_ino


def sweep_processes(results):
    """pids of live processes whose command line mentions this results folder (run_sweep, workers)."""
    pids = []
    for proc in glob.glob("/proc/[0-9]*/cmdline"):
        try:
            with open(proc, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if results in cmd:
            pids.append(int(proc.split("/")[2]))
    return pids


def children_of(pid):
    kids = []
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(stat) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:  # field 4 of stat, after "pid (comm) state"
            kids.append(int(stat.split("/")[2]))
    return kids


def wait_gone(results, seconds=10):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not sweep_processes(results):
            return True
        time.sleep(0.05)
    return False


def check_state(results, completed, where):
    """The invariants after a restart; returns the now-completed files' fingerprints."""
    import h5py
    now = {}
    for path in run_files(results):
        with h5py.File(path, "r") as f:
            status = f["provenance"].attrs["status"]
            status = status.decode() if isinstance(status, bytes) else str(status)
        if status not in ("complete", "failed"):
            raise AssertionError(f"{where}: {path}: status {status!r}")
        if status == "complete":
            now[path] = fingerprint(path)
    for path, fp in completed.items():
        if now.get(path) != fp:
            raise AssertionError(f"{where}: {os.path.basename(path)} was complete and changed (rerun or rewritten)")
    if sweep_processes(results):
        raise AssertionError(f"{where}: processes of the sweep outlived run_sweep: {sweep_processes(results)}")
    partials = glob.glob(os.path.join(results, "chaos", "runs", "*.partial"))
    return now, partials


def main():
    rng = random.Random(23)
    scratch = tempfile.mkdtemp(prefix="pbench_chaos_")
    started = time.monotonic()
    try:
        ref = os.path.join(scratch, "reference")
        t0 = time.monotonic()
        subprocess.run(sweep_cmd(ref), check=True, capture_output=True)
        full = time.monotonic() - t0
        reference = {os.path.basename(p): h5_numbers(p)[0] for p in run_files(ref)}
        if len(reference) != RUNS:
            raise AssertionError(f"the reference sweep made {len(reference)} runs, expected {RUNS}")
        print(f"[chaos] reference sweep: {RUNS} runs in {full:.1f} s")

        results = os.path.join(scratch, "chaos")
        completed, tried = {}, []
        for i in range(KILLS):
            kind = rng.choice(["parent", "worker", "worker", "failpoint"])
            env = dict(os.environ)
            # From before the first worker starts to after a run or two finished: 20 restarts leave
            # work for the next; failpoints wait until runs reach the end of their writes.
            delay = rng.uniform(1.5, 3.0) if kind == "failpoint" else rng.uniform(0.4, 2.2)
            label = f"{kind} at {delay:.2f} s"
            if kind == "failpoint":
                point = rng.choice(FAILPOINTS)
                env["PBENCH_FAILPOINT"] = point
                label = f"failpoint {point}, parent at {delay:.2f} s"
            log_path = os.path.join(scratch, f"restart{i + 1}.log")
            log = open(log_path, "w")
            proc = subprocess.Popen(sweep_cmd(results), env=env, stdout=log, stderr=log)
            outcome = ""
            if kind == "worker":
                time.sleep(0.6 * delay)
                workers = children_of(proc.pid)
                if workers:
                    os.kill(rng.choice(workers), signal.SIGKILL)
                outcome = f"{len(workers) and 1} of {len(workers)} workers killed; "
                time.sleep(0.4 * delay)
            else:
                time.sleep(delay)
            if proc.poll() is not None:
                outcome += f"sweep ended first (exit {proc.returncode})"
            else:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                outcome += "parent killed"
            log.close()
            with open(log_path) as f:
                died = f.read().count("killed by signal 9")
            if died:
                outcome += f"; {died} runs recorded as killed"
            if not wait_gone(results):
                raise AssertionError(f"kill {i + 1} ({label}): processes of the sweep outlived run_sweep")
            completed, partials = check_state(results, completed, f"after kill {i + 1} ({label})")
            tried.append(f"{i + 1:2d}. {label:<44} {outcome:<62} -> {len(completed)}/{RUNS} complete"
                         + (f", {len(partials)} .partial left" if partials else ""))
            print("[chaos] " + tried[-1], flush=True)

        final = subprocess.run(sweep_cmd(results), capture_output=True, text=True)
        if final.returncode != 0:
            raise AssertionError(f"the last, uninterrupted restart exited {final.returncode}:\n{final.stderr[-3000:]}")
        completed, partials = check_state(results, completed, "after the last restart")
        if partials:
            raise AssertionError(f"after the last restart: .partial files left: {partials}")
        got = {os.path.basename(p): h5_numbers(p)[0] for p in run_files(results)}
        if sorted(got) != sorted(reference):
            raise AssertionError(f"run ids differ from the uninterrupted sweep: {sorted(got)} vs {sorted(reference)}")
        for run, numbers in reference.items():
            if got[run] != numbers:
                diff = [k for k in numbers if got[run].get(k) != numbers[k]]
                raise AssertionError(f"{run}: numbers differ from the uninterrupted run in {diff[:5]}")
        print(f"[chaos] all checks passed: {KILLS} kills, then {RUNS}/{RUNS} runs complete with the uninterrupted sweep's "
              f"run ids and numbers ({time.monotonic() - started:.0f} s)")
        return 0
    finally:
        for pid in sweep_processes(scratch):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
