"""The regression gate's logic (scripts/bench_gate.py) on a fake benchmark
binary whose times the test dictates, so every verdict is deterministic:
ratios to the in-process reference, the threshold, the confirmation re-run,
CPU vs real time by thread count, missing benchmarks/baselines, pending
entries, per-entry repetitions/iterations/threshold, complete families,
--update, and the A/B mode against a base build (--base-build). Run with Debian's /usr/bin/python3."""
import json
import os
import subprocess
import sys
import tempfile
import unittest
import unittest.mock

GATE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "bench_gate.py")

# Writes Google Benchmark JSON (1.7 layout) for the names its filter selects.
# Times come from $FAKE_TIMES: {"name": seconds} or {"name": {"<attempt>": seconds}};
# real_time is 3x cpu_time so the test sees which one the gate reads.
FAKE_BINARY = r'''#!/usr/bin/python3
import json, os, re, sys
args = dict(a.split("=", 1) for a in sys.argv[1:] if "=" in a)
if "--benchmark_list_tests" in args:
    listed = os.path.join(os.path.dirname(os.path.abspath(sys.argv[0])), "times.json")
    print("\n".join(json.load(open(listed)) if os.path.exists(listed) else json.loads(os.environ["FAKE_TIMES"])))
    sys.exit(0)
attempt = args["--benchmark_context"].split("=")[1]
wanted = re.compile(args["--benchmark_filter"])
# A times.json beside the binary (an A/B test's base build) wins over $FAKE_TIMES.
own_times = os.path.join(os.path.dirname(os.path.abspath(sys.argv[0])), "times.json")
times = json.load(open(own_times)) if os.path.exists(own_times) else json.loads(os.environ["FAKE_TIMES"])
runs = []
# --per_benchmark=NAME:rR:iI (bench_support.hpp): own repetitions, suffixes as Google Benchmark appends them.
own = {}
for spec in filter(None, args.get("--per_benchmark", "").split(",")):
    name, *fields = spec.split(":")
    own[name] = {f[0]: f[1:] for f in fields}
with open(os.path.join(os.path.dirname(args["--benchmark_out"]), "calls.txt"), "a") as f:
    f.write(" ".join(sys.argv[1:]) + " SLOWDOWN=" + os.environ.get("PBENCH_BENCH_SLOWDOWN", "") + "\n")
for name, t in times.items():
    suffix = ""
    if "i" in own.get(name, {}):
        suffix += "/iterations:" + own[name]["i"]
    if "r" in own.get(name, {}):
        suffix += "/repeats:" + own[name]["r"]
    suffix += "" if args["--threads"] == "1" else "/real_time"  # UseRealTime() renames
    if not wanted.search(name + suffix):
        continue
    if isinstance(t, dict):
        t = t[attempt]
    for rep in range(int(own.get(name, {}).get("r", args["--benchmark_repetitions"]))):
        jitter = 1.0 + 0.01 * (rep % 3 - 1)
        cpu = t * jitter * 1e6
        runs.append({"name": name + suffix, "run_name": name + suffix, "run_type": "iteration", "repetitions": 3,
                     "time_unit": "us", "cpu_time": cpu, "real_time": 3 * cpu, "GFLOPS": 10.0 / t})
with open(args["--benchmark_out"], "w") as f:
    json.dump({"context": {"threads": args["--threads"]}, "benchmarks": runs}, f)
'''


class GateTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        d = self.dir.name
        os.makedirs(os.path.join(d, "bin"))
        fake = os.path.join(d, "bin", "bench_fake")
        with open(fake, "w") as f:
            f.write(FAKE_BINARY)
        os.chmod(fake, 0o755)
        self.gate_file = os.path.join(d, "gate.json")
        self.baseline_file = os.path.join(d, "baseline.json")
        self.write_gate([
            {"name": "a.blas", "binary": "bench_fake", "reference": "REF.sgemm", "threads": [1]},
            {"name": "b.scalar", "binary": "bench_fake", "reference": "REF.scalar", "threads": [1]},
            {"name": "W9.pending", "binary": "bench_absent", "reference": "REF.sgemm", "threads": [1, 2],
             "pending": True},
        ])

    def tearDown(self):
        self.dir.cleanup()

    def write_gate(self, benchmarks, threshold=1.5):
        with open(self.gate_file, "w") as f:
            json.dump({"threshold": threshold, "repetitions": 3, "min_time_s": 0.01, "benchmarks": benchmarks}, f)

    def write_baseline(self, ratios):
        with open(self.baseline_file, "w") as f:
            json.dump({"ratios": ratios}, f)

    def gate(self, times, *extra):
        out = os.path.join(self.dir.name, "rows.json")
        env = dict(os.environ, FAKE_TIMES=json.dumps(times))
        proc = subprocess.run([sys.executable, GATE, "--gate", self.gate_file, "--baseline", self.baseline_file,
                               "--build", self.dir.name, "--json", out, *extra],
                              env=env, capture_output=True, text=True)
        rows = {}
        if os.path.exists(out):
            with open(out) as f:
                rows = {f"{r['name']}@t{r['threads']}": r for r in json.load(f)["rows"]}
            os.remove(out)
        return proc, rows

    def attempts_run(self):
        return sorted(f for f in os.listdir(os.path.join(self.dir.name, "bench-gate")) if f.endswith(".json"))

    BASE = {"REF.sgemm": 0.010, "REF.scalar": 0.002, "a.blas": 0.020, "b.scalar": 0.001}

    def test_unchanged_tree_passes_and_prints_the_table(self):
        self.write_baseline({"a.blas@t1": 2.0, "b.scalar@t1": 0.5})
        proc, rows = self.gate(self.BASE)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertAlmostEqual(rows["a.blas@t1"]["ratio"], 2.0, places=6)
        self.assertAlmostEqual(rows["b.scalar@t1"]["ratio"], 0.5, places=6)
        for column in ("benchmark", "baseline", "now", "now/baseline", "verdict"):
            self.assertIn(column, proc.stdout)
        self.assertIn("W9.pending", proc.stdout)
        self.assertIn("pending", proc.stdout)
        self.assertEqual(self.attempts_run(), ["bench_fake-t1-1.json"])  # no confirmation needed
        self.assertIn("fraction 0.50", proc.stdout)  # GFLOPS 500 vs sgemm 1000

    def test_a_slower_machine_moves_both_and_passes(self):
        self.write_baseline({"a.blas@t1": 2.0, "b.scalar@t1": 0.5})
        proc, _ = self.gate({k: 3 * v for k, v in self.BASE.items()})
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)

    def test_two_times_slower_kernel_fails_after_confirmation(self):
        self.write_baseline({"a.blas@t1": 2.0, "b.scalar@t1": 0.5})
        proc, rows = self.gate(dict(self.BASE, **{"b.scalar": 0.002}))
        self.assertEqual(proc.returncode, 1, proc.stdout + proc.stderr)
        self.assertEqual(rows["b.scalar@t1"]["verdict"], "FAIL (slower)")
        self.assertAlmostEqual(rows["b.scalar@t1"]["change"], 2.0, places=6)
        self.assertEqual(rows["a.blas@t1"]["verdict"], "ok")
        self.assertEqual(self.attempts_run(), ["bench_fake-t1-1.json", "bench_fake-t1-2.json"])

    def test_slowdown_within_threshold_passes(self):
        self.write_baseline({"a.blas@t1": 2.0, "b.scalar@t1": 0.5})
        proc, rows = self.gate(dict(self.BASE, **{"b.scalar": 0.0014}))  # 1.4x < 1.5
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertEqual(rows["b.scalar@t1"]["verdict"], "ok")

    def test_transient_slowdown_is_not_confirmed(self):
        self.write_baseline({"a.blas@t1": 2.0, "b.scalar@t1": 0.5})
        proc, rows = self.gate(dict(self.BASE, **{"b.scalar": {"1": 0.004, "2": 0.001}}))
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertAlmostEqual(rows["b.scalar@t1"]["first_ratio"], 2.0, places=6)

    def test_two_threads_read_real_time(self):
        self.write_gate([{"name": "a.blas", "binary": "bench_fake", "reference": "REF.sgemm", "threads": [2]},
                         {"name": "b.scalar", "binary": "bench_fake", "reference": "REF.scalar", "threads": [1]}])
        self.write_baseline({"a.blas@t2": 2.0, "b.scalar@t1": 0.5})
        # The fake's real time is 3x its CPU time: seconds shows which one was read.
        proc, rows = self.gate(self.BASE)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertAlmostEqual(rows["a.blas@t2"]["seconds"], 3 * 0.020, places=9)
        self.assertAlmostEqual(rows["b.scalar@t1"]["seconds"], 0.001, places=9)

    def test_rows_outside_gated_threads_report_but_never_fail(self):
        benchmarks = [{"name": "a.blas", "binary": "bench_fake", "reference": "REF.sgemm", "threads": [1, 2]}]
        with open(self.gate_file, "w") as f:
            json.dump({"threshold": 1.5, "gated_threads": [1], "repetitions": 3, "min_time_s": 0.01,
                       "benchmarks": benchmarks}, f)
        self.write_baseline({"a.blas@t1": 2.0, "a.blas@t2": 1.0})  # t2 now measures 2.0: 2x slower
        proc, rows = self.gate(self.BASE)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertEqual(rows["a.blas@t2"]["verdict"], "info (slower)")
        self.assertEqual(rows["a.blas@t1"]["verdict"], "ok")

    def test_missing_baseline_fails_until_updated(self):
        self.write_baseline({"a.blas@t1": 2.0})
        proc, rows = self.gate(self.BASE)
        self.assertEqual(proc.returncode, 1)
        self.assertEqual(rows["b.scalar@t1"]["verdict"], "FAIL (no baseline)")
        proc, _ = self.gate(self.BASE, "--update", "b.scalar")
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        with open(self.baseline_file) as f:
            ratios = json.load(f)["ratios"]
        self.assertEqual(ratios, {"a.blas@t1": 2.0, "b.scalar@t1": 0.5})
        proc, _ = self.gate(self.BASE)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)

    def test_update_with_rounds_records_the_median(self):
        self.write_baseline({})
        times = dict(self.BASE, **{"b.scalar": {"1": 0.001, "2": 0.003, "3": 0.0015}})
        proc, _ = self.gate(times, "--update", "b.scalar", "--rounds", "3")
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        with open(self.baseline_file) as f:
            ratios = json.load(f)["ratios"]
        self.assertEqual(ratios, {"b.scalar@t1": 0.75})  # median of 0.5, 1.5, 0.75
        self.assertEqual(self.attempts_run(), ["bench_fake-t1-1.json", "bench_fake-t1-2.json", "bench_fake-t1-3.json"])

    def test_benchmark_missing_from_binary_fails(self):
        self.write_baseline({"a.blas@t1": 2.0, "b.scalar@t1": 0.5})
        times = {k: v for k, v in self.BASE.items() if k != "b.scalar"}
        proc, rows = self.gate(times)
        self.assertEqual(proc.returncode, 1)
        self.assertEqual(rows["b.scalar@t1"]["verdict"], "FAIL (error)")
        self.assertIn("reported no 'b.scalar'", proc.stdout)
        proc, _ = self.gate(times, "--check-list")
        self.assertEqual(proc.returncode, 1)
        self.assertIn("not registered: bench_fake: b.scalar", proc.stderr)

    def test_per_entry_repetitions_and_iterations_reach_the_binary(self):
        self.write_gate([{"name": "a.blas", "binary": "bench_fake", "reference": "REF.sgemm", "threads": [1, 2],
                          "repetitions": 2, "iterations": 1},
                         {"name": "b.scalar", "binary": "bench_fake", "reference": "REF.scalar", "threads": [1]}])
        self.write_baseline({"a.blas@t1": 2.0, "a.blas@t2": 2.0, "b.scalar@t1": 0.5})
        proc, rows = self.gate(self.BASE)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertAlmostEqual(rows["a.blas@t1"]["ratio"], 2.0, delta=0.02)  # read despite the /iterations:1/repeats:2 suffix
        self.assertAlmostEqual(rows["a.blas@t2"]["ratio"], 2.0, delta=0.02)
        with open(os.path.join(self.dir.name, "bench-gate", "calls.txt")) as f:
            calls = f.read()
        self.assertIn("--per_benchmark=a.blas:r2:i1", calls)
        self.assertIn("--benchmark_repetitions=3", calls)  # the references keep the gate-wide setting
        self.assertIn("[bench_gate] total wall time", proc.stdout)

    def test_confirmation_remeasures_only_the_failing_rows(self):
        self.write_baseline({"a.blas@t1": 2.0, "b.scalar@t1": 0.5})
        proc, _ = self.gate(dict(self.BASE, **{"b.scalar": 0.002}))
        self.assertEqual(proc.returncode, 1, proc.stdout + proc.stderr)
        with open(os.path.join(self.dir.name, "bench-gate", "calls.txt")) as f:
            second = f.read().splitlines()[1]
        self.assertIn("b\\.scalar", second)
        self.assertNotIn("a\\.blas", second)

    def test_an_entry_threshold_replaces_the_global_one(self):
        self.write_gate([{"name": "a.blas", "binary": "bench_fake", "reference": "REF.sgemm", "threads": [1],
                          "threshold": 2.5},
                         {"name": "b.scalar", "binary": "bench_fake", "reference": "REF.scalar", "threads": [1]}])
        self.write_baseline({"a.blas@t1": 1.0, "b.scalar@t1": 0.5})  # a.blas now 2.0: within its own 2.5
        proc, rows = self.gate(self.BASE)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertEqual(rows["a.blas@t1"]["verdict"], "ok")
        self.write_baseline({"a.blas@t1": 0.7, "b.scalar@t1": 0.5})  # 2.86x
        proc, rows = self.gate(self.BASE)
        self.assertEqual(proc.returncode, 1, proc.stdout + proc.stderr)
        self.assertEqual(rows["a.blas@t1"]["verdict"], "FAIL (slower)")

    def test_complete_family_must_be_listed(self):
        with open(self.gate_file, "w") as f:
            json.dump({"threshold": 1.5, "repetitions": 3, "min_time_s": 0.01,
                       "complete_families": [{"binary": "bench_fake", "prefix": "train.",
                                              "not_listed": {"train.text": "trains no UNet tensor"}}],
                       "benchmarks": [{"name": "train.a", "binary": "bench_fake", "reference": "REF.sgemm",
                                       "threads": [1]}]}, f)
        times = dict(self.BASE, **{"train.a": 0.01, "train.text": 0.01})
        proc, _ = self.gate(times, "--check-list")
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        proc, _ = self.gate(dict(times, **{"train.b": 0.01}), "--check-list")
        self.assertEqual(proc.returncode, 1)
        self.assertIn("not in gate.json (its family is gated completely): bench_fake: train.b", proc.stderr)

    def test_family_with_admit_gates_members_nobody_listed(self):
        # A new method registers W1.train_<method>; with an 'admit' template the gate takes it
        # without an edit to gate.json: shown as new until recorded, then gated like the rest.
        with open(self.gate_file, "w") as f:
            json.dump({"threshold": 1.5, "repetitions": 3, "min_time_s": 0.01,
                       "complete_families": [{"binary": "bench_fake", "prefix": "train.",
                                              "admit": {"reference": "REF.sgemm", "threads": [1]}}],
                       "benchmarks": [{"name": "a.blas", "binary": "bench_fake", "reference": "REF.sgemm",
                                       "threads": [1]}]}, f)
        times = dict(self.BASE, **{"train.a": 0.01, "train.new": 0.01})
        self.write_baseline({"a.blas@t1": 2.0, "train.a@t1": 1.0})
        proc, _ = self.gate(times, "--check-list")
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        proc, rows = self.gate(times)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertEqual(rows["train.a@t1"]["verdict"], "ok")
        self.assertEqual(rows["train.new@t1"]["verdict"], "info (new: --update train.new)")
        self.assertIn("admitted from their families", proc.stderr)
        proc, rows = self.gate(dict(times, **{"train.a": 0.03}))  # an admitted member that is recorded is gated
        self.assertEqual(proc.returncode, 1, proc.stdout + proc.stderr)
        self.assertEqual(rows["train.a@t1"]["verdict"], "FAIL (slower)")

    def test_bad_gate_file_is_an_input_error(self):
        self.write_gate([{"name": "a.blas", "binary": "bench_fake", "reference": "REF.gpu", "threads": [1]}])
        proc, _ = self.gate(self.BASE)
        self.assertEqual(proc.returncode, 2)
        self.assertIn("benchmarks[0].reference", proc.stderr)




