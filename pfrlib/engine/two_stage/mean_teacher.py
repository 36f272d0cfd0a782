"""TGCF-DA's stage 2: self-ensembling with a mean teacher (Choi et al., ICCV 2019, Sec. 3.2).

The student (the segmentation network) is trained by cross-entropy on the labelled source *and*
generated images (the translated set holds both), plus a consistency term on target images:

``L = L_seg + lambda_con * mean (softmax(f(x_t)) - softmax(f'(x_t + noise)))^2``

where ``f'`` is the teacher, the exponential moving average of the student's weights
(:func:`pfrlib.methods.translation.losses.ema_update`, ``alpha``). The teacher sees a perturbed copy of the
target batch (Gaussian noise of ``noise_std`` on the normalised input and a random brightness
shift, drawn from torch's RNG, which the checkpoint holds); the student sees the batch the engine
already forwarded.

It plugs into the engine's step as a :class:`~pfrlib.methods.baselines.Baseline` (its term ``consistency``
after the engine's source and target forwards) and the teacher's update is made at the start of
each step from the student's current weights, i.e. right after the previous optimiser step (the
teacher therefore lags the final student by one update; the reported model is the student).
:class:`MeanTeacherTrainer` is :class:`pfrlib.engine.trainer.Trainer` with this term (its
:meth:`~pfrlib.engine.trainer.Trainer.build_baseline` hook) and no adversary.
"""

from __future__ import annotations

import copy
import json

import torch
import torch.nn.functional as F
from torch import nn

from pfrlib.engine.trainer import Trainer
from pfrlib.paper.step import Baseline, BaselineInputs, BaselineTerms
from pfrlib.methods.translation import losses as L

__all__ = ["MeanTeacher", "MeanTeacherTrainer", "MEAN_TEACHER_FILE"]

#: The mean teacher's settings, beside the segmentation run's ``config.json``.
MEAN_TEACHER_FILE = "mean_teacher.json"


class MeanTeacher(Baseline):
    """The teacher (a copy of the student, updated by EMA) and the consistency term."""

    method = "mean_teacher"

    def __init__(self, student: nn.Module, alpha: float, noise_std: float) -> None:
        super().__init__()
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"mean_teacher_alpha must be in [0, 1], got {alpha}")
        if not noise_std >= 0:
            raise ValueError(f"mean_teacher_noise must be >= 0, got {noise_std}")
        self.teacher = copy.deepcopy(student).requires_grad_(False)
        self._student = (student,)  # not a submodule: the student is saved as the model
        self.alpha, self.noise_std = alpha, noise_std

    def perturb(self, x: torch.Tensor) -> torch.Tensor:
        """Gaussian noise (``noise_std``) and one brightness shift per image (same std)."""
        noise = torch.randn_like(x) * self.noise_std
        shift = torch.randn(x.shape[0], 1, 1, 1, device=x.device, dtype=x.dtype) * self.noise_std
        return x + noise + shift

    def network_terms(self, inputs: BaselineInputs) -> BaselineTerms:
        L.ema_update(self.teacher, self._student[0], self.alpha)
        self.teacher.eval()
        with torch.no_grad():
            t_logits = self.teacher(self.perturb(inputs.xt)).logits
            t_logits = F.interpolate(t_logits, size=inputs.logits_t.shape[-2:], mode="bilinear", align_corners=True)
        return BaselineTerms(terms={"consistency": L.consistency_loss(inputs.logits_t, t_logits)})


class MeanTeacherTrainer(Trainer):
    """The run loop with the :class:`MeanTeacher` term and no adversary.

    ``config`` is an ``adaptsegnet`` configuration with ``lambda_adv = 0`` (a target forward, no
    discriminator). The teacher is checkpointed with the run (``"baseline"``) and its settings are
    written to ``OUT/mean_teacher.json``.
    """

    def __init__(self, config, alpha: float, noise_std: float, lambda_consistency: float) -> None:
        self._mt = {"mean_teacher_alpha": alpha, "mean_teacher_noise": noise_std,
                    "lambda_consistency": lambda_consistency}
        if config.loss.method != "adaptsegnet" or config.loss.lambda_adv or config.loss.lambda_adv_aux:
            raise ValueError("mean teacher: expects method 'adaptsegnet' with lambda_adv = lambda_adv_aux = 0 "
                             "(a target forward without an adversary)")
        super().__init__(config)

    def build_baseline(self, model):
        mt = self._mt
        self.weights = {**self.weights, "consistency": mt["lambda_consistency"]}
        if self.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
            (self.out / MEAN_TEACHER_FILE).write_text(json.dumps(mt, indent=2) + "\n")
        return MeanTeacher(model, mt["mean_teacher_alpha"], mt["mean_teacher_noise"]).to(self.device)
