"""Configuration of the input-space methods' first stage: one dataclass, two presets.

:class:`TranslationConfig` holds everything stage 1 (training the image translator) needs; it is
the ``translation`` section of :class:`pfrlib.config.TrainConfig` (whose other sections describe
stage 2, the segmentation network on the translated source set). Field names are unique across
all sections, so each is one command-line option (``--translation-iterations``, ``--gen-blocks``).

``paper``
    CycleGAN's published recipe (Zhu et al. 2017, Sec. 4 and appendix 7.2): ResNet generator with
    9 blocks and 64 filters, 70x70 PatchGAN (64 filters, 3 layers), least-squares GAN, Adam 2e-4
    with beta1 = 0.5, a constant rate for the first half of training then a linear decay to 0,
    a pool of 50 past fakes, batch 1, ``lambda_cycle = 10``, identity 0.5 (of the cycle weight),
    random 400x400 crops of images scaled to 1024 pixels wide (CyCADA's GTA5 -> Cityscapes
    CycleGAN: ``--loadSize 1024 --fineSize 400``; our reading of its scripts, resized here to
    512 x 1024). ``translation_iterations = 200k`` at batch 1 is our choice (about 8 GTA5 epochs;
    CycleGAN's recipe counts 200 epochs of small sets, CyCADA's paper gives no schedule): to be
    checked against CyCADA's released scripts. One departure in both presets: the generator
    upsamples by resize-convolution (``gen_upsampling = "nearest"``), not CycleGAN's transposed
    convolutions, which draw a checkerboard (docs/choices.md); DLOW adds an identity term at
    ``z = 0`` (``dlow_source_identity``).
``cpu``
    SynthStreets at 64 x 128: an 8-filter generator with 2 blocks trained on random 32 x 64 crops
    (the generator is fully convolutional; CycleGAN too trains on crops), a 16-filter PatchGAN
    with 2 strided layers (34 x 34 patches), 200 iterations at batch 4 and Adam 1e-3, a source-only
    reference of 300 iterations, and the first 1000 source images translated. Sized by the cost of
    one step on two shared cores, then checked on seeds 0-4 (``benchmarks/translation_tuning.py``,
    docs/tuning.md): no variant passed the adoption rule, and DLOW's stage 2 stays unweighted
    (``dlow_adv_weighting = "none"``): the paper's ``sqrt(1 - z)`` lost 1.5 mIoU on all five seeds,
    and at the same mean weight it changed nothing.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any, Optional

from pfrlib import methods
from pfrlib.io import check_positive_int
from pfrlib.methods.translation.losses import DLOW_ADV_WEIGHTING  # the forms of domainness_weight, defined beside it
from pfrlib.methods.translation.networks import UPSAMPLINGS

__all__ = ["TranslationConfig", "TRANSLATION_METHODS", "STAGE2_METHODS", "DEFAULT_STAGE2", "DLOW_Z_SAMPLING",
           "STAGE2_FIELDS"]

#: The input-space rows of Table 1 this package trains (the registry's ``"translation"`` family).
TRANSLATION_METHODS: tuple[str, ...] = methods.names("translation")
#: The segmentation method stage 2 trains on the translated source set.
STAGE2_METHODS: tuple[str, ...] = ("adaptsegnet", "source_only", "mean_teacher")
#: Each method's own stage 2 (``stage2_method = None``): CyCADA and DLOW adapt the output space
#: (AdaptSegNet's discriminator) on the translated set; TGCF-DA trains a mean teacher.
DEFAULT_STAGE2: dict[str, str] = {"cycada": "adaptsegnet", "dlow": "adaptsegnet", "tgcf_da": "mean_teacher"}
#: How DLOW draws the domainness of each translated training image (``dlow_z_sampling``).
DLOW_Z_SAMPLING: tuple[str, ...] = ("uniform", "beta_schedule")
#: The fields only stage 2 reads: changing one of them reuses the trained translator and its set.
STAGE2_FIELDS: tuple[str, ...] = ("stage2_method", "mean_teacher_alpha", "mean_teacher_noise", "lambda_consistency",
                                  "dlow_adv_weighting")


@dataclass
class TranslationConfig:
    """Stage 1 of ``cycada`` / ``dlow`` / ``tgcf_da`` (see the module docstring for the presets)."""

    #: Generator / discriminator updates of stage 1.
    translation_iterations: int = 200_000
    #: Fraction of stage 1 at the constant rate; the rate then decays linearly to 0 (CycleGAN: 0.5).
    translation_decay_start: float = 0.5
    translation_lr: float = 2e-4
    translation_betas: tuple[float, float] = (0.5, 0.999)
    translation_batch_size: int = 1
    #: Images are resized to this (H, W) first (None = as stored), then randomly cropped.
    translation_resize: Optional[tuple[int, int]] = (512, 1024)
    translation_crop: Optional[tuple[int, int]] = (400, 400)
    #: Generator: first-layer filters, residual blocks, stride-2 downsamplings.
    gen_filters: int = 64
    gen_blocks: int = 9
    gen_downsamplings: int = 2
    #: Generator: each 2x upsampling, one of :data:`~pfrlib.methods.translation.networks.UPSAMPLINGS`:
    #: ``"nearest"`` resize then a 3x3 convolution (no checkerboard; docs/choices.md), ``"bilinear"``,
    #: or CycleGAN's ``"transposed"`` convolution.
    gen_upsampling: str = "nearest"
    #: PatchGAN: first-layer filters and strided layers (3 = 70x70 patches).
    patch_filters: int = 64
    patch_layers: int = 3
    pool_size: int = 50
    lambda_cycle: float = 10.0
    #: Identity weight as a fraction of ``lambda_cycle`` (CycleGAN's code: 0.5).
    lambda_identity: float = 0.5
    #: Weight of the semantic consistency (CyCADA Eq. 5) / semantic constraint (TGCF-DA).
    lambda_semantic: float = 1.0
    #: CyCADA's semantic consistency through a frozen source-only model. False = the plain
    #: CycleGAN that CyCADA's released GTA5 -> Cityscapes script trains.
    cycada_semantic: bool = True
    #: The frozen source-only model (a checkpoint of this project with stage 2's ``arch``); None =
    #: train one first (``reference_iterations`` of ``source_only`` into ``OUT/reference``).
    semantic_reference: Optional[str] = None
    reference_iterations: int = 150_000
    #: DLOW: the identity term at ``z = 0``, ``|G(x_s, 0) - x_s|`` weighted as CycleGAN's identity
    #: (``lambda_cycle * lambda_identity``): ``M(0)`` is the source domain, so a source image is
    #: already in ``G(., 0)``'s output domain and should come back unchanged (docs/choices.md).
    #: False: only the ``1 - z`` weighted source discriminator ties ``z = 0`` to the source.
    dlow_source_identity: bool = True
    #: DLOW: how each translated training image's domainness z is drawn (``"uniform"`` on [0, 1], or
    #: ``"beta_schedule"``: Beta(alpha, 1) with alpha = exp((t - T/2) / (T/4)) over the set's index
    #: t of T, moving from source-like to target-like images).
    dlow_z_sampling: str = "beta_schedule"
    #: DLOW's stage 2: the adversarial term of a batch is scaled by the mean of its translated
    #: images' weights ``w(z)``: ``sqrt(1 - z)`` (our reading of DLOW's Sec. 4.1, see
    #: docs/choices.md; the ``paper`` preset), ``1 - z``, or ``"none"`` (AdaptSegNet's unweighted
    #: term; the ``cpu`` preset, measured in docs/tuning.md).
    dlow_adv_weighting: str = "sqrt_one_minus_z"
    #: TGCF-DA: size of the target style code.
    style_dim: int = 8
    #: The segmentation method stage 2 trains on the translated source set (None = the method's
    #: own, :data:`DEFAULT_STAGE2`; ``source_only`` = pixel-level adaptation alone).
    stage2_method: Optional[str] = None
    #: TGCF-DA's mean teacher: EMA decay, the std of the teacher's input noise (normalised input),
    #: and the consistency weight (our choices: alpha 0.99 as Tarvainen and Valpola; the weight
    #: and the noise are not tuned yet).
    mean_teacher_alpha: float = 0.99
    mean_teacher_noise: float = 0.1
    lambda_consistency: float = 10.0
    #: Translate only the first N source training images into the set (None = all of them).
    translated_images: Optional[int] = None
    #: Save the translator every this many iterations (resume continues from the last one).
    translation_checkpoint_every: int = 1000

    # ------------------------------------------------------------------ presets
    @classmethod
    def cpu(cls) -> "TranslationConfig":
        """The ``cpu`` preset's values (module docstring); the defaults are the ``paper`` preset's."""
        return cls(translation_iterations=200, translation_lr=1e-3, translation_batch_size=4,
                   translation_resize=None, translation_crop=(32, 64), gen_filters=8, gen_blocks=2,
                   patch_filters=16, patch_layers=2, pool_size=20, reference_iterations=300,
                   translated_images=1000, translation_checkpoint_every=100,
                   dlow_adv_weighting="none")  # measured on seeds 0-4: docs/tuning.md

    @staticmethod
    def paper_overrides() -> dict[str, Any]:
        """What the ``paper`` preset changes elsewhere for these methods (the baselines' hook, see
        :func:`pfrlib.config.presets.method_recipe`): nothing; stage 2 is AdaptSegNet's recipe."""
        return {}

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> "TranslationConfig":
        """``"paper"`` or ``"cpu"`` (module docstring), then ``overrides`` by field name."""
        if name not in ("cpu", "paper"):
            raise ValueError(f"translation preset: unknown {name!r}; expected one of ('cpu', 'paper')")
        return (cls.cpu() if name == "cpu" else cls()).replace(**overrides)

    def loss_weights(self) -> dict[str, float]:
        """No term of its own in the segmentation stage's Eq. (6) sum (stage 2 is an ordinary method
        on the translated set; TGCF-DA's consistency weight is added by its mean teacher)."""
        return {}

    def replace(self, **overrides: Any) -> "TranslationConfig":
        """A copy with the given fields changed (unknown names are an error listing the fields)."""
        names = {f.name for f in fields(self)}
        unknown = sorted(set(overrides) - names)
        if unknown:
            raise ValueError(f"TranslationConfig: unknown field(s) {unknown}; expected some of {sorted(names)}")
        return replace(self, **overrides)

    def to_dict(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TranslationConfig":
        tuples = {"translation_betas", "translation_resize", "translation_crop"}
        return cls(**{k: (tuple(v) if k in tuples and v is not None else v) for k, v in d.items()})

    def validate(self, check_paths: bool = True) -> "TranslationConfig":
        """Check every field; errors name the field and what was expected (with ``check_paths``,
        that ``semantic_reference`` exists)."""
        if check_paths and self.semantic_reference is not None and not Path(self.semantic_reference).is_file():
            raise FileNotFoundError(f"semantic_reference: checkpoint {self.semantic_reference!r} does not exist")
        for name in ("translation_iterations", "translation_batch_size", "gen_filters", "patch_filters",
                     "patch_layers", "style_dim", "translation_checkpoint_every"):
            check_positive_int(getattr(self, name), name)
        check_positive_int(self.translated_images, "translated_images", none_ok=True)
        for name in ("gen_blocks", "gen_downsamplings", "pool_size", "reference_iterations"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 0:
                raise ValueError(f"{name} must be an integer >= 0, got {v!r}")
        if not (self.translation_lr > 0 and math.isfinite(self.translation_lr)):
            raise ValueError(f"translation_lr must be a finite number > 0, got {self.translation_lr}")
        if len(self.translation_betas) != 2 or not all(0 <= b < 1 for b in self.translation_betas):
            raise ValueError(f"translation_betas must be two numbers in [0, 1), got {self.translation_betas}")
        if not 0 <= self.translation_decay_start <= 1:
            raise ValueError(f"translation_decay_start must be a fraction of stage 1 in [0, 1], "
                             f"got {self.translation_decay_start}")
        for name in ("lambda_cycle", "lambda_identity", "lambda_semantic"):
            v = getattr(self, name)
            if not (v >= 0 and math.isfinite(v)):
                raise ValueError(f"{name} must be a finite number >= 0, got {v}")
        for name in ("translation_resize", "translation_crop"):
            v = getattr(self, name)
            if v is not None and (len(v) != 2 or min(v) < 1):
                raise ValueError(f"{name} must be (H, W) with positive entries or None, got {v}")
        if self.gen_upsampling not in UPSAMPLINGS:
            raise ValueError(f"gen_upsampling: expected one of {UPSAMPLINGS}, got {self.gen_upsampling!r}")
        if not isinstance(self.dlow_source_identity, bool):
            raise ValueError(f"dlow_source_identity must be true or false, got {self.dlow_source_identity!r}")
        if self.dlow_z_sampling not in DLOW_Z_SAMPLING:
            raise ValueError(f"dlow_z_sampling: expected one of {DLOW_Z_SAMPLING}, got {self.dlow_z_sampling!r}")
        if self.dlow_adv_weighting not in DLOW_ADV_WEIGHTING:
            raise ValueError(f"dlow_adv_weighting: expected one of {DLOW_ADV_WEIGHTING}, "
                             f"got {self.dlow_adv_weighting!r}")
        if not 0 <= self.mean_teacher_alpha <= 1:
            raise ValueError(f"mean_teacher_alpha must be in [0, 1], got {self.mean_teacher_alpha}")
        for name in ("mean_teacher_noise", "lambda_consistency"):
            v = getattr(self, name)
            if not (v >= 0 and math.isfinite(v)):
                raise ValueError(f"{name} must be a finite number >= 0, got {v}")
        if self.stage2_method is not None and self.stage2_method not in STAGE2_METHODS:
            raise ValueError(f"stage2_method: expected one of {STAGE2_METHODS}, got {self.stage2_method!r}")
        return self

    def needs_reference(self, method: str) -> bool:
        """Whether ``method``'s translator uses the frozen source model ``f_S`` (CyCADA's semantic
        consistency when ``cycada_semantic``; TGCF-DA's semantic constraint)."""
        return (method == "cycada" and self.cycada_semantic) or method == "tgcf_da"

    def stage2(self, method: str) -> str:
        """The segmentation method stage 2 of ``method`` trains."""
        return self.stage2_method or DEFAULT_STAGE2[method]

    def decay_factor(self, iteration: int) -> float:
        """CycleGAN's linear decay: 1 until ``decay_start * T``, then linearly to 0 at ``T``."""
        total = self.translation_iterations
        start = self.translation_decay_start * total
        if iteration < start or total <= start:
            return 1.0
        return max(0.0, 1.0 - (iteration - start) / (total - start))
