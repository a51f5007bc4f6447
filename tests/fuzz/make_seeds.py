"""Seed corpora for the fuzz targets (scripts/fuzz.sh), made from the project's own files:
  safetensors  small valid files (one F32 tensor; several dtypes with __metadata__; empty)
  config       every experiment and config fixture, each after a first line that is an override
  tokenizer    the DreamBooth prompt templates and the dataset/mini-world captions
  image        PNGs of each colour type (8-bit RGB, RGBA, grey, 16-bit) and small JPEGs
               (baseline RGB and grey, written by Debian's libstb through ctypes)
Then tests/fuzz/regressions/<target>/* (inputs that once crashed) are added too.
Usage: make_seeds.py <out dir>   (writes <out>/<target>/...)."""
import glob
import json
import os
import shutil
import struct
import sys
import zlib

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def safetensors(tensors, metadata=None):
    header, data = {}, b""
    if metadata:
        header["__metadata__"] = metadata
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + data


def png(w, h, depth, colour, channels):
    rows = b"".join(bytes([0]) + bytes((x * 31 + y * 17 + c * 70) % 256 for x in range(w) for c in range(channels)
                                       for _ in range(depth // 8)) for y in range(h))

    def chunk(tag, body):
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body) & 0xffffffff)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, colour, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def write_jpegs(folder):
    """Small JPEGs from libstb's stbi_write_jpg (the library the decoder itself comes from)."""
    import ctypes
    try:
        stb = ctypes.CDLL("libstb.so")
    except OSError:
        return
    for name, w, h, comp in (("rgb.jpg", 16, 12, 3), ("grey.jpg", 9, 9, 1)):
        pixels = bytes((x * 13 + y * 29 + c * 80) % 256 for y in range(h) for x in range(w) for c in range(comp))
        stb.stbi_write_jpg(os.path.join(folder, name).encode(), w, h, comp, pixels, 90)


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def main(out):
    f32 = struct.pack("<4f", 1.0, -2.0, 0.5, 3.25)
    write(f"{out}/safetensors/one_f32", safetensors([("w", "F32", [2, 2], f32)]))
    write(f"{out}/safetensors/mixed", safetensors(
        [("a.bias", "F16", [2], b"\x00\x3c\x00\xc0"), ("a.weight", "F32", [1, 4], f32), ("ids", "I64", [1], struct.pack("<q", 7)),
         ("flag", "BOOL", [3], b"\x01\x00\x01"), ("empty", "F32", [0, 3], b"")], {"format": "pt", "rank": "4"}))
    write(f"{out}/safetensors/nothing", safetensors([]))
    configs = sorted(glob.glob(f"{ROOT}/experiments/**/*.yaml", recursive=True) +
                     glob.glob(f"{ROOT}/tests/fixtures/config/*/*.yaml") + glob.glob(f"{ROOT}/tests/fixtures/sweep/*.yaml"))
    overrides = ["train.steps=3", "++a.b=[1, 2]", "~dvar", "seed=range(0,3)", "method=lora,svdiff", "+x=${y}"]
    for i, path in enumerate(configs):
        with open(path, "rb") as f:
            write(f"{out}/config/{i:03d}_{os.path.basename(path)}", overrides[i % len(overrides)].encode() + b"\n" + f.read())
    prompts = ["a photo of a sks dog", "a {0} {1} in the jungle", "A  PHOTO   of <new1>, café — naïve 😀",
               "a red cube on a wooden floor, ultra-detailed, 8k", "'s 're 've 'm 'll 'd", "   ", "x" * 300]
    for i, p in enumerate(prompts):
        write(f"{out}/tokenizer/{i:02d}", p.encode())
    for name, args in {"rgb8": (8, 8, 8, 2, 3), "rgba8": (5, 3, 8, 6, 4), "grey8": (4, 4, 8, 0, 1),
                       "rgb16": (3, 5, 16, 2, 3)}.items():
        write(f"{out}/image/{name}.png", png(*args))
    write_jpegs(f"{out}/image")
    for target in ("safetensors", "config", "tokenizer", "image"):
        for reg in glob.glob(f"{ROOT}/tests/fuzz/regressions/{target}/*"):
            shutil.copy(reg, f"{out}/{target}/regression_{os.path.basename(reg)}")
    for target in sorted(os.listdir(out)):
        print(f"[make_seeds] {target}: {len(os.listdir(os.path.join(out, target)))} seeds")


if __name__ == "__main__":
    main(sys.argv[1])
