"""TensorBoard events of a run: what ``metrics.jsonl`` holds, plus validation images.

Every run writes ``<out>/tensorboard/events.out.tfevents.*`` through
:class:`torch.utils.tensorboard.SummaryWriter` (rank 0 only under DDP; ``--tensorboard false``
switches it off); ``make tensorboard`` opens TensorBoard on ``runs/``. The tags:

=================================  ==============================================================
``loss/seg``, ``loss/seg_aux``     the segmentation terms of Eq. (6) (Eq. 1; ``_aux``: the
                                   auxiliary classifier)
``loss/adv``, ``loss/adv_aux``     the adversarial terms of Eq. (6) (Eq. 5, generator side)
``loss/pfr``                       the PFR term of Eq. (6) (Eq. 4, summed over the stages)
``loss/total``                     the weighted sum, Eq. (6); a baseline's own terms join ``loss/``
``pfr/style_<i>``, ``pfr/content_<i>``  Eq. (2) and Eq. (3) of stage ``i``
``discriminator/loss[_aux]``       the discriminators' loss, Eq. (5)
``discriminator/acc_source``,      how often the discriminator tells the domains apart
``discriminator/acc_target``
``lr/network``, ``lr/discriminator_<k>``  the learning rate each optimiser used in that iteration
``val/source_miou``, ``val/target_miou``  validation mIoU (Eq. 7), periodic and final
``val_target_iou/<class>``         the target per-class IoU at each validation
``val_target_images/<i>``          a target val image | its prediction | its label (an image)
=================================  ==============================================================

Loss terms are logged unweighted, as in ``metrics.jsonl``, at the same iterations
(``log_every``). A resumed run purges the events past the checkpoint it resumes from, so its
curves continue without a fold.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Optional

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.tensorboard import SummaryWriter

from pfrlib.data.palette import colorize
from pfrlib.engine.rundir import EVENTS_DIR
from pfrlib.engine.scoring import predict

__all__ = ["TensorBoardLog", "scalar_tag"]

#: The folder of a run directory that holds its event files.

#: Keys of a ``metrics.jsonl`` record that are not scalars of the run (or are logged otherwise).
_NOT_LOGGED = ("iter", "time", "lr")


def scalar_tag(key: str) -> str:
    """The TensorBoard tag of a ``metrics.jsonl`` key (``pfr_style_2`` -> ``pfr/style_2``)."""
    if key.startswith("pfr_style_") or key.startswith("pfr_content_"):
        return "pfr/" + key[len("pfr_"):]
    if key.startswith("d_acc_"):
        return "discriminator/" + key[len("d_"):]
    if key == "d":
        return "discriminator/loss"
    if key.startswith("d_"):
        return "discriminator/loss_" + key[len("d_"):]
    return "loss/" + key


class TensorBoardLog:
    """The event file of one run: :meth:`log_step`, :meth:`log_validation`, :meth:`close`.

    Args:
        out: the run directory (events go to ``out / EVENTS_DIR``).
        enabled: False (``--tensorboard false``, or a rank other than 0) makes every call a no-op.
        start: the iteration the run starts from (a resumed run: events past it are purged).
        schedulers: ``{name: LambdaLR}`` of the network (``"network"``) and each discriminator;
            the learning rate each used in an iteration is logged as ``lr/<name>``.
        model: the bare segmentation network (its predictions on ``samples`` are drawn).
        samples: the target val set; its first ``num_images`` items (uint8 image, label) are drawn.
        device, bf16: where and how the network runs (as in validation).
    """

    def __init__(self, out: str | Path, enabled: bool = True, start: int = 0,
                 schedulers: Optional[Mapping[str, Any]] = None, model: Optional[nn.Module] = None,
                 samples: Any = None, device: torch.device | str = "cpu", bf16: bool = False,
                 num_images: int = 3) -> None:
        self.dir = Path(out) / EVENTS_DIR
        self.schedulers = dict(schedulers or {})
        self.model = model
        self.samples = samples
        self.device = torch.device(device)
        self.bf16 = bf16
        self.num_images = num_images if samples is not None else 0
        self._enabled, self._start = enabled, start
        self._writer: Optional[SummaryWriter] = None

    @property
    def enabled(self) -> bool:
        return self._enabled

    @property
    def writer(self) -> Optional[SummaryWriter]:
        """The event writer, made on the first event: a run refused or failed before it logs
        anything leaves no ``tensorboard/`` folder behind (the run directory's promise)."""
        if self._enabled and self._writer is None:
            # purge_step: events past ``start`` (logged before a crash, after the checkpoint the run
            # resumes from; or all of an overwritten run's) are dropped by TensorBoard's reader.
            self._writer = SummaryWriter(str(self.dir), purge_step=self._start + 1, flush_secs=30)
        return self._writer

    def log_step(self, iteration: int, record: Mapping[str, float]) -> None:
        """The scalars of one ``metrics.jsonl`` record (loss terms, PFR stages, discriminator),
        and each optimiser's learning rate in that iteration (``iteration`` counts from 1)."""
        if self.writer is None:
            return
        for key, value in record.items():
            if key not in _NOT_LOGGED:
                self.writer.add_scalar(scalar_tag(key), float(value), iteration)
        for name, sched in self.schedulers.items():
            # LambdaLR: the lr of step ``iteration - 1`` is base_lr * lambda(iteration - 1)
            lr = sched.base_lrs[0] * sched.lr_lambdas[0](iteration - 1)
            self.writer.add_scalar(f"lr/{name}", float(lr), iteration)

    def log_validation(self, iteration: int, results: Mapping[str, Mapping[str, Any]]) -> None:
        """Validation mIoU of each set, the target per-class IoU, and the sample images.

        ``results``: :meth:`pfrlib.engine.trainer.Trainer.validate`'s ``{"source"|"target": {"miou",
        "per_class_iou", ...}}`` (IoUs as fractions; ``None`` for a class absent from both).
        """
        if self.writer is None:
            return
        for name, res in results.items():
            if res.get("miou") is not None:
                self.writer.add_scalar(f"val/{name}_miou", float(res["miou"]), iteration)
        for cls, iou in (results.get("target", {}).get("per_class_iou") or {}).items():
            if iou is not None:
                self.writer.add_scalar(f"val_target_iou/{cls}", float(iou), iteration)
        for i, strip in enumerate(self._strips()):
            self.writer.add_image(f"val_target_images/{i}", strip, iteration, dataformats="HWC")
        self.writer.flush()

    @torch.no_grad()
    def _strips(self) -> list[np.ndarray]:
        """Per sample, image | prediction | label side by side, (H, 3W, 3) uint8 at the label size."""
        if self.model is None or not self.num_images:
            return []
        strips = []
        was_training = self.model.training
        self.model.eval()
        try:
            for i in range(min(self.num_images, len(self.samples))):
                image, label = self.samples[i]
                size = tuple(label.shape[-2:])
                pred = predict(self.model, image.unsqueeze(0).to(self.device), size, bf16=self.bf16)[0]
                shown = F.interpolate(image.unsqueeze(0).float(), size=size, mode="bilinear",
                                      align_corners=False)[0].round().clamp(0, 255).to(torch.uint8)
                parts = [shown.permute(1, 2, 0).numpy(), colorize(pred), colorize(label.long())]
                strips.append(np.concatenate(parts, axis=1))
        finally:
            self.model.train(was_training)
        return strips

    def close(self) -> None:
        """Flush and close the event file."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self._enabled = False
