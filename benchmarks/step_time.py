"""Step time and peak memory per method, the PFR overhead, and evaluation throughput.

Usage::

    python benchmarks/step_time.py                      # cpu preset + DeepLab-v2 R101 at 256x512 on CPU
    python benchmarks/step_time.py --skip-r101          # cpu preset only (about a minute)
    python benchmarks/step_time.py --device cuda --bf16 --r101-size 512 1024   # someone with a GPU

Every (model, method) is measured in its own child process (so peak memory is that method's:
peak resident set size on CPU, ``torch.cuda.max_memory_allocated`` on GPU), one after the other in
the same invocation; the PFR overhead is ``pfr_adv`` step / ``adaptsegnet`` step from this same
run. Step time is the median over ``--steps`` training iterations (``Trainer.step``: data,
forwards, losses, backward, optimiser and discriminator steps) after ``--warmup`` iterations.
Evaluation throughput is input megapixels per second of ``pfrlib.evaluate.evaluate_model``
(forward, upsampling to the label size, argmax, confusion matrix).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

METHODS = ("source_only", "adaptsegnet", "pfr", "pfr_adv", "clan", "fcn_wild", "road", "curriculum")


def _child(spec: dict) -> dict:
    """Measure one (model, method) in this process; returns a JSON-able dict."""
    import torch

    from pfrlib.config import TrainConfig
    from pfrlib.evaluate import evaluate_model
    from pfrlib.train import Trainer

    if spec.get("threads"):
        torch.set_num_threads(spec["threads"])
    with tempfile.TemporaryDirectory() as tmp:
        cfg = TrainConfig.preset("cpu", **spec["overrides"], out=tmp, progress=False, device=spec["device"],
                                 bf16=spec["bf16"], channels_last=spec["channels_last"])
        trainer = Trainer(cfg, prepare_output=False)
        cuda = trainer.device.type == "cuda"
        rss_before = _current_rss_mib()
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        times = []
        for i in range(spec["warmup"] + spec["steps"]):
            if cuda:
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            trainer.step()
            if cuda:
                torch.cuda.synchronize()
            if i >= spec["warmup"]:
                times.append(time.perf_counter() - t0)
        peak = torch.cuda.max_memory_allocated() / 2**20 if cuda else _peak_rss_mib()
        out = {
            "median_s": statistics.median(times),
            "min_s": min(times),
            "peak_mib": peak,
            "rss_before_mib": rss_before,
            "device": str(trainer.device),
            "threads": torch.get_num_threads(),
        }
        if spec.get("eval"):
            _, ds = trainer.val_sets["target"]
            evaluate_model(trainer.model, ds, device=trainer.device, batch_size=spec["eval_batch"], limit=2,
                           bf16=spec["bf16"], channels_last=spec["channels_last"])  # warm-up
            res = evaluate_model(trainer.model, ds, device=trainer.device, batch_size=spec["eval_batch"],
                                 limit=spec["eval_images"], bf16=spec["bf16"], channels_last=spec["channels_last"])
            out["eval_mpx_s"] = res.megapixels_per_s
            out["eval_images"] = res.num_images
    return out


def _current_rss_mib() -> float:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def _peak_rss_mib() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024 if sys.platform != "darwin" else kb / 2**20


def _run_child(spec: dict) -> dict:
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)], capture_output=True,
                          text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark child failed ({spec['label']}, {spec['method']}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--methods", nargs="+", default=list(METHODS))
    p.add_argument("--steps", type=int, default=20, help="timed iterations (cpu preset)")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--device", default="cpu")
    p.add_argument("--bf16", action="store_true")
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads in each child")
    p.add_argument("--skip-r101", action="store_true", help="only the cpu preset")
    p.add_argument("--r101-size", type=int, nargs=2, default=(256, 512), metavar=("H", "W"),
                   help="source crop of the R101 setup (the paper: 720 1280)")
    p.add_argument("--r101-target-size", type=int, nargs=2, default=None, metavar=("H", "W"),
                   help="target size of the R101 setup (default: --r101-size; the paper: 512 1024)")
    p.add_argument("--render-size", type=int, nargs=2, default=None, metavar=("H", "W"),
                   help="render SynthStreets at this size and resize (cheap data for large sizes; "
                        "default: --r101-size)")
    p.add_argument("--num-workers", type=int, default=0, help="DataLoader workers of every setup")
    p.add_argument("--r101-steps", type=int, default=3)
    p.add_argument("--r101-methods", nargs="+", default=["source_only", "adaptsegnet", "pfr_adv", "clan", "fcn_wild",
                                                          "road", "curriculum"])
    p.add_argument("--json", default=None, help="also write the results here")
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(_child(json.loads(args.child))))
        return 0

    common = dict(device=args.device, bf16=args.bf16, channels_last=args.channels_last, threads=args.threads)
    workers = dict(num_workers=args.num_workers) if args.num_workers else {}
    setups = [("cpu preset (small, SynthStreets 64x128, batch 4)", {}, args.methods, args.steps, args.warmup, 16, 100)]
    if not args.skip_r101:
        h, w = args.r101_size
        th, tw = args.r101_target_size or (h, w)
        render = tuple(args.render_size or (h, w))
        setups.append((
            f"DeepLab-v2 R101 multi-level, source {h}x{w}, target {th}x{tw}, batch 1",
            dict(arch="deeplabv2_r101", multi_level=True, synth_size=render, source_size=(h, w),
                 target_size=(th, tw), eval_size=(th, tw), batch_size=1, ndf=64,
                 synth_train_length=64, synth_val_length=8),
            args.r101_methods, args.r101_steps, 1, 1, 4,
        ))
    rows = []
    for label, overrides, methods, steps, warmup, eval_batch, eval_images in setups:
        for i, method in enumerate(methods):
            spec = dict(common, label=label, method=method, overrides=dict(overrides, method=method, **workers),
                        steps=steps, warmup=warmup, eval=(i == 0), eval_batch=eval_batch, eval_images=eval_images)
            print(f"[{label}] {method} ...", file=sys.stderr, flush=True)
            rows.append(dict(label=label, method=method, **_run_child(spec)))

    print(f"\nStep time (median of timed iterations) and peak memory; device {rows[0]['device']}, "
          f"{rows[0]['threads']} threads{', bf16' if args.bf16 else ''}\n")
    print("| setup | method | step (ms) | peak memory (MiB) | overhead vs adaptsegnet |")
    print("|---|---|---|---|---|")
    for label in dict.fromkeys(r["label"] for r in rows):
        group = {r["method"]: r for r in rows if r["label"] == label}
        base = group.get("adaptsegnet")
        for m, r in group.items():
            ratio = f"{r['median_s'] / base['median_s']:.2f}x" if base else "-"
            print(f"| {label} | {m} | {1000 * r['median_s']:.0f} | {r['peak_mib']:.0f} | {ratio} |")
    print()
    for label in dict.fromkeys(r["label"] for r in rows):
        group = {r["method"]: r for r in rows if r["label"] == label}
        if "pfr_adv" in group and "adaptsegnet" in group:
            print(f"PFR overhead ({label}): pfr_adv / adaptsegnet step = "
                  f"{group['pfr_adv']['median_s'] / group['adaptsegnet']['median_s']:.2f}")
        for r in group.values():
            if "eval_mpx_s" in r:
                print(f"Evaluation throughput ({label}): {r['eval_mpx_s']:.2f} Mpx/s over {r['eval_images']} images")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
