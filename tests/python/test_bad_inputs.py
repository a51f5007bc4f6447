"""The bad-input corpus (tests/fixtures/bad/<case>/case.json, issue 23): every
case runs a real pbench program on one broken input and must end with the exit
status it names (2: an input error, one line naming the file and key; 1: a run
that failed and was recorded) and an error that contains its words, never a
signal, a C++ stack trace or an uncaught exception. A few cases are inputs a
user means to work (a greyscale or 16-bit PNG): they expect exit 0.

Each case runs in a scratch copy of tests/fixtures/bad/_base/ (run.yaml, a
working run; sweep.yaml, a working sweep) overlaid with the case's own files,
after its "prepare" steps:
  ["mini_world"]            data/: the mini world (pbench mini-world), a DreamBooth-layout root
  ["tiny_model"]            model/: builtin:tiny in diffusers layout (pbench export)
  ["remove", path]          delete a file or folder
  ["truncate", path, n]     keep the first n bytes of a file
  ["write", path, text]     write a text file
  ["png", path, kind, w, h] write a PNG: rgb8, grey8, rgba8, rgb16 (tests the decoder's conversions)
  ["png_claiming", path, W, H]  a 1-pixel PNG whose header claims W x H (a decompression bomb)
  ["safetensors", path, edit, tensor]  rewrite one header entry: drop, rename:<new>, dtype:<D>, transpose
  ["move", src, dest]       move a file (one of the case's own, copied to the root, into data/)
  ["h5_claim_rows", path, dataset, n]  replace a run file's dataset by one claiming n rows it never wrote
  ["run", program, args...] run a program first (must succeed), e.g. to make a run file
Usage: test_bad_inputs.py <build_dir> [case ...]   (Debian's /usr/bin/python3)."""
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "..", "fixtures", "bad")
SIGNS_OF_A_CRASH = ("terminate called", "Exception raised from", "Segmentation fault", "core dumped",
                    "what():", "Traceback")


def png_bytes(kind, w, h, claimed=None):
    """A PNG of w x h pixels; `claimed` = (W, H) written in its header instead (a decompression bomb)."""
    depth, colour, channels = {"rgb8": (8, 2, 3), "grey8": (8, 0, 1), "rgba8": (8, 6, 4), "rgb16": (16, 2, 3)}[kind]
    bytes_per = depth // 8
    rows = b""
    for y in range(h):
        row = bytearray([0])  # filter: none
        for x in range(w):
            for c in range(channels):
                v = (x * 7 + y * 13 + c * 50) % 256 if c < 3 else 200
                row += bytes([v] * bytes_per)
        rows += bytes(row)

    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xffffffff)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, colour, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")) if claimed is None else \
        (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", *claimed, depth, colour, 0, 0, 0))
         + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def edit_safetensors(path, edit, tensor):
    with open(path, "rb") as f:
        blob = f.read()
    n = struct.unpack("<Q", blob[:8])[0]
    header = json.loads(blob[8:8 + n])
    if tensor not in header:
        raise AssertionError(f"{path}: no tensor {tensor} to edit (has {sorted(header)[:5]}...)")
    if edit == "drop":
        del header[tensor]
    elif edit.startswith("dtype:"):
        header[tensor]["dtype"] = edit.split(":", 1)[1]
    elif edit.startswith("rename:"):
        header[edit.split(":", 1)[1]] = header.pop(tensor)
    elif edit == "transpose":
        header[tensor]["shape"] = list(reversed(header[tensor]["shape"]))
    else:
        raise AssertionError(f"unknown safetensors edit {edit}")
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + blob[8 + n:])


