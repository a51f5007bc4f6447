"""Faults a sweep meets on shared machines (issue 23), each with real programs:
  disk_full            the results folder on a 700 KiB tmpfs that fills mid-sweep (RLIMIT_FSIZE
                       where this user cannot mount): the runs that do not fit fail with a line
                       naming the cause, the completed ones stay complete, and after space is
                       freed a restart runs only the rest
  read_only_results    the results folder on a read-only file system (a path under a regular
                       file where mounting is not allowed): exit 2, one line naming the folder
  run_file_deleted     a completed run file deleted while the sweep still runs: the other runs go
                       on (that run is reported as gone if run_sweep had not yet reaped it), and
                       a restart reruns that run only
  make_table_during    make_table read repeatedly while a sweep writes: never fails, never lists
                       a run that is not complete (it reads final files, never a .partial)
Usage: test_sweep_faults.py <build dir>   (Debian's /usr/bin/python3, h5py)."""
import glob
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build"))
RUN_SWEEP = os.path.join(BUILD, "bin", "run_sweep")
MAKE_TABLE = os.path.join(BUILD, "bin", "make_table")


def sweep_cmd(results, seeds, *extra):
    return [RUN_SWEEP, os.path.join(ROOT, "experiments", "tiny.yaml"), "method=lora", "dataset.subject=red_cube",
            f"seed=range(0,{seeds})", "train.steps=4", "eval.num_prompts=1", "eval.steps=2", "+runtime.threads=1",
            "sweep.name=faults", "--results", results, *extra]


def statuses(results):
    import h5py
    out = {}
    for path in sorted(glob.glob(os.path.join(results, "faults", "runs", "*.h5"))):
        with h5py.File(path, "r") as f:
            s = f["provenance"].attrs["status"]
            out[os.path.basename(path)] = s.decode() if isinstance(s, bytes) else str(s)
    return out


def mtimes(results):
    return {p: os.stat(p).st_mtime_ns for p in glob.glob(os.path.join(results, "faults", "runs", "*.h5"))}


def mount_tmpfs(path, size):
    os.makedirs(path, exist_ok=True)
    if os.environ.get("PBENCH_TEST_NO_MOUNT"):  # exercise the fallbacks where mounting works
        return False
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", path],
                          capture_output=True).returncode == 0


def disk_full(scratch):
    fs = os.path.join(scratch, "small_fs")
    mounted = mount_tmpfs(fs, "700k")
    preexec = None
    if not mounted:  # no mount here: a file-size limit stands in for the full disk
        os.makedirs(fs, exist_ok=True)
        preexec = lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (120 * 1024, 120 * 1024))  # noqa: E731
    try:
        r = subprocess.run(sweep_cmd(fs, 6, "--jobs", "1"), capture_output=True, text=True, preexec_fn=preexec)
        done = {k: v for k, v in statuses(fs).items() if v == "complete"}
        cause = "no space left on the device" if mounted else "file size limit reached"
        if r.returncode != 1:
            raise AssertionError(f"disk_full: run_sweep exited {r.returncode}, expected 1 (some runs failed)\n{r.stderr}")
        failed_lines = [l for l in r.stderr.splitlines() if "failed:" in l]
        # The first run that does not fit names the cause; then the sweep stops (a full disk fails every
        # later run too, and their logs cannot be written), saying how to resume.
        if not failed_lines or not all(cause in line for line in failed_lines[:1 if mounted else 6]):
            raise AssertionError(f"disk_full: the failed run does not name the cause ({cause}):\n{r.stderr}")
        if mounted and (len(failed_lines) != 1 or "is full; free space and run the same command again" not in r.stderr):
            raise AssertionError(f"disk_full: the sweep did not stop at the full disk:\n{r.stderr}")
        if mounted and not 1 <= len(done) < 6:
            raise AssertionError(f"disk_full: {len(done)} runs complete; the disk should fill after a few")
        if not mounted and (done or len(failed_lines) != 6):  # a per-file limit: every run file is too big
            raise AssertionError(f"disk_full: under RLIMIT_FSIZE {len(done)} complete, {len(failed_lines)} failed")
        kept = mtimes(fs)
        if mounted:
            subprocess.run(["mount", "-o", "remount,size=64m", fs], check=True)
        r = subprocess.run(sweep_cmd(fs, 6, "--jobs", "2"), capture_output=True, text=True)
        if r.returncode != 0 or sorted(set(statuses(fs).values())) != ["complete"] or len(statuses(fs)) != 6:
            raise AssertionError(f"disk_full: the restart after freeing space did not complete all 6: {statuses(fs)}\n{r.stderr}")
        for p, t in kept.items():
            if os.path.basename(p) in done and mtimes(fs)[p] != t:
                raise AssertionError(f"disk_full: {p} was complete and was rerun")
        return (f"{'tmpfs 700 KiB' if mounted else 'RLIMIT_FSIZE 120 KiB'}: {len(done)}/6 complete, "
                f"{len(failed_lines)} failed naming '{cause}'{', sweep stopped' if mounted else ''}; the restart completed the other "
                f"{6 - len(done)} and reran none")
    finally:
        if mounted:
            subprocess.run(["umount", fs], capture_output=True)


