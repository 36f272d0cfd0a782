"""Seeded, endless training streams: what the run loop draws its source and target batches from.

A stream is a pure function of ``(seed, stream id, position)``: sample ``p`` of a stream lies in
epoch ``p // n`` at offset ``p % n`` of that epoch's permutation (seeded by
``(seed, stream, epoch)``), and its augmentation is drawn under a seed derived from
``(seed, stream, p)``. So the batches do not depend on the number of DataLoader workers, and a
resumed run fast-forwards by index (no image is loaded or transformed to skip ahead) and
continues bit-exactly on CPU. Under ``torchrun``, rank ``r`` of ``w`` takes the positions
``p = k * w + r``: disjoint shards of the same stream.

Items travel as they are stored: uint8 images (3 x H x W) and uint8 labels (trainIds, 255 =
ignore), 4x less to copy than float32 and 8x less than int64; the run loop normalises them on
the device (:func:`pfrlib.data.transforms.normalize`). With ``pin_memory`` the batches land in
page-locked memory, so ``tensor.to("cuda", non_blocking=True)`` is really asynchronous.
"""

from __future__ import annotations

import random
from typing import Iterator, Optional

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

__all__ = ["SOURCE_STREAM", "TARGET_STREAM", "seed_from", "SeededItems", "StreamSampler", "make_stream",
           "seed_worker"]

#: Stream ids: each gets its own permutations and augmentation seeds.
SOURCE_STREAM, TARGET_STREAM = 1, 2


def seed_from(*parts: int) -> int:
    """A 63-bit seed from integers, well mixed (numpy ``SeedSequence``)."""
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1, np.uint64)[0] >> 1)


class SeededItems(Dataset):
    """``dataset[idx]`` evaluated under a per-sample seed, so augmentations depend only on the key.

    Keys are ``(index, sample_seed)`` pairs produced by :class:`StreamSampler`. The global torch,
    numpy and python RNG states of the calling process are left untouched. With
    ``with_labels=False`` the label is dropped here: adaptation methods never see target labels.
    """

    def __init__(self, dataset: Dataset, with_labels: bool = True) -> None:
        self.dataset = dataset
        self.with_labels = with_labels

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key: tuple[int, int]):
        idx, sample_seed = key
        py_state, np_state = random.getstate(), np.random.get_state()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(sample_seed)
            random.seed(sample_seed)
            np.random.seed(sample_seed % 2**32)
            try:
                item = self.dataset[idx]
            finally:
                random.setstate(py_state)
                np.random.set_state(np_state)
        if self.with_labels:
            return tuple(item)  # (image, label), or (image, label, weight) for a weighted set
        return item[0]


class StreamSampler(Sampler):
    """An endless, deterministic stream of ``(index, sample_seed)`` keys for one rank.

    ``start`` skips the first ``start`` draws of this rank, which is how a resumed run
    fast-forwards without loading a single image.
    """

    def __init__(self, n: int, seed: int, stream: int, rank: int = 0, world: int = 1, start: int = 0) -> None:
        if n < 1:
            raise ValueError("cannot stream from an empty dataset")
        self.n, self.seed, self.stream, self.rank, self.world, self.start = n, seed, stream, rank, world, start

    def __iter__(self) -> Iterator[tuple[int, int]]:
        k, epoch, perm = self.start, -1, None
        while True:
            p = k * self.world + self.rank
            e, off = divmod(p, self.n)
            if e != epoch:
                g = torch.Generator().manual_seed(seed_from(self.seed, self.stream, 0, e))
                perm, epoch = torch.randperm(self.n, generator=g).tolist(), e
            yield perm[off], seed_from(self.seed, self.stream, 1, p)
            k += 1

    def __len__(self) -> int:  # DataLoader only needs this for len(loader); the stream is endless
        return 2**62


def seed_worker(worker_id: int) -> None:
    """DataLoader ``worker_init_fn``: seed numpy and python from the worker's torch seed."""
    s = torch.initial_seed() % 2**32
    np.random.seed(s)
    random.seed(s)


def make_stream(dataset: Dataset, seed: int, stream: int, batch_size: int, *, num_workers: int = 0,
                rank: int = 0, world_size: int = 1, start_iteration: int = 0, with_labels: bool = True,
                pin_memory: bool = False, prefetch_factor: Optional[int] = None) -> Iterator:
    """An iterator of batches ``(images, labels)`` (or ``images`` when ``with_labels=False``); a
    dataset whose items carry a third entry, a per-image weight (DLOW's translated set,
    :mod:`pfrlib.engine.two_stage.domainness`), gives ``(images, labels, weights)``.

    ``start_iteration`` batches of this rank are skipped (resume). ``prefetch_factor`` (batches
    each worker keeps ready) applies with ``num_workers > 0``.
    """
    sampler = StreamSampler(len(dataset), seed, stream, rank, world_size, start=start_iteration * batch_size)
    extra = {}
    if num_workers > 0 and prefetch_factor is not None:
        extra["prefetch_factor"] = prefetch_factor
    loader = DataLoader(
        SeededItems(dataset, with_labels),
        batch_size=batch_size,
        sampler=sampler,
        num_workers=num_workers,
        worker_init_fn=seed_worker,
        generator=torch.Generator().manual_seed(seed_from(seed, stream, 2)),
        drop_last=True,
        persistent_workers=False,
        pin_memory=pin_memory,
        **extra,
    )
    return iter(loader)
