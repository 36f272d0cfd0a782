"""Loss functions of PFR (paper Section 3, Eq. 1-6), defined in the paper's order.

Read this module next to the paper:

* :func:`segmentation_loss` is Eq. (1), the supervised cross-entropy on source images;
* :func:`gram_matrix` builds the style representation ``S_i`` of Section 3.2 (Gatys et al.) and
  :func:`style_loss` is Eq. (2);
* :func:`content_loss` is Eq. (3);
* :func:`pfr_loss` is Eq. (4), Eq. (2) plus Eq. (3) with each stage's terms kept for logging;
* :func:`discriminator_loss` / :func:`generator_loss` are the two sides of Eq. (5);
* :func:`total_loss` is Eq. (6), the weighted sum the segmentation network minimises
  (one adaptation iteration that computes its terms: :mod:`pfrlib.paper.step`).

Features come as the 4-tuple ``SegmentationOutput.features`` of :mod:`pfrlib.models`:
stage ``i`` (i = 2..5, the paper's numbering, ResNet ``layer1..layer4``) is ``features[i - 2]``.

Each public function checks its inputs once, on entry, before it computes anything; the
per-stage helpers behind it (``_gram``, ``_style_term``, ``_content_term``) take the checked
tensors and options as given. The checks are at the end of the module.

Choices where the paper is silent (each one an option):

* Gram normalisation: ``F F^T / (C H W)`` by default (``normalize="chw"``); ``"hw"`` divides by
  ``H W`` only, ``"none"`` not at all.
* The norm in Eq. (2)/(3) is written ``||.||_2``; on matrices and feature maps we read it as the
  Frobenius norm (not squared), averaged over the batch, summed over stages.
* Content: the paper's literal ``||C^s - C^t||`` grows with ``sqrt(C H W)``; between *unpaired*
  source and target images it is ~100x the Gram term and, at the paper's lambda_pfr = 0.004,
  collapses training. The default ``content_form="rms"`` divides by ``sqrt(C H W)`` (a root mean
  square difference, resolution-free, so lambdas carry over between the CPU benchmark and paper
  scale); ``content_form="literal"`` keeps the paper's unnormalised norm for the notebooks'
  "loss-scale trap" lesson.
* Source and target features may differ in size (GTA5 1280x720 vs Cityscapes 1024x512): for the
  content term the target features are resized bilinearly (``align_corners=False``) to the
  source's. The Gram matrix is size-independent (C x C), so the style term needs no resizing.
"""

from __future__ import annotations

from typing import Literal, Mapping, NamedTuple, Sequence, get_args

import torch
import torch.nn.functional as F
from torch import Tensor

from pfrlib.data.labels import IGNORE_INDEX

__all__ = ["PFR_STAGES", "GRAM_NORMALIZATIONS", "CONTENT_FORMS", "STYLE_PAIRINGS", "GAN_KINDS", "SOURCE_LABEL",
           "TARGET_LABEL", "segmentation_loss", "gram_matrix", "style_loss", "content_loss", "PFRLoss", "pfr_loss",
           "discriminator_loss", "generator_loss", "total_loss"]

#: The ResNet stages the paper aligns (Section 3.2: "i = 2, 3, 4, 5").
PFR_STAGES: tuple[int, ...] = (2, 3, 4, 5)
#: AdaptSegNet's domain labels for the discriminator (source 0, target 1).
SOURCE_LABEL = 0.0
TARGET_LABEL = 1.0

GramNorm = Literal["chw", "hw", "none"]
ContentForm = Literal["rms", "literal"]
StylePairing = Literal["pair", "batch"]
AdvKind = Literal["bce", "lsgan"]
#: The allowed values of each option, defined once by its ``Literal`` above; the configuration's
#: fields (``gram_normalize``, ``content_form``, ``style_pairing``, ``gan``) read them from here.
GRAM_NORMALIZATIONS: tuple[str, ...] = get_args(GramNorm)
CONTENT_FORMS: tuple[str, ...] = get_args(ContentForm)
STYLE_PAIRINGS: tuple[str, ...] = get_args(StylePairing)
GAN_KINDS: tuple[str, ...] = get_args(AdvKind)


