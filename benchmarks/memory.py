"""Peak memory, parameters and step time of every method (all Table-1 rows) at the ``paper`` architecture.

The paper says (Sec. 4.2) "our PFR is more memory-efficient since there is no requirement for
extra image-to-image translation networks". This benchmark measures it: for each method, each
*stage* it trains in (the input-space methods train a translator first, then the segmentation
network on its output; everything else trains in one stage), one row:

``method``, ``stage`` (``segmentation``; for the input-space methods also ``reference``, the
source-only model CyCADA and TGCF-DA freeze, and ``translation``), ``peak_memory_mib``, ``baseline_mib`` (the same process after imports,
before building anything), ``parameters`` (trainable scalars of that stage: networks and
discriminators; a frozen reference model is not counted but its memory is), ``frozen_parameters``,
``seconds_per_iteration`` (median of ``--steps`` iterations after one warm-up), ``device``,
``input_sizes``, ``measured_as``.

Architectures: the ``paper`` presets (DeepLab-v2 ResNet-101 multi-level with its discriminators;
CycleGAN's 9-block 64-filter generators and 70x70 PatchGANs, CyCADA's and TGCF-DA's frozen
source model a DeepLab-v2 R101 too), at a reduced input size (``--size``, ``--translation-crop``)
so the CPU can run it; batch 1.

How memory is measured: every row runs in a fresh child process. On CPU, ``peak_memory_mib`` is
the child's resident-set high-water mark, ``VmHWM`` from ``/proc/self/status`` (what the kernel
counts: the Python interpreter, torch's libraries, weights, activations, optimiser state); on
CUDA it is ``torch.cuda.max_memory_allocated`` (tensors only). Python-level tools such as
``tracemalloc`` do not see torch's allocations and are not used. Segmentation stages run
``pfrlib.engine.trainer.Trainer.step`` on SynthStreets images; translation stages run
``pfrlib.methods.translation.translator.Translator.step`` on random images of the same size (memory and
time do not depend on the pixel values). Stage 2 of CyCADA and DLOW trains ``adaptsegnet`` on the
translated set: the same computation as the ``adaptsegnet`` row, so that row's measurement is
reused (``measured_as``); TGCF-DA's stage 2 is the mean teacher (student + EMA teacher).

Usage::

    python benchmarks/memory.py                       # CPU, 128x256, writes benchmarks/results/memory.{json,md}
    python benchmarks/memory.py --device cuda --size 720 1280 --translation-crop 400 400
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from pfrlib import methods  # noqa: E402 (after the path)
from pfrlib.methods.translation.config import DEFAULT_STAGE2, TRANSLATION_METHODS, TranslationConfig  # noqa: E402

PAPER = TranslationConfig.preset("paper")

RESULTS = Path(__file__).resolve().parent / "results"

#: Every Table-1 method (the registry's order: the ladder, the baselines, the input-space rows).
ALL = methods.table1_names()
TRANSLATION = TRANSLATION_METHODS


def _status_mib(key: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _child(spec: dict) -> dict:
    import torch

    from pfrlib.config.train_config import TrainConfig
    from pfrlib.engine.trainer import Trainer

    torch.set_num_threads(spec["threads"])
    baseline = _status_mib("VmHWM")
    cuda = spec["device"].startswith("cuda")
    h, w = spec["size"]
    seg = TrainConfig.preset("paper", source="synth:source", target="synth:target", source_size=None,
                             target_size=None, eval_size=None, synth_size=(h, w), synth_train_length=4,
                             synth_val_length=1, val_limit=1, num_workers=0, prefetch_factor=None,
                             progress=False, device=spec["device"])
    with tempfile.TemporaryDirectory() as tmp:
        if spec["stage"] == "segmentation":
            if spec["method"] == "mean_teacher":  # TGCF-DA's stage 2: adaptsegnet without adversary + teacher
                from pfrlib.engine.two_stage.mean_teacher import MeanTeacherTrainer

                mt = seg.replace(method="adaptsegnet", lambda_adv=0.0, lambda_adv_aux=0.0, out=tmp)
                t = seg.translation
                trainer = MeanTeacherTrainer(mt, t.mean_teacher_alpha, t.mean_teacher_noise, t.lambda_consistency)
            else:
                trainer = Trainer(seg.replace(method=spec["method"], out=tmp), prepare_output=False)
            step = trainer.step
            params = sum(p.numel() for p in trainer.model.parameters() if p.requires_grad)
            params += sum(p.numel() for d in trainer.discriminators.values() for p in d.parameters())
            frozen = sum(p.numel() for p in trainer.model.parameters() if not p.requires_grad)
            if trainer.baseline is not None:
                state = trainer.baseline.state_dict()
                frozen += sum(t.numel() for t in state.values() if torch.is_tensor(t) and t.is_floating_point())
            device = trainer.device
        else:
            from pfrlib import models
            from pfrlib.methods.translation.translator import Translator

            device = torch.device(spec["device"])
            tcfg = seg.translation
            torch.manual_seed(0)
            reference = None
            if tcfg.needs_reference(spec["method"]):
                reference = models.build_from_config(seg.model, load_init=False).to(device)
            translator = Translator(spec["method"], tcfg, reference=reference).to(device)
            ch, cw = spec["translation_crop"]
            xs, xt = torch.rand(1, 3, ch, cw, device=device) * 2 - 1, torch.rand(1, 3, ch, cw, device=device) * 2 - 1
            ys = torch.randint(0, 19, (1, ch, cw), device=device)

            def step():
                return translator.step(xs, ys, xt)

            counts = translator.parameter_counts()
            params = counts["generators"] + counts["discriminators"]
            frozen = sum(p.numel() for p in reference.parameters()) if reference is not None else 0
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        times = []
        for i in range(1 + spec["steps"]):
            if cuda:
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            step()
            if cuda:
                torch.cuda.synchronize()
            if i >= 1:
                times.append(time.perf_counter() - t0)
        peak = torch.cuda.max_memory_allocated() / 2**20 if cuda else _status_mib("VmHWM")
    return {"peak_memory_mib": round(peak, 1), "baseline_mib": round(baseline, 1) if not cuda else 0.0,
            "parameters": int(params), "frozen_parameters": int(frozen),
            "seconds_per_iteration": round(statistics.median(times), 3), "device": str(device),
            "threads": torch.get_num_threads(), "torch": torch.__version__}


def _run_child(spec: dict) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent) + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)], capture_output=True, text=True,
                          env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"memory benchmark child failed ({spec['method']}, {spec['stage']}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure(methods: list[str], size: tuple[int, int], crop: tuple[int, int], device: str, steps: int,
            threads: int, report=print) -> list[dict]:
    """One row per (method, stage); stage 2 of the input-space methods reuses the adaptsegnet row."""
    rows, cache = [], {}
    sizes = {"segmentation": f"source {size[0]}x{size[1]}, target {size[0]}x{size[1]}, batch 1",
             "translation": f"source and target crops {crop[0]}x{crop[1]}, batch 1"}
    for method in methods:
        stages = [("segmentation", "segmentation", method)]
        if method in TRANSLATION:
            stages = [("translation", "translation", method), ("segmentation", "segmentation", DEFAULT_STAGE2[method])]
            if PAPER.needs_reference(method):  # the frozen source model is trained first (source_only)
                stages.insert(0, ("reference", "segmentation", "source_only"))
        for stage, kind, runs in stages:
            key = (kind, runs)
            if key not in cache:
                report(f"measuring {method} ({stage}) ...")
                cache[key] = _run_child({"method": runs, "stage": kind, "size": list(size),
                                         "translation_crop": list(crop), "device": device, "steps": steps,
                                         "threads": threads})
            rows.append({"method": method, "stage": stage, **cache[key], "input_sizes": sizes[kind],
                         "measured_as": f"{runs} ({kind})"})
    return rows


def render(rows: list[dict], memory_kind: str) -> str:
    """The Markdown table: one line per row, then each method's peak over its stages."""
    lines = [f"Peak memory per training stage at the paper architecture ({memory_kind}); "
             f"{rows[0]['device']}, {rows[0]['threads']} threads, torch {rows[0]['torch']}.",
             "", "| method | stage | peak memory (MiB) | after imports (MiB) | trained parameters (M) | "
             "frozen parameters (M) | s / iteration | input |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['method']} | {r['stage']} | {r['peak_memory_mib']:.0f} | {r['baseline_mib']:.0f} | "
                     f"{r['parameters'] / 1e6:.1f} | {r['frozen_parameters'] / 1e6:.1f} | "
                     f"{r['seconds_per_iteration']:.2f} | {r['input_sizes']} |")
    lines += ["", "| method | peak over its stages (MiB) | trained parameters, all stages (M) |", "|---|---|---|"]
    for m in dict.fromkeys(r["method"] for r in rows):
        mine = [r for r in rows if r["method"] == m]
        lines.append(f"| {m} | {max(r['peak_memory_mib'] for r in mine):.0f} | "
                     f"{sum(r['parameters'] for r in mine) / 1e6:.1f} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    p.add_argument("--methods", nargs="+", default=list(ALL))
    p.add_argument("--size", nargs=2, type=int, default=[128, 256], metavar=("H", "W"))
    p.add_argument("--translation-crop", nargs=2, type=int, default=[128, 128], metavar=("H", "W"))
    p.add_argument("--device", default="cpu")
    p.add_argument("--steps", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default=str(RESULTS / "memory.json"))
    args = p.parse_args(argv)
    if args.child is not None:
        print(json.dumps(_child(json.loads(args.child))))
        return 0
    unknown = sorted(set(args.methods) - set(ALL))
    if unknown:
        p.error(f"--methods: unknown {unknown}; expected some of {list(ALL)}")
    rows = measure(args.methods, tuple(args.size), tuple(args.translation_crop), args.device, args.steps,
                   args.threads, report=lambda s: print(s, file=sys.stderr))
    kind = "torch.cuda.max_memory_allocated" if args.device.startswith("cuda") else \
        "CPU: resident-set high-water mark VmHWM of a fresh process per row"
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"memory": kind, "rows": rows}, indent=2) + "\n")
    out.with_suffix(".md").write_text(render(rows, kind))
    print(render(rows, kind))
    return 0


if __name__ == "__main__":
    sys.exit(main())