class Corpus:
    def __init__(self, build_dir):
        self.build = os.path.abspath(build_dir)
        self.cache = tempfile.mkdtemp(prefix="pbench_bad_")
        self.made = {}

    def program(self, name):
        return os.path.join(self.build, "bin", name)

    def shared(self, what):
        """data/ or model/, made once per test run and copied into each case."""
        if what not in self.made:
            out = os.path.join(self.cache, what)
            cmd = {"mini_world": [self.program("pbench"), "mini-world", out, "--train-count", "1",
                                  "--held-out-count", "1"],
                   "tiny_model": [self.program("pbench"), "export", "builtin:tiny", out]}[what]
            subprocess.run(cmd, check=True, capture_output=True)
            self.made[what] = out
        return self.made[what]

    def prepare(self, work, steps):
        for step in steps:
            op, args = step[0], step[1:]
            if op in ("mini_world", "tiny_model"):
                shutil.copytree(self.shared(op), os.path.join(work, "data" if op == "mini_world" else "model"))
            elif op == "remove":
                p = os.path.join(work, args[0])
                shutil.rmtree(p) if os.path.isdir(p) else os.remove(p)
            elif op == "truncate":
                with open(os.path.join(work, args[0]), "r+b") as f:
                    f.truncate(int(args[1]))
            elif op == "write":
                p = os.path.join(work, args[0])
                os.makedirs(os.path.dirname(p), exist_ok=True)
                with open(p, "w", encoding="utf-8") as f:
                    f.write(args[1])
            elif op == "png":
                with open(os.path.join(work, args[0]), "wb") as f:
                    f.write(png_bytes(args[1], int(args[2]), int(args[3])))
            elif op == "png_claiming":
                with open(os.path.join(work, args[0]), "wb") as f:
                    f.write(png_bytes("grey8", 1, 1, claimed=(int(args[1]), int(args[2]))))
            elif op == "safetensors":
                edit_safetensors(os.path.join(work, args[0]), args[1], args[2])
            elif op == "move":
                shutil.move(os.path.join(work, args[0]), os.path.join(work, args[1]))
            elif op == "h5_claim_rows":
                import h5py
                with h5py.File(os.path.join(work, args[0]), "r+") as f:
                    del f[args[1]]
                    f.create_dataset(args[1], shape=(int(args[2]),), maxshape=(None,), chunks=(1024,), dtype="f8")
            elif op == "run":
                proc = subprocess.run([self.program(args[0])] + list(args[1:]), cwd=work, capture_output=True, text=True)
                if proc.returncode != 0:
                    raise AssertionError(f"prepare step {step} failed: {proc.stderr[-2000:]}")
            else:
                raise AssertionError(f"unknown prepare step {op}")

    def run_case(self, name):
        folder = os.path.join(CORPUS, name)
        with open(os.path.join(folder, "case.json"), encoding="utf-8") as f:
            case = json.load(f)
        work = os.path.join(self.cache, "case_" + name)
        shutil.copytree(os.path.join(CORPUS, "_base"), work)
        for entry in os.listdir(folder):
            if entry != "case.json":
                src = os.path.join(folder, entry)
                (shutil.copytree if os.path.isdir(src) else shutil.copy)(src, os.path.join(work, entry))
        self.prepare(work, case.get("prepare", []))
        cmd = [self.program(case["command"][0])] + case["command"][1:]
        proc = subprocess.run(cmd, cwd=work, capture_output=True, text=True, errors="replace", timeout=120)
        out = proc.stdout + proc.stderr
        problems = []
        if proc.returncode < 0 or proc.returncode >= 128:
            problems.append(f"ended by a signal (status {proc.returncode})")
        elif proc.returncode != case["exit"]:
            problems.append(f"exit {proc.returncode}, expected {case['exit']}")
        for words in case.get("words", []):
            if words not in out:
                problems.append(f"no '{words}' in the output")
        for sign in SIGNS_OF_A_CRASH:
            if sign in out:
                problems.append(f"'{sign}' in the output")
        error_lines = [l for l in proc.stderr.splitlines() if "error" in l.lower() or "failed" in l.lower()]
        return case, proc.returncode, problems, (error_lines[-1] if error_lines else out.strip()[-300:])


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    corpus = Corpus(argv[1])
    names = argv[2:] or sorted(n for n in os.listdir(CORPUS) if not n.startswith("_") and
                               os.path.isfile(os.path.join(CORPUS, n, "case.json")))
    failed = 0
    try:
        for name in names:
            case, status, problems, line = corpus.run_case(name)
            failed += bool(problems)
            verdict = "ok" if not problems else "FAIL: " + "; ".join(problems)
            print(f"{name:<34} {case['kind']:<8} exit {status}  {verdict}\n    {line}")
    finally:
        shutil.rmtree(corpus.cache, ignore_errors=True)
    print(f"[bad_inputs] {len(names) - failed}/{len(names)} cases behave as their case.json says")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
