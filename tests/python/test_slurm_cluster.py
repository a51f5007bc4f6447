"""run_sweep --launcher slurm against a real single-node Slurm cluster (issue 21).

The test starts munged, slurmctld and slurmd itself, on loopback, with a generated
slurm.conf (proctrack/linuxproc, task/none: no cgroups) in a temporary folder, and
stops them at the end. It then:
  1. runs a 4-run sweep on the built-in model locally and the same sweep through
     Slurm, and requires the same run ids and identical numbers (both at 1 thread);
  2. submits a second sweep one task at a time, scancels it after its first run
     completed, checks run_sweep --status, resubmits, and requires that only the
     unfinished runs were submitted again and that the finished ones were not rerun.
Skipped (exit 77, CTest SKIP_RETURN_CODE) with the reason where the daemons are not
installed (scripts/test.sh installs slurm-wlm and munge) or cannot start.
Usage: test_slurm_cluster.py <build dir>.  Debian's /usr/bin/python3 (h5py)."""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

from run_files import h5_numbers

SKIP = 77
ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build"))
RUN_SWEEP = os.path.join(BUILD, "bin", "run_sweep")
SWEEP = [os.path.join(ROOT, "experiments", "tiny.yaml"), "method=lora", "dataset.subject=red_cube,blue_ball",
         "seed=0,1", "eval.num_prompts=1", "eval.steps=2", "+runtime.threads=1"]


def skip(why):
    print(f"SKIPPED: {why}")
    sys.exit(SKIP)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """munged + slurmctld + slurmd in `dir`, all in the foreground of child processes."""

    def __init__(self, dir):
        self.dir, self.procs = dir, []
        self.env = dict(os.environ, SLURM_CONF=os.path.join(dir, "slurm.conf"))

    def start(self):
        d = self.dir
        for sub in ("state", "spool", "logs"):
            os.makedirs(os.path.join(d, sub))
        with open(os.path.join(d, "munge.key"), "wb") as f:
            f.write(os.urandom(1024))
        os.chmod(os.path.join(d, "munge.key"), 0o600)
        sock = os.path.join(d, "munge.sock")
        self.spawn("munged", ["munged", "-F", "-f", f"--key-file={d}/munge.key", f"--socket={sock}",
                              f"--pid-file={d}/munged.pid", f"--seed-file={d}/munged.seed",
                              f"--log-file={d}/logs/munged.log"])
        self.wait_for(lambda: os.path.exists(sock), "munged's socket")
        conf = f"""ClusterName=pbenchtest
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort={free_port()}
SlurmdPort={free_port()}
AuthType=auth/munge
AuthInfo=socket={sock}
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation={d}/state
SlurmdSpoolDir={d}/spool
SlurmctldPidFile={d}/slurmctld.pid
SlurmdPidFile={d}/slurmd.pid
SlurmctldLogFile={d}/logs/slurmctld.log
SlurmdLogFile={d}/logs/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MinJobAge=300
NodeName=pbnode NodeHostname={socket.gethostname()} NodeAddr=127.0.0.1 CPUs={os.cpu_count()} State=UNKNOWN
PartitionName=debug Nodes=pbnode Default=YES MaxTime=INFINITE State=UP
"""
        with open(self.env["SLURM_CONF"], "w") as f:
            f.write(conf)
        self.spawn("slurmctld", ["slurmctld", "-D", "-i"])
        self.spawn("slurmd", ["slurmd", "-D", "-N", "pbnode"])
        self.wait_for(lambda: "idle" in self.run(["sinfo", "-h", "-o", "%T"]).stdout, "the node to be idle", 60)

    def spawn(self, name, argv):
        log = open(os.path.join(self.dir, "logs", name + ".out"), "w")
        self.procs.append((name, subprocess.Popen(argv, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                                  start_new_session=True)))

    def run(self, argv, **kw):
        return subprocess.run(argv, env=self.env, capture_output=True, text=True, **kw)

    def wait_for(self, ready, what, seconds=30):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for name, p in self.procs:
                if p.poll() is not None:
                    raise RuntimeError(f"{name} exited with {p.returncode} while waiting for {what}: " + self.log(name))
            if ready():
                return
            time.sleep(0.5)
        raise TimeoutError(f"no {what} after {seconds} s")

    def log(self, name):
        for path in (os.path.join(self.dir, "logs", name + ".out"), os.path.join(self.dir, "logs", name + ".log")):
            if os.path.exists(path):
                with open(path, errors="replace") as f:
                    return f.read()[-2000:]
        return ""

    def queue_empty(self, name):
        return self.run(["squeue", "-h", "-n", name]).stdout.strip() == ""

    def stop(self):
        for name, p in reversed(self.procs):
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)
                    p.wait()


def sweep(cluster, results, name, steps, *extra, check=True):
    argv = [RUN_SWEEP, *SWEEP, f"train.steps={steps}", f"sweep.name={name}", "--results", results, *extra]
    r = cluster.run(argv)
    if check and r.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} exited {r.returncode}:\n{r.stdout}\n{r.stderr}")
    return r


