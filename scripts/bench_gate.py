#!/usr/bin/python3
"""CI regression gate over the Google Benchmark binaries in build/bin (benchmarks/README.md).

Why ratios: on the shared 2-core machine absolute times drift 8-15 % between
processes and far more while someone compiles. Every binary measures the
reference workloads REF.sgemm and REF.scalar in the same process, with Google
Benchmark's random interleaving of repetitions, so a benchmark's

    ratio = median(time of benchmark) / median(time of its reference)

cancels the machine's speed of the moment. The gate compares that ratio with
the one recorded in benchmarks/baseline.json and fails when it grew by more
than the threshold of benchmarks/gate.json. A failing process is measured once
more and only a slowdown seen both times fails: a real regression persists,
a burst of load from a neighbour does not.

Exit status: 0 pass, 1 a benchmark regressed or failed, 2 usage or input error.
Only the Python standard library is used (Debian's /usr/bin/python3).
"""
import argparse
import datetime
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GATE_FILE = os.path.join(ROOT, "benchmarks", "gate.json")
BASELINE_FILE = os.path.join(ROOT, "benchmarks", "baseline.json")
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
        if entry["name"] in seen:
            raise InputError(f"{path}: benchmarks[{i}].name '{entry['name']}' listed twice")
        seen.add(entry["name"])
    return gate


def key_of(name, threads):
    return f"{name}@t{threads}"


def run_binary(build_dir, binary, threads, names, gate, out_dir, attempt):
    """Runs one process (one thread count) and returns {name: {"times": [...], "gflops": [...], "error": str}}."""
    exe = os.path.join(build_dir, "bin", binary)
    wanted = sorted(set(names) | {"REF.sgemm", "REF.scalar"})
    out = os.path.join(out_dir, f"{binary}-t{threads}-{attempt}.json")
    cmd = [exe, f"--threads={threads}",
           # UseRealTime() (more than one thread) appends "/real_time" to the names.
           "--benchmark_filter=^(" + "|".join(re.escape(n) for n in wanted) + ")(/real_time)?$",
           f"--benchmark_repetitions={gate['repetitions']}",
           f"--benchmark_min_time={gate['min_time_s']}",
           "--benchmark_enable_random_interleaving=true",
           f"--benchmark_out={out}", "--benchmark_out_format=json",
           f"--benchmark_context=attempt={attempt}"]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
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
        name = b.get("run_name", b["name"]).removesuffix("/real_time")
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


def measure(build_dir, jobs, gate, out_dir, attempt):
    """jobs: {(binary, threads): [entries]} -> {key: row}."""
    rows = {}
    for (binary, threads), entries in sorted(jobs.items()):
        started = time.monotonic()
        res = run_binary(build_dir, binary, threads, [e["name"] for e in entries], gate, out_dir, attempt)
        print(f"[bench_gate] {binary} --threads={threads}: {time.monotonic() - started:.1f} s", file=sys.stderr)
        refs = {r: res[r] for r in ("REF.sgemm", "REF.scalar")}
        for e in entries:
            r, ref = res[e["name"]], refs[e["reference"]]
            row = {"name": e["name"], "threads": threads, "reference": e["reference"],
                   "gate": e.get("gate", True) and threads in gate.get("gated_threads", [threads]),
                   "binary": binary}
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
    if "error" in row:
        return "FAIL (error)"
    if baseline is None:
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
          f"fail when now/baseline > {threshold}")
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