# --------------------------------------------------------------------------- Eq. (1) segmentation
def segmentation_loss(logits: Tensor, labels: Tensor, ignore_index: int = IGNORE_INDEX,
                      check: bool = True) -> Tensor:
    """Segmentation loss, Eq. (1): pixel-wise cross-entropy on labelled (source) images.

    Args:
        logits: (B, K, h, w) raw class scores, usually at output stride 8.
        labels: (B, H, W) integer class ids (int64, or uint8 as the training streams carry
            them); ``ignore_index`` pixels do not count.
        check: verify that every label is in ``0..K-1`` or ``ignore_index`` (a clear error
            instead of a CUDA assert). The check reads values back to the host, which stalls a
            GPU; the training loop passes ``False`` because its datasets check each item's labels
            when they load it.

    Returns:
        Scalar mean over the non-ignored pixels, computed in float32. The logits are upsampled
        bilinearly (``align_corners=True``, as AdaptSegNet's training script does) to the label
        size first. Eq. (1) writes a sum; the mean only rescales the learning rate, and is what
        every public implementation optimises. A batch whose pixels are all ignored gives 0 (no
        gradient) rather than NaN, without a host sync.
    """
    if logits.dim() != 4:
        raise ValueError(f"logits must have shape (B, K, h, w), got {tuple(logits.shape)}")
    if labels.dim() != 3 or labels.shape[0] != logits.shape[0]:
        raise ValueError(
            f"labels must have shape (B, H, W) with B = {logits.shape[0]}, got {tuple(labels.shape)}"
        )
    if labels.dtype not in (torch.long, torch.uint8):
        raise TypeError(f"labels must be int64 (torch.long) or uint8 class ids, got {labels.dtype}")
    labels = labels.long()
    if logits.shape[-2:] != labels.shape[-2:]:
        logits = F.interpolate(logits, size=labels.shape[-2:], mode="bilinear", align_corners=True)
    valid = labels != ignore_index
    if check:
        if not bool(valid.any()):
            return logits.sum() * 0.0
        bad = labels[valid]
        if int(bad.min()) < 0 or int(bad.max()) >= logits.shape[1]:
            raise ValueError(
                f"labels hold class ids outside 0..{logits.shape[1] - 1} (and {ignore_index} = ignore): "
                f"found min {int(bad.min())}, max {int(bad.max())}"
            )
        return F.cross_entropy(logits.float(), labels, ignore_index=ignore_index)
    loss = F.cross_entropy(logits.float(), labels, ignore_index=ignore_index)
    return torch.where(valid.any(), loss, loss.new_zeros(()))  # all ignored: 0, not NaN (and no sync)


# --------------------------------------------------------------------------- Eq. (2) style
def gram_matrix(f: Tensor, normalize: GramNorm = "chw") -> Tensor:
    """Gram matrix of a feature map: the style representation ``S_i`` of Section 3.2.

    Args:
        f: feature map, shape (B, C, H, W).
        normalize: ``"chw"`` (default) divides ``F F^T`` by ``C*H*W``; ``"hw"`` by ``H*W``;
            ``"none"`` returns the raw ``F F^T``.

    Returns:
        (B, C, C) tensor ``G = F F^T / norm`` with ``F = f.reshape(B, C, H*W)``. ``G`` is
        symmetric positive semi-definite and invariant to any permutation of the ``H*W`` spatial
        positions: it records which channels fire *together* (texture, colour, style), not *where*
        (layout).

    Precision: the product is always taken in float32, also inside a bf16 autocast region (the
    style term is a small difference of two Gram matrices whose entries are sums over ``H*W``
    positions; bf16's 8-bit mantissa would round that difference away). On a GPU, TF32 matmul
    (``RunConfig.tf32``) keeps it fast.
    """
    _check_feature_map(f, "f")
    _check_choice("normalize", normalize, GRAM_NORMALIZATIONS)
    return _gram(f, normalize)


def _gram(f: Tensor, normalize: GramNorm) -> Tensor:
    """:func:`gram_matrix` of a checked (B, C, H, W) map and a checked ``normalize``."""
    b, c, h, w = f.shape
    with torch.autocast(device_type=f.device.type, enabled=False):
        flat = f.reshape(b, c, h * w).float()
        g = torch.bmm(flat, flat.transpose(1, 2))
    if normalize == "chw":
        return g / (c * h * w)
    if normalize == "hw":
        return g / (h * w)
    return g


