"""Which machine is this, and which committed baseline belongs to it (benchmarks/README.md).

Why a fingerprint: the gate's ratios (benchmark time / REF.sgemm or REF.scalar time in the same
process) cancel the machine's speed of the moment, not its microarchitecture. Every CPU of the pool
reports the model name "AMD EPYC", yet between a Zen 3 (AVX2) and an AVX-512 part the sgemm-
referenced ratios moved 0.97-2.0x and the scalar-referenced ones 2.1-4.5x on the same tree
(../shared/bench-baselines/). So a baseline is only valid on the machine kind it was recorded on,
and a kind is named by what changes the kernels and the memory system:

    vendor, CPU family, model, the ISA extensions the BLAS/oneDNN kernels dispatch on,
    L2 per core, L3, core count

(the stepping, the model name and the clock are left out: the first two do not tell the pool's
machines apart, the clock changes under a hypervisor). Two machines with equal fingerprints share
a baseline file under benchmarks/baselines/.

Only the Python standard library is used (Debian's /usr/bin/python3).
"""
import glob
import json
import os
import re

# ISA extensions that select different LibTorch/OpenBLAS/oneDNN kernels; other flags (security
# mitigations, hypervisor features) differ between hosts of one kind and would split it needlessly.
ISA_FLAGS = ("avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd",
             "avx512ifma", "avx512vbmi", "avx512_vnni", "avx512_bf16", "avx512_fp16", "avx_vnni",
             "amx_tile", "amx_bf16", "amx_int8", "sha_ni")
FIELDS = ("vendor", "family", "model", "isa", "l2_kib", "l3_kib", "cores")


class MachineError(Exception):
    pass


def parse_cpuinfo(text):
    """The first processor's vendor, family, model, ISA flags and (AMD: per-core L2) cache size."""
    info = {}
    for line in text.splitlines():
        if not line.strip():
            if info:
                break  # one processor block is enough
            continue
        key, _, value = line.partition(":")
        info.setdefault(key.strip(), value.strip())
    flags = set(info.get("flags", "").split())
    fp = {"vendor": info.get("vendor_id", "unknown"),
          "family": int(info["cpu family"]) if info.get("cpu family", "").isdigit() else None,
          "model": int(info["model"]) if info.get("model", "").isdigit() else None,
          "isa": [f for f in ISA_FLAGS if f in flags]}
    m = re.match(r"(\d+)\s*KB", info.get("cache size", ""))
    if m:
        fp["cache_size_kib"] = int(m.group(1))
    return fp


def read_sysfs_caches(cpu_dir="/sys/devices/system/cpu/cpu0/cache"):
    """{level: KiB} of the unified/data caches of cpu0 (sysfs sizes are per instance)."""
    sizes = {}
    for index in sorted(glob.glob(os.path.join(cpu_dir, "index*"))):
        try:
            with open(os.path.join(index, "level")) as f:
                level = int(f.read())
            with open(os.path.join(index, "type")) as f:
                kind = f.read().strip()
            with open(os.path.join(index, "size")) as f:
                m = re.match(r"(\d+)([KM])", f.read().strip())
        except (OSError, ValueError):
            continue
        if m and kind in ("Unified", "Data"):
            sizes[level] = int(m.group(1)) * (1024 if m.group(2) == "M" else 1)
    return sizes


def this_machine(cpuinfo_path="/proc/cpuinfo", cpu_dir="/sys/devices/system/cpu/cpu0/cache"):
    try:
        with open(cpuinfo_path, encoding="utf-8", errors="replace") as f:
            fp = parse_cpuinfo(f.read())
    except OSError:
        fp = {"vendor": "unknown", "family": None, "model": None, "isa": []}
    caches = read_sysfs_caches(cpu_dir)
    fp["l2_kib"] = caches.get(2, fp.get("cache_size_kib"))
    fp["l3_kib"] = caches.get(3)
    fp.pop("cache_size_kib", None)
    fp["cores"] = os.cpu_count()
    return {k: fp.get(k) for k in FIELDS}


def describe(fp):
    return (f"{fp.get('vendor')} family {fp.get('family')} model {fp.get('model')}, "
            f"ISA {' '.join(fp.get('isa') or []) or 'none listed'}, "
            f"L2 {fp.get('l2_kib')} KiB/core, L3 {fp.get('l3_kib')} KiB, {fp.get('cores')} cores")


def slug(fp):
    """A file name for a new machine's baseline, e.g. amd-f25-m17-avx512-c2."""
    vendor = {"AuthenticAMD": "amd", "GenuineIntel": "intel"}.get(fp.get("vendor"), "cpu")
    widest = "avx512" if "avx512f" in (fp.get("isa") or []) else \
        "avx2" if "avx2" in (fp.get("isa") or []) else "sse"
    return f"{vendor}-f{fp.get('family')}-m{fp.get('model')}-{widest}-l2_{fp.get('l2_kib')}k-c{fp.get('cores')}"


def differences(a, b):
    """The fingerprint fields in which two machines differ."""
    return [k for k in FIELDS if (sorted(a.get(k) or []) if k == "isa" else a.get(k)) !=
            (sorted(b.get(k) or []) if k == "isa" else b.get(k))]


def load_baselines(folder):
    """[(path, doc)] of every benchmarks/baselines/*.json, each checked for a complete fingerprint."""
    found = []
    for path in sorted(glob.glob(os.path.join(folder, "*.json"))):
        try:
            with open(path, encoding="utf-8") as f:
                doc = json.load(f)
        except json.JSONDecodeError as e:
            raise MachineError(f"{path}: not valid JSON ({e})")
        missing = [k for k in FIELDS if k not in doc.get("machine", {})]
        if missing:
            raise MachineError(f"{path}: machine.{missing[0]} missing (every baseline names the machine "
                               f"it was recorded on: {', '.join(FIELDS)})")
        if not isinstance(doc.get("ratios"), dict):
            raise MachineError(f"{path}: 'ratios' missing")
        found.append((path, doc))
    return found


def pick(baselines, fp):
    """(path, doc) of the baseline recorded on this machine's kind, or (None, nearest (path, doc, diff))."""
    exact = [(p, d) for p, d in baselines if not differences(d["machine"], fp)]
    if len(exact) > 1:
        raise MachineError("two baselines claim this machine: " + ", ".join(p for p, _ in exact) +
                           " (merge them: one file per fingerprint)")
    if exact:
        return exact[0], None
    ranked = sorted(((len(differences(d["machine"], fp)), p, d) for p, d in baselines), key=lambda t: t[:2])
    nearest = (ranked[0][1], ranked[0][2], differences(ranked[0][2]["machine"], fp)) if ranked else None
    return None, nearest
