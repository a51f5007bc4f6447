"""`pbench pretrain` as a user drives it (issue 34), on a miniature vae recipe (seconds):
  sigkill_resume   a run killed with SIGKILL after a checkpoint and resumed with --resume ends with
                   byte-identical weights and the same loss curve as an uninterrupted run
  minutes_budget   --minutes stops early, writes the weights reached and a run file with status
                   partial; --resume finishes it (status complete)
  unet_chain       unet refuses to start without the vae and clip outputs (exit 2, naming the file),
                   then trains on them once they exist (tiny recipes), writes its folder and run file,
                   evaluates prompt following with the metric CLIP and writes its sample grid; a resumed
                   chunk reads the cached pool encodings
  refusals         an existing checkpoint without --resume, an unknown recipe key, an unknown
                   component and a missing recipe file each exit 2 with one line naming the cause
Usage: test_pretrain_cli.py <build dir>   (Debian's /usr/bin/python3, h5py)."""
import os
import signal
import subprocess
import sys
import tempfile
import time

import h5py

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build"))
PBENCH = os.path.join(BUILD, "bin", "pbench")
# 60 steps of a 0.7 M-parameter autoencoder on 2-image batches, checkpoint every 15 steps.
RECIPE = ["steps=60", "warmup_steps=5", "batch=2", "pool_size=16", "held_out=4", "resolution=32"]
ENV = dict(os.environ, GOMP_SPINCOUNT="10000", OPENBLAS_THREAD_TIMEOUT="4", OPENBLAS_NUM_THREADS="1")


def pretrain(out, *extra, **kwargs):
    return subprocess.run([PBENCH, "pretrain", "vae", *RECIPE, "--threads", "1", "--out", out, *extra],
                          capture_output=True, text=True, env=ENV, timeout=300, **kwargs)


def weights(out):
    with open(os.path.join(out, "builtin_mini", "vae", "diffusion_pytorch_model.safetensors"), "rb") as f:
        return f.read()


def curve(out):
    with h5py.File(os.path.join(out, "runs", "vae.h5"), "r") as f:
        return list(f["curve/step"][()]), list(f["curve/loss"][()]), f.attrs["status"]


def check(condition, message):
    if not condition:
        print("FAIL:", message)
        sys.exit(1)


def sigkill_resume(tmp):
    whole = os.path.join(tmp, "whole")
    r = pretrain(whole)
    check(r.returncode == 0, f"uninterrupted run: exit {r.returncode}\n{r.stderr}")
    killed = os.path.join(tmp, "killed")
    checkpoint = os.path.join(killed, "checkpoints", "vae.pt")
    p = subprocess.Popen([PBENCH, "pretrain", "vae", *RECIPE, "--threads", "1", "--out", killed],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=ENV)
    # Kill it once a checkpoint exists and it is past it (a line of a later step).
    seen_after_checkpoint = False
    for line in p.stderr:
        if os.path.exists(checkpoint) and "step 3" in line:  # "step 30/60" etc. after the step-15 checkpoint
            seen_after_checkpoint = True
            break
    p.send_signal(signal.SIGKILL)
    p.wait()
    check(seen_after_checkpoint, "the run ended before it could be killed after a checkpoint")
    check(not os.path.exists(os.path.join(killed, "runs", "vae.h5")), "a killed run must not leave a run file")
    r = pretrain(killed, "--resume")
    check(r.returncode == 0, f"resume: exit {r.returncode}\n{r.stderr}")
    check("resumed at step" in r.stderr, "resume did not start from the checkpoint:\n" + r.stderr)
    check(weights(killed) == weights(whole), "resumed weights differ from the uninterrupted run's")
    check(curve(killed)[:2] == curve(whole)[:2], "resumed loss curve differs from the uninterrupted run's")
    check(curve(whole)[2] == "complete", "an uninterrupted run file must say complete")
    print("sigkill_resume: ok")


