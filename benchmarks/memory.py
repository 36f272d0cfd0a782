"""Peak memory, parameters and step time of every method (all Table-1 rows) at the ``paper``
architecture and a stated fraction of the published sizes; the translated sets' disk footprint.

The paper says (Sec. 4.2) "our PFR is more memory-efficient since there is no requirement for
extra image-to-image translation networks" (claim (c), docs/protocol.md). This benchmark measures
it: for each method, each *stage* it trains in (the input-space methods train a translator first,
then the segmentation network on its output; everything else trains in one stage), one row:

``method``, ``stage`` (``segmentation``; for the input-space methods also ``reference``, the
source-only model CyCADA and TGCF-DA freeze, and ``translation``), ``peak_memory_mib``, ``baseline_mib`` (the same process after imports,
before building anything), ``parameters`` (trainable scalars of that stage: networks and
discriminators; a frozen reference model is not counted but its memory is), ``frozen_parameters``,
``seconds_per_iteration`` (median of ``--steps`` iterations after one warm-up), ``device``,
``input_sizes``, ``measured_as``.

Sizes: ``--fraction F`` of the published ones, the same for every method (:func:`published_sizes`,
read from the ``paper`` preset): the source at GTA5's 1280x720 and the target at Cityscapes'
1024x512 (AdaptSegNet's sizes, which the paper keeps), the translators on 400x400 crops
(CyCADA's released CycleGAN script for GTA5 -> Cityscapes, ``cyclegan/train_gta2cityscapes.sh``
of jhoffman/cycada_release: ``--resize_or_crop scale_width_and_crop --loadSize 1024 --fineSize
400``; DLOW's released code names no size for this pair and TGCF-DA's is not public, so both are
assumed to train on CyCADA's crops). Each is ``round(published * F)``: e.g. 0.25 on a CPU, 1.0 on a
GPU. Architectures: the ``paper`` presets (DeepLab-v2 ResNet-101 multi-level with its
discriminators; CycleGAN's 9-block 64-filter generators and 70x70 PatchGANs, CyCADA's and
TGCF-DA's frozen source model a DeepLab-v2 R101 too); batch 1; float32 throughout (the engine's
bf16 autocast, its default on CUDA, is turned off: the translators train in float32, and the
comparison is like for like).

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

The translated set's disk footprint (``footprint``, input-space methods only): stage 1's own
writer (``pfrlib.engine.two_stage.stage1.write_translated_set``: a PNG per translated image and
per label, TGCF-DA also the source image and its label) writes ``--footprint-images`` SynthStreets
source images through the method's translator, and the bytes per source image are scaled to the
count: at the published size (1280x720, the ``paper`` preset's translator) to GTA5's 24,966 frames,
and at the ``cpu`` preset's size and translator to the set its runs write. The translators are
untrained (seeded initial weights): a PNG's size depends on what it shows, so the PNG bytes are
those of this output; ``raw_per_image_bytes`` (the pixels uncompressed) does not depend on it.

The files: ``--device cpu`` writes ``benchmarks/results/memory.json``, ``--device cuda``
``memory_cuda.json``; both write ``memory.md`` from whichever of the two exist in that folder, and
say which is missing (``--render`` rewrites it without measuring).

Usage::

    python benchmarks/memory.py --fraction 0.25 --threads 1            # CPU: memory.json and memory.md
    python benchmarks/memory.py --device cuda --fraction 1              # GPU (benchmarks/gpu_check.sh runs it)
    python benchmarks/memory.py --render                                # memory.md from the files
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
from pfrlib.config.train_config import TrainConfig  # noqa: E402
from pfrlib.data.releases import GTA5_FRAMES  # noqa: E402
from pfrlib.evaluation.memory_claim import DEFAULT_FRACTION, MEASURE_COMMANDS, MEMORY_FILES, method_totals  # noqa: E402
from pfrlib.methods.translation.config import DEFAULT_STAGE2, TRANSLATION_METHODS, TranslationConfig  # noqa: E402

PAPER = TranslationConfig.preset("paper")

RESULTS = Path(__file__).resolve().parent / "results"
#: The results file of each device kind (its name in ``--results``); ``memory.md`` shows both.
FILES = {kind: Path(path).name for kind, path in MEMORY_FILES.items()}
#: The smallest side a scaled size gets.
SMALLEST = 32
#: Source images written through each translator to measure the translated set's bytes.
FOOTPRINT_IMAGES = 4


def published_sizes() -> dict[str, tuple[int, int]]:
    """The published (H, W) sizes, from the ``paper`` preset: the source (GTA5 at 1280x720) and the
    target (Cityscapes at 1024x512) images the segmentation network trains on, and the translator's
    training crop (CyCADA's 400x400)."""
    data = TrainConfig.preset("paper").data
    return {"source": tuple(data.source_size), "target": tuple(data.target_size),
            "translation_crop": tuple(PAPER.translation_crop)}


def scaled_sizes(fraction: float) -> dict[str, tuple[int, int]]:
    """:func:`published_sizes` times ``fraction``, rounded, at least :data:`SMALLEST` pixels a side (the
    discriminators' five stride-2 convolutions need 32)."""
    if not 0 < fraction <= 1:
        raise ValueError(f"--fraction: expected a number in (0, 1], got {fraction}")
    return {k: (max(SMALLEST, round(h * fraction)), max(SMALLEST, round(w * fraction))) for k, (h, w) in published_sizes().items()}

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
    if spec["stage"] == "footprint":
        return _footprint(spec)
    (h, w), target = spec["size"], spec.get("target_size")
    seg = TrainConfig.preset("paper", source="synth:source", target="synth:target", source_size=None,
                             target_size=None if target is None else tuple(target), eval_size=None,
                             synth_size=(h, w), synth_train_length=4, synth_val_length=1, val_limit=1, num_workers=0,
                             prefetch_factor=None, progress=False, device=spec["device"], bf16=False)
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


def _footprint(spec: dict) -> dict:
    """Write ``spec["images"]`` translated SynthStreets source images at ``spec["size"]`` with stage
    1's writer and ``spec["preset"]``'s translator for ``spec["method"]`` (seeded initial weights),
    and count the bytes it wrote."""
    import torch
    from torch import nn

    from pfrlib.engine.two_stage.stage1 import write_translated_set
    from pfrlib.methods.translation.translator import Translator

    torch.set_num_threads(spec["threads"])
    h, w = spec["size"]
    cfg = TrainConfig.preset(spec["preset"], method=spec["method"], source="synth:source", target="synth:target",
                             source_size=None, target_size=None, synth_size=(h, w), num_workers=0,
                             prefetch_factor=None, device=spec["device"])
    tcfg = cfg.translation.replace(translated_images=spec["images"])
    device = torch.device(spec["device"])
    torch.manual_seed(0)
    # the frozen source model is a training term only: writing the set never runs it
    reference = nn.Identity() if tcfg.needs_reference(spec["method"]) else None
    translator = Translator(spec["method"], tcfg, reference=reference).to(device).eval()
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        with torch.no_grad():
            root = write_translated_set(translator, cfg.data, tcfg, seed=0, out=Path(tmp), device=device, batch_size=1)
        seconds = time.perf_counter() - start
        files = [f for f in root.rglob("*") if f.is_file()]
        written = sum(f.stat().st_size for f in files)
        images = sum(1 for f in files if f.parent.name == "images")
    copies = images // spec["images"]  # TGCF-DA keeps the source image beside each translated one
    return {"bytes_written": written, "files": len(files), "per_image_bytes": written / spec["images"],
            "raw_per_image_bytes": copies * h * w * 4,  # RGB + a one-byte label per image kept
            "seconds_per_image": round(seconds / spec["images"], 3), "translator_parameters":
            sum(p.numel() for g in translator.generators.values() for p in g.parameters())}


def _source_train_length(preset: str) -> int:
    """How many source images the ``preset``'s stage 1 translates: SynthStreets' training split,
    or the preset's ``translated_images`` when it is smaller."""
    from pfrlib.data.spec import build_dataset

    cfg = TrainConfig.preset(preset, source="synth:source", target="synth:target")
    n = len(build_dataset(cfg.data.source, "train", None, cfg.data, "source"))
    return n if cfg.translation.translated_images is None else min(n, cfg.translation.translated_images)


def measure_footprints(methods_: list[str], images: int, device: str, threads: int,
                       published_size: tuple[int, int] | None = None, report=print) -> list[dict]:
    """One row per input-space method in ``methods_`` and place (``published``: the ``paper``
    translator at the published source size, scaled to GTA5's frames; ``cpu``: the ``cpu``
    preset's translator and size, scaled to its set). ``published_size`` overrides the published
    size (the tests' tiny runs)."""
    cpu = TrainConfig.preset("cpu").data
    places = {"published": ("paper", tuple(published_size or published_sizes()["source"]), GTA5_FRAMES,
                            "GTA5's frames"),
              "cpu": ("cpu", tuple(cpu.synth_size), _source_train_length("cpu"), "the cpu preset's translated set")}
    rows = []
    for method in (m for m in methods_ if m in TRANSLATION):
        for where, (preset, size, count, what) in places.items():
            report(f"writing {images} translated images: {method} ({where}, {size[0]}x{size[1]}) ...")
            # bytes on disk do not depend on the process: written here, without a child's start-up
            got = _footprint({"stage": "footprint", "method": method, "preset": preset, "size": list(size),
                              "images": images, "device": device, "threads": threads})
            rows.append({"method": method, "where": where, "preset": preset, "size": list(size), "images": images,
                         "count": count, "count_is": what, **got, "set_bytes": round(got["per_image_bytes"] * count),
                         "raw_set_bytes": got["raw_per_image_bytes"] * count})
    return rows


def _run_child(spec: dict) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent) + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)], capture_output=True, text=True,
                          env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"memory benchmark child failed ({spec['method']}, {spec['stage']}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure(methods: list[str], sizes_: dict[str, tuple[int, int]], device: str, steps: int,
            threads: int, report=print) -> list[dict]:
    """One row per (method, stage) at ``sizes_`` (:func:`scaled_sizes`); stage 2 of the
    input-space methods reuses the adaptsegnet row."""
    rows, cache = [], {}
    (sh, sw), (th, tw), crop = sizes_["source"], sizes_["target"], sizes_["translation_crop"]
    sizes = {"segmentation": f"source {sw}x{sh}, target {tw}x{th} (width x height), batch 1",
             "translation": f"source and target crops {crop[1]}x{crop[0]} (width x height), batch 1"}
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
                cache[key] = _run_child({"method": runs, "stage": kind, "size": [sh, sw], "target_size": [th, tw],
                                         "translation_crop": list(crop), "device": device, "steps": steps,
                                         "threads": threads})
            rows.append({"method": method, "stage": stage, **cache[key], "input_sizes": sizes[kind],
                         "measured_as": f"{runs} ({kind})"})
    return rows