def _style_term(fs: Tensor, ft: Tensor, normalize: GramNorm, pairing: StylePairing) -> Tensor:
    """The style distance of one stage (a scalar), from checked (B, C, H, W) maps.

    ``pairing="pair"``: batch mean of ``||G(f_s^b) - G(f_t^b)||_F`` over the B (source, target)
    pairs of the batch (Eq. 2 read literally, one image of each domain at a time).
    ``pairing="batch"``: ``||mean_b G(f_s^b) - mean_b G(f_t^b)||_F``, the distance between the
    batch's average style of each domain. Source and target images are unpaired, so the literal
    reading also pulls apart *within*-domain style differences of the two images; averaging first
    keeps only the domain-level difference (and for B = 1, the paper's batch size, both agree).
    """
    gs, gt = _gram(fs, normalize), _gram(ft, normalize)
    if pairing == "batch":
        return torch.linalg.matrix_norm(gs.mean(0) - gt.mean(0), ord="fro")
    return torch.linalg.matrix_norm(gs - gt, ord="fro").mean()


def style_loss(
    feats_s: Sequence[Tensor],
    feats_t: Sequence[Tensor],
    stages: Sequence[int] = PFR_STAGES,
    normalize: GramNorm = "chw",
    pairing: StylePairing = "pair",
) -> Tensor:
    """Style loss, Eq. (2): ``L_sty = sum_i ||S_i^s - S_i^t||``.

    Args:
        feats_s, feats_t: the four stage outputs (stage 2..5) of the source and target images;
            stage ``i`` has shape (B, C_i, H_i, W_i) (source and target may differ in H, W).
        stages: which of the paper's stages 2..5 to align.
        normalize: Gram normalisation, see :func:`gram_matrix`.
        pairing: ``"pair"`` (default, Eq. 2 per image pair) or ``"batch"`` (batch-mean Gram
            matrices of each domain), see :func:`_style_term`.

    Returns:
        Scalar: per stage, the Frobenius norm (not squared) of the Gram difference (batch mean
        over pairs, or of the batch means), summed over ``stages``.
    """
    pairs = _stage_pairs(feats_s, feats_t, stages)
    _check_choice("normalize", normalize, GRAM_NORMALIZATIONS)
    _check_choice("style_pairing", pairing, STYLE_PAIRINGS)
    return torch.stack([_style_term(fs, ft, normalize, pairing) for fs, ft in pairs.values()]).sum()


# --------------------------------------------------------------------------- Eq. (3) content
def _content_term(fs: Tensor, ft: Tensor, form: ContentForm) -> Tensor:
    """Batch mean of ``||f_s - f_t||_F`` (``form="rms"``: divided by ``sqrt(C H W)``) for one
    stage (a scalar), from checked (B, C, H, W) maps; ``f_t`` is resized to ``f_s``'s H, W."""
    if ft.shape[-2:] != fs.shape[-2:]:
        ft = F.interpolate(ft, size=fs.shape[-2:], mode="bilinear", align_corners=False)
    diff = (fs - ft).flatten(1)
    norm = torch.linalg.vector_norm(diff, dim=1)
    if form == "rms":
        norm = norm / diff.shape[1] ** 0.5
    return norm.mean()


def content_loss(
    feats_s: Sequence[Tensor],
    feats_t: Sequence[Tensor],
    stages: Sequence[int] = PFR_STAGES,
    form: ContentForm = "rms",
) -> Tensor:
    """Content loss, Eq. (3): ``L_con = sum_i ||C_i^s - C_i^t||``.

    Args:
        feats_s, feats_t: the four stage outputs (stage 2..5), shapes (B, C_i, H_i, W_i). Target
            maps whose H, W differ from the source's are resized bilinearly
            (``align_corners=False``) to the source size.
        stages: which of the paper's stages 2..5 to align.
        form: ``"rms"`` (default) divides each norm by ``sqrt(C_i H_i W_i)``, a root-mean-square
            difference whose size does not depend on resolution; ``"literal"`` is the paper's
            unnormalised norm (see the module docstring for why it is not the default).

    Returns:
        Scalar: per stage, the batch mean of the (normalised) Frobenius norm, summed over stages.
    """
    pairs = _stage_pairs(feats_s, feats_t, stages)
    _check_choice("content_form", form, CONTENT_FORMS)
    return torch.stack([_content_term(fs, ft, form) for fs, ft in pairs.values()]).sum()


# --------------------------------------------------------------------------- Eq. (4) PFR
class PFRLoss(NamedTuple):
    """Result of :func:`pfr_loss`.

    ``total`` is the weighted scalar of Eq. (4); ``style`` and ``content`` map each stage
    (2..5) to its *unweighted* scalar term, detached, for logging and plots.
    """

    total: Tensor
    style: dict[int, Tensor]
    content: dict[int, Tensor]


