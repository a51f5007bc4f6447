#!/usr/bin/python3
"""CI regression gate over the Google Benchmark binaries in build/bin (benchmarks/README.md).

Why ratios: on the shared 2-core machine absolute times drift 8-15 % between
processes and far more while someone compiles. Every binary measures the
reference workloads REF.sgemm and REF.scalar in the same process, with Google
Benchmark's random interleaving of repetitions, so a benchmark's

    ratio = median(time of benchmark) / median(time of its reference)

cancels the machine's speed of the moment. The gate compares that ratio with
the one recorded for this machine's kind in benchmarks/baselines/ and fails
when it grew by more than the threshold of benchmarks/gate.json (or the
entry's own "threshold").

Which baseline: ratios are not portable across microarchitectures (an AVX-512
part and a Zen 3 differ by 0.97-4.5x on the same tree), so each baseline file
names the machine it was recorded on (scripts/bench_machine.py: vendor,
family, model, ISA flags, caches, cores) and the gate uses the one whose
fingerprint equals this machine's. On a machine no file describes, the gate
measures every row, reports it, writes this machine's ratios to
build/bench-gate/<machine>.json, says loudly how to commit them, and passes:
an unchanged tree never fails for want of a baseline. A benchmark that errors
or is missing fails on every machine.
A failing row is measured once more (in a new process, with its references)
and only a slowdown seen both times fails: a real regression persists, a burst
of load from a neighbour does not. `--update NAMES --rounds 3` records the
median ratio of 3 measurements as the baseline.

Entries may carry their own "repetitions", "iterations" (fixed per
repetition) or "min_time_s": multi-second workloads are measured a few single
iterations at a time, while the references in the same process keep the
gate-wide repetitions (passed to the binary as --per_benchmark).

Exit status: 0 pass, 1 a benchmark regressed or failed, 2 usage or input error.
Only the Python standard library is used (Debian's /usr/bin/python3).
"""
import argparse
import datetime
import functools
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_ab  # noqa: E402  (beside this file)
import bench_machine  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GATE_FILE = os.path.join(ROOT, "benchmarks", "gate.json")
BASELINES_DIR = os.path.join(ROOT, "benchmarks", "baselines")
TO_SECONDS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}


class InputError(Exception):
    pass


def load_json(path, what):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise InputError(f"{path}: missing ({what})")
    except json.JSONDecodeError as e:
        raise InputError(f"{path}: not valid JSON ({e})")


def read_gate(path):
    gate = load_json(path, "the gate's benchmark list")
    for key in ("threshold", "repetitions", "min_time_s", "benchmarks"):
        if key not in gate:
            raise InputError(f"{path}: key '{key}' missing")
    if not gate["threshold"] > 1.0:
        raise InputError(f"{path}: threshold: expected a number > 1, got {gate['threshold']}")
    seen = set()
    for i, entry in enumerate(gate["benchmarks"]):
        for key in ("name", "binary", "reference", "threads"):
            if key not in entry:
                raise InputError(f"{path}: benchmarks[{i}].{key} missing")
        if entry["reference"] not in ("REF.sgemm", "REF.scalar"):
            raise InputError(f"{path}: benchmarks[{i}].reference: expected REF.sgemm or REF.scalar")
        for key, kind in (("repetitions", int), ("iterations", int), ("min_time_s", (int, float))):
            if key in entry and (not isinstance(entry[key], kind) or isinstance(entry[key], bool)
                                 or not entry[key] > 0):
                raise InputError(f"{path}: benchmarks[{i}].{key}: expected a positive number, got {entry[key]!r}")
        if "threshold" in entry and not (isinstance(entry["threshold"], (int, float)) and entry["threshold"] > 1.0):
            raise InputError(f"{path}: benchmarks[{i}].threshold: expected a number > 1, got {entry['threshold']!r}")
        if "iterations" in entry and "min_time_s" in entry:
            raise InputError(f"{path}: benchmarks[{i}]: 'iterations' and 'min_time_s' exclude each other")
        if entry["name"] in seen:
            raise InputError(f"{path}: benchmarks[{i}].name '{entry['name']}' listed twice")
        seen.add(entry["name"])
    for i, fam in enumerate(gate.get("complete_families", [])):
        for key in ("binary", "prefix"):
            if key not in fam:
                raise InputError(f"{path}: complete_families[{i}].{key} missing")
        admit = fam.get("admit")
        if admit is not None and not (isinstance(admit, dict) and admit.get("reference") in ("REF.sgemm", "REF.scalar")
                                      and isinstance(admit.get("threads"), list) and admit["threads"]):
            raise InputError(f"{path}: complete_families[{i}].admit: expected an entry template "
                             "{\"reference\": \"REF.sgemm\" or \"REF.scalar\", \"threads\": [1]}")
    return gate