def _caption(data: dict) -> str:
    rows = data["rows"]
    fraction = data.get("fraction")
    sizes = (f"{fraction:g} of the published sizes (each row's input column)" if fraction is not None
             else "the sizes of each row's input column (no fraction recorded: written before --fraction)")
    command = f"; `{data['command']}`" if data.get("command") else ""
    return (f"Peak memory per training stage at the paper architecture ({data['memory']}); {rows[0]['device']}, "
            f"{rows[0]['threads']} threads, torch {rows[0]['torch']}; {sizes}{command}.")


def _mib(n: float) -> str:
    return f"{n / 2**30:.1f} GiB" if n >= 2**30 else f"{n / 2**20:.1f} MiB"


def render_file(data: dict) -> str:
    """The Markdown of one results file: one line per row, each method's peak over its stages,
    and the translated sets' footprint where the file has it."""
    rows = data["rows"]
    lines = [_caption(data), "", "| method | stage | peak memory (MiB) | after imports (MiB) | trained parameters (M) | "
             "frozen parameters (M) | s / iteration | input |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['method']} | {r['stage']} | {r['peak_memory_mib']:.0f} | {r['baseline_mib']:.0f} | "
                     f"{r['parameters'] / 1e6:.1f} | {r['frozen_parameters'] / 1e6:.1f} | "
                     f"{r['seconds_per_iteration']:.2f} | {r['input_sizes']} |")
    lines += ["", "| method | peak over its stages (MiB) | trained parameters, all stages (M) |", "|---|---|---|"]
    for m, t in method_totals(rows).items():
        lines.append(f"| {m} | {t['peak_mib']:.0f} | {t['parameters'] / 1e6:.1f} |")
    footprint = data.get("footprint")
    if footprint:
        lines += ["", "The translated source set on disk, measured and scaled: stage 1's writer "
                  "(`write_translated_set`: PNG images and labels, TGCF-DA also the source images) wrote "
                  f"{footprint[0]['images']} SynthStreets source images through each untrained translator; the bytes per "
                  "source image times the count (PNG bytes depend on the content; raw is the pixels uncompressed).", "",
                  "| method | translator | image (width x height) | written (bytes per source image) | count | set, PNG | set, raw |",
                  "|---|---|---|---|---|---|---|"]
        for f in footprint:
            lines.append(f"| {f['method']} | {f['preset']} preset | {f['size'][1]}x{f['size'][0]} | "
                         f"{f['per_image_bytes']:,.0f} | {f['count']:,} ({f['count_is']}) | {_mib(f['set_bytes'])} | "
                         f"{_mib(f['raw_set_bytes'])} |")
    return "\n".join(lines) + "\n"