def status(cluster, sweep_dir):
    r = cluster.run([RUN_SWEEP, "--status", sweep_dir, "--json"])
    assert r.returncode == 0, r.stdout + r.stderr
    return json.loads(r.stdout)


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    print(f"ok: {what}")


def main():
    missing = [p for p in ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scancel") if not shutil.which(p)]
    if missing:
        skip(f"{', '.join(missing)} not installed (apt-get install slurm-wlm munge; scripts/test.sh does)")
    if os.geteuid() != 0:
        skip("the test cluster runs its daemons as root (SlurmUser=root)")
    if not os.access(RUN_SWEEP, os.X_OK):
        print(f"error: {RUN_SWEEP} missing (build first)")
        return 1
    tmp = tempfile.mkdtemp(prefix="pbench-slurm-")
    cluster = Cluster(os.path.join(tmp, "cluster"))
    os.makedirs(cluster.dir)
    try:
        try:
            cluster.start()
        except (RuntimeError, TimeoutError, OSError) as e:
            cluster.stop()
            skip(f"the test cluster did not start: {e}")
        results_local, results_slurm = os.path.join(tmp, "local"), os.path.join(tmp, "slurm")

        # 1. the same sweep locally and on Slurm gives the same run files
        sweep(cluster, results_local, "four", 4, "--jobs", "2")
        r = sweep(cluster, results_slurm, "four", 4, "--launcher", "slurm", "--json")
        sub = json.loads(r.stdout)
        check(sub["submitted"] == 4 and sub["job_id"], f"4 runs submitted as job {sub['job_id']}")
        cluster.wait_for(lambda: cluster.queue_empty("pbench-four"), "the array to finish", 300)
        local_runs = sorted(os.listdir(os.path.join(results_local, "four", "runs")))
        local_runs = [f for f in local_runs if f.endswith(".h5")]
        slurm_runs = sorted(f for f in os.listdir(os.path.join(results_slurm, "four", "runs")) if f.endswith(".h5"))
        check(len(local_runs) == 4 and local_runs == slurm_runs, f"same 4 run ids: {local_runs}")
        for f in local_runs:
            a, _ = h5_numbers(os.path.join(results_local, "four", "runs", f))
            b, prov = h5_numbers(os.path.join(results_slurm, "four", "runs", f))
            check(a == b and len(a) > 5, f"{f}: {len(a)} datasets identical to the local run")
            check(prov["status"] == "complete" and prov["slurm_array_job_id"] == sub["job_id"]
                  and prov["slurm_node"] == "pbnode" and prov["slurm_array_task_id"] != "",
                  f"{f}: provenance names job {prov['slurm_array_job_id']}_{prov['slurm_array_task_id']} on {prov['slurm_node']}")
        st = status(cluster, os.path.join(results_slurm, "four"))
        check(st["counts"] == {"done": 4, "failed": 0, "running": 0, "pending": 0}, f"--status: {st['counts']}")
        r = sweep(cluster, results_slurm, "four", 4, "--launcher", "slurm", "--json")
        check(json.loads(r.stdout)["submitted"] == 0, "resubmitting a complete sweep submits nothing")

        # 2. scancel mid-sweep, then resubmit: only the unfinished runs run again
        d = os.path.join(results_slurm, "slow")
        r = sweep(cluster, results_slurm, "slow", 40, "--launcher", "slurm", "--max-parallel", "1", "--json")
        first = json.loads(r.stdout)
        done = lambda: [f for f in os.listdir(os.path.join(d, "runs")) if f.endswith(".h5")]
        cluster.wait_for(lambda: len(done()) >= 1, "the first slow run", 300)
        cluster.run(["scancel", first["job_id"]])
        cluster.wait_for(lambda: cluster.queue_empty("pbench-slow"), "the cancelled array to leave the queue", 60)
        finished = {f: os.stat(os.path.join(d, "runs", f)).st_mtime_ns for f in done()}
        check(1 <= len(finished) < 4, f"scancel left {len(finished)} of 4 runs complete")
        st = status(cluster, d)
        check(st["counts"]["done"] == len(finished) and st["counts"]["pending"] == 4 - len(finished),
              f"--status after scancel: {st['counts']}")
        r = sweep(cluster, results_slurm, "slow", 40, "--launcher", "slurm", "--json")
        again = json.loads(r.stdout)
        check(again["submitted"] == 4 - len(finished) and again["complete"] == len(finished),
              f"resubmission: {again['submitted']} runs submitted, {again['complete']} complete skipped")
        cluster.wait_for(lambda: cluster.queue_empty("pbench-slow"), "the resubmitted array to finish", 300)
        check(len(done()) == 4, "every run of the cancelled sweep is complete")
        check(all(os.stat(os.path.join(d, "runs", f)).st_mtime_ns == t for f, t in finished.items()),
              "the runs finished before scancel were not rerun")
        check(not [f for f in os.listdir(os.path.join(d, "runs")) if f.endswith(".partial")], "no .partial left")
        print("slurm cluster test: every check passed")
        return 0
    except AssertionError as e:
        print(f"FAIL: {e}")
        for name in ("slurmctld", "slurmd"):
            print(f"--- {name} log tail ---\n{cluster.log(name)}")
        return 1
    finally:
        cluster.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