class AgainstBaseTest(unittest.TestCase):
    """A/B mode: a second fake build (the base) whose times come from its own times.json."""
    # GateTest's fixture and helpers, without inheriting (and re-running) its tests.
    tearDown, write_gate, write_baseline, gate, BASE = (GateTest.tearDown, GateTest.write_gate,
                                                        GateTest.write_baseline, GateTest.gate, GateTest.BASE)

    def setUp(self):
        GateTest.setUp(self)
        self.base = os.path.join(self.dir.name, "base")
        os.makedirs(os.path.join(self.base, "bin"))
        with open(os.path.join(self.base, "bin", "bench_fake"), "w") as f:
            f.write(FAKE_BINARY)
        os.chmod(os.path.join(self.base, "bin", "bench_fake"), 0o755)

    def base_times(self, times):
        with open(os.path.join(self.base, "bin", "times.json"), "w") as f:
            json.dump(times, f)

    def ab(self, head_times, base_times):
        self.base_times(base_times)
        return self.gate(head_times, "--base-build", self.base, "--base-commit", "base123")

    def processes(self, side):
        folder = os.path.join(self.dir.name, "bench-gate", "ab", side)
        return sorted(f for f in os.listdir(folder) if f.endswith(".json")) if os.path.isdir(folder) else []

    def test_same_times_pass_without_any_stored_baseline(self):
        os.remove(self.baseline_file) if os.path.exists(self.baseline_file) else None
        proc, rows = self.ab(self.BASE, self.BASE)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertAlmostEqual(rows["a.blas@t1"]["change"], 1.0, places=6)
        self.assertEqual(rows["a.blas@t1"]["verdict"], "ok")
        self.assertIn("A/B against base123", proc.stdout)
        self.assertEqual(self.processes("base"), ["bench_fake-t1-1.json"])  # one pair, no confirmation
        self.assertEqual(self.processes("head"), ["bench_fake-t1-1.json"])

    def test_a_machine_speed_change_between_builds_cancels(self):
        proc, rows = self.ab(self.BASE, {k: 3 * v for k, v in self.BASE.items()})
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertAlmostEqual(rows["b.scalar@t1"]["change"], 1.0, places=6)

    def test_a_two_times_slower_head_fails_after_the_reversed_pair(self):
        proc, rows = self.ab(dict(self.BASE, **{"b.scalar": 0.002}), self.BASE)
        self.assertEqual(proc.returncode, 1, proc.stdout + proc.stderr)
        self.assertEqual(rows["b.scalar@t1"]["verdict"], "FAIL (slower than base)")
        self.assertAlmostEqual(rows["b.scalar@t1"]["change"], 2.0, places=6)
        self.assertAlmostEqual(rows["b.scalar@t1"]["first_change"], 2.0, places=6)
        self.assertEqual(rows["a.blas@t1"]["verdict"], "ok")
        self.assertEqual(self.processes("head"), ["bench_fake-t1-1.json", "bench_fake-t1-2.json"])
        self.assertEqual(self.processes("base"), ["bench_fake-t1-1.json", "bench_fake-t1-2.json"])
        self.assertIn("confirmation: b.scalar@t1 head/base 2.000, then 2.000", proc.stdout)

    def test_a_slowdown_seen_in_one_pair_only_passes(self):
        proc, rows = self.ab(dict(self.BASE, **{"b.scalar": {"1": 0.004, "2": 0.001}}), self.BASE)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertEqual(rows["b.scalar@t1"]["verdict"], "ok")
        self.assertAlmostEqual(rows["b.scalar@t1"]["first_change"], 4.0, places=6)

    def test_a_row_the_base_lacks_is_reported_not_judged(self):
        self.write_gate([{"name": "a.blas", "binary": "bench_fake", "reference": "REF.sgemm", "threads": [1]},
                         {"name": "c.new", "binary": "bench_fake", "reference": "REF.sgemm", "threads": [1]}])
        proc, rows = self.ab(dict(self.BASE, **{"c.new": 0.5}), self.BASE)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertEqual(rows["c.new@t1"]["verdict"], "info (not in base)")
        self.assertEqual(rows["a.blas@t1"]["verdict"], "ok")

    def test_the_injected_slowdown_reaches_the_head_only(self):
        # PBENCH_BENCH_SLOWDOWN stands for a change in the head's code: base processes never see it.
        with unittest.mock.patch.dict(os.environ, PBENCH_BENCH_SLOWDOWN="a.blas"):
            proc, _ = self.ab(self.BASE, self.BASE)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        with open(os.path.join(self.dir.name, "bench-gate", "ab", "head", "calls.txt")) as f:
            self.assertTrue(all(line.rstrip().endswith("SLOWDOWN=a.blas") for line in f))
        with open(os.path.join(self.dir.name, "bench-gate", "ab", "base", "calls.txt")) as f:
            self.assertTrue(all(line.rstrip().endswith("SLOWDOWN=") for line in f))

    def test_a_head_error_fails_and_update_is_refused(self):
        self.write_gate([{"name": "a.blas", "binary": "bench_fake", "reference": "REF.sgemm", "threads": [1]},
                         {"name": "gone", "binary": "bench_fake", "reference": "REF.sgemm", "threads": [1]}])
        proc, rows = self.ab(self.BASE, dict(self.BASE, gone=0.01))
        self.assertEqual(proc.returncode, 1, proc.stdout + proc.stderr)
        self.assertEqual(rows["gone@t1"]["verdict"], "FAIL (error)")
        self.base_times(self.BASE)
        proc, _ = self.gate(self.BASE, "--base-build", self.base, "--update")
        self.assertEqual(proc.returncode, 2, proc.stdout + proc.stderr)


if __name__ == "__main__":
    unittest.main()
