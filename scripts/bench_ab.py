"""A/B mode of the regression gate (scripts/bench_gate.py --base-build DIR; issue 40).

The stored per-machine baselines are blind on a CPU kind they were not recorded on, and
most CI machines are new. Here the base commit's binaries (DIR/bin, built by
scripts/bench_gate.sh --against REF) and the head's run on the same machine in the
same gate run: per (binary, thread count) the base process, then the head process
(one round), each measuring its rows and the references REF.sgemm / REF.scalar in
the same process, so every row has a ratio time / reference time on each side and

    change = head ratio / base ratio

says how much slower the head is, with the machine's speed of the moment cancelled
twice: by the in-process reference, and by base and head sharing the minute. A row
whose change exceeds its threshold is measured again in the reverse order (head,
then base) and fails only when that pair says so too: a neighbour's burst of load
hits one process, a regression every one.

Rows the base does not register (a benchmark or method added since) are reported,
never judged; a base process that fails is reported and the head's rows of it are
judged as missing a base; a head process that fails is an error, as always.
"""
import os
import statistics
import sys


def split_jobs_for_base(jobs, base_registered):
    """The entries of each job the base binary registers: {(binary, threads): [entries]}."""
    out = {}
    for (binary, threads), entries in jobs.items():
        known = base_registered(binary)
        kept = [e for e in entries if known is not None and e["name"] in known]
        if kept:
            out[(binary, threads)] = kept
    return out


def measure_pair(measure, head_build, base_build, jobs, base_jobs, out_dir, attempt, base_first):
    """One round: per job the two processes back to back (base first, or head first).
    Returns (head_rows, base_rows) as bench_gate.measure returns rows."""
    head_rows, base_rows = {}, {}
    for job in sorted(jobs):
        order = ("base", "head") if base_first else ("head", "base")
        for side in order:
            if side == "base":
                if job in base_jobs:
                    base_rows.update(measure(base_build, {job: base_jobs[job]}, os.path.join(out_dir, "base"),
                                             attempt))
            else:
                head_rows.update(measure(head_build, {job: jobs[job]}, os.path.join(out_dir, "head"), attempt))
    return head_rows, base_rows


def judge_ab(head, base, threshold):
    """Fills head['base_ratio'], head['change'] and returns the verdict of one row."""
    threshold = head.get("threshold", threshold)
    if "error" in head:
        return "FAIL (error)"
    if base is None:
        return "info (not in base)"
    if "error" in base:
        head["base_error"] = base["error"]
        return "info (base failed)"
    head["base_ratio"] = base["ratio"]
    head["change"] = head["ratio"] / base["ratio"]
    if head["change"] > threshold:
        return "FAIL (slower than base)" if head["gate"] else "info (slower than base)"
    if head["change"] < 1.0 / threshold:
        return "ok (faster than base)"
    return "ok"


def print_ab_table(rows, base_commit, threshold):
    header = ("benchmark", "threads", "head time", "base", "head", "head/base", "verdict")
    lines = []
    for row in rows.values():
        lines.append((row["name"], str(row["threads"]),
                      f"{row['seconds'] * 1e3:.4g} ms" if "seconds" in row else "-",
                      f"{row['base_ratio']:.4g}" if "base_ratio" in row else "-",
                      f"{row['ratio']:.4g}" if "ratio" in row else "-",
                      f"{row['change']:.3f}" if "change" in row else "-", row["verdict"]))
    widths = [max(len(h), *(len(l[i]) for l in lines)) if lines else len(h) for i, h in enumerate(header)]
    print(f"\nbenchmark gate, A/B against {base_commit}: base and head are time / reference time, each in its "
          f"own process, base and head alternating on this machine; fail when head/base > {threshold} "
          "in the first pair and in the reversed confirmation pair")
    print("  ".join(h.ljust(w) for h, w in zip(header, widths)))
    print("  ".join("-" * w for w in widths))
    for l in lines:
        print("  ".join(c.ljust(w) for c, w in zip(l, widths)))
    for r in rows.values():
        if "error" in r:
            print(f"\n{r['name']} (threads {r['threads']}): {r['error']}")
        if "base_error" in r:
            print(f"\n{r['name']} (threads {r['threads']}), base: {r['base_error']}")


def run_ab(measure, key_of, head_build, base_build, base_commit, jobs, base_registered, threshold, out_dir):
    """The A/B gate. Returns (rows, processes run)."""
    base_jobs = split_jobs_for_base(jobs, base_registered)
    missing = sorted({b for b, _ in jobs} - {b for b, _ in base_jobs})
    if missing:
        print(f"[bench_gate] the base registers no gated row of: {', '.join(missing)} (new since {base_commit}?)",
              file=sys.stderr)
    head, base = measure_pair(measure, head_build, base_build, jobs, base_jobs, out_dir, 1, base_first=True)
    for key, row in head.items():
        row["verdict"] = judge_ab(row, base.get(key), threshold)
    processes = len(jobs) + len(base_jobs)
    slower = {}
    for job, entries in jobs.items():
        names = [e for e in entries if head[key_of(e["name"], job[1])]["verdict"].startswith("FAIL (slower")]
        if names:
            slower[job] = names
    if slower:
        print("[bench_gate] slower than base: measuring "
              + ", ".join(key_of(e["name"], t) for (_, t), es in sorted(slower.items()) for e in es)
              + " once more, head first", file=sys.stderr)
        again_base = {job: es for job, es in slower.items() if job in base_jobs}
        head2, base2 = measure_pair(measure, head_build, base_build, slower, again_base, out_dir, 2, base_first=False)
        processes += 2 * len(slower)
        for key, row in head2.items():
            first = head[key]
            verdict = judge_ab(row, base2.get(key), threshold)
            row["first_change"] = first.get("change")
            row["verdict"] = verdict
            head[key] = row
    return head, processes


def confirmation_lines(rows):
    for key, row in rows.items():
        if "first_change" in row:
            second = f"{row['change']:.3f}" if "change" in row else "no ratio"
            yield (f"[bench_gate] confirmation: {key} head/base {row['first_change']:.3f}, then {second} "
                   f"(head first): {row['verdict']}")


def summarize(rows):
    """(failed, gated, median change of the gated rows with a base or None)."""
    failed = [r for r in rows.values() if r["verdict"].startswith("FAIL")]
    gated = [r for r in rows.values() if r["gate"]]
    changes = [r["change"] for r in gated if "change" in r]
    return failed, gated, (statistics.median(changes) if changes else None)