def pfr_loss(
    feats_s: Sequence[Tensor],
    feats_t: Sequence[Tensor],
    stages: Sequence[int] = PFR_STAGES,
    style_weight: float = 1.0,
    content_weight: float = 1.0,
    gram_normalize: GramNorm = "chw",
    content_form: ContentForm = "rms",
    style_pairing: StylePairing = "pair",
) -> PFRLoss:
    """Progressive feature refinement loss, Eq. (4): ``L_pfr = L_sty + L_con``.

    Eq. (4) is Eq. (2) plus Eq. (3): each stage's terms are :func:`style_loss` and
    :func:`content_loss` of that one stage (kept per stage for logging), and the total is
    ``style_weight * sum_i S_i + content_weight * sum_i C_i``. The paper sums the two terms with
    equal weight; ``style_weight`` and ``content_weight`` (both 1.0 by default, i.e. the paper)
    let experiments switch either off or rebalance them.

    Args:
        feats_s, feats_t: 4-tuples of stage outputs (stage 2..5) for source and target images;
            stage ``i`` has shape (B, C_i, H_i, W_i) (source and target may differ in H, W).
        stages: the stages to align (paper: all of 2, 3, 4, 5).
        style_weight, content_weight: weights of Eq. (2) and Eq. (3) inside Eq. (4), >= 0.
        gram_normalize: see :func:`gram_matrix`.
        content_form: see :func:`content_loss`.
        style_pairing: ``"pair"`` (Eq. 2 per image pair) or ``"batch"`` (batch-mean Gram
            matrices), see :func:`style_loss`.

    Returns:
        :class:`PFRLoss` with the differentiable total and the per-stage terms.
    """
    if style_weight < 0 or content_weight < 0:
        raise ValueError(
            f"style_weight and content_weight must be >= 0, got {style_weight} and {content_weight}"
        )
    pairs = _stage_pairs(feats_s, feats_t, stages)  # every stage checked before any is computed
    _check_choice("gram_normalize", gram_normalize, GRAM_NORMALIZATIONS)
    _check_choice("content_form", content_form, CONTENT_FORMS)
    _check_choice("style_pairing", style_pairing, STYLE_PAIRINGS)
    style = {i: _style_term(fs, ft, gram_normalize, style_pairing) for i, (fs, ft) in pairs.items()}  # Eq. (2)
    content = {i: _content_term(fs, ft, content_form) for i, (fs, ft) in pairs.items()}  # Eq. (3)
    total = style_weight * torch.stack(list(style.values())).sum()
    total = total + content_weight * torch.stack(list(content.values())).sum()
    return PFRLoss(
        total=total,
        style={k: v.detach() for k, v in style.items()},
        content={k: v.detach() for k, v in content.items()},
    )


# --------------------------------------------------------------------------- Eq. (5) adversarial
def discriminator_loss(d_src: Tensor, d_tgt: Tensor, kind: AdvKind = "bce") -> Tensor:
    """Discriminator side of Eq. (5): tell source outputs (label 0) from target outputs (label 1).

    Args:
        d_src, d_tgt: discriminator logits (B, 1, h', w') on the softmax outputs of source and
            target images (detached from the segmentation network).
        kind: ``"bce"`` (AdaptSegNet's BCE-with-logits) or ``"lsgan"`` (least squares).

    Returns:
        Scalar: the average of the two halves, as AdaptSegNet trains them (``0.5 * each``).
    """
    _check_choice("adversarial loss kind", kind, GAN_KINDS)
    return 0.5 * (_adv_criterion(d_src, SOURCE_LABEL, kind) + _adv_criterion(d_tgt, TARGET_LABEL, kind))


def generator_loss(d_tgt: Tensor, kind: AdvKind = "bce") -> Tensor:
    """Generator (fooling) side of Eq. (5): make target outputs look like source (label 0).

    Args:
        d_tgt: discriminator logits (B, 1, h', w') on the target softmax output (gradients flow
            into the segmentation network; the discriminator's parameters are frozen).
        kind: ``"bce"`` or ``"lsgan"``.

    Returns:
        Scalar ``L_adv`` as weighted by ``lambda_adv`` in Eq. (6).
    """
    _check_choice("adversarial loss kind", kind, GAN_KINDS)
    return _adv_criterion(d_tgt, SOURCE_LABEL, kind)


