"""CUDA-only: bf16 autocast, cudnn.benchmark and channels_last keep one step's losses.

Skipped without a GPU. Each test builds a trainer from the same seed (same initial weights, same
first batches) and compares the loss terms of its first ``Trainer.step()``, which are computed
before any weight update, so only the arithmetic differs.

Tolerance: ``|a - b| <= RTOL * |b| + ATOL`` with ``RTOL = 0.03``, ``ATOL = 2e-3``. bf16 keeps 8
significant bits (unit roundoff 2^-9 ~ 0.2%); every convolution of the autocast forward rounds
its inputs and output to that, and the errors of ~100 layers add up roughly like a random walk
(sqrt(100) x 0.2% ~ 2% on the logits in the worst case), while the losses are means over many
pixels, which average most of it away. The Gram-matrix terms compare two domains' statistics and
can lose a little more. 3% relative bounds the expected error with room to spare and is still far
below what a real bug does (a wrong normalisation or a missing term changes a loss by tens of
percent or more); with CPU autocast the largest difference was 0.45% (``seg_aux`` of the R101
setup below; every other term under 0.1%). The fp32 reference runs with TF32 off (when the
engine has the option).
cudnn.benchmark and channels_last only change which kernels run and in what order the sums are
taken; they must stay within the same tolerance (in practice they are much closer).
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import pytest
import torch

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

RTOL = 0.03
ATOL = 2e-3
#: Terms compared (when the method produces them).
TERMS = ("seg", "seg_aux", "adv", "adv_aux", "pfr", "total")

#: The small cpu preset (SynthStreets 64x128, batch 4) and the paper's network at a small size.
SETUPS = {
    "small": dict(),
    "r101": dict(arch="deeplabv2_r101", multi_level=True, synth_size=(128, 256), source_size=(128, 256),
                 target_size=(128, 256), eval_size=(128, 256), batch_size=1, synth_train_length=4,
                 synth_val_length=2),
}


@contextlib.contextmanager
def _restore_backends() -> Iterator[None]:
    saved = (torch.backends.cudnn.benchmark, torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    try:
        yield
    finally:
        torch.backends.cudnn.benchmark, torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def first_step_losses(tmp_path, setup: str, bf16: bool, channels_last: bool = False,
                      cudnn_benchmark: bool = False) -> dict[str, float]:
    """Loss terms of the first ``pfr_adv`` step on CUDA with these options (seed 0)."""
    from pfrlib.config.train_config import TrainConfig
    from pfrlib.engine.trainer import Trainer

    fields = TrainConfig.field_index()
    wanted = dict(bf16=bf16, channels_last=channels_last, cudnn_benchmark=cudnn_benchmark, tf32=False)
    engine = {k: v for k, v in wanted.items() if k in fields}
    with _restore_backends():
        torch.backends.cudnn.benchmark = cudnn_benchmark  # for engines without the option
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
        cfg = TrainConfig.preset("cpu", **SETUPS[setup], method="pfr_adv", device="cuda", seed=0,
                                 out=str(tmp_path / f"{setup}_{bf16}_{channels_last}_{cudnn_benchmark}"),
                                 progress=False, **engine)
        trainer = Trainer(cfg, prepare_output=False)
        out = trainer.step()
        torch.cuda.synchronize()
    return {k: float(v) for k, v in out.items() if k in TERMS}


def assert_close(got: dict[str, float], ref: dict[str, float], what: str) -> None:
    assert got.keys() == ref.keys(), what
    bad = {k: (got[k], ref[k]) for k in ref if abs(got[k] - ref[k]) > RTOL * abs(ref[k]) + ATOL}
    assert not bad, f"{what}: terms outside rtol={RTOL}, atol={ATOL} (got, fp32 reference): {bad}"


@pytest.mark.parametrize("setup", list(SETUPS))
def test_bf16_step_matches_fp32(tmp_path, setup: str):
    ref = first_step_losses(tmp_path, setup, bf16=False)
    assert set(ref) >= {"seg", "adv", "pfr", "total"}
    assert_close(first_step_losses(tmp_path, setup, bf16=True), ref, f"{setup}: bf16 vs fp32")


@pytest.mark.parametrize("setup", list(SETUPS))
def test_cudnn_benchmark_and_channels_last_keep_the_loss(tmp_path, setup: str):
    ref = first_step_losses(tmp_path, setup, bf16=False)
    assert_close(first_step_losses(tmp_path, setup, bf16=False, cudnn_benchmark=True), ref,
                 f"{setup}: cudnn.benchmark")
    assert_close(first_step_losses(tmp_path, setup, bf16=False, channels_last=True), ref, f"{setup}: channels_last")
    assert_close(first_step_losses(tmp_path, setup, bf16=False, channels_last=True, cudnn_benchmark=True), ref,
                 f"{setup}: channels_last + cudnn.benchmark")
