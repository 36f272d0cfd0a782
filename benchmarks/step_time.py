"""Step time and peak memory per method, the PFR overhead, and evaluation throughput.

Usage::

    python benchmarks/step_time.py                      # cpu preset + DeepLab-v2 R101 at 256x512 on CPU
    python benchmarks/step_time.py --skip-r101          # cpu preset only (about a minute)
    python benchmarks/step_time.py --device cuda --bf16 --r101-size 512 1024   # someone with a GPU
    bash benchmarks/gpu_check.sh    # the paper-scale GPU table: fp32 + bf16, FLOPs, share of peak, syncs

Every (model, method) is measured in its own child process (so peak memory is that method's:
peak resident set size on CPU, ``torch.cuda.max_memory_allocated`` on GPU), one after the other in
the same invocation; the PFR overhead is ``pfr_adv`` step / ``adaptsegnet`` step from this same
run. Step time is the median over ``--steps`` training iterations (``Trainer.step``: data,
forwards, losses, backward, optimiser and discriminator steps) after ``--warmup`` iterations.
Evaluation throughput is input megapixels per second of ``pfrlib.evaluation.evaluate.evaluate_model``
(forward, upsampling to the label size, argmax, confusion matrix).

With ``--device cuda`` (or ``--flops`` / ``--profile`` on any device) each child also runs, after
the timed iterations (so neither the step time nor the peak memory includes them):

* one iteration under ``torch.utils.flop_counter.FlopCounterMode``: the FLOPs of the real step
  (convolutions and matrix products of all forwards and backwards, discriminators and Gram
  matrices included), from which the achieved TFLOP/s (FLOPs / median step time) and the share
  of the card's dense bf16 and TF32 peaks (:data:`PEAK_TFLOPS`, keyed by the device name;
  ``--peak-tflops`` / ``--peak-tf32-tflops`` override) follow, plus the time for
  ``--total-iterations`` (150k, the paper's run);
* ``--profile-steps`` iterations under ``torch.profiler``: the 10 ops with the most self time
  (device time on CUDA), and on CUDA the same iterations again under
  ``torch.cuda.set_sync_debug_mode("warn")``: host-device synchronisations per iteration
  (counted from its warnings, with the lines that cause most of them). On CPU: n/a.

On the CPU the file also gets one row labelled ``calibration``: the few one-thread iterations that
:mod:`pfrlib.engine.calibration` times (``CALIBRATION``), measured here in their own child, the
fastest of ``--calibration-repeat`` (the machine at its best, like the step times' idle machine). A
notebook times the same iterations on its machine and scales these step times by the ratio
(:func:`pfrlib.teaching.nbtools.announce`). ``--add-calibration FILE`` measures only that row and
puts it into an existing results file (replacing an older one), for a file measured before the
benchmark recorded it: run it on the machine that measured the file, idle as it was then.

Engine options (``--precisions``, ``--[no-]channels-last``, ``--[no-]cudnn-benchmark``,
``--[no-]tf32``, ``--[no-]pin-memory``, ``--compile``, ``--param-listing``) are passed to
``TrainConfig.preset`` only when given, and only if this engine has that field (otherwise the
benchmark says it ignored them); not given, the preset's default (auto) holds.
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
import warnings
from collections import Counter
from pathlib import Path
from typing import Any, Optional

METHODS = ("source_only", "adaptsegnet", "pfr", "pfr_adv", "clan", "fcn_wild", "road", "curriculum")

#: Dense (no sparsity) peak TFLOP/s as (bf16 tensor cores, TF32 tensor cores), from NVIDIA's
#: datasheets; matched in order against ``torch.cuda.get_device_name()`` (case-insensitive
#: substrings, so the more specific names come first). Override with ``--peak-tflops``.
PEAK_TFLOPS: tuple[tuple[str, float, float], ...] = (
    ("H200 NVL", 835.0, 418.0),
    ("H200", 989.0, 494.0),
    ("GH200", 989.0, 494.0),
    ("H100 NVL", 835.0, 418.0),
    ("H100 PCIe", 756.0, 378.0),
    ("H100", 989.0, 494.0),  # H100 SXM5 ("NVIDIA H100 80GB HBM3")
    ("H800", 989.0, 494.0),
    ("B200", 2250.0, 1100.0),
    ("A100", 312.0, 156.0),  # SXM4 and PCIe alike
    ("A800", 312.0, 156.0),
    ("L40S", 362.0, 183.0),
    ("L4", 121.0, 60.0),
    ("A10G", 70.0, 35.0),
    ("A10", 125.0, 62.5),
    ("RTX 4090", 165.0, 82.6),
)

#: The paper's training run, for the "150k iterations" column.
PAPER_ITERATIONS = 150_000


def peak_tflops(device_name: str) -> Optional[tuple[float, float]]:
    """(dense bf16, dense TF32) peak TFLOP/s of a device from :data:`PEAK_TFLOPS`, or ``None``."""
    name = device_name.lower()
    for key, bf16, tf32 in PEAK_TFLOPS:
        if key.lower() in name:
            return bf16, tf32
    return None


def _self_time_us(evt: Any, device: bool) -> float:
    if device:
        for attr in ("self_device_time_total", "self_cuda_time_total"):
            v = getattr(evt, attr, None)
            if v:
                return float(v)
        return 0.0
    return float(getattr(evt, "self_cpu_time_total", 0.0))


def _extras(trainer: Any, spec: dict, cuda: bool) -> dict:
    """FLOPs of one iteration, the top ops of a profile, and host-device syncs per iteration."""
    import torch

    out: dict = {}
    if spec.get("flops"):
        from torch.utils.flop_counter import FlopCounterMode

        with FlopCounterMode(display=False) as counter:
            trainer.step()
        out["flops"] = int(counter.get_total_flops())
    n = int(spec.get("profile_steps") or 0)
    if spec.get("profile") and n > 0:
        from torch.profiler import ProfilerActivity, profile

        acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
        with profile(activities=acts) as prof:
            for _ in range(n):
                trainer.step()
            if cuda:
                torch.cuda.synchronize()
        # ProfilerStep / "enumerate(DataLoader)#..." / "Optimizer.step#..." are annotations, not ops; on the
        # CPU their self time is real Python work (data loading, the optimiser loop), on the device it is not.
        events = [e for e in prof.key_averages()
                  if not e.key.startswith("ProfilerStep") and not (cuda and "#" in e.key)]
        total = sum(_self_time_us(e, cuda) for e in events) or 1.0
        top = sorted(events, key=lambda e: _self_time_us(e, cuda), reverse=True)[:10]
        out["top_ops"] = [dict(op=e.key, ms_per_iter=_self_time_us(e, cuda) / 1000 / n,
                               share=_self_time_us(e, cuda) / total, calls_per_iter=e.count / n) for e in top]
        out["profile_clock"] = "device" if cuda else "cpu"
        if cuda:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                torch.cuda.set_sync_debug_mode("warn")
                try:
                    for _ in range(n):
                        trainer.step()
                finally:
                    torch.cuda.set_sync_debug_mode("default")
            syncs = [w for w in caught if "synchroniz" in str(w.message).lower()]
            out["syncs_per_iter"] = len(syncs) / n
            sites = Counter(f"{Path(w.filename).name}:{w.lineno}" for w in syncs)
            out["sync_sites"] = [(site, c / n) for site, c in sites.most_common(5)]
    return out


def _child(spec: dict) -> dict:
    """Measure one (model, method) in this process; returns a JSON-able dict."""
    import torch

    if spec.get("calibration"):
        from pfrlib.engine.calibration import calibration_row

        return dict(calibration_row(repeat=spec.get("repeat", 1)), device="cpu", device_name=_cpu_name())

    from pfrlib.config.train_config import TrainConfig
    from pfrlib.engine.scoring import evaluate_model
    from pfrlib.engine.trainer import Trainer

    if spec.get("threads"):
        torch.set_num_threads(spec["threads"])
    with tempfile.TemporaryDirectory() as tmp:
        cfg = TrainConfig.preset("cpu", **spec["overrides"], **spec.get("engine", {}), out=tmp, progress=False,
                                 device=spec["device"])
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
            "device_name": torch.cuda.get_device_name(trainer.device) if cuda else _cpu_name(),
            "threads": torch.get_num_threads(),
            "bf16_cfg": getattr(cfg.run, "bf16", None),
        }
        out.update(_extras(trainer, spec, cuda))
        if spec.get("eval"):
            _, ds = trainer.val_sets["target"]
            ev = dict(bf16=bool(cfg.run.bf16) if cfg.run.bf16 is not None else cuda,
                      channels_last=bool(cfg.run.channels_last) if cfg.run.channels_last is not None else cuda)
            evaluate_model(trainer.model, ds, device=trainer.device, batch_size=spec["eval_batch"], limit=2,
                           **ev)  # warm-up
            res = evaluate_model(trainer.model, ds, device=trainer.device, batch_size=spec["eval_batch"],
                                 limit=spec["eval_images"], **ev)
            out["eval_mpx_s"] = res.megapixels_per_s
            out["eval_images"] = res.num_images
    return out


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine()


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


ENGINE_FLAGS = ("channels_last", "cudnn_benchmark", "tf32", "pin_memory", "compile", "param_listing")


def engine_overrides(args: argparse.Namespace, precision: str, fields: Optional[set] = None) -> tuple[dict, list]:
    """The engine fields to pass for this run, and the options this engine has no field for.

    ``precision``: ``"fp32"`` (bf16=False), ``"bf16"`` (bf16=True) or ``"auto"`` (not passed).
    Options left at ``None`` are not passed (the preset's default holds).
    """
    if fields is None:
        from pfrlib.config.train_config import TrainConfig

        fields = set(TrainConfig.field_index())
    wanted: dict = {}
    if precision != "auto":
        wanted["bf16"] = precision == "bf16"
    for name in ENGINE_FLAGS:
        value = getattr(args, name, None)
        if value is not None:
            wanted[name] = value
    ignored = sorted(k for k in wanted if k not in fields)
    return {k: v for k, v in wanted.items() if k in fields}, ignored


def _fmt_hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"


def render(rows: list, args: argparse.Namespace, extended: bool) -> str:
    """The markdown tables of a run."""
    import platform

    import torch

    from pfrlib.engine.calibration import CALIBRATION_LABEL

    calibrations = [r for r in rows if r["label"] == CALIBRATION_LABEL]
    rows = [r for r in rows if r["label"] != CALIBRATION_LABEL]
    r0 = rows[0]
    precisions = list(dict.fromkeys(r["precision"] for r in rows))
    lines = [f"Step time (median of timed iterations) and peak memory; {r0['device']} ({r0['device_name']}), "
             f"{r0['threads']} threads, torch {torch.__version__}"
             f"{', CUDA ' + torch.version.cuda if torch.version.cuda and r0['device'].startswith('cuda') else ''}, "
             f"Python {platform.python_version()}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
             f"{', bf16' if precisions == ['bf16'] else ''}\n"]
    peaks = None
    if extended:
        peaks = peak_tflops(r0["device_name"]) if r0["device"].startswith("cuda") else None
        if args.peak_tflops:
            peaks = (args.peak_tflops, args.peak_tf32_tflops or (peaks[1] if peaks else args.peak_tflops / 2))
        lines.append("Peak (dense): " + (f"{peaks[0]:g} TFLOP/s bf16, {peaks[1]:g} TFLOP/s TF32"
                                         if peaks else "unknown for this device (pass --peak-tflops)") + "\n")
    head = ["setup", "method"] + (["precision"] if len(precisions) > 1 or extended else []) + [
        "step (ms)", "peak memory (MiB)", "overhead vs adaptsegnet"]
    if extended:
        head += ["GFLOP / iteration", "TFLOP/s", "% of bf16 peak", "% of TF32 peak", "syncs / iteration",
                 f"{args.total_iterations // 1000}k iterations"]
    lines += ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    for label in dict.fromkeys(r["label"] for r in rows):
        for prec in precisions:
            group = {r["method"]: r for r in rows if r["label"] == label and r["precision"] == prec}
            base = group.get("adaptsegnet")
            for m, r in group.items():
                ratio = f"{r['median_s'] / base['median_s']:.2f}x" if base else "-"
                cells = [label, m] + ([prec] if len(precisions) > 1 or extended else []) + [
                    f"{1000 * r['median_s']:.0f}" if r["median_s"] >= 0.1 else f"{1000 * r['median_s']:.1f}",
                    f"{r['peak_mib']:.0f}", ratio]
                if extended:
                    fl = r.get("flops")
                    tf = fl / r["median_s"] / 1e12 if fl else None
                    cells += [f"{fl / 1e9:,.1f}" if fl else "n/a",
                              f"{tf:.2f}" if tf is not None else "n/a",
                              f"{100 * tf / peaks[0]:.1f}%" if tf is not None and peaks else "n/a",
                              f"{100 * tf / peaks[1]:.1f}%" if tf is not None and peaks else "n/a",
                              f"{r['syncs_per_iter']:.1f}" if "syncs_per_iter" in r else "n/a",
                              _fmt_hours(r["median_s"] * args.total_iterations)]
                lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    for label in dict.fromkeys(r["label"] for r in rows):
        for prec in precisions:
            group = {r["method"]: r for r in rows if r["label"] == label and r["precision"] == prec}
            tag = f"{label}{', ' + prec if len(precisions) > 1 else ''}"
            if "pfr_adv" in group and "adaptsegnet" in group:
                lines.append(f"PFR overhead ({tag}): pfr_adv / adaptsegnet step = "
                             f"{group['pfr_adv']['median_s'] / group['adaptsegnet']['median_s']:.2f}")
            for r in group.values():
                if "eval_mpx_s" in r:
                    lines.append(f"Evaluation throughput ({tag}): {r['eval_mpx_s']:.2f} Mpx/s over "
                                 f"{r['eval_images']} images")
    for c in calibrations:
        lines.append(f"Calibration (the reference for the notebooks' time estimates: {c['method']}, {c['preset']} preset, "
                     f"{c['threads']} thread, median of {c['steps']} iterations, fastest of {c.get('repeat', 1)}): "
                     f"{1000 * c['median_s']:.1f} ms")
    for r in rows:
        if r.get("top_ops"):
            lines += ["", f"Top ops, {r['label']}, {r['method']}, {r['precision']} "
                          f"(self {r['profile_clock']} time per iteration):", "",
                      "| op | ms / iteration | share | calls / iteration |", "|---|---|---|---|"]
            for o in r["top_ops"]:
                lines.append(f"| `{o['op']}` | {o['ms_per_iter']:.2f} | {100 * o['share']:.1f}% | "
                             f"{o['calls_per_iter']:.0f} |")
            if r.get("sync_sites"):
                lines.append("\nSyncs per iteration by line: " + ", ".join(f"{s} ({c:.1f})" for s, c in r["sync_sites"]))
    return "\n".join(lines) + "\n"


def add_calibration(path: Path, repeat: int = 5) -> int:
    """Measure the calibration row (in a child, the fastest of ``repeat``) and put it into the results
    file ``path``, replacing an older one; the other rows stay as they are."""
    from pfrlib.engine.calibration import CALIBRATION_LABEL

    try:
        rows = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        print(f"error: {path}: expected a results file of this benchmark (a JSON list of rows): {err}", file=sys.stderr)
        return 2
    if not isinstance(rows, list):
        print(f"error: {path}: expected a JSON list of rows (this benchmark's --json)", file=sys.stderr)
        return 2
    row = dict(_run_child(dict(label=CALIBRATION_LABEL, method="source_only", calibration=True, repeat=repeat)),
               precision="fp32")
    rows = [r for r in rows if r.get("label") != CALIBRATION_LABEL] + [row]
    path.write_text(json.dumps(rows, indent=2) + "\n")
    print(f"{path}: calibration {1000 * row['median_s']:.1f} ms per iteration ({row['device_name']})")
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--methods", nargs="+", default=list(METHODS))
    p.add_argument("--steps", type=int, default=20, help="timed iterations (cpu preset)")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--device", default="cpu")
    p.add_argument("--bf16", action="store_true", help="shorthand for --precisions bf16")
    p.add_argument("--precisions", nargs="+", choices=("fp32", "bf16", "auto"), default=None,
                   help="run every method at each (default: fp32, or bf16 with --bf16; auto = the engine's default)")
    p.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=None,
                   help="channels_last memory format (default: the engine's)")
    p.add_argument("--cudnn-benchmark", action=argparse.BooleanOptionalAction, default=None)
    p.add_argument("--tf32", action=argparse.BooleanOptionalAction, default=None)
    p.add_argument("--pin-memory", action=argparse.BooleanOptionalAction, default=None)
    p.add_argument("--compile", action="store_true", default=None, help="torch.compile the step's networks")
    p.add_argument("--param-listing", choices=("adaptsegnet", "unique"), default=None)
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads in each child")
    p.add_argument("--skip-r101", action="store_true", help="only the cpu preset")
    p.add_argument("--skip-small", action="store_true", help="only the R101 setup (no cpu-preset rows)")
    p.add_argument("--r101-size", type=int, nargs=2, default=(256, 512), metavar=("H", "W"),
                   help="source crop of the R101 setup (the paper: 720 1280)")
    p.add_argument("--r101-target-size", type=int, nargs=2, default=None, metavar=("H", "W"),
                   help="target size of the R101 setup (default: --r101-size; the paper: 512 1024)")
    p.add_argument("--render-size", type=int, nargs=2, default=None, metavar=("H", "W"),
                   help="render SynthStreets at this size and resize (cheap data for large sizes; "
                        "default: --r101-size)")
    p.add_argument("--num-workers", type=int, default=0, help="DataLoader workers of every setup")
    p.add_argument("--r101-steps", type=int, default=3)
    p.add_argument("--r101-warmup", type=int, default=1)
    p.add_argument("--r101-methods", nargs="+", default=["source_only", "adaptsegnet", "pfr_adv", "clan", "fcn_wild",
                                                          "road", "curriculum"])
    p.add_argument("--eval-images", type=int, default=None, help="images of the evaluation throughput (R101 setup: 4)")
    p.add_argument("--flops", action=argparse.BooleanOptionalAction, default=None,
                   help="count the FLOPs of one iteration (default: on for CUDA)")
    p.add_argument("--profile", action=argparse.BooleanOptionalAction, default=None,
                   help="top ops and host-device syncs per iteration (default: on for CUDA)")
    p.add_argument("--profile-steps", type=int, default=2)
    p.add_argument("--peak-tflops", type=float, default=None, help="dense bf16 peak of the device (overrides the table)")
    p.add_argument("--peak-tf32-tflops", type=float, default=None, help="dense TF32 peak (with --peak-tflops)")
    p.add_argument("--total-iterations", type=int, default=PAPER_ITERATIONS)
    p.add_argument("--json", default=None, help="also write the results here")
    p.add_argument("--markdown", default=None, help="also write the tables here (markdown)")
    p.add_argument("--calibration", action=argparse.BooleanOptionalAction, default=True,
                   help="with the cpu preset's rows on the CPU, also time the notebooks' calibration (default: on)")
    p.add_argument("--calibration-repeat", type=int, default=5,
                   help="calibrations timed; the row keeps the fastest (default: 5)")
    p.add_argument("--add-calibration", default=None, metavar="JSON",
                   help="measure only the calibration row and put it into this existing results file")
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(_child(json.loads(args.child))))
        return 0
    if args.add_calibration:
        return add_calibration(Path(args.add_calibration), args.calibration_repeat)

    cuda = args.device.startswith("cuda")
    flops = cuda if args.flops is None else args.flops
    profile = cuda if args.profile is None else args.profile
    extended = cuda or flops or profile
    precisions = args.precisions or (["bf16"] if args.bf16 else ["fp32"])
    from pfrlib.config.train_config import TrainConfig

    fields = set(TrainConfig.field_index())
    common = dict(device=args.device, threads=args.threads, flops=flops, profile=profile,
                  profile_steps=args.profile_steps)
    workers = dict(num_workers=args.num_workers) if args.num_workers else {}
    setups = []
    if not args.skip_small:
        setups.append(("cpu preset (small, SynthStreets 64x128, batch 4)", {}, args.methods, args.steps, args.warmup,
                       16, args.eval_images or 100))
    if not args.skip_r101:
        h, w = args.r101_size
        th, tw = args.r101_target_size or (h, w)
        render_size = tuple(args.render_size or (h, w))
        setups.append((
            f"DeepLab-v2 R101 multi-level, source {h}x{w}, target {th}x{tw}, batch 1",
            dict(arch="deeplabv2_r101", multi_level=True, synth_size=render_size, source_size=(h, w),
                 target_size=(th, tw), eval_size=(th, tw), batch_size=1, ndf=64,
                 synth_train_length=64, synth_val_length=8),
            args.r101_methods, args.r101_steps, args.r101_warmup, 1, args.eval_images or 4,
        ))
    if not setups:
        p.error("--skip-r101 and --skip-small leave nothing to measure")
    rows = []
    for prec in precisions:
        engine, ignored = engine_overrides(args, prec, fields)
        if ignored:
            print(f"note: this engine has no field(s) {ignored}; not passed", file=sys.stderr, flush=True)
        for label, overrides, methods, steps, warmup, eval_batch, eval_images in setups:
            for i, method in enumerate(methods):
                spec = dict(common, label=label, method=method, overrides=dict(overrides, method=method, **workers),
                            engine=engine, steps=steps, warmup=warmup, eval=(i == 0 and prec == precisions[0]),
                            eval_batch=eval_batch, eval_images=eval_images)
                print(f"[{label}] {method} ({prec}) ...", file=sys.stderr, flush=True)
                rows.append(dict(label=label, method=method, precision=prec, **_run_child(spec)))

    if args.device == "cpu" and args.calibration and not args.skip_small:  # the reference of the cpu preset's rows
        print("[calibration] ...", file=sys.stderr, flush=True)
        rows.append(dict(_run_child(dict(label="calibration", method="source_only", calibration=True,
                                         repeat=args.calibration_repeat)), precision="fp32"))
    report = render(rows, args, extended)
    print("\n" + report)
    if args.markdown:
        Path(args.markdown).write_text(report)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
