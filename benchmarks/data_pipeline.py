"""Data pipeline at paper scale: images/s per DataLoader worker for the GTA5 and Cityscapes loaders.

Usage::

    python benchmarks/data_pipeline.py                  # 8 frames per dataset, full size (a few minutes)
    python benchmarks/data_pipeline.py --quick          # 2 frames, a handful of items (for the tests)
    python benchmarks/data_pipeline.py --markdown out.md   # also write the tables as markdown ('-': stdout)

The benchmark writes full-size fixture trees under a temporary directory (synthetic street-like
content, the real layouts and sizes: GTA5 ``images/NNNNN.png`` + ``labels/NNNNN.png`` at
1914x1052, palette label PNGs, some of them at a different size as in the real set; Cityscapes
``leftImg8bit/train/{city}/*_leftImg8bit.png`` + ``gtFine/train/{city}/*_gtFine_labelIds.png`` at
2048x1024). Noise is added so that the PNGs compress to about the real files' 8-9 bits per
pixel (Cityscapes' leftImg8bit_trainvaltest.zip: 11 GB for 5,000 frames); PNG decoding time
grows with the compressed size, so this matters.

Then, for the real loaders (``pfrlib.data.from_spec``) with the paper's training transforms
(``TrainTransform``: GTA5 resized to 1280x720, Cityscapes to 1024x512, random flip, as the
engine builds them; the target is opened without labels, as the engine does):

1. PNG decoding, PIL vs ``torchvision.io.decode_png`` vs ``pfrlib.data.read_image`` (which the
   loaders call), per frame, one thread, and whether all three give the same pixels;
2. the stages of one item in one process (decode, label, transform, the worker's batch-1 copy
   into shared memory), in CPU time (``time.thread_time``, one thread), so that other work on a
   shared machine does not count;
3. a ``DataLoader`` with 1 (and more) workers, batch 1, pinned memory when CUDA is available:
   the workers' CPU time per item (from their rusage once they exit) gives **images/s per
   worker** = 1000 / CPU ms, what a worker with a core of its own delivers; the wall-clock
   images/s is shown too (on a shared machine, what the workers got);
4. how many workers each stream needs to keep up with a 25 ms and a 40 ms training step
   (batch 1: one source and one target image per step; each stream has its own workers):
   ``ceil(images per second needed / images/s per worker)``.

Files are read from the page cache after the first pass (the fixture is small): disk or network
reads of the real ~2 MB frames come on top.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np
import torch
from PIL import Image

GTA5_SIZE = (1052, 1914)  # (H, W) of a GTA5 frame
#: zlib level of the fixture PNGs (PIL's default).
PNG_COMPRESS_LEVEL = 6
GTA5_ODD_LABEL_SIZE = (1050, 1912)  # a label of another size (resized to its image by the loader)
CITYSCAPES_SIZE = (1024, 2048)
SOURCE_TRAIN_SIZE = (720, 1280)  # the paper / AdaptSegNet: GTA5 resized to 1280x720
TARGET_TRAIN_SIZE = (512, 1024)  # Cityscapes resized to 1024x512
CITIES = ("aachen", "bochum")

# Cityscapes label ids used by the synthetic scenes (sky, road, sidewalk, building, vegetation, car, pole).
_SKY, _ROAD, _SIDEWALK, _BUILDING, _VEGETATION, _CAR, _POLE = 23, 7, 8, 11, 21, 26, 17


# ----------------------------------------------------------------------------- fixtures
def street_scene(h: int, w: int, rng: np.random.Generator, noise: float) -> tuple[np.ndarray, np.ndarray]:
    """A street-like frame: sky, buildings, road, sidewalk, cars, poles, plus Gaussian noise.

    Returns ``(uint8 H x W x 3 RGB, uint8 H x W Cityscapes label ids)``.
    """
    ids = np.full((h, w), _BUILDING, np.uint8)
    horizon = int(h * rng.uniform(0.35, 0.5))
    ids[:horizon] = _SKY
    x = 0
    while x < w:  # building facades of random widths and heights
        bw = int(rng.integers(w // 12, w // 4))
        top = int(rng.integers(h // 10, horizon))
        ids[top:horizon + h // 8, x:x + bw] = rng.choice([_BUILDING, _VEGETATION], p=[0.7, 0.3])
        x += bw
    ids[int(h * 0.62):] = _ROAD
    ids[int(h * 0.58):int(h * 0.66), : w // 4] = _SIDEWALK
    for _ in range(int(rng.integers(2, 6))):
        cy, cx = int(rng.integers(int(h * 0.6), int(h * 0.85))), int(rng.integers(0, w))
        ch, cw = int(rng.integers(h // 14, h // 6)), int(rng.integers(w // 14, w // 6))
        ids[cy - ch:cy, cx:cx + cw] = _CAR
    for _ in range(int(rng.integers(2, 5))):
        px = int(rng.integers(0, w - 8))
        ids[int(h * 0.2):int(h * 0.65), px:px + max(2, w // 300)] = _POLE
    palette = np.zeros((256, 3), np.float32)
    palette[np.arange(256)] = rng.uniform(30, 220, (256, 3))
    img = palette[ids]
    rows = np.linspace(-25, 25, h, dtype=np.float32)[:, None, None]
    img += rows  # vertical shading
    img += rng.normal(0.0, noise, img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8), ids


def _save_palette_png(path: Path, ids: np.ndarray, compress_level: int) -> None:
    im = Image.fromarray(ids, mode="L").convert("P")
    im.putpalette([v for i in range(256) for v in ((i * 37) % 256, (i * 91) % 256, (i * 53) % 256)])
    im.save(path, compress_level=compress_level)


def write_gta5(root: Path, frames: int, noise: float, seed: int = 0, odd_label_every: int = 4,
               compress_level: int = PNG_COMPRESS_LEVEL) -> Path:
    """GTA5 layout: ``images/NNNNN.png`` (RGB) + ``labels/NNNNN.png`` (palette PNGs of label ids).

    Every ``odd_label_every``-th label is written at :data:`GTA5_ODD_LABEL_SIZE` (the real set
    has a few labels whose size differs from their image; the loader resizes them).
    ``compress_level``: zlib's level of the PNGs (PIL's default 6; ``--quick`` writes level 1).
    """
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "labels").mkdir(parents=True, exist_ok=True)
    for i in range(1, frames + 1):
        img, ids = street_scene(*GTA5_SIZE, rng, noise)
        Image.fromarray(img).save(root / "images" / f"{i:05d}.png", compress_level=compress_level)
        if odd_label_every and i % odd_label_every == 0:
            ids = np.array(Image.fromarray(ids).resize(GTA5_ODD_LABEL_SIZE[::-1], Image.NEAREST))
        _save_palette_png(root / "labels" / f"{i:05d}.png", ids, compress_level)
    return root


def write_cityscapes(root: Path, frames: int, noise: float, seed: int = 1, split: str = "train",
                     compress_level: int = PNG_COMPRESS_LEVEL) -> Path:
    """Cityscapes layout: ``leftImg8bit/{split}/{city}/*_leftImg8bit.png`` + ``gtFine/.../*_gtFine_labelIds.png``."""
    rng = np.random.default_rng(seed)
    for i in range(frames):
        city = CITIES[i % len(CITIES)]
        stem = f"{city}_{i:06d}_000019"
        img_dir, lab_dir = root / "leftImg8bit" / split / city, root / "gtFine" / split / city
        img_dir.mkdir(parents=True, exist_ok=True)
        lab_dir.mkdir(parents=True, exist_ok=True)
        img, ids = street_scene(*CITYSCAPES_SIZE, rng, noise)
        Image.fromarray(img).save(img_dir / f"{stem}_leftImg8bit.png", compress_level=compress_level)
        Image.fromarray(ids, mode="L").save(lab_dir / f"{stem}_gtFine_labelIds.png", compress_level=compress_level)
    return root


# ----------------------------------------------------------------------------- decoders
def decode_pil(path: Path) -> np.ndarray:
    """PIL: open, decode, H x W x 3 uint8 (RGB files only, as written here)."""
    with Image.open(path) as im:
        im.load()
        return np.asarray(im.convert("RGB") if im.mode != "RGB" else im, dtype=np.uint8).copy()


def decode_torchvision() -> Optional[Callable[[Path], np.ndarray]]:
    """``torchvision.io.decode_png`` on the file's bytes, H x W x 3 uint8; ``None`` if unavailable."""
    try:
        import warnings

        from torchvision.io import ImageReadMode, decode_png
    except Exception:  # noqa: BLE001
        return None

    def decode(path: Path) -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            chw = decode_png(torch.from_numpy(np.fromfile(path, dtype=np.uint8)), ImageReadMode.RGB)
        return chw.permute(1, 2, 0).numpy()

    return decode


def _time(fn: Callable[[], object]) -> float:
    """CPU seconds of ``fn()`` on this thread (``time.thread_time``): with one torch thread this is
    the work of one item, and unlike wall time it does not count the time other processes on a
    shared machine hold the core."""
    t0 = time.thread_time()
    fn()
    return time.thread_time() - t0


def measure_decoders(paths: Sequence[Path], repeats: int) -> dict:
    """Median CPU ms per frame of each decoder (interleaved, one thread) and whether the pixels agree."""
    from pfrlib.data.readers import read_image

    decoders: dict[str, Callable[[Path], np.ndarray]] = {"PIL": decode_pil}
    tv = decode_torchvision()
    if tv is not None:
        decoders["torchvision decode_png"] = tv
    decoders["read_image"] = read_image
    times: dict[str, list[float]] = {k: [] for k in decoders}
    same = True
    for p in paths:
        ref = decode_pil(p)
        for name, fn in decoders.items():
            same &= bool(np.array_equal(fn(p), ref))  # also warms the file cache
        for _ in range(repeats):
            for name, fn in decoders.items():
                times[name].append(_time(lambda: fn(p)))
    return {"ms": {k: 1000 * statistics.median(v) for k, v in times.items()}, "same_pixels": same,
            "mb": statistics.mean(p.stat().st_size for p in paths) / 1e6,
            "bpp": statistics.mean(8 * p.stat().st_size / (Image.open(p).size[0] * Image.open(p).size[1]) for p in paths)}


# ----------------------------------------------------------------------------- loaders
def paper_transform(size: tuple[int, int], hflip: bool):
    """The engine's training transform at the paper's size: resize, flip, and no normalisation
    (the training loop hands uint8 images and labels to the device and normalises there)."""
    from pfrlib.data.transforms import TrainTransform

    return TrainTransform(size=size, hflip=hflip, normalize=None)


def open_loaders(gta5_root: Path, cs_root: Path, hflip: bool) -> dict:
    """``{name: dataset}``: GTA5 source (with labels) and Cityscapes target (no labels), paper transforms."""
    from pfrlib.data.spec import from_spec

    return {
        "source: GTA5 -> 1280x720": from_spec(f"gta5:{gta5_root}", split="train",
                                             transform=paper_transform(SOURCE_TRAIN_SIZE, hflip)),
        "target: Cityscapes -> 1024x512": from_spec(f"cityscapes:{cs_root}", split="train", labels=False,
                                                   transform=paper_transform(TARGET_TRAIN_SIZE, hflip)),
    }


def _collate_to_shared(item) -> object:
    """What a DataLoader worker does with an item at batch 1: stack it into shared memory."""
    img = item[0] if isinstance(item, (tuple, list)) else item
    out = torch.empty((1, *img.shape), dtype=img.dtype).share_memory_()
    torch.stack([img], out=out)
    return out


def measure_stages(ds, items: int) -> dict:
    """Median CPU ms of the stages of one item in this process (one thread), and its wall ms.

    Stages: decode the image, the label (decode, id -> trainId, resize of odd-sized labels),
    the transform, and the batch-1 collate into shared memory that a worker does. ``item`` is
    ``dataset[i]`` plus that collate, timed as a whole.
    """
    import warnings

    from pfrlib.data.readers import read_image

    def to_tensors(image: np.ndarray, label: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """What the dataset hands its transform: uint8 3 x H x W and int64 H x W."""
        return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))), torch.from_numpy(label).long()

    stages: dict[str, list[float]] = {"image": [], "label": [], "transform": [], "collate": [], "item": [], "wall": []}
    out_dtype = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the resized-label warning
        for k in range(items + 1):
            i = k % len(ds)
            img_path, lab_path = ds.items[i]
            t_img = _time(lambda: read_image(img_path))
            t0 = time.thread_time()
            image, label = ds.load(i)
            t_load = time.thread_time() - t0
            t0 = time.thread_time()
            out = ds.transform(*to_tensors(image, label))
            t_tf = time.thread_time() - t0
            batch = _collate_to_shared(out)
            t_coll = _time(lambda: _collate_to_shared(out))
            # pinning is done by the main process's pin-memory thread, not the worker
            t_pin = _time(lambda: batch.pin_memory()) if torch.cuda.is_available() else None
            w0 = time.perf_counter()
            t_item = _time(lambda: _collate_to_shared(ds[i]))
            t_wall = time.perf_counter() - w0
            if k == 0:  # warm-up (file cache, first-call costs)
                continue
            stages["image"].append(t_img)
            stages["label"].append(max(0.0, t_load - t_img) if lab_path is not None else 0.0)
            stages["transform"].append(t_tf)
            stages["collate"].append(t_coll)
            stages["item"].append(t_item)
            stages["wall"].append(t_wall)
            if t_pin is not None:
                stages.setdefault("pin", []).append(t_pin)
            out_dtype = str(out[0].dtype if isinstance(out, (tuple, list)) else out.dtype).replace("torch.", "")
    res = {k: 1000 * statistics.median(v) for k, v in stages.items()}
    res["out_dtype"] = out_dtype
    res["images_s"] = 1000.0 / res["item"]
    return res


class _Cycle(torch.utils.data.Sampler):
    """Indices 0, 1, ..., n-1, 0, 1, ... (``total`` of them)."""

    def __init__(self, n: int, total: int) -> None:
        self.n, self.total = n, total

    def __iter__(self):
        return (i % self.n for i in range(self.total))

    def __len__(self) -> int:
        return self.total


def measure_loader(ds, workers: int, items: int, prefetch_factor: int = 2) -> dict:
    """Images/s through a DataLoader (batch 1), wall clock after its first batches, and the
    workers' CPU time per item (their rusage once they have exited, start-up included).

    On a machine shared with other work the wall-clock rate is what the workers got, not what
    they can do; the CPU time per item is what they did.
    """
    import gc
    import resource
    import warnings

    pin = torch.cuda.is_available()
    warm = 2 * workers
    loader = torch.utils.data.DataLoader(ds, batch_size=1, sampler=_Cycle(len(ds), warm + items),
                                         num_workers=workers, pin_memory=pin, prefetch_factor=prefetch_factor)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        it = iter(loader)
        for _ in range(warm):
            next(it)
        t0 = time.perf_counter()
        n = sum(1 for _ in it)
        elapsed = time.perf_counter() - t0
        del it  # shuts the workers down and joins them, so that their CPU time is accounted
        gc.collect()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"workers": workers, "images_s": n / elapsed, "per_worker": n / elapsed / workers, "pinned": pin,
            "worker_cpu_ms": 1000 * cpu / (warm + items)}


def workers_needed(step_ms: float, per_worker_images_s: float, batch_size: int = 1) -> int:
    """Workers one stream needs so that it delivers ``batch_size`` images every ``step_ms``."""
    need = batch_size / (step_ms / 1000.0)
    return max(1, math.ceil(need / per_worker_images_s - 1e-9))


# ----------------------------------------------------------------------------- report
def machine() -> str:
    """``N-core CPU (model)`` of this machine, plus the GPU if any."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    gpu = f", {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ""
    return f"{cores}-core CPU ({model}){gpu}"


def render(results: dict, args: argparse.Namespace) -> str:
    """The markdown report."""
    import PIL
    import torchvision

    lines = [f"Data pipeline at paper scale, {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC, {machine()}; "
             f"torch {torch.__version__}, torchvision {torchvision.__version__}, Pillow {PIL.__version__}; "
             f"`python benchmarks/data_pipeline.py {' '.join(results['argv'])}`".rstrip() + "\n",
             "PNG decoding, CPU ms per frame (median, one thread):\n"]
    dec = results["decode"]
    names = list(next(iter(dec.values()))["ms"])
    lines.append("| frames | PNG size | " + " | ".join(names) + " | same pixels |")
    lines.append("|---" * (len(names) + 3) + "|")
    for label, d in dec.items():
        fastest = min(d["ms"], key=d["ms"].get)
        cells = [f"**{d['ms'][n]:.1f}**" if n == fastest else f"{d['ms'][n]:.1f}" for n in names]
        lines.append(f"| {label} | {d['mb']:.2f} MB ({d['bpp']:.1f} bits/px) | " + " | ".join(cells)
                     + f" | {'yes' if d['same_pixels'] else 'NO'} |")
    pin_col = int(all("pin" in s for s in results["stages"].values()))
    lines += ["", "One item in one process, CPU ms (median, one thread; label = decode + id -> trainId + resize "
              "of odd-sized labels; collate = the worker's batch-1 copy into shared memory):\n",
              "| loader | decode image | label | transform | collate | whole item | (wall) | output |"
              + (" pin (main process) |" if pin_col else ""),
              "|---" * (8 + pin_col) + "|"]
    for label, s in results["stages"].items():
        lab = f"{s['label']:.1f}" if s["label"] > 0 else "-"
        lines.append(f"| {label} | {s['image']:.1f} | {lab} | {s['transform']:.1f} | {s['collate']:.1f} | "
                     f"{s['item']:.1f} | ({s['wall']:.1f}) | {s['out_dtype']} |"
                     + (f" {s['pin']:.1f} |" if pin_col else ""))
    pinned = any(r["pinned"] for rows in results["loader"].values() for r in rows)
    lines += ["", f"Through a DataLoader (batch 1, prefetch_factor 2, "
              f"{'pinned memory' if pinned else 'no pinning: no CUDA'}). Images/s per worker = 1000 / the "
              f"workers' CPU ms per item (from their rusage, start-up included): what a worker with a core of "
              f"its own delivers. Wall-clock images/s is what the workers got on this machine:\n",
              "| loader | workers | worker CPU ms per item | **images/s per worker** | wall images/s |",
              "|---|---|---|---|---|"]
    for label, rows in results["loader"].items():
        for r in rows:
            lines.append(f"| {label} | {r['workers']} | {r['worker_cpu_ms']:.1f} | **{1000 / r['worker_cpu_ms']:.1f}** | "
                         f"{r['images_s']:.1f} |")
    lines += ["", "Workers per stream to keep up with a training step (batch 1: one source and one target image "
              "per step; each stream has its own workers, each worker its own core), from images/s per worker (1-worker "
              "run):\n",
              "| step | " + " | ".join(results["loader"]) + " | all workers |",
              "|---" * (len(results["loader"]) + 2) + "|"]
    for step, row in results["needed"].items():
        lines.append(f"| {step:g} ms | " + " | ".join(str(v) for v in row.values()) + f" | {sum(row.values())} |")
    return "\n".join(lines) + "\n"


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--frames", type=int, default=8, help="fixture frames per dataset (full size)")
    p.add_argument("--items", type=int, default=24, help="items timed through each DataLoader")
    p.add_argument("--repeats", type=int, default=3, help="decodes of each frame per decoder")
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="DataLoader worker counts to time")
    p.add_argument("--step-ms", type=float, nargs="+", default=[25.0, 40.0], help="training steps to size workers for")
    p.add_argument("--noise", type=float, default=1.0, help="Gaussian noise of the synthetic frames (PNG size)")
    p.add_argument("--no-hflip", action="store_true", help="no random flip in the transforms (AdaptSegNet's default)")
    p.add_argument("--root", default=None, help="write the fixtures here (default: a temporary directory)")
    p.add_argument("--quick", action="store_true",
                   help="2 frames, 4 items, 1 repeat, 1 worker, PNGs written at zlib level 1 (for tests)")
    p.add_argument("--markdown", default=None, help="write the report as markdown to this file ('-': stdout only)")
    args = p.parse_args(argv)
    argv_list, skip = [], False  # the command as run, less where the output and fixtures went
    for a in (sys.argv[1:] if argv is None else argv):
        if skip or a.split("=")[0] in ("--markdown", "--root"):
            skip = not skip and "=" not in a
            continue
        argv_list.append(a)
    if args.quick:
        args.frames, args.items, args.repeats, args.workers = 2, 4, 1, [1]
    torch.set_num_threads(1)  # as in a DataLoader worker

    with tempfile.TemporaryDirectory(prefix="pfr_data_pipeline_") as tmp:
        root = Path(args.root) if args.root else Path(tmp)
        t0 = time.perf_counter()
        level = 1 if args.quick else PNG_COMPRESS_LEVEL  # quick: the tests check the report, not the times
        gta5 = write_gta5(root / "gta5", args.frames, args.noise, compress_level=level)
        cs = write_cityscapes(root / "cityscapes", args.frames, args.noise, compress_level=level)
        print(f"wrote {args.frames} GTA5 + {args.frames} Cityscapes frames under {root} "
              f"({time.perf_counter() - t0:.1f} s)", file=sys.stderr, flush=True)
        results: dict = {"argv": argv_list, "decode": {}, "stages": {}, "loader": {}, "needed": {}}
        results["decode"][f"GTA5 {GTA5_SIZE[1]}x{GTA5_SIZE[0]}"] = measure_decoders(
            sorted((gta5 / "images").glob("*.png")), args.repeats)
        results["decode"][f"Cityscapes {CITYSCAPES_SIZE[1]}x{CITYSCAPES_SIZE[0]}"] = measure_decoders(
            sorted((cs / "leftImg8bit").rglob("*.png")), args.repeats)
        print("decoders timed", file=sys.stderr, flush=True)
        loaders = open_loaders(gta5, cs, hflip=not args.no_hflip)
        for label, ds in loaders.items():
            results["stages"][label] = measure_stages(ds, min(args.items, 2 * len(ds)))
            results["loader"][label] = [measure_loader(ds, w, args.items) for w in args.workers]
            print(f"{label}: timed", file=sys.stderr, flush=True)
        for step in args.step_ms:
            results["needed"][step] = {label: workers_needed(step, 1000 / rows[0]["worker_cpu_ms"])
                                       for label, rows in results["loader"].items()}
    report = render(results, args)
    print(report)
    if args.markdown and args.markdown != "-":
        Path(args.markdown).write_text(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