def read_only_results(scratch):
    fs = os.path.join(scratch, "ro_fs")
    mounted = mount_tmpfs(fs, "1m") and subprocess.run(["mount", "-o", "remount,ro", fs]).returncode == 0
    try:
        if mounted:
            results, words = fs, "Read-only file system"
        else:
            blocker = os.path.join(scratch, "a_file")
            open(blocker, "w").close()
            results, words = os.path.join(blocker, "results"), "Not a directory"
        r = subprocess.run(sweep_cmd(results, 2), capture_output=True, text=True)
        lines = r.stderr.strip().splitlines()
        if r.returncode != 2 or len(lines) != 1 or words not in lines[0] or results not in lines[0]:
            raise AssertionError(f"read_only_results: exit {r.returncode}, stderr:\n{r.stderr}")
        return f"{'read-only tmpfs' if mounted else 'path under a file'}: exit 2, '{lines[0][:110]}'"
    finally:
        if mounted:
            subprocess.run(["umount", fs], capture_output=True)


def run_file_deleted(scratch):
    results = os.path.join(scratch, "deleted")
    proc = subprocess.Popen(sweep_cmd(results, 6, "--jobs", "1"), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    victim = None
    deadline = time.monotonic() + 120
    while victim is None and time.monotonic() < deadline and proc.poll() is None:
        done = [k for k, v in statuses(results).items() if v == "complete"] if os.path.isdir(results) else []
        if done:
            victim = os.path.join(results, "faults", "runs", done[0])
            os.remove(victim)
        time.sleep(0.05)
    out, err = proc.communicate(timeout=300)
    if victim is None:
        raise AssertionError("run_file_deleted: no run completed while the sweep ran")
    # Deleted after run_sweep saw the run finish: exit 0. Deleted between the worker's rename and
    # run_sweep reaping it: that run is reported, in one line, as completed with its file gone.
    gone = "is gone (deleted while the sweep ran?)"
    if not (proc.returncode == 0 or (proc.returncode == 1 and err.count(gone) == 1)):
        raise AssertionError(f"run_file_deleted: the sweep exited {proc.returncode} after a run file was deleted\n{err}")
    kept = mtimes(results)
    r = subprocess.run(sweep_cmd(results, 6, "--jobs", "1"), capture_output=True, text=True)
    if r.returncode != 0 or not os.path.exists(victim) or len(statuses(results)) != 6:
        raise AssertionError(f"run_file_deleted: the restart did not rerun {victim}\n{r.stderr}")
    rerun = [p for p, t in mtimes(results).items() if kept.get(p) != t]
    if rerun != [victim]:
        raise AssertionError(f"run_file_deleted: the restart reran {rerun}, expected only {victim}")
    return (f"deleted {os.path.basename(victim)} mid-sweep: sweep exit {proc.returncode}"
            + (" ('" + gone + "')" if proc.returncode else "") + "; the restart reran that run only")


def make_table_during(scratch):
    results = os.path.join(scratch, "table")
    proc = subprocess.Popen(sweep_cmd(results, 6, "--jobs", "2"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    reads, most = 0, 0
    sweep_dir = os.path.join(results, "faults")
    while proc.poll() is None:
        if os.path.isdir(os.path.join(sweep_dir, "runs")):
            r = subprocess.run([MAKE_TABLE, sweep_dir, "--format", "csv"], capture_output=True, text=True)
            complete = {k[:-3] for k, v in statuses(results).items() if v == "complete"}  # read after: only grows
            if r.returncode not in (0, 1):  # 1: no complete run yet
                raise AssertionError(f"make_table_during: make_table exited {r.returncode}:\n{r.stderr}")
            listed = {line.split(",")[0] for line in r.stdout.splitlines()[1:]} if r.returncode == 0 else set()
            if not listed <= complete:
                raise AssertionError(f"make_table_during: make_table listed runs that are not complete: {listed - complete}")
            reads += 1
            most = max(most, len(listed))
        time.sleep(0.1)
    if proc.returncode != 0:
        raise AssertionError(f"make_table_during: the sweep exited {proc.returncode} while make_table read it")
    if reads < 3:
        raise AssertionError(f"make_table_during: only {reads} reads during the sweep")
    return (f"{reads} make_table reads while 6 runs were written: none failed, each listed only complete runs "
            f"(up to {most}); the sweep finished normally")


def main():
    scratch = tempfile.mkdtemp(prefix="pbench_faults_")
    try:
        for case in (disk_full, read_only_results, run_file_deleted, make_table_during):
            started = time.monotonic()
            print(f"[faults] {case.__name__:<20} {case(scratch)} ({time.monotonic() - started:.0f} s)", flush=True)
        print("[faults] all checks passed")
        return 0
    finally:
        for mount in ("small_fs", "ro_fs"):
            subprocess.run(["umount", os.path.join(scratch, mount)], capture_output=True)
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
