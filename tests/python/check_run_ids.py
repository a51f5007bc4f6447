"""Recomputes every run id of a finished sweep from its run files with Python's
own json and hashlib, as ../shared/INTERFACES.md defines it: the first 16 hex
digits of SHA-256 over the canonical JSON (keys sorted, numbers as parsed
values) of the resolved config, without the `runtime` section."""
import glob
import hashlib
import json
import sys

import h5py
import yaml

runs = sorted(glob.glob(sys.argv[1] + "/*.h5"))
if not runs:
    print(f"no run files under {sys.argv[1]}")
    sys.exit(1)
bad = 0
for path in runs:
    with h5py.File(path, "r") as f:
        run_id = f.attrs["run_id"]
        resolved = f["config/resolved"][()]
        if isinstance(resolved, bytes):
            resolved = resolved.decode()
    config = yaml.safe_load(resolved)
    config.pop("runtime", None)
    payload = json.dumps(config, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    expected = hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]
    if expected != run_id or not path.endswith(run_id + ".h5"):
        print(f"MISMATCH {path}: file says {run_id}, python computes {expected} from {payload}")
        bad += 1
print(f"{len(runs) - bad}/{len(runs)} run ids recomputed by Python")
sys.exit(1 if bad else 0)
