"""Stage 1: train the translator, then write the translated source set into the run directory.

Layout of ``OUT/translation/`` (one directory per run; the segmentation stage reads ``set/``)::

    key.json              what was trained: method, TranslationConfig, data specs, seed
    checkpoint_last.pt    the translator (networks, optimisers, pools, RNG) every N iterations
    metrics.jsonl         the loss terms every ``log_every`` iterations
    set/images/*.png      the translated source training set (source labels beside it)
    set/labels/*.png
    set/domainness.json   DLOW only: the z of each image
    done.json             written last: the set is complete (parameters, seconds)

Deterministic: the source / target streams are :func:`pfrlib.data.streams.make_stream` (a pure
function of seed, stream and position), the pools and DLOW's z draw from seeded generators, and
torch's RNG is checkpointed. A run with the same ``key.json`` reuses a complete set, continues an
incomplete one from its checkpoint (bit-exactly on CPU), and a different key is an error naming
the fields that differ (``overwrite`` replaces it).
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np
import torch
from PIL import Image
from torch import nn

from pfrlib.config.sections import DataConfig
from pfrlib.config.train_config import ADDED_FIELDS
from pfrlib.engine.checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from pfrlib.data.spec import build_dataset
from pfrlib.data.streams import make_stream, seed_from
from pfrlib.data.transforms import EvalTransform, TrainTransform
from pfrlib.io import to_jsonable, write_json
from pfrlib.methods.translation.config import STAGE2_FIELDS, TranslationConfig
from pfrlib.methods.translation.translator import Translator, from_unit, to_unit

__all__ = ["stage1_key", "stage1_state", "train_translator", "load_translator", "write_translated_set", "run_stage1", "TRANSLATION_DIR",
           "SET_DIR", "DOMAINNESS_FILE"]

TRANSLATION_DIR = "translation"
SET_DIR = "set"
#: DLOW's domainness of each translated image, in the set (``{"sampling": ..., "z": [...]}``).
DOMAINNESS_FILE = "domainness.json"
#: Stream ids of stage 1 (apart from the segmentation stage's source / target streams 1 and 2).
_SOURCE, _TARGET, _WRITE = 11, 12, 13
_CHECKPOINT = "checkpoint_last.pt"


def stage1_key(method: str, tcfg: TranslationConfig, data_cfg: Any, seed: int) -> dict[str, Any]:
    """What determines stage 1's result: equal keys give an identical translated set (the
    translation fields only stage 2 reads, :data:`~pfrlib.methods.translation.config.STAGE2_FIELDS`, are
    left out: changing them reuses the translator)."""
    data = {k: getattr(data_cfg, k) for k in _KEY_DATA_FIELDS}
    return to_jsonable({"method": method, "seed": seed, "translation": _stage1_fields(tcfg.to_dict()), "data": data})


#: The data fields that decide which images stage 1 sees (the SynthStreets version, scene seed and
#: target shift included: another benchmark or another scene stream is another translator).
_KEY_DATA_FIELDS = ("source", "target", "source_size", "target_size", "synth_size", "synth_train_length",
                    "synth_classes", "synth_seed", "synth_shift")


def _with_data_defaults(key: dict[str, Any]) -> dict[str, Any]:
    """A saved key, its ``data`` completed with the config's defaults for the fields it does not
    name (a key from a run that set only the others stands for their defaults; a field added
    since with a new default, :data:`~pfrlib.config.train_config.ADDED_FIELDS`, stands for the
    value those runs used), and its ``translation`` without :data:`STAGE2_FIELDS` and completed
    the same way: a translation field added since (``gen_upsampling``, ``dlow_source_identity``)
    that the key does not name takes the value its translator was trained with, so an old
    translator is never taken for one of the new default (the comparison names the field); for a
    method the field does not change (``dlow_source_identity`` of CyCADA), the default."""
    defaults = {f.name: f.default for f in dataclasses.fields(DataConfig) if f.name in _KEY_DATA_FIELDS}
    defaults.update({name.split(".", 1)[1]: old for name, (old, changed) in ADDED_FIELDS.items()
                     if name.startswith("data.") and changed is None and name.split(".", 1)[1] in defaults})
    translation = dict(key.get("translation", {}))
    if translation:
        now = {f.name: f.default for f in dataclasses.fields(TranslationConfig)}
        for name, (old, changed) in ADDED_FIELDS.items():
            section, field = name.split(".", 1)
            if section == "translation" and field not in translation:
                # the value those runs used where the field changes the method, else it changes nothing
                translation[field] = old if changed is None or key.get("method") in changed else now[field]
    return {**key, "data": to_jsonable({**defaults, **key.get("data", {})}),
            "translation": _stage1_fields(to_jsonable(translation))}


def _stage1_fields(translation: dict[str, Any]) -> dict[str, Any]:
    """A ``translation`` section without :data:`STAGE2_FIELDS` (also when a saved key holds them)."""
    return {k: v for k, v in translation.items() if k not in STAGE2_FIELDS}


def _datasets(data_cfg: Any, tcfg: TranslationConfig):
    tf = TrainTransform(tcfg.translation_resize, crop=tcfg.translation_crop, normalize=None)
    src = build_dataset(data_cfg.source, "train", tf, data_cfg, "source")
    tgt = build_dataset(data_cfg.target, "train", tf, data_cfg, "target", labels=False)
    return src, tgt


def train_translator(method: str, tcfg: TranslationConfig, data_cfg: Any, seed: int, out: Path,
                     reference: Optional[nn.Module], device: torch.device, *, log_every: int = 25,
                     stop_at: Optional[int] = None, progress: Callable[[str], None] = lambda s: None) -> Translator:
    """Train (or continue) the translator in ``out`` to ``translation_iterations``.

    ``stop_at`` ends the loop early after a checkpoint at that iteration (tests: an interrupted run).
    The target stream is opened without labels (``labels=False``, ``with_labels=False``).
    """
    key = stage1_key(method, tcfg, data_cfg, seed)
    torch.manual_seed(seed_from(seed, 1))
    translator = Translator(method, tcfg, reference=reference, seed=seed).to(device)
    iteration = 0
    ckpt = out / _CHECKPOINT
    if ckpt.is_file():
        state = load_checkpoint(ckpt)
        translator.load(state["translator"], device)
        set_rng_state(state["rng"])
        iteration = int(state["iteration"])
        progress(f"stage 1: resuming the translator from iteration {iteration}")
    src, tgt = _datasets(data_cfg, tcfg)
    b = tcfg.translation_batch_size
    src_it = make_stream(src, seed, _SOURCE, b, start_iteration=iteration, with_labels=True)
    tgt_it = make_stream(tgt, seed, _TARGET, b, start_iteration=iteration, with_labels=False)
    total = tcfg.translation_iterations
    metrics = out / "metrics.jsonl"
    if iteration == 0:
        metrics.unlink(missing_ok=True)
    while iteration < total:
        xs, ys = next(src_it)
        xt = next(tgt_it)
        terms = translator.step(to_unit(xs.to(device)), ys.to(device), to_unit(xt.to(device)))
        iteration += 1
        if iteration % log_every == 0 or iteration == total:
            rec = {"iter": iteration, **{k: float(v) for k, v in terms.items()}}
            bad = [k for k, v in rec.items() if not np.isfinite(v)]
            if bad:
                raise FloatingPointError(f"stage 1 ({method}): non-finite loss {bad} at iteration {iteration}; "
                                         f"the last checkpoint {ckpt} is kept")
            with open(metrics, "a") as f:
                f.write(json.dumps(rec) + "\n")
        if iteration % tcfg.translation_checkpoint_every == 0 or iteration == total:
            state = translator.state()
            save_checkpoint(ckpt, {"format": "pfrlib-checkpoint-translator-1", "iteration": iteration,
                                   "model": state["generators"], "config": json.dumps(key),
                                   "translator": state, "rng": rng_state()})
            if stop_at is not None and iteration >= stop_at:
                break
    return translator


def load_translator(directory: str | Path, device: torch.device | str = "cpu",
                    reference: Optional[nn.Module] = None) -> Translator:
    """The translator saved in ``directory`` (a run's ``translation/`` folder, as :func:`run_stage1`
    or ``python -m pfrlib.train --method cycada|dlow|tgcf_da`` leave it), in eval mode.

    The method, its :class:`TranslationConfig` and the seed are read from ``key.json``, the weights
    from the last checkpoint (the end of stage 1 once ``done.json`` exists). ``reference`` is the
    frozen source model for the methods whose translator uses one (CyCADA with
    ``cycada_semantic``, TGCF-DA); DLOW and a plain CycleGAN need none.

    Raises:
        FileNotFoundError naming the missing file when ``directory`` holds no trained translator.
    """
    directory = Path(directory)
    for path in (directory / "key.json", directory / _CHECKPOINT):
        if not path.is_file():
            raise FileNotFoundError(f"{path} not found: {directory} holds no trained translator "
                                    f"(stage 1 writes it: pfrlib.engine.two_stage.stage1.run_stage1)")
    saved = json.loads((directory / "key.json").read_text())
    key = _with_data_defaults(saved)  # a translator from before a field was added: that field's old value
    tcfg = TranslationConfig.from_dict({**saved["translation"], **key["translation"]})
    device = torch.device(device)
    translator = Translator(key["method"], tcfg, reference=reference, seed=key["seed"]).to(device)
    translator.load(load_checkpoint(directory / _CHECKPOINT)["translator"], device)
    return translator.eval()


def _dlow_z(n: int, tcfg: TranslationConfig, gen: torch.Generator) -> torch.Tensor:
    """DLOW's domainness for ``n`` images: uniform, or Beta(alpha(t), 1) with
    ``alpha(t) = exp((t - 0.5) / 0.25)`` at ``t = i / n`` (so early indices are source-like).
    Beta(alpha, 1) is sampled as ``u ** (1 / alpha)`` (its inverse CDF), ``u ~ U[0, 1]``.

    A simplification, said so: DLOW moves its schedule with the *training iteration*; here the set
    is written once and stage 2 draws its images uniformly, so every iteration sees the schedule's
    mixture over t; each image's z is written to :data:`DOMAINNESS_FILE`, from which stage 2
    weights its adversarial term (:mod:`pfrlib.engine.two_stage.domainness`)."""
    u = torch.rand(n, generator=gen, dtype=torch.float64)
    if tcfg.dlow_z_sampling == "uniform":
        return u.float()
    t = torch.arange(n, dtype=torch.float64) / max(n, 1)
    alpha = torch.exp((t - 0.5) / 0.25)
    return (u ** (1.0 / alpha)).float()


@torch.no_grad()
def write_translated_set(translator: Translator, data_cfg: Any, tcfg: TranslationConfig, seed: int, out: Path,
                         device: torch.device, batch_size: int = 16) -> Path:
    """Translate every source training image (at stage 2's ``source_size``) into ``out/set``.

    Labels are the source labels, unchanged (trainIds PNG). TGCF-DA takes the style of a target
    image drawn by a seeded generator, and its set holds the source images too (``*_source.png``:
    its stage 2 trains on both); DLOW writes each image at its own z (``domainness.json``).
    """
    with_source = translator.method == "tgcf_da"
    root = out / SET_DIR
    if root.exists():
        shutil.rmtree(root)
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    src = build_dataset(data_cfg.source, "train", EvalTransform(size=data_cfg.source_size, normalize=None,
                                                               resize_label=True), data_cfg, "source")
    tgt = None
    if translator.method == "tgcf_da":
        tgt = build_dataset(data_cfg.target, "train", EvalTransform(size=data_cfg.target_size, normalize=None),
                            data_cfg, "target", labels=False)
    gen = torch.Generator().manual_seed(seed_from(seed, _WRITE))
    n = len(src) if tcfg.translated_images is None else min(len(src), tcfg.translated_images)
    z_all = _dlow_z(n, tcfg, gen) if translator.method == "dlow" else None
    styles = torch.randint(len(tgt), (n,), generator=gen) if tgt is not None else None
    width = len(str(n - 1))
    for start in range(0, n, batch_size):
        idx = list(range(start, min(n, start + batch_size)))
        items = [src[i] for i in idx]
        xs = to_unit(torch.stack([im for im, _ in items]).to(device))
        z = z_all[idx].to(device) if z_all is not None else None
        style = None
        if styles is not None:
            style = to_unit(torch.stack([tgt[int(styles[i])][0] for i in idx]).to(device))
        fake = from_unit(translator.translate(xs, z=z, style_images=style)).cpu()
        for j, i in enumerate(idx):
            label = Image.fromarray(items[j][1].numpy().astype(np.uint8))
            Image.fromarray(fake[j].permute(1, 2, 0).numpy()).save(root / "images" / f"{i:0{width}d}.png")
            label.save(root / "labels" / f"{i:0{width}d}.png")
            if with_source:  # TGCF-DA trains on source and generated images
                Image.fromarray(items[j][0].permute(1, 2, 0).numpy()).save(root / "images" / f"{i:0{width}d}_source.png")
                label.save(root / "labels" / f"{i:0{width}d}_source.png")
    # SynthStreets marks the ego-vehicle hood 255; a crop may hold no class pixel
    write_json(root / "pfr_dataset.json", {"empty_labels": "allow"})
    if z_all is not None:
        write_json(root / DOMAINNESS_FILE, {"sampling": tcfg.dlow_z_sampling, "z": [round(float(v), 6) for v in z_all]})
    return root


def stage1_state(run_out: str | Path, key: dict[str, Any]) -> str:
    """What ``run_out/translation`` holds for the stage of ``key``: ``"finished"`` (its set is
    complete), ``"free"`` (nothing yet, or this stage interrupted) or ``"other"`` (a translator of
    another configuration), as :meth:`pfrlib.engine.stage_store.StageStore.obtain` asks."""
    out = Path(run_out) / TRANSLATION_DIR
    if not (out / "key.json").is_file():
        return "free"
    if _with_data_defaults(json.loads((out / "key.json").read_text())) != key:
        return "other"
    return "finished" if (out / "done.json").is_file() else "free"


def run_stage1(method: str, tcfg: TranslationConfig, data_cfg: Any, seed: int, run_out: Path,
               reference: Optional[nn.Module], device: torch.device, *, overwrite: bool = False,
               stop_at: Optional[int] = None, progress: Callable[[str], None] = lambda s: None) -> dict[str, Any]:
    """Stage 1 into ``run_out/translation``: reuse, continue or train, then write the set.

    Returns the content of ``done.json`` (``set`` path, ``parameters``, ``seconds``, ``reused``),
    or ``{"stopped_at": n}`` when ``stop_at`` interrupted it.
    """
    out = Path(run_out) / TRANSLATION_DIR
    key = stage1_key(method, tcfg, data_cfg, seed)
    key_path, done_path = out / "key.json", out / "done.json"
    if key_path.is_file():
        old = _with_data_defaults(json.loads(key_path.read_text()))
        if old != key:
            if not overwrite:
                diff = sorted({k for sec in ("translation", "data") for k in set(old.get(sec, {})) | set(key[sec])
                               if old.get(sec, {}).get(k) != key[sec].get(k)}
                              | {k for k in ("method", "seed") if old.get(k) != key[k]})
                raise FileExistsError(f"{out} holds a translator trained with another configuration "
                                      f"(differs in {diff}); use overwrite (--overwrite) to replace it")
            shutil.rmtree(out)
    if done_path.is_file():
        done = json.loads(done_path.read_text())
        progress(f"stage 1: reusing the translated set in {out / SET_DIR}")
        # the set where it is now: done.json's path is relative to where stage 1 ran (a notebook's
        # ``../runs/...`` is not the command line's ``runs/...``), or the folder may have moved
        return {**done, "set": str(out / SET_DIR), "reused": True}
    out.mkdir(parents=True, exist_ok=True)
    write_json(key_path, key)
    t0 = time.perf_counter()
    translator = train_translator(method, tcfg, data_cfg, seed, out, reference, device, stop_at=stop_at,
                                  progress=progress)
    state = load_checkpoint(out / _CHECKPOINT)
    if int(state["iteration"]) < tcfg.translation_iterations:
        return {"stopped_at": int(state["iteration"])}
    progress("stage 1: writing the translated source set")
    root = write_translated_set(translator, data_cfg, tcfg, seed, out, device)
    done = {"set": str(root), "iterations": tcfg.translation_iterations, "parameters": translator.parameter_counts(),
            "seconds": round(time.perf_counter() - t0, 2)}
    write_json(done_path, done)
    return {**done, "reused": False}
