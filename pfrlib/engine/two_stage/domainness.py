"""DLOW's stage 2: the adversarial term weighted by each translated image's domainness.

DLOW (Gong et al., CVPR 2019, Sec. 4.1) trains AdaptSegNet on source images translated at
*different* domainness values ``z`` (stage 1 writes each image's ``z`` to
``set/domainness.json``, :func:`pfrlib.engine.two_stage.stage1.write_translated_set`) and lets an
image count less in the adversarial term the closer it already is to the target:
``w = sqrt(1 - z)`` (:func:`pfrlib.methods.translation.losses.domainness_weight`, the
``dlow_adv_weighting`` option; ``none`` is AdaptSegNet's unweighted term).

The weight travels with the image through the data stream: :class:`DomainnessWeighted` gives
``(image, label, w)`` items, the stream batches them as ``(images, labels, weights)``, and
:meth:`pfrlib.engine.trainer.Trainer.step` hands ``weights`` to :func:`pfrlib.paper.step.network_step`
(``adv_weight``), which scales the batch's adversarial terms by their mean.
:func:`domainness_trainer` makes :class:`pfrlib.engine.trainer.Trainer` (passed in: the run loop imports
this package, not the other way round) read the weighted set.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import torch
from torch.utils.data import Dataset

from pfrlib.engine.trainer import Trainer
from pfrlib.methods.translation.losses import domainness_weight
from pfrlib.engine.two_stage.stage1 import DOMAINNESS_FILE

__all__ = ["DomainnessWeighted", "read_domainness", "DomainnessTrainer"]


def read_domainness(root: str | Path, stems: Sequence[str]) -> torch.Tensor:
    """The ``z`` of each image of a translated set, in the order of ``stems`` (file names without
    extension, ``"0007"`` -> image 7 of ``ROOT/domainness.json``'s ``"z"`` list).

    Raises a one-line error naming the file when it is missing, unreadable, or does not cover an image.
    """
    path = Path(root) / DOMAINNESS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: DLOW's stage 2 weights each translated image by its domainness "
                                f"z, which stage 1 writes there (or set dlow_adv_weighting to 'none')")
    try:
        z = json.loads(path.read_text())["z"]
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(f"{path}: expected JSON with a list 'z' of domainness values ({err})") from None
    out = []
    for stem in stems:
        i = int(stem) if stem.isdigit() else -1
        if not 0 <= i < len(z):
            raise ValueError(f"{path}: no domainness for image {stem!r} (the file lists {len(z)} values for "
                             f"images 0..{len(z) - 1})")
        if not 0.0 <= float(z[i]) <= 1.0:
            raise ValueError(f"{path}: the domainness of image {stem!r} is {z[i]}, expected a value in [0, 1]")
        out.append(float(z[i]))
    return torch.tensor(out, dtype=torch.float32)


class DomainnessWeighted(Dataset):
    """A translated set (a :class:`~pfrlib.data.FolderDataset`) whose items carry their weight:
    ``(image, label, w)`` with ``w = domainness_weight(z, form)`` of that image (a float32 scalar).

    Every other attribute (``num_classes``, ``has_labels``, ``name`` ...) is the wrapped set's.
    """

    def __init__(self, dataset: Any, form: str) -> None:
        self.dataset = dataset
        stems = [Path(image).stem for image, _ in dataset.items]
        self.z = read_domainness(dataset.root, stems)
        self.weights = domainness_weight(self.z, form)
        self.form = form

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int):
        image, label = self.dataset[index]
        return image, label, self.weights[index]

    def __getattr__(self, name: str) -> Any:
        if name == "dataset":  # not set yet (e.g. while unpickling): no recursion
            raise AttributeError(name)
        return getattr(self.dataset, name)


class DomainnessTrainer(Trainer):
    """The run loop on the weighted set: DLOW's stage 2 (``adaptsegnet`` on
    ``folder:OUT/translation/set``), each image's adversarial term weighted by ``form``, one of
    :data:`pfrlib.methods.translation.losses.DLOW_ADV_WEIGHTING` other than ``"none"`` (the run's
    ``config.json`` records it, as ``dlow_adv_weighting``)."""

    def __init__(self, config, form: str) -> None:
        if form == "none":
            raise ValueError("dlow_adv_weighting 'none' trains the plain run loop, not a weighted one")
        self._form = form
        super().__init__(config)

    def train_data(self):
        data = super().train_data()
        data.source = DomainnessWeighted(data.source, self._form)
        return data

    def step_extras(self, item_extras):
        extras = super().step_extras(item_extras)
        extras.adv_weight = item_extras[0].to(self.device, non_blocking=True)  # each image's weight
        return extras
