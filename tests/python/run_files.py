"""Reading pbench run files in the Python tests (Debian's h5py)."""


def h5_numbers(path):
    """Every dataset of a run file that a rerun must reproduce (not timings, not provenance),
    and the provenance attributes."""
    import h5py
    out = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset) and not name.startswith(("provenance", "config")) \
                    and name != "train/wall_time":
                out[name] = obj[()].tolist() if hasattr(obj[()], "tolist") else obj[()]
        f.visititems(visit)
        prov = dict(f["provenance"].attrs)
    return out, prov
