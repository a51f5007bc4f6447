#!/usr/bin/env python3
"""No include points up (issue 37): the engine's areas form layers, and a file
may include another area's header only when that area sits in a lower layer.

    check_layers.py [SOURCE_DIR]    check the tree (exit 1 listing each upward include)
    check_layers.py --self-test     show that the check catches an upward and an unknown include

An area is a folder under framework/ (framework/models/parity counts as
framework/models), or one of methods/, metrics/, datasets/. Includes inside one
area are free. A new area must be given its layer in LAYERS below.
"""
import os
import re
import sys
import tempfile

# Lower number = lower layer. Each line says what the area may include besides
# the layers under it.
LAYERS = {
    "framework": 0,             # framework/torch_pch.hpp and its anchor: LibTorch only
    "framework/util": 0,        # errors, paths, threads, failpoints
    "framework/io": 1,
    "framework/text": 1,
    "framework/config": 1,
    "framework/h5": 1,
    "framework/registry": 2,
    "framework/tensor": 2,
    "framework/models": 3,      # SD, CLIP, DINO, schedulers, HF folders
    "datasets": 3,              # torch-free loaders
    "framework/report": 3,      # make_table (reads run files only)
    "framework/sweep": 3,       # planning and the scheduler loop (torch-free)
    "framework/sample": 4,
    "metrics": 4,
    "framework/train": 5,       # trainer, DVAR, the method interface
    "methods": 6,               # one file per method, on the trainer's interface
    "framework/run": 6,         # the run: config, catalog, run files; declares the workload table
    "framework/workloads": 7,   # personalize, pretrain, and the workload table
    "framework/cli": 8,         # the executables' mains
}
ROOTS = ("framework", "methods", "metrics", "datasets")
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def area_of(path):
    """The area of a repository-relative path, or None outside the checked roots."""
    parts = path.split("/")
    if parts[0] not in ROOTS:
        return None
    if parts[0] != "framework":
        return parts[0]
    return "framework" if len(parts) == 2 else "framework/" + parts[1]


def violations(source_dir):
    found = []
    for root in ROOTS:
        for folder, _, files in os.walk(os.path.join(source_dir, root)):
            for name in sorted(files):
                if not name.endswith((".cpp", ".hpp", ".h")):
                    continue
                full = os.path.join(folder, name)
                path = os.path.relpath(full, source_dir).replace(os.sep, "/")
                source_area = area_of(path)
                with open(full, encoding="utf-8", errors="replace") as f:
                    text = f.read()
                for match in INCLUDE.finditer(text):
                    target = match.group(1)
                    target_area = area_of(target)
                    if target_area is None or target_area == source_area:
                        continue
                    line = text.count("\n", 0, match.start()) + 1
                    for area in (source_area, target_area):
                        if area not in LAYERS:
                            found.append(f"{path}:{line}: area {area} has no layer: add it to LAYERS in "
                                         f"tests/python/check_layers.py")
                    if source_area in LAYERS and target_area in LAYERS and \
                            LAYERS[target_area] >= LAYERS[source_area]:
                        found.append(f"{path}:{line}: includes {target}: {target_area} (layer "
                                     f"{LAYERS[target_area]}) is not below {source_area} (layer "
                                     f"{LAYERS[source_area]})")
    return found


def self_test():
    with tempfile.TemporaryDirectory() as tree:
        def write(path, text):
            os.makedirs(os.path.dirname(os.path.join(tree, path)), exist_ok=True)
            with open(os.path.join(tree, path), "w") as f:
                f.write(text)
        write("framework/run/catalog.cpp", '#include "framework/util/errors.hpp"\n#include "framework/train/method.hpp"\n')
        write("framework/run/good.cpp", '#include "framework/run/catalog.hpp"\n')
        assert violations(tree) == [], violations(tree)
        write("framework/run/catalog.cpp", '#include "framework/util/errors.hpp"\n'
                                           '#include "framework/workloads/personalize/personalize.hpp"\n')
        write("framework/newarea/x.cpp", '#include "framework/util/errors.hpp"\n')
        found = violations(tree)
        assert any(v.startswith("framework/run/catalog.cpp:2: includes framework/workloads/") for v in found), found
        assert any("area framework/newarea has no layer" in v for v in found), found
        assert len(found) == 2, found
    print("check_layers: self-test passed (an upward include and an unknown area are reported)")


def main(argv):
    if argv[1:] == ["--self-test"]:
        self_test()
        return 0
    source_dir = argv[1] if len(argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..")
    found = violations(source_dir)
    for v in found:
        print(v)
    if found:
        print(f"check_layers: {len(found)} include(s) point up or into an unknown area")
        return 1
    print("check_layers: every include points down (" + ", ".join(sorted(LAYERS, key=LAYERS.get)) + ")")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