def minutes_budget(tmp):
    out = os.path.join(tmp, "budget")
    r = pretrain(out, "--minutes", "0.0001")
    check(r.returncode == 0, f"budget run: exit {r.returncode}\n{r.stderr}")
    steps, _, status = curve(out)
    check(status == "partial" and steps[-1] < 60, f"budget run: status {status}, last step {steps[-1]}")
    check(len(weights(out)) > 0, "the budget run wrote no weights")
    r = pretrain(out, "--resume")
    check(r.returncode == 0, f"resume after budget: exit {r.returncode}\n{r.stderr}")
    steps, _, status = curve(out)
    check(status == "complete" and steps[-1] == 60, f"after resume: status {status}, last step {steps[-1]}")
    print("minutes_budget: ok")


def unet_chain(tmp):
    out = os.path.join(tmp, "chain")
    tiny = ["batch=2", "pool_size=8", "held_out=4", "--threads", "1", "--out", out]
    run = lambda component, *recipe: subprocess.run([PBENCH, "pretrain", component, *recipe, *tiny],
                                                    capture_output=True, text=True, env=ENV, timeout=300)
    r = run("unet", "steps=2")
    check(r.returncode == 2 and "diffusion_pytorch_model.safetensors" in r.stderr,
          f"unet before vae: expected exit 2 naming the vae weights, got {r.returncode}: {r.stderr}")
    for component in ("vae", "clip"):
        r = run(component, "steps=2")
        check(r.returncode == 0, f"{component}: exit {r.returncode}\n{r.stderr}")
    r = run("unet", "steps=3", "eval_steps=4")
    check(r.returncode == 0, f"unet: exit {r.returncode}\n{r.stderr}")
    check(os.path.isfile(os.path.join(out, "builtin_mini", "unet", "diffusion_pytorch_model.safetensors")),
          "unet wrote no weights")
    with h5py.File(os.path.join(out, "runs", "unet.h5"), "r") as f:
        check(f.attrs["status"] == "complete" and len(f["curve/loss"][()]) == 3, "unet run file incomplete")
        check("true_caption" in f["eval/held_out_epsilon_mse_by_timestep/500"].attrs, "unet evaluation missing")
        following = f["eval/prompt_following"]
        check(following.attrs["prompts"] == 4 and following.attrs["ddim_steps"] == 4,
              "prompt following: expected the 4 held-out captions at 4 steps")
        for part in ("samples", "renders_ceiling"):
            for factor in ("class", "colour", "background"):
                check(0 <= following[part].attrs[factor] <= 1, f"prompt following {part}/{factor} not a fraction")
    check(os.path.isfile(os.path.join(out, "runs", "unet_samples.png")), "unet wrote no sample grid")
    # A later chunk reads the cached pool encodings instead of rendering and encoding again.
    r = run("unet", "steps=4", "eval_steps=4", "--resume")
    check(r.returncode == 0 and "pool encodings read from" in r.stderr, f"unet resume: exit {r.returncode}\n{r.stderr}")
    print("unet_chain: ok")


def refusals(tmp):
    out = os.path.join(tmp, "whole")  # has a checkpoint from sigkill_resume
    cases = [
        (pretrain(out), "--resume"),
        (pretrain(os.path.join(tmp, "x"), "stpes=3"), "stpes"),
        (subprocess.run([PBENCH, "pretrain", "vea", "--out", tmp], capture_output=True, text=True, env=ENV), "vea"),
        (pretrain(os.path.join(tmp, "y"), os.path.join(tmp, "missing.yaml")), "missing.yaml"),
    ]
    for r, word in cases:
        check(r.returncode == 2, f"expected exit 2 mentioning {word}, got {r.returncode}: {r.stderr}")
        lines = [l for l in r.stderr.splitlines() if l.strip()]
        check(len(lines) == 1 and word in lines[0], f"expected one line naming {word}: {r.stderr!r}")
    print("refusals: ok")


def main():
    with tempfile.TemporaryDirectory() as tmp:
        start = time.time()
        sigkill_resume(tmp)
        minutes_budget(tmp)
        unet_chain(tmp)
        refusals(tmp)
        print(f"all passed in {time.time() - start:.1f} s")


if __name__ == "__main__":
    main()
