"""The five sections of a training run that the paper's method uses (:mod:`pfrlib.config`).

:class:`DataConfig`, :class:`ModelConfig`, :class:`OptimConfig`, :class:`LossConfig`,
:class:`RunConfig`: one dataclass per concern, their defaults the paper's (AdaptSegNet's) recipe.
A field with a closed set of values carries its choices (:func:`pfrlib.config.fields.choices`),
read from the module that implements them; a field that does not change what a run computes
carries its role (:data:`~pfrlib.config.fields.BOOKKEEPING`, :data:`~pfrlib.config.fields.EXECUTION`).
The Table-1 baselines own their sections (:mod:`pfrlib.methods.baselines`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from pfrlib import methods
from pfrlib.paper.losses import CONTENT_FORMS, GAN_KINDS, GRAM_NORMALIZATIONS, PFR_STAGES, STYLE_PAIRINGS
from pfrlib.data.synthstreets.dataset import DEFAULT_CLASSES, DEFAULT_SIZE, SYNTH_VERSIONS
from pfrlib.models import MODEL_NAMES
from pfrlib.paper.optim import OPTIMIZERS, PARAM_LISTINGS, SCHEDULES
from pfrlib.config.fields import BOOKKEEPING, EXECUTION, choices, role

#: The ``torch.compile`` backends :attr:`RunConfig.compile_backend` offers.
COMPILE_BACKENDS = ("inductor", "aot_eager")

__all__ = ["DataConfig", "ModelConfig", "OptimConfig", "LossConfig", "RunConfig"]


@dataclass
class DataConfig:
    """Datasets and loaders.

    Specs are ``synth:source``, ``synth:target``, ``gta5:/path``, ``cityscapes:/path[:split]`` or
    ``folder:/path`` (parsed by :func:`pfrlib.data.from_spec`). Sizes are ``(H, W)``.
    """

    source: str = "synth:source"
    target: str = "synth:target"
    #: Validation sets; ``None`` = the same dataset's ``val`` split.
    source_val: Optional[str] = None
    target_val: Optional[str] = None
    #: The target test set a finished run is scored on (``final.json``'s ``target_test``, and
    #: the checkpoint chosen on ``target_val``), with each image's confusion matrix kept
    #: (:data:`pfrlib.engine.record.TEST_CONFUSION`); never used to choose anything; None = no
    #: test scoring. Follows the target: giving ``target`` without ``target_test`` (a preset,
    #: ``replace``, the command line) sets it to the target's labelled test split
    #: (:func:`pfrlib.data.spec.labelled_test_spec`: ``synth:target:test`` for SynthStreets, None
    #: otherwise). The ``paper`` preset leaves it to the user: Cityscapes' test labels are not
    #: public (its benchmark server scores test predictions), so a Cityscapes ``test`` split is
    #: refused; name another labelled set of the target domain, e.g. ``folder:/path``.
    target_test: Optional[str] = "synth:target:test"
    #: Training resize of source / target images (None = native size). AdaptSegNet resizes GTA5
    #: to 1280x720 and Cityscapes to 1024x512.
    source_size: Optional[tuple[int, int]] = None
    target_size: Optional[tuple[int, int]] = None
    #: Evaluation input resize (None = native); logits are always upsampled to the label size.
    eval_size: Optional[tuple[int, int]] = None
    #: Random horizontal flip of training images (AdaptSegNet's default: off).
    hflip: bool = False
    #: CLAN's random input rescaling (its datasets' ``__scale__``): each training image alone is
    #: resized to ``int(size * f)``, ``f`` drawn uniformly per image from this tuple (repeat a
    #: factor to weight it); its label keeps ``source_size`` / ``target_size`` and the predictions
    #: are upsampled to those sizes. None = off (both presets; CLAN's ``paper`` recipe sets its
    #: code's 0.8 / 1.0 / 1.1 at 30 / 40 / 30 %). Needs ``target_size`` and ``batch_size`` 1.
    image_scales: Optional[tuple[float, ...]] = None
    batch_size: int = 1
    num_workers: int = field(default=0, metadata=role(EXECUTION))
    #: Batches each loader worker keeps ready (None = PyTorch's default, 2); only with workers.
    prefetch_factor: Optional[int] = field(default=None, metadata=role(EXECUTION))
    #: Page-locked batches, so host-to-GPU copies are asynchronous (None = auto: on for CUDA).
    pin_memory: Optional[bool] = field(default=None, metadata=role(EXECUTION))
    #: SynthStreets only: generated image size and number of items per split (None = default;
    #: the val length also sets the test split's).
    synth_size: tuple[int, int] = DEFAULT_SIZE
    synth_train_length: Optional[int] = None
    synth_val_length: Optional[int] = None
    #: SynthStreets only: the benchmark by class count, 19 (SynthStreets-19, all Cityscapes classes
    #: with their long tail) or 9 (the original SynthStreets), and the seed of its scene streams
    #: (the data; the run's ``seed`` is the training randomness).
    synth_classes: int = field(default=DEFAULT_CLASSES, metadata=choices(SYNTH_VERSIONS))
    synth_seed: int = 0
    #: SynthStreets only: the shift the *target* domain is rendered with (every target split,
    #: train, val and test alike; the source is always the unshifted style), in
    #: :meth:`~pfrlib.data.synthstreets.shift.SynthShift.parse`'s text form: ``"full"`` (the
    #: benchmark's target), ``"full,camera=0"`` (all but the camera), ``"none,camera=1"`` (only the
    #: camera). How much of the gap each component makes, and which one a method closes, is read
    #: by training with one changed (``benchmarks/synth_gap.py --components``, ``sweeps/shift_label.yaml``).
    synth_shift: str = "full"
    #: SynthStreets only: keep each rendered item in memory after its first use, so the second
    #: pass over the training set and every validation after the first render nothing (the items
    #: are identical either way: a change of time and memory, about 0.3 GB a run, not of results).
    synth_in_memory: bool = field(default=True, metadata=role(EXECUTION))
    #: Evaluate only the first ``val_limit`` images of each val set (None = all), periodically
    #: and for ``final.json``. (GTA5 has no val split: its "val" is the whole set.)
    val_limit: Optional[int] = None


@dataclass
class ModelConfig:
    """Segmentation network (``pfrlib.models.build_model``) and discriminator."""

    arch: str = field(default="small", metadata=choices(MODEL_NAMES))
    num_classes: int = 19
    #: Initial weights: an AdaptSegNet/DeepLab ``.pth`` (loaded with
    #: ``pfrlib.models.load_adaptsegnet_weights``) or None (the builder's default init).
    init: Optional[str] = None
    #: AdaptSegNet's multi-level option: auxiliary head on stage 4 with its own discriminator.
    multi_level: bool = False
    #: FCDiscriminator width.
    ndf: int = 64
    #: ASPP branches each classifier sums (``pfrlib.models.common.ASPPClassifier``); None = the
    #: architecture's default (``deeplabv2_r101``: 2, what AdaptSegNet's code computes;
    #: ``dilated_*``: 4). CLAN's ``paper`` recipe: 4 (its ``Classifier_Module`` sums all four).
    #: Not for ``small``, whose head has its own ``head_dilations``.
    aspp_branches: Optional[int] = None
    #: Extra keyword arguments of ``build_model`` (a JSON object on the command line).
    model_kwargs: dict = field(default_factory=dict)
    #: Classifiers on stage 5: 2 for CLAN (``pfrlib.models.TwoClassifierNet``, prediction = their
    #: sum), 1 otherwise. Follows the method: giving ``method`` without ``classifiers`` (a preset,
    #: ``replace``, the command line) sets it; the value must match the method.
    classifiers: int = 1


@dataclass
class OptimConfig:
    """Optimisers and schedules (AdaptSegNet's by default)."""

    iterations: int = 150_000
    #: Poly schedule length (AdaptSegNet: 250k, stopped at 150k); None = ``iterations``.
    schedule_iterations: Optional[int] = 250_000
    optimizer: str = field(default="sgd", metadata=choices(OPTIMIZERS))
    lr: float = 2.5e-4
    momentum: float = 0.9
    weight_decay: float = 5e-4
    betas: tuple[float, float] = (0.9, 0.999)
    #: Learning-rate factor on the classifier heads (``model.param_groups`` gives 10x).
    head_lr_mult: float = 10.0
    schedule: str = field(default="poly", metadata=choices(SCHEDULES))
    power: float = 0.9
    d_lr: float = 1e-4
    d_betas: tuple[float, float] = (0.9, 0.99)
    d_schedule: str = field(default="poly", metadata=choices(SCHEDULES))
    #: Linear learning-rate warm-up from 0 over this fraction of the schedule's horizon, then the
    #: schedule (the network's and the discriminators'); 0 = none (AdaptSegNet). CLAN's code warms
    #: up over its preheat, 1/20 (``lr_warmup``; its ``paper`` recipe: docs/baselines.md).
    warmup_fraction: float = 0.0
    #: Clip the segmentation network's gradient norm (None = no clipping, as AdaptSegNet).
    grad_clip: Optional[float] = None
    #: How SGD lists the backbone parameters (``pfrlib.paper.optim``): ``"adaptsegnet"`` steps each
    #: backbone tensor as many times per iteration as AdaptSegNet's nested ``modules()`` loop
    #: lists it (1x conv1, 3x bottleneck convs, 4x shortcut convs: how the paper's numbers were
    #: trained; the ``paper`` preset); ``"unique"`` steps each once (the stated learning rate).
    param_listing: str = field(default="unique", metadata=choices(PARAM_LISTINGS))


@dataclass
class LossConfig:
    """The method and the weights of Eq. (6) (plus PFR options of Eq. (2)-(4))."""

    #: The ``--method`` (:mod:`pfrlib.methods`).
    method: str = field(default="pfr_adv", metadata=choices(methods.names()))
    lambda_seg_aux: float = 0.1
    lambda_adv: float = 0.002
    lambda_adv_aux: float = 0.0002
    lambda_pfr: float = 0.004
    #: The stages Eq. (2)-(3) align (a non-empty subset of the paper's 2, 3, 4, 5).
    pfr_stages: tuple[int, ...] = field(default=PFR_STAGES, metadata=choices(PFR_STAGES))
    style_weight: float = 1.0
    content_weight: float = 1.0
    content_form: str = field(default="rms", metadata=choices(CONTENT_FORMS))
    #: "pair": Eq. (2) per (source, target) image pair of the batch (the literal reading);
    #: "batch": between the batch-mean Gram matrices of the two domains (see losses.style_loss).
    style_pairing: str = field(default="pair", metadata=choices(STYLE_PAIRINGS))
    gram_normalize: str = field(default="chw", metadata=choices(GRAM_NORMALIZATIONS))
    gan: str = field(default="bce", metadata=choices(GAN_KINDS))
    #: Treat the source features as a fixed reference in Eq. (2)-(3) (stop their gradient), so
    #: only the target features move towards the source's. The paper says it matches source
    #: features "to those of target domain images" without saying which side moves; False
    #: (both sides get gradients) is the literal reading. With True the loss cannot be lowered
    #: by shrinking the features of *both* domains towards zero.
    pfr_detach_source: bool = False

    def effective_weights(self) -> dict[str, float]:
        """Loss weights of Eq. (6) after the method preset.

        Returns ``{"seg", "seg_aux", "adv", "adv_aux", "pfr"}``; ``seg_aux`` is only used with the
        multi-level model. ``source_only`` and ``oracle`` zero adv and pfr, ``adaptsegnet`` zeroes
        pfr, ``pfr`` zeroes adv.
        """
        terms = methods.get(self.method).eq6_terms
        adv = "adv" in terms
        pfr = "pfr" in terms
        return {
            "seg": 1.0,
            "seg_aux": self.lambda_seg_aux,
            "adv": self.lambda_adv if adv else 0.0,
            "adv_aux": self.lambda_adv_aux if adv else 0.0,
            "pfr": self.lambda_pfr if pfr else 0.0,
        }


@dataclass
class RunConfig:
    """Seed, output, device and bookkeeping."""

    out: str = field(default="runs/default", metadata=role(BOOKKEEPING))
    seed: int = 0
    #: One of :data:`pfrlib.config.device.DEVICE_FORMS` (``auto``, ``cpu``, ``cuda``, ``cuda:N``).
    device: str = field(default="auto", metadata=role(EXECUTION))
    #: bf16 autocast over the whole network step (forwards, upsampling, softmax, discriminators,
    #: PFR); Gram products and losses stay float32. None = auto: on for CUDA, off on CPU.
    bf16: Optional[bool] = None
    #: channels_last memory format for the network and the discriminators (None = auto: CUDA).
    channels_last: Optional[bool] = None
    #: ``torch.backends.cudnn.benchmark`` (None = auto: on for CUDA; input sizes are fixed).
    cudnn_benchmark: Optional[bool] = None
    #: TF32 matmuls and convolutions on Ampere+ GPUs (float32 Gram matrices); None = auto: CUDA.
    tf32: Optional[bool] = None
    #: ``torch.compile`` the segmentation network (opt-in; the first iterations compile).
    compile: bool = False
    #: The ``torch.compile`` backend: ``inductor`` (torch's default: generated kernels) or
    #: ``aot_eager`` (traced by dynamo and AOT autograd, run by eager kernels: no code generation;
    #: finds a graph break quickly, and is what the CPU test compiles with).
    compile_backend: str = field(default="inductor", metadata=choices(COMPILE_BACKENDS))
    #: ``torch.set_num_threads`` (None = leave torch's default).
    num_threads: Optional[int] = field(default=None, metadata=role(BOOKKEEPING))
    log_every: int = 10
    #: Periodic validation on source and target val sets (0 = only at the end).
    val_every: int = 0
    checkpoint_every: int = 1000
    #: Also keep ``checkpoint_best.pt`` (best periodic target val mIoU). A labelled extra: the
    #: reported number is always the final model's (selecting on the test set is optimistic). With
    #: ``target_test`` it is scored on test at the end (``final.json``'s ``best_on_val``).
    keep_best: bool = False
    progress: bool = field(default=True, metadata=role(BOOKKEEPING))
    #: Continue the run in ``out`` from its ``checkpoint_last.pt``.
    resume: bool = field(default=False, metadata=role(BOOKKEEPING))
    #: Start afresh even if ``out`` already holds a run (its files are replaced).
    overwrite: bool = field(default=False, metadata=role(BOOKKEEPING))
    #: Write TensorBoard events to ``out/tensorboard`` (:mod:`pfrlib.engine.tensorboard`; rank 0 only).
    tensorboard: bool = field(default=True, metadata=role(BOOKKEEPING))
    #: A folder of finished stages shared across run folders (:mod:`pfrlib.engine.stage_store`):
    #: a run trained in stages (a translator and its reference, self-training's adapted model)
    #: links a stage with the same key from it instead of training it, and publishes the stages
    #: it trains there. None: every stage is trained (or reused) in the run's own folder only.
    #: Bookkeeping: the stages are identical either way, so it never changes a run's result.
    stage_store: Optional[str] = field(default=None, metadata=role(BOOKKEEPING))
