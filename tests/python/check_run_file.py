"""Reads a run file written by pbench's own writer with Debian's h5py and checks
schema version 1 of ../shared/INTERFACES.md: strings come back as `str`, the
dtypes and shapes are as documented, every group exists."""
import sys

import h5py
import numpy as np

path = sys.argv[1]
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)


with h5py.File(path, "r") as f:
    check(f.attrs["schema_version"] == 1, "schema_version == 1")
    check(isinstance(f.attrs["run_id"], str), "run_id is str")
    check(isinstance(f.attrs["sweep"], str), "sweep is str")
    for name in ("resolved", "unresolved"):
        value = f["config"][name][()]
        if isinstance(value, bytes):  # h5py < 3 returns bytes for vlen str datasets
            value = value.decode()
        check(isinstance(value, str) and "b: 1" in value, f"/config/{name} is the YAML text")
    check(f["config/resolved"].dtype.kind == "O", "/config/resolved is a variable-length string")
    prov = f["provenance"].attrs
    for key in ("status", "error", "git_commit", "pbench_version", "torch_version", "cpu", "host",
                "start_time", "end_time"):
        check(isinstance(prov[key], str), f"/provenance@{key} is str")
    check(prov["status"] == "complete", "status complete")
    check(np.issubdtype(type(prov["threads"]), np.integer) and prov["threads"] == 2, "threads int 2")
    check(prov["start_time"].endswith("Z") and "T" in prov["start_time"], "start_time ISO 8601 UTC")
    for group in ("params", "params/sd15"):
        a = f[group].attrs
        check(a["method"] == "lora", f"{group}@method")
        for key in ("trainable", "total", "delta_bytes_fp32", "delta_bytes_fp16"):
            check(a[key].dtype == np.int64, f"{group}@{key} int64")
    check(f["params/sd15"].attrs["trainable"] == 797184, "sd15 trainable value")
    expected = {"train/step": np.int64, "train/loss": np.float32, "train/lr": np.float32,
                "train/wall_time": np.float64, "dvar/step": np.int64, "dvar/objective": np.float32,
                "dvar/ratio": np.float32}
    for name, dtype in expected.items():
        check(f[name].dtype == dtype, f"{name} dtype {dtype.__name__}")
        check(f[name].ndim == 1, f"{name} is 1-D")
    check(list(f["train/step"][:]) == [1, 2, 3, 4, 5], "train/step values")
    check(len(f["dvar/step"]) == 3, "three dvar rows")
    d = f["dvar"].attrs
    check(d["mode"] == "monitor" and d["stop_step"] == 3 and d["window"] == 3, "dvar attrs")
    m = f["metrics/final"]
    check(abs(m.attrs["clip_i"] - 0.6) < 1e-12, "clip_i mean")
    check(m.attrs["step"] == 5 and m.attrs["clip_backbone"] == "builtin:tiny-clip", "metrics attrs")
    check(m["clip_t"].dtype == np.float64 and m["clip_t"].shape == (2,), "per-image clip_t")
    check(abs(f["metrics"].attrs["clip_i_real"] - 0.9) < 1e-12, "clip_i_real")
    images = f["samples/final/images"]
    check(images.dtype == np.uint8 and images.shape == (2, 4, 6, 3), "images uint8 [N,H,W,3]")
    prompts = f["samples/final/prompts"].asstr()[:] if hasattr(f["samples/final/prompts"], "asstr") else \
        f["samples/final/prompts"][:]
    check(list(prompts) == ["a photo of sks dog", "ünïcödé prompt ✓"], "prompts are UTF-8 str")
    check(list(f["samples/final/seeds"][:]) == [11, 12] and f["samples/final/seeds"].dtype == np.int64, "seeds")
    check(f["samples/real/images"].shape == (2, 4, 6, 3), "real images")
    # An evaluation variant's point: final's attrs and datasets plus `variant` (str) and `objective` (float64).
    v = f["metrics/final_rank_2"]
    check(set(m.attrs.keys()) | {"variant", "objective"} == set(v.attrs.keys()), "variant point attrs = final's + 2")
    check("variant" not in m.attrs and "objective" not in m.attrs, "final has no variant attrs")
    check(isinstance(v.attrs["variant"], str) and v.attrs["variant"] == "rank_2", "variant is str")
    check(isinstance(v.attrs["objective"], np.float64) and v.attrs["objective"] == 0.125, "objective float64")
    check(v["clip_i"].dtype == np.float64 and v["clip_i"].shape == (2,), "variant per-image clip_i")
    check(f["samples/final_rank_2/images"].shape == (2, 4, 6, 3), "variant samples")

if failures:
    print("FAILED checks:\n  " + "\n  ".join(failures))
    sys.exit(1)
print(f"h5py {h5py.__version__}: {path} matches schema version 1")