def _adv_criterion(d_out: Tensor, value: float, kind: AdvKind) -> Tensor:
    """BCE-with-logits (``"bce"``) or mean squared error (``"lsgan"``) of ``d_out`` against a
    constant domain label ``value``, for a checked ``kind``."""
    target = torch.full_like(d_out, value)
    if kind == "bce":
        return F.binary_cross_entropy_with_logits(d_out, target)
    return F.mse_loss(d_out, target)


# --------------------------------------------------------------------------- Eq. (6) total
def total_loss(terms: Mapping[str, Tensor], weights: Mapping[str, float]) -> Tensor:
    """Eq. (6): ``L_total = L_seg + lambda_adv L_adv + lambda_pfr L_pfr``, the loss of one iteration.

    Args:
        terms: scalar loss terms by name: ``seg`` (Eq. 1), ``adv`` (Eq. 5, fooling side), ``pfr``
            (Eq. 4), and with AdaptSegNet's multi-level model ``seg_aux`` / ``adv_aux`` (the
            auxiliary head's segmentation and fooling terms).
        weights: a weight for every term, e.g. ``LossConfig.effective_weights()``:
            ``{"seg": 1, "seg_aux": 0.1, "adv": 0.002, "adv_aux": 0.0002, "pfr": 0.004}``.
            Extra weights (for terms a method does not compute) are ignored.

    Returns:
        The scalar ``sum_k weights[k] * terms[k]`` (summed in the order of ``terms``).

    Raises:
        KeyError: a term without a weight (naming it).
    """
    missing = [k for k in terms if k not in weights]
    if missing:
        raise KeyError(f"total_loss: no weight for term(s) {missing}; weights given for {sorted(weights)}")
    return sum(weights[k] * v for k, v in terms.items())


# --------------------------------------------------------------------------- input checks
def _check_choice(name: str, value, allowed: tuple[str, ...]) -> None:
    """Raise ``ValueError("name must be 'a', 'b' or 'c', got 'x'")`` unless ``value`` is allowed."""
    if value not in allowed:
        words = ", ".join(repr(a) for a in allowed[:-1]) + f" or {allowed[-1]!r}"
        raise ValueError(f"{name} must be {words}, got {value!r}")


def _check_feature_map(f: Tensor, name: str) -> None:
    if not isinstance(f, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (B, C, H, W), got {type(f).__name__}")
    if f.dim() != 4:
        raise ValueError(f"{name} must have shape (B, C, H, W), got {tuple(f.shape)}")


def _select_stages(feats: Sequence[Tensor], stages: Sequence[int], name: str) -> list[Tensor]:
    """Pick the paper's stages ``i`` from a 4-tuple of stage outputs (stage i = feats[i - 2])."""
    if len(feats) != 4:
        raise ValueError(
            f"{name} must be the 4 stage outputs (stages 2..5) of SegmentationOutput.features, "
            f"got {len(feats)} tensors"
        )
    out = []
    for s in stages:
        if s not in PFR_STAGES:
            raise ValueError(f"stages must be a subset of {PFR_STAGES} (paper Section 3.2), got {tuple(stages)}")
        out.append(feats[s - 2])
    return out


def _stage_pairs(feats_s: Sequence[Tensor], feats_t: Sequence[Tensor],
                 stages: Sequence[int]) -> dict[int, tuple[Tensor, Tensor]]:
    """The check of Eq. (2)-(4)'s inputs: ``{stage: (source map, target map)}`` for ``stages``.

    Raises (naming the parameter or the stage) unless ``stages`` is a non-empty subset of
    :data:`PFR_STAGES`, both feature lists hold 4 stage outputs, and each selected pair is two
    (B, C, H, W) tensors with the same B and C.
    """
    if len(stages) == 0:
        raise ValueError("stages must name at least one of the paper's stages 2..5")
    sel_s = _select_stages(feats_s, stages, "feats_s")
    sel_t = _select_stages(feats_t, stages, "feats_t")
    pairs: dict[int, tuple[Tensor, Tensor]] = {}
    for stage, fs, ft in zip(stages, sel_s, sel_t):
        _check_feature_map(fs, f"source features (stage {stage})")
        _check_feature_map(ft, f"target features (stage {stage})")
        if fs.shape[:2] != ft.shape[:2]:
            raise ValueError(
                f"stage {stage}: source and target features need the same batch size and channels, "
                f"got {tuple(fs.shape)} and {tuple(ft.shape)}"
            )
        pairs[int(stage)] = (fs, ft)
    return pairs