@functools.lru_cache(maxsize=None)
def registered_benchmarks(build_dir, binary):
    """The names a binary registers (--benchmark_list_tests), or None when it is not built.
    Cached: admitting family members and --check-list both ask (about 1 s per binary)."""
    exe = os.path.join(build_dir, "bin", binary)
    if not os.access(exe, os.X_OK):
        return None
    proc = subprocess.run([exe, "--benchmark_list_tests=true"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True)
    return set(proc.stdout.split())


def admit_family_members(build_dir, gate):
    """A complete family with an 'admit' entry template gates every member its binary
    registers: a member not listed in gate.json (a new method's W1.train_<method>)
    becomes an entry of that template, marked 'admitted'. Returns the names admitted."""
    listed = {e["name"] for e in gate["benchmarks"]}
    admitted = []
    for fam in gate.get("complete_families", []):
        if "admit" not in fam:
            continue
        registered = registered_benchmarks(build_dir, fam["binary"]) or set()
        excluded = fam.get("not_listed", {})
        for name in sorted(registered):
            if name.startswith(fam["prefix"]) and name not in listed and name not in excluded:
                gate["benchmarks"].append(dict(fam["admit"], name=name, binary=fam["binary"], admitted=True))
                listed.add(name)
                admitted.append(name)
    return admitted


def per_benchmark_flag(entries):
    """--per_benchmark=NAME:rR:iI:tT,... for entries with their own settings (bench_support.hpp), or None."""
    specs = []
    for e in entries:
        fields = [f"r{e['repetitions']}" if "repetitions" in e else "",
                  f"i{e['iterations']}" if "iterations" in e else "",
                  f"t{e['min_time_s']}" if "min_time_s" in e else ""]
        if any(fields):
            specs.append(":".join([e["name"]] + [f for f in fields if f]))
    return "--per_benchmark=" + ",".join(specs) if specs else None


# Google Benchmark appends these to a name: /real_time (UseRealTime), and for
# per-benchmark settings /iterations:N, /repeats:N, /min_time:T.
NAME_SUFFIXES = re.compile(r"/(real_time|iterations:\d+|repeats:\d+|min_time:[0-9.]+)")


def base_name(reported):
    return NAME_SUFFIXES.sub("", reported)


def key_of(name, threads):
    return f"{name}@t{threads}"


def run_binary(build_dir, binary, threads, entries, gate, out_dir, attempt, env=None):
    """Runs one process (one thread count) and returns {name: {"times": [...], "gflops": [...], "error": str}}."""
    exe = os.path.join(build_dir, "bin", binary)
    wanted = sorted({e["name"] for e in entries} | {"REF.sgemm", "REF.scalar"})
    out = os.path.join(out_dir, f"{binary}-t{threads}-{attempt}.json")
    cmd = [exe, f"--threads={threads}",
           # Google Benchmark appends suffixes to the names (NAME_SUFFIXES).
           "--benchmark_filter=^(" + "|".join(re.escape(n) for n in wanted) + ")(/.*)?$",
           f"--benchmark_repetitions={gate['repetitions']}",
           f"--benchmark_min_time={gate['min_time_s']}",
           "--benchmark_enable_random_interleaving=true",
           f"--benchmark_out={out}", "--benchmark_out_format=json",
           f"--benchmark_context=attempt={attempt}"]
    if per_benchmark_flag(entries):
        cmd.append(per_benchmark_flag(entries))
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    if proc.returncode != 0 or not os.path.exists(out):
        tail = "\n".join(proc.stdout.splitlines()[-5:])
        return {n: {"error": f"{binary} exited {proc.returncode}: {tail}"} for n in wanted}
    try:
        with open(out, encoding="utf-8") as f:
            doc = json.load(f)
    except json.JSONDecodeError:
        return {n: {"error": f"{out}: not valid JSON ({binary} matched none of {wanted}?)"} for n in wanted}
    # At 1 thread CPU time ignores time the scheduler gave to others; with
    # intra-op threads the calling thread's CPU time misses the workers.
    field = "cpu_time" if threads == 1 else "real_time"
    results = {n: {"times": [], "gflops": []} for n in wanted}
    for b in doc.get("benchmarks", []):
        name = base_name(b.get("run_name", b["name"]))
        if name not in results or b.get("run_type") != "iteration":
            continue
        if b.get("error_occurred"):
            results[name]["error"] = b.get("error_message", "error")
            continue
        results[name]["times"].append(b[field] * TO_SECONDS[b.get("time_unit", "ns")])
        if "GFLOPS" in b:
            results[name]["gflops"].append(b["GFLOPS"])
    for name, r in results.items():
        if "error" not in r and not r["times"]:
            r["error"] = f"{binary} reported no '{name}' (renamed or not registered?)"
    return results


def measure(build_dir, jobs, gate, out_dir, attempt, env=None):
    """jobs: {(binary, threads): [entries]} -> {key: row}; env: the processes' environment (None = ours)."""
    rows = {}
    for (binary, threads), entries in sorted(jobs.items()):
        started = time.monotonic()
        res = run_binary(build_dir, binary, threads, entries, gate, out_dir, attempt, env)
        print(f"[bench_gate] {binary} --threads={threads}: {time.monotonic() - started:.1f} s", file=sys.stderr)
        refs = {r: res[r] for r in ("REF.sgemm", "REF.scalar")}
        for e in entries:
            r, ref = res[e["name"]], refs[e["reference"]]
            row = {"name": e["name"], "threads": threads, "reference": e["reference"],
                   "gate": e.get("gate", True) and threads in gate.get("gated_threads", [threads]),
                   "binary": binary, "threshold": float(e.get("threshold", gate["threshold"])),
                   "admitted": bool(e.get("admitted"))}
            if "error" in r or "error" in ref:
                row["error"] = r.get("error") or ref.get("error")
            else:
                t, t_ref = statistics.median(r["times"]), statistics.median(ref["times"])
                row.update(seconds=t, ref_seconds=t_ref, ratio=t / t_ref,
                           spread=(max(r["times"]) - min(r["times"])) / t)
                if r["gflops"] and refs["REF.sgemm"].get("gflops"):
                    g, g_ref = statistics.median(r["gflops"]), statistics.median(refs["REF.sgemm"]["gflops"])
                    row.update(gflops=g, sgemm_gflops=g_ref)
            rows[key_of(e["name"], threads)] = row
    return rows


def judge(row, baseline, threshold):
    threshold = row.get("threshold", threshold)  # an entry's own threshold (gate.json says why)
    if "error" in row:
        return "FAIL (error)"
    if baseline is None:
        if row.get("admitted"):
            # A new member of a complete family (a new method): measured and shown, gated once recorded.
            return f"info (new: --update {row['name']})"
        return "FAIL (no baseline)" if row["gate"] else "info (no baseline)"
    change = row["ratio"] / baseline
    row["change"] = change
    if change > threshold:
        return "FAIL (slower)" if row["gate"] else "info (slower)"
    if change < 1.0 / threshold:
        return "ok (faster: update?)"
    return "ok"


def fmt_time(seconds):
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def print_table(rows, pending, baselines, threshold):
    header = ("benchmark", "threads", "time", "baseline", "now", "now/baseline", "verdict")
    lines = []
    for key, row in rows.items():
        base = baselines.get(key)
        now = f"{row['ratio']:.4g}" if "ratio" in row else "-"
        change = f"{row['change']:.3f}" if "change" in row else "-"
        lines.append((row["name"], str(row["threads"]), fmt_time(row["seconds"]) if "seconds" in row else "-",
                      f"{base:.4g}" if base is not None else "-", now, change, row["verdict"]))
    for e in pending:
        lines.append((e["name"], ",".join(map(str, e["threads"])), "-", "-", "-", "-", "pending (not yet written)"))
    widths = [max(len(h), *(len(l[i]) for l in lines)) if lines else len(h) for i, h in enumerate(header)]
    print(f"\nbenchmark gate: baseline and now are time / reference time (same process); "
          f"fail when now/baseline > {threshold}" +
          "".join(f"; {r['name']}@t{r['threads']} > {r['threshold']}" for r in rows.values()
                  if r.get("threshold", threshold) != threshold and r["gate"]))
    print("  ".join(h.ljust(w) for h, w in zip(header, widths)))
    print("  ".join("-" * w for w in widths))
    for l in lines:
        print("  ".join(c.ljust(w) for c, w in zip(l, widths)))
    eff = [r for r in rows.values() if "gflops" in r]
    if eff:
        print("\nachieved GFLOP/s against REF.sgemm (512^3 fp32 torch::mm) in the same process:")
        for r in eff:
            print(f"  {r['name']:<28} t{r['threads']}  {r['gflops']:7.2f} GFLOP/s  "
                  f"sgemm {r['sgemm_gflops']:7.2f}  fraction {r['gflops'] / r['sgemm_gflops']:.2f}")
    for r in rows.values():
        if "error" in r:
            print(f"\n{r['name']} (threads {r['threads']}): {r['error']}")


def check_list(build_dir, jobs, gate):
    """Every listed benchmark is registered in its binary, and every benchmark of a
    complete family (gate.json "complete_families": a binary and a name prefix,
    e.g. one training step per registered method) is listed (fast: nothing is measured)."""
    missing, unlisted = [], []
    listed = {e["name"] for e in gate["benchmarks"]}
    binaries = sorted({b for b, _ in jobs} | {f["binary"] for f in gate.get("complete_families", [])})
    for binary in binaries:
        registered = registered_benchmarks(build_dir, binary)
        if registered is None:
            missing.append(f"{binary}: the binary itself ({os.path.join(build_dir, 'bin', binary)})")
            continue
        for (b, _), entries in jobs.items():
            missing += [f"{binary}: {e['name']}" for e in entries if b == binary and e["name"] not in registered]
        for ref in ("REF.sgemm", "REF.scalar"):
            if ref not in registered:
                missing.append(f"{binary}: {ref} (use PBENCH_BENCHMARK_MAIN from benchmarks/support/bench_support.hpp)")
        for fam in gate.get("complete_families", []):
            if fam["binary"] == binary and "admit" not in fam:
                excluded = fam.get("not_listed", {})
                unlisted += [f"{binary}: {n}" for n in sorted(registered)
                             if n.startswith(fam["prefix"]) and n not in listed and n not in excluded]
    for m in sorted(set(missing)):
        print(f"bench_gate: not registered: {m}", file=sys.stderr)
    for m in unlisted:
        print(f"bench_gate: registered but not in gate.json (its family is gated completely): {m}", file=sys.stderr)
    bad = missing or unlisted
    print(f"[bench_gate] list check: {'FAIL' if bad else 'ok'} ({len(binaries)} binaries)")
    return 1 if bad else 0


def git_commit():
    try:
        return subprocess.run(["git", "-C", ROOT, "rev-parse", "--short=12", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def cpu_model():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def choose_baseline(args):
    """(path or None, ratios, status line, machine fingerprint): --baseline FILE forces a file;
    otherwise the benchmarks/baselines/ file recorded on this machine's kind, if any."""
    if args.machine:
        fp = load_json(args.machine, "a machine fingerprint (scripts/bench_machine.py)")
    else:
        fp = bench_machine.this_machine()
    if args.baseline:
        doc = load_json(args.baseline, "recorded ratios") if os.path.exists(args.baseline) else {}
        return args.baseline, doc.get("ratios", {}), f"baseline {args.baseline} (given)", fp, None, set()
    try:
        found = bench_machine.load_baselines(args.baselines)
        match, nearest = bench_machine.pick(found, fp)
    except bench_machine.MachineError as e:
        raise InputError(str(e))
    # Rows another machine has a baseline for: a benchmark added on that machine, not yet recorded here.
    elsewhere = {k for p, d in found if not match or p != match[0] for k in d["ratios"]}
    if match:
        return match[0], match[1]["ratios"], f"baseline {os.path.relpath(match[0], ROOT)}", fp, None, elsewhere
    return None, {}, "no baseline for this machine", fp, nearest, elsewhere


def new_machine_banner(fp, nearest, written, update_hint):
    bar = "!" * 78
    lines = [bar, "[bench_gate] NEW MACHINE: no file in benchmarks/baselines/ was recorded on this kind of CPU",
             f"[bench_gate]   this machine: {bench_machine.describe(fp)}"]
    if nearest:
        lines.append(f"[bench_gate]   nearest known: {os.path.relpath(nearest[0], ROOT)} "
                     f"(differs in {', '.join(nearest[2])}); its ratios are printed for reading only")
    lines += ["[bench_gate]   every row was measured and reported; none can fail for being slower,",
              "[bench_gate]   errors and missing benchmarks still fail.",
              f"[bench_gate]   this run's ratios (one round): {written}",
              f"[bench_gate]   to gate this machine from now on: {update_hint}", bar]
    print("\n".join(lines))


def gate_against_base(args, gate, jobs, fp, threshold, started):
    """A/B mode (scripts/bench_ab.py): the base build's binaries and the head's, alternating."""
    label = args.base_commit or args.base_build
    print(f"[bench_gate] machine: {bench_machine.describe(fp)}; A/B against {label} ({args.base_build})",
          file=sys.stderr)
    out_dir = os.path.join(args.build, "bench-gate", "ab")
    for side in ("base", "head"):
        os.makedirs(os.path.join(out_dir, side), exist_ok=True)

    # PBENCH_BENCH_SLOWDOWN (bench_support.hpp) injects a slowdown to test the gate with: in A/B mode
    # it acts on the head's processes only, as a change in the head's code would.
    base_env = {k: v for k, v in os.environ.items() if k != "PBENCH_BENCH_SLOWDOWN"}

    def measure_side(build, side_jobs, side_out, attempt):
        return measure(build, side_jobs, gate, side_out, attempt, base_env if build == args.base_build else None)

    rows, processes = bench_ab.run_ab(measure_side, key_of, args.build, args.base_build, label, jobs,
                                      lambda binary: registered_benchmarks(args.base_build, binary), threshold,
                                      out_dir)
    bench_ab.print_ab_table(rows, label, threshold)
    for line in bench_ab.confirmation_lines(rows):
        print(line)
    failed, gated, median = bench_ab.summarize(rows)
    elapsed = time.monotonic() - started
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"threshold": threshold, "machine": fp, "mode": "ab", "base": label,
                       "rows": list(rows.values())}, f, indent=1)
    print(f"\n[bench_gate] {'FAIL' if failed else 'PASS'} (A/B against {label}): {len(failed)} failed; "
          f"{len(gated)} gated rows, {len(rows) - len(gated)} info rows"
          + (f"; median head/base of the gated rows {median:.3f}" if median is not None else "")
          + f" ({elapsed:.0f} s, {processes} processes; raw JSON in {out_dir})")
    return 1 if failed else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"), help="build folder holding bin/bench_* (default build/)")
    ap.add_argument("--only", default="", help="regex: only benchmarks whose name matches")
    ap.add_argument("--update", nargs="?", const="all", default=None, metavar="NAMES",
                    help="record the measured ratios as this machine's baselines (all, or comma-separated names)")
    ap.add_argument("--json", default="", help="also write the rows as JSON to this file")
    ap.add_argument("--rounds", type=int, default=1, metavar="N",
                    help="with --update: measure N times and record each row's median ratio (default 1)")
    ap.add_argument("--check-list", action="store_true",
                    help="only check that every listed (non-pending) benchmark is registered in its binary")
    ap.add_argument("--machine-info", action="store_true",
                    help="print this machine's fingerprint and the baseline file it would use, then exit")
    ap.add_argument("--baselines", default=BASELINES_DIR, help="folder of per-machine baselines (default benchmarks/baselines)")
    ap.add_argument("--base-build", default="", metavar="DIR",
                    help="A/B mode: a build folder of the base commit (DIR/bin/bench_*); base and head run "
                         "alternately on this machine and each row's head/base ratio is gated, no stored "
                         "baseline is read (scripts/bench_gate.sh --against REF builds it)")
    ap.add_argument("--base-commit", default="", help="the base's name in the output (with --base-build)")
    ap.add_argument("--gate", default=GATE_FILE, help=argparse.SUPPRESS)
    ap.add_argument("--baseline", default="", help=argparse.SUPPRESS)   # one file, no machine matching (tests)
    ap.add_argument("--machine", default="", help=argparse.SUPPRESS)    # a fingerprint JSON instead of this CPU's (tests)
    args = ap.parse_args()
    started = time.monotonic()
    if args.rounds < 1 or (args.rounds > 1 and args.update is None):
        print("bench_gate: error: --rounds: expected a positive count, with --update", file=sys.stderr)
        return 2
    try:
        gate = read_gate(args.gate)
        baseline_path, baselines, baseline_status, fp, nearest, elsewhere = choose_baseline(args)
    except InputError as e:
        print(f"bench_gate: error: {e}", file=sys.stderr)
        return 2
    new_machine = baseline_path is None
    if args.machine_info:
        print(json.dumps(fp, indent=1))
        print(f"[bench_gate] {bench_machine.describe(fp)}: {baseline_status}")
        return 0
    threshold = float(gate["threshold"])
    admitted = admit_family_members(args.build, gate)
    if admitted:
        print(f"[bench_gate] admitted from their families (not listed in {os.path.basename(args.gate)}): "
              + ", ".join(admitted), file=sys.stderr)
    only = re.compile(args.only) if args.only else None
    chosen = [e for e in gate["benchmarks"] if not only or only.search(e["name"])]
    pending = [e for e in chosen if e.get("pending")]
    jobs = {}
    for e in chosen:
        if e.get("pending"):
            continue
        for t in e["threads"]:
            jobs.setdefault((e["binary"], int(t)), []).append(e)
    if not jobs and not pending:
        print(f"bench_gate: error: --only '{args.only}' matches no benchmark of {args.gate}", file=sys.stderr)
        return 2
    for binary, _ in jobs:
        if not os.access(os.path.join(args.build, "bin", binary), os.X_OK):
            print(f"bench_gate: error: {args.build}/bin/{binary}: missing (build first)", file=sys.stderr)
            return 2

    if args.check_list:
        return check_list(args.build, jobs, gate)
    if args.base_build:
        if args.update is not None:
            print("bench_gate: error: --update records this machine's baselines; it takes no --base-build",
                  file=sys.stderr)
            return 2
        return gate_against_base(args, gate, jobs, fp, threshold, started)

    print(f"[bench_gate] machine: {bench_machine.describe(fp)}; {baseline_status}", file=sys.stderr)
    out_dir = os.path.join(args.build, "bench-gate")
    os.makedirs(out_dir, exist_ok=True)
    rows = measure(args.build, jobs, gate, out_dir, attempt=1)
    if args.update is not None and args.rounds > 1:
        # A baseline from one run can land at either end of a row's spread: take the median of N.
        rounds = [rows] + [measure(args.build, jobs, gate, out_dir, attempt=n) for n in range(2, args.rounds + 1)]
        for key, row in rows.items():
            ratios = [r[key]["ratio"] for r in rounds if "ratio" in r[key]]
            if len(ratios) == args.rounds:
                row["round_ratios"] = ratios
                row["ratio"] = statistics.median(ratios)
            else:
                row.pop("ratio", None)
                row["error"] = next(r[key]["error"] for r in rounds if "error" in r[key])
    # On a new machine the nearest known baseline is shown for reading, never judged against.
    shown = nearest[1]["ratios"] if new_machine and nearest else baselines
    for row in rows.values():
        if args.update is not None:
            row["verdict"] = "recorded" if "ratio" in row else "FAIL (error)"
        elif new_machine:
            judge(row, shown.get(key_of(row["name"], row["threads"])), threshold)  # fills 'change'
            row["verdict"] = "FAIL (error)" if "error" in row else "info (new machine)"
        else:
            key = key_of(row["name"], row["threads"])
            row["verdict"] = judge(row, baselines.get(key), threshold)
            if row["verdict"] == "FAIL (no baseline)" and key in elsewhere:
                # Recorded on another machine kind only: this one can't judge it, and the
                # developer who added it could only record their own machine's ratio.
                row["verdict"] = "info (no baseline on this machine)"

    # Confirmation: re-measure the rows that failed (with their process's references); keep each row's lower ratio.
    again = {}
    if args.update is None:
        for job, entries in jobs.items():
            slower = [e for e in entries if rows[key_of(e["name"], job[1])]["verdict"].startswith("FAIL (slower)")]
            if slower:
                again[job] = slower
        if again:
            print("[bench_gate] slower than baseline: measuring " +
                  ", ".join(key_of(e["name"], t) for (_, t), es in sorted(again.items()) for e in es) +
                  " once more", file=sys.stderr)
            second = measure(args.build, again, gate, out_dir, attempt=2)
            for key, row in second.items():
                first = rows[key]
                if "ratio" in row and (("ratio" not in first) or row["ratio"] < first["ratio"]):
                    row["first_ratio"] = first.get("ratio")
                    row["verdict"] = judge(row, baselines.get(key), threshold)
                    rows[key] = row
                else:
                    first["confirm_ratio"] = row.get("ratio")

    print_table(rows, pending, shown, threshold)
    for key, row in rows.items():
        base = baselines.get(key)
        if base and ("first_ratio" in row or "confirm_ratio" in row):
            first, second = (row["first_ratio"], row["ratio"]) if "first_ratio" in row else \
                (row["ratio"], row["confirm_ratio"])
            print(f"[bench_gate] confirmation: {key} now/baseline {first / base:.3f}, then "
                  + (f"{second / base:.3f}" if second is not None else "an error") +
                  f"; kept {row['ratio'] / base:.3f}: {row['verdict']}")
    elapsed = time.monotonic() - started
    processes = len(jobs) * args.rounds + len(again)
    print(f"\n[bench_gate] total wall time {elapsed:.0f} s ({elapsed / 60:.1f} min, {processes} processes); "
          f"raw Google Benchmark JSON in {out_dir}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"threshold": threshold, "machine": fp, "baseline": baseline_path,
                       "rows": list(rows.values())}, f, indent=1)

    def baseline_doc(ratios, rounds):
        return {"about": "Ratios time/reference-time per benchmark@threads on the machine below, recorded by "
                         "scripts/bench_gate.sh --update (benchmarks/README.md).",
                "machine": fp,
                "recorded": {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                             "commit": git_commit(), "cpu": cpu_model(), "cores": os.cpu_count(),
                             "rounds": rounds},
                "ratios": dict(sorted(ratios.items()))}

    def write_json(path, doc):
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=1)
            f.write("\n")

    if args.update is not None:
        names = None if args.update == "all" else set(args.update.split(","))
        bad = [r for r in rows.values() if (names is None or r["name"] in names) and "error" in r]
        if bad:
            print("bench_gate: not updating: some benchmarks failed to run", file=sys.stderr)
            return 1
        target = baseline_path or os.path.join(args.baselines, bench_machine.slug(fp) + ".json")
        ratios = dict(baselines)
        for key, r in rows.items():
            if names is None or r["name"] in names:
                ratios[key] = round(r["ratio"], 6)
        write_json(target, baseline_doc(ratios, args.rounds))
        for key, r in rows.items():
            if "round_ratios" in r and (names is None or r["name"] in names):
                print(f"  {key:<40} rounds " + " ".join(f"{x:.4g}" for x in r["round_ratios"]) +
                      f" -> median {r['ratio']:.4g}")
        print(f"[bench_gate] recorded {sum(1 for k in rows if names is None or rows[k]['name'] in names)} "
              f"baselines in {target}" + (" (a new machine: commit this file)" if new_machine else ""))
        return 0
    failed = [r for r in rows.values() if r["verdict"].startswith("FAIL")]
    gated = [r for r in rows.values() if r["gate"]]
    unrecorded = [key_of(r["name"], r["threads"]) for r in rows.values() if r["verdict"].endswith("on this machine)")]
    if unrecorded:
        print(f"[bench_gate] not gated on this machine, recorded on another one only: {', '.join(unrecorded)}; "
              f"record them here with scripts/bench_gate.sh --update {','.join(sorted({k.split('@')[0] for k in unrecorded}))} --rounds 3")
    if new_machine:
        written = os.path.join(out_dir, bench_machine.slug(fp) + ".json")
        write_json(written, baseline_doc({k: round(r["ratio"], 6) for k, r in rows.items() if "ratio" in r}, 1))
        new_machine_banner(fp, nearest, written, "scripts/bench_gate.sh --update --rounds 3, then commit "
                           f"benchmarks/baselines/{bench_machine.slug(fp)}.json")
        print(f"[bench_gate] {'FAIL' if failed else 'PASS'} (new machine, not gated): {len(failed)} failed "
              f"to run; {len(rows)} rows measured and reported ({elapsed:.0f} s)")
        return 1 if failed else 0
    print(f"[bench_gate] {'FAIL' if failed else 'PASS'}: {len(failed)} failed; {len(gated)} gated rows "
          f"(threshold {threshold}x of baseline unless the row sets its own), {len(rows) - len(gated)} info rows"
          + (f"; {len(pending)} pending" if pending else "") + f" ({elapsed:.0f} s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
