"""The gate on machines of different kinds (scripts/bench_gate.py, scripts/bench_machine.py):
a known machine is gated against its own baseline and an injected 2x still fails; a machine no
baseline describes is measured, reported loudly and passes, and its ratios can be recorded; a
forced foreign baseline reproduces the failure this design removes (issue 26). The benchmark
times replayed here were recorded from the real bench_io (fixtures/bench_gate/README.md); the
Zen 3 run is that recording rescaled to the Zen 3 machine's recorded ratios.
Run with Debian's /usr/bin/python3."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
GATE = os.path.join(ROOT, "scripts", "bench_gate.py")
FIXTURES = os.path.join(HERE, "fixtures", "bench_gate")
RECORDED = os.path.join(FIXTURES, "gbench-bench_io-amd-f25-m17.json")
ZEN4 = "amd-f25-m17-avx512-l2_1024k-c2"
ZEN3 = "amd-f25-m1-avx2-l2_512k-c2"
ROWS = ["safetensors.parse_header_1k", "safetensors.load_16MiB", "h5.append_train_100", "sweep.plan_grid"]

sys.path.insert(0, os.path.join(ROOT, "scripts"))
import bench_machine  # noqa: E402

# Replays the recorded Google Benchmark JSON: the runs its filter selects, each benchmark's
# times multiplied by $FAKE_SCALE[name] (default 1) -- a slower kernel, or another machine.
REPLAY_BINARY = r'''#!/usr/bin/python3
import json, os, re, sys
args = dict(a.split("=", 1) for a in sys.argv[1:] if "=" in a)
with open(os.environ["FAKE_RECORDED"]) as f:
    doc = json.load(f)
if "--benchmark_list_tests" in args:
    print("\n".join(sorted({b["run_name"] for b in doc["benchmarks"]}))); sys.exit(0)
wanted = re.compile(args["--benchmark_filter"])
scale = json.loads(os.environ.get("FAKE_SCALE", "{}"))
runs = []
for b in doc["benchmarks"]:
    if b.get("run_type") == "iteration" and wanted.search(b["name"]) and b["name"] not in scale.get("drop", []):
        b = dict(b, cpu_time=b["cpu_time"] * scale.get(b["run_name"], 1.0),
                 real_time=b["real_time"] * scale.get(b["run_name"], 1.0))
        runs.append(b)
with open(args["--benchmark_out"], "w") as f:
    json.dump({"context": doc["context"], "benchmarks": runs}, f)
'''


def machine_of(cpuinfo_name):
    """The fingerprint the gate computes from a recorded /proc/cpuinfo (sysfs absent: L3 from the
    lscpu of both machines, 32 MiB)."""
    with open(os.path.join(FIXTURES, cpuinfo_name)) as f:
        fp = bench_machine.parse_cpuinfo(f.read())
    fp["l2_kib"] = fp.pop("cache_size_kib")
    fp["l3_kib"] = 32768
    fp["cores"] = 2
    return fp


class MachineGateTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        d = self.dir.name
        os.makedirs(os.path.join(d, "bin"))
        exe = os.path.join(d, "bin", "bench_io")
        with open(exe, "w") as f:
            f.write(REPLAY_BINARY)
        os.chmod(exe, 0o755)
        self.gate_file = os.path.join(d, "gate.json")
        with open(self.gate_file, "w") as f:
            json.dump({"threshold": 1.5, "gated_threads": [1], "repetitions": 9, "min_time_s": 0.05,
                       "benchmarks": [{"name": n, "binary": "bench_io", "reference": "REF.scalar", "threads": [1]}
                                      for n in ROWS]}, f)
        self.baselines = os.path.join(d, "baselines")
        shutil.copytree(os.path.join(FIXTURES, "baselines-recorded"), self.baselines)
        self.machines = {}
        for name, cpuinfo in ((ZEN4, "cpuinfo-amd-f25-m17-avx512.txt"), (ZEN3, "cpuinfo-amd-f25-m1-avx2.txt")):
            self.machines[name] = os.path.join(d, name + ".machine.json")
            with open(self.machines[name], "w") as f:
                json.dump(machine_of(cpuinfo), f)

    def tearDown(self):
        self.dir.cleanup()

    def baseline_ratios(self, name):
        with open(os.path.join(FIXTURES, "baselines-recorded", name + ".json")) as f:
            return json.load(f)["ratios"]

    def zen3_scale(self):
        """Per-benchmark factors that turn the recorded AVX-512 run into the Zen 3 machine's ratios."""
        zen3, zen4 = self.baseline_ratios(ZEN3), self.baseline_ratios(ZEN4)
        return {n: zen3[n + "@t1"] / zen4[n + "@t1"] for n in ROWS}

    def gate(self, machine, scale=None, *extra):
        out = os.path.join(self.dir.name, "rows.json")
        env = dict(os.environ, FAKE_RECORDED=RECORDED, FAKE_SCALE=json.dumps(scale or {}))
        proc = subprocess.run([sys.executable, GATE, "--gate", self.gate_file, "--baselines", self.baselines,
                               "--machine", self.machines[machine], "--build", self.dir.name, "--json", out, *extra],
                              env=env, capture_output=True, text=True)
        rows = {}
        if os.path.exists(out):
            with open(out) as f:
                rows = {f"{r['name']}@t{r['threads']}": r for r in json.load(f)["rows"]}
            os.remove(out)
        return proc, rows

    def test_fixtures_fingerprint_as_the_committed_baselines_say(self):
        for name in (ZEN4, ZEN3):
            with open(self.machines[name]) as f:
                fp = json.load(f)
            self.assertEqual(bench_machine.slug(fp), name)
            with open(os.path.join(ROOT, "benchmarks", "baselines", name + ".json")) as f:
                committed = json.load(f)
            self.assertEqual(bench_machine.differences(committed["machine"], fp), [], name)
        self.assertEqual(bench_machine.differences(machine_of("cpuinfo-amd-f25-m1-avx2.txt"),
                                                   machine_of("cpuinfo-amd-f25-m17-avx512.txt")),
                         ["model", "isa", "l2_kib"])

    def test_committed_baselines_are_one_per_machine_and_complete(self):
        found = bench_machine.load_baselines(os.path.join(ROOT, "benchmarks", "baselines"))
        self.assertGreaterEqual(len(found), 2)
        with open(os.path.join(ROOT, "benchmarks", "gate.json")) as f:
            gate = json.load(f)
        listed = {f"{e['name']}@t{t}" for e in gate["benchmarks"] if not e.get("pending") for t in e["threads"]}
        # every listed row has a baseline somewhere (a row added on one machine is recorded there only)
        self.assertEqual(sorted(listed - {k for _, d in found for k in d["ratios"]}), [])
        for i, (path, doc) in enumerate(found):
            self.assertEqual(os.path.basename(path), bench_machine.slug(doc["machine"]) + ".json")
            for other_path, other in found[i + 1:]:
                self.assertNotEqual(bench_machine.differences(doc["machine"], other["machine"]), [],
                                    f"{path} and {other_path} describe one machine")

    def test_known_machine_unchanged_tree_passes_against_its_own_baseline(self):
        proc, rows = self.gate(ZEN4)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertIn(f"baseline {os.path.relpath(os.path.join(self.baselines, ZEN4 + '.json'), ROOT)}", proc.stderr)
        for n in ROWS:
            self.assertEqual(rows[n + "@t1"]["verdict"], "ok")
        self.assertNotIn("NEW MACHINE", proc.stdout)

    def test_known_machine_still_catches_an_injected_2x(self):
        proc, rows = self.gate(ZEN4, {"safetensors.load_16MiB": 2.0})
        self.assertEqual(proc.returncode, 1, proc.stdout + proc.stderr)
        self.assertEqual(rows["safetensors.load_16MiB@t1"]["verdict"], "FAIL (slower)")
        self.assertGreater(rows["safetensors.load_16MiB@t1"]["change"], 1.5)
        self.assertEqual(rows["h5.append_train_100@t1"]["verdict"], "ok")

    def test_the_other_known_machine_uses_its_own_baseline(self):
        proc, rows = self.gate(ZEN3, self.zen3_scale())
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertIn(ZEN3 + ".json", proc.stderr)
        proc, rows = self.gate(ZEN3, dict(self.zen3_scale(), **{"sweep.plan_grid": 2 * self.zen3_scale()["sweep.plan_grid"]}))
        self.assertEqual(proc.returncode, 1, proc.stdout + proc.stderr)
        self.assertEqual(rows["sweep.plan_grid@t1"]["verdict"], "FAIL (slower)")

    def test_a_foreign_baseline_fails_the_unchanged_tree(self):
        """What CI did before per-machine baselines: Zen 3 times against the AVX-512 ratios."""
        out = os.path.join(self.dir.name, "rows.json")
        env = dict(os.environ, FAKE_RECORDED=RECORDED, FAKE_SCALE=json.dumps(self.zen3_scale()))
        proc = subprocess.run([sys.executable, GATE, "--gate", self.gate_file, "--build", self.dir.name,
                               "--baseline", os.path.join(self.baselines, ZEN4 + ".json"), "--json", out],
                              env=env, capture_output=True, text=True)
        self.assertEqual(proc.returncode, 1, proc.stdout + proc.stderr)

    def test_unknown_machine_is_measured_reported_and_passes(self):
        os.remove(os.path.join(self.baselines, ZEN3 + ".json"))   # a pool that has never seen Zen 3
        proc, rows = self.gate(ZEN3, self.zen3_scale())
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertIn("NEW MACHINE", proc.stdout)
        self.assertIn("nearest known: ", proc.stdout)
        self.assertIn("differs in model, isa, l2_kib", proc.stdout)
        self.assertIn("PASS (new machine, not gated)", proc.stdout)
        for n in ROWS:
            self.assertEqual(rows[n + "@t1"]["verdict"], "info (new machine)")
        # the nearest machine's ratios are shown for reading: past the threshold, and it does not fail
        self.assertGreater(rows["safetensors.load_16MiB@t1"]["change"], 1.5)
        # this run's ratios were written, with the fingerprint, ready to commit
        with open(os.path.join(self.dir.name, "bench-gate", ZEN3 + ".json")) as f:
            written = json.load(f)
        self.assertEqual(bench_machine.differences(written["machine"], machine_of("cpuinfo-amd-f25-m1-avx2.txt")), [])
        for n in ROWS:
            self.assertAlmostEqual(written["ratios"][n + "@t1"], rows[n + "@t1"]["ratio"], places=5)

    def test_unknown_machine_still_fails_on_a_missing_benchmark(self):
        os.remove(os.path.join(self.baselines, ZEN3 + ".json"))
        proc, rows = self.gate(ZEN3, dict(self.zen3_scale(), drop=["h5.append_train_100"]))
        self.assertEqual(proc.returncode, 1, proc.stdout + proc.stderr)
        self.assertEqual(rows["h5.append_train_100@t1"]["verdict"], "FAIL (error)")

    def test_update_on_an_unknown_machine_records_its_baseline_and_then_gates(self):
        os.remove(os.path.join(self.baselines, ZEN3 + ".json"))
        proc, _ = self.gate(ZEN3, self.zen3_scale(), "--update")
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertIn("a new machine: commit this file", proc.stdout)
        self.assertTrue(os.path.exists(os.path.join(self.baselines, ZEN3 + ".json")))
        proc, _ = self.gate(ZEN3, self.zen3_scale())
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertNotIn("NEW MACHINE", proc.stdout)
        proc, rows = self.gate(ZEN3, dict(self.zen3_scale(), **{"h5.append_train_100": 2 * self.zen3_scale()["h5.append_train_100"]}))
        self.assertEqual(proc.returncode, 1, proc.stdout + proc.stderr)
        self.assertEqual(rows["h5.append_train_100@t1"]["verdict"], "FAIL (slower)")

    def test_a_row_recorded_on_another_machine_only_is_reported_not_failed(self):
        path = os.path.join(self.baselines, ZEN4 + ".json")
        with open(path) as f:
            doc = json.load(f)
        del doc["ratios"]["sweep.plan_grid@t1"]          # added on the Zen 3 machine, not recorded here yet
        with open(path, "w") as f:
            json.dump(doc, f)
        proc, rows = self.gate(ZEN4)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertEqual(rows["sweep.plan_grid@t1"]["verdict"], "info (no baseline on this machine)")
        self.assertIn("--update sweep.plan_grid --rounds 3", proc.stdout)
        os.remove(os.path.join(self.baselines, ZEN3 + ".json"))   # recorded nowhere: forgotten, fails
        proc, rows = self.gate(ZEN4)
        self.assertEqual(proc.returncode, 1, proc.stdout + proc.stderr)
        self.assertEqual(rows["sweep.plan_grid@t1"]["verdict"], "FAIL (no baseline)")

    def test_two_baselines_for_one_machine_are_an_input_error(self):
        shutil.copy(os.path.join(self.baselines, ZEN4 + ".json"), os.path.join(self.baselines, "copy.json"))
        proc, _ = self.gate(ZEN4)
        self.assertEqual(proc.returncode, 2, proc.stdout + proc.stderr)
        self.assertIn("two baselines claim this machine", proc.stderr)

    def test_a_baseline_without_its_machine_is_an_input_error(self):
        with open(os.path.join(self.baselines, "old.json"), "w") as f:
            json.dump({"ratios": {}}, f)
        proc, _ = self.gate(ZEN4)
        self.assertEqual(proc.returncode, 2, proc.stdout + proc.stderr)
        self.assertIn("old.json: machine.vendor missing", proc.stderr)

    def test_sysfs_caches_are_read_per_instance(self):
        d = os.path.join(self.dir.name, "cache")
        for index, (level, kind, size) in enumerate([(1, "Data", "32K"), (1, "Instruction", "32K"),
                                                     (2, "Unified", "1024K"), (3, "Unified", "32M")]):
            os.makedirs(os.path.join(d, f"index{index}"))
            for field, value in (("level", level), ("type", kind), ("size", size)):
                with open(os.path.join(d, f"index{index}", field), "w") as f:
                    f.write(f"{value}\n")
        fp = bench_machine.this_machine(os.path.join(FIXTURES, "cpuinfo-amd-f25-m17-avx512.txt"), d)
        self.assertEqual((fp["l2_kib"], fp["l3_kib"]), (1024, 32768))
        self.assertEqual(fp["family"], 25)
        self.assertIn("avx512f", fp["isa"])
        self.assertNotIn("hypervisor", fp["isa"])


if __name__ == "__main__":
    unittest.main()