def check_list(build_dir, jobs):
    """Every listed benchmark is registered in its binary (fast: nothing is measured)."""
    missing = []
    for binary in sorted({b for b, _ in jobs}):
        proc = subprocess.run([os.path.join(build_dir, "bin", binary), "--benchmark_list_tests=true"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        registered = set(proc.stdout.split())
        for (b, _), entries in jobs.items():
            missing += [f"{binary}: {e['name']}" for e in entries if b == binary and e["name"] not in registered]
        for ref in ("REF.sgemm", "REF.scalar"):
            if ref not in registered:
                missing.append(f"{binary}: {ref} (use PBENCH_BENCHMARK_MAIN from benchmarks/support/bench_support.hpp)")
    for m in sorted(set(missing)):
        print(f"bench_gate: not registered: {m}", file=sys.stderr)
    print(f"[bench_gate] list check: {'FAIL' if missing else 'ok'} ({len({b for b, _ in jobs})} binaries)")
    return 1 if missing else 0


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


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"), help="build folder holding bin/bench_* (default build/)")
    ap.add_argument("--only", default="", help="regex: only benchmarks whose name matches")
    ap.add_argument("--update", nargs="?", const="all", default=None, metavar="NAMES",
                    help="record the measured ratios as the new baselines (all, or comma-separated names)")
    ap.add_argument("--json", default="", help="also write the rows as JSON to this file")
    ap.add_argument("--check-list", action="store_true",
                    help="only check that every listed (non-pending) benchmark is registered in its binary")
    ap.add_argument("--gate", default=GATE_FILE, help=argparse.SUPPRESS)
    ap.add_argument("--baseline", default=BASELINE_FILE, help=argparse.SUPPRESS)
    args = ap.parse_args()
    try:
        gate = read_gate(args.gate)
        baseline_doc = load_json(args.baseline, "recorded ratios") if os.path.exists(args.baseline) else {}
    except InputError as e:
        print(f"bench_gate: error: {e}", file=sys.stderr)
        return 2
    baselines = baseline_doc.get("ratios", {})
    threshold = float(gate["threshold"])
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
        return check_list(args.build, jobs)

    out_dir = os.path.join(args.build, "bench-gate")
    os.makedirs(out_dir, exist_ok=True)
    started = time.monotonic()
    rows = measure(args.build, jobs, gate, out_dir, attempt=1)
    for row in rows.values():
        if args.update is not None:
            row["verdict"] = "recorded" if "ratio" in row else "FAIL (error)"
        else:
            row["verdict"] = judge(row, baselines.get(key_of(row["name"], row["threads"])), threshold)

    # Confirmation: re-measure processes with a failure; keep each row's lower ratio.
    if args.update is None:
        again = {job: entries for job, entries in jobs.items()
                 if any(rows[key_of(e["name"], job[1])]["verdict"].startswith("FAIL (slower)") for e in entries)}
        if again:
            print("[bench_gate] slower than baseline: measuring those processes once more", file=sys.stderr)
            second = measure(args.build, again, gate, out_dir, attempt=2)
            for key, row in second.items():
                first = rows[key]
                if "ratio" in row and (("ratio" not in first) or row["ratio"] < first["ratio"]):
                    row["first_ratio"] = first.get("ratio")
                    row["verdict"] = judge(row, baselines.get(key), threshold)
                    rows[key] = row

    print_table(rows, pending, baselines, threshold)
    print(f"\n[bench_gate] {time.monotonic() - started:.0f} s; raw Google Benchmark JSON in {out_dir}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"threshold": threshold, "rows": list(rows.values())}, f, indent=1)

    if args.update is not None:
        names = None if args.update == "all" else set(args.update.split(","))
        bad = [r for r in rows.values() if (names is None or r["name"] in names) and "error" in r]
        if bad:
            print("bench_gate: not updating: some benchmarks failed to run", file=sys.stderr)
            return 1
        ratios = dict(baselines)
        for key, r in rows.items():
            if names is None or r["name"] in names:
                ratios[key] = round(r["ratio"], 6)
        doc = {"about": "Ratios time/reference-time per benchmark@threads, recorded by "
                        "scripts/bench_gate.sh --update (benchmarks/README.md).",
               "recorded": {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                            "commit": git_commit(), "cpu": cpu_model(), "cores": os.cpu_count()},
               "ratios": dict(sorted(ratios.items()))}
        with open(args.baseline, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=1)
            f.write("\n")
        print(f"[bench_gate] recorded {sum(1 for k in rows if names is None or rows[k]['name'] in names)} "
              f"baselines in {args.baseline}")
        return 0
    failed = [r for r in rows.values() if r["verdict"].startswith("FAIL")]
    print(f"[bench_gate] {'FAIL' if failed else 'PASS'}: {len(rows) - len(failed)} of {len(rows)} within "
          f"{threshold}x of baseline" + (f"; {len(pending)} pending" if pending else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