def render(folder: Path) -> str:
    """``memory.md``: the CPU file and the GPU file of ``folder`` (:data:`FILES`), each rendered, or
    said to be missing with the command that measures it."""
    parts = []
    for kind, name in FILES.items():
        path = folder / name
        if path.is_file():
            parts.append(render_file(json.loads(path.read_text())))
        else:
            parts.append(f"**{kind.upper()} rows: missing.** `{name}` has not been written: "
                         f"{MEASURE_COMMANDS[kind]}.\n")
    return "\n".join(parts)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    p.add_argument("--methods", nargs="+", default=list(ALL))
    p.add_argument("--fraction", type=float, default=None,
                   help=f"of the published sizes (default {DEFAULT_FRACTION['cpu']:g} on a CPU, "
                        f"{DEFAULT_FRACTION['cuda']:g} on a GPU)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--steps", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--footprint-images", type=int, default=FOOTPRINT_IMAGES,
                   help="source images written through each translator to measure its set (0: no footprint)")
    p.add_argument("--footprint-size", nargs=2, type=int, default=None, metavar=("H", "W"),
                   help=argparse.SUPPRESS)  # the tests' tiny stand-in for the published size
    p.add_argument("--results", default=str(RESULTS),
                   help="the folder of memory.json (CPU), memory_cuda.json (GPU) and memory.md (default: %(default)s)")
    p.add_argument("--render", action="store_true", help="only rewrite memory.md from the files in --results")
    args = p.parse_args(argv)
    if args.child is not None:
        print(json.dumps(_child(json.loads(args.child))))
        return 0
    kind = "cuda" if args.device.startswith("cuda") else "cpu"
    out = Path(args.results) / FILES[kind]
    if args.render:
        text = render(out.parent)
        (out.parent / "memory.md").write_text(text)
        print(text)
        return 0
    unknown = sorted(set(args.methods) - set(ALL))
    if unknown:
        p.error(f"--methods: unknown {unknown}; expected some of {list(ALL)}")
    fraction = DEFAULT_FRACTION[kind] if args.fraction is None else args.fraction
    try:
        sizes = scaled_sizes(fraction)
    except ValueError as err:
        p.error(str(err))
    if args.footprint_images < 0:
        p.error(f"--footprint-images: expected 0 or more, got {args.footprint_images}")
    command = "python benchmarks/memory.py " + " ".join(argv if argv is not None else sys.argv[1:])
    report = lambda s: print(s, file=sys.stderr)  # noqa: E731
    rows = measure(args.methods, sizes, args.device, args.steps, args.threads, report=report)
    memory = "torch.cuda.max_memory_allocated" if kind == "cuda" else \
        "CPU: resident-set high-water mark VmHWM of a fresh process per row"
    data = {"memory": memory, "fraction": fraction, "command": command.strip(),
            "published": {k: list(v) for k, v in published_sizes().items()},
            "sizes": {k: list(v) for k, v in sizes.items()}, "rows": rows}
    if args.footprint_images:
        data["footprint"] = measure_footprints(args.methods, args.footprint_images, args.device, args.threads,
                                               args.footprint_size, report=report)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=2) + "\n")
    text = render(out.parent)
    (out.parent / "memory.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
