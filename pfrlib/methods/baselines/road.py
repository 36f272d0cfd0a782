"""ROAD: reality oriented adaptation (Chen, Li, Van Gool, CVPR 2018), ``--method road``.

The paper's two modules, on this engine (named as in the paper; equation numbers are not cited:
we could not check them against the paper text here):

* **target guided distillation**: on *target* images the segmentation
  network's features are pulled towards those of a frozen reference network,
  ``L_dist = 1/2 sum_i ||x_i - x^_i||^2`` over positions ``i`` of the last feature map
  (:func:`distillation_loss`; we average over positions and channels instead of summing, so the
  weight carries between models and resolutions). ROAD's reference is the ImageNet-pretrained
  model. No pretrained weights ship here, so the reference (:class:`ROADConfig.road_reference`)
  is either **this run's initial weights** (the default: with ``--init`` and the DeepLab-v2
  ImageNet init file that *is* ROAD's reference; with the ``cpu`` preset's randomly initialised
  model it is a random network, and the term then acts as a pull of the target features towards
  their starting point), or a checkpoint of this project named by the option (e.g. a
  ``source_only`` run's ``checkpoint_last.pt``, a source-trained reference);
* **spatial-aware adaptation**: the feature map is split into a
  ``grid x grid`` array of regions (urban scenes keep their layout: road at the bottom, sky at the
  top) and each region has its own domain discriminator (:class:`RegionDiscriminators`, pixel-wise
  1x1 classifiers, one per region, applied only inside their region); the network is trained to
  fool all of them (target labelled source, the engine's Eq. 5 on features).

The weights and the grid are ours (:class:`pfrlib.config.ROADConfig`): ROAD's belong to its
VGG-16 / PSPNet training.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import torch
from torch import Tensor, nn

from pfrlib.paper.losses import generator_loss
from pfrlib.paper.step import Baseline, BaselineInputs, BaselineTerms, DiscriminatorInputs
from pfrlib.methods.baselines.common import check_weights
from pfrlib.methods.baselines.fcn_wild import feature_channels

__all__ = ["ROADConfig", "ROAD", "RegionDiscriminators", "region_index", "distillation_loss", "load_reference"]


@dataclass
class ROADConfig:
    """``--method road`` (Chen, Li, Van Gool, CVPR 2018; :mod:`pfrlib.methods.baselines.road`).

    The weights and the grid are our choice (ROAD trains VGG-16 / PSPNet with its own settings).
    """

    #: Weight of the fooling term of the region discriminators (spatial-aware adaptation).
    road_lambda_adv: float = 0.001
    #: Weight of the target-guided distillation term.
    road_lambda_distill: float = 0.1
    #: The last-stage feature map is split into ``road_grid x road_grid`` regions, one domain
    #: discriminator each.
    road_grid: int = 3
    #: The frozen reference network: ``None`` = this run's initial weights (the ImageNet-pretrained
    #: DeepLab init with ``--init``: ROAD's reference exactly), or a checkpoint of this project
    #: (e.g. a source-only run's ``checkpoint_last.pt``) with the same ``arch``.
    road_reference: Optional[str] = None

    def loss_weights(self) -> dict[str, float]:
        """The weights of ROAD's two terms in Eq. (6)'s sum."""
        return {"road_adv": self.road_lambda_adv, "road_distill": self.road_lambda_distill}

    @classmethod
    def cpu(cls) -> "ROADConfig":
        """The ``cpu`` preset's values (chosen on seed 0; ``docs/tuning.md``, "Table 1 baselines")."""
        return cls(road_lambda_adv=0.01, road_lambda_distill=0.01)

    @staticmethod
    def paper_overrides() -> dict[str, Any]:
        """What the ``paper`` preset changes for ``--method road`` (``docs/baselines.md``).

        No public code of this paper was found, so only what its paper says about the network
        applies: one classifier, no AdaptSegNet-style auxiliary head. The rest is the engine's
        (AdaptSegNet's) recipe.
        """
        return {"multi_level": False}

    def validate(self, check_paths: bool = True) -> None:
        """Reject bad values; with ``check_paths`` the reference checkpoint must exist."""
        check_weights(self, "road_lambda_adv", "road_lambda_distill")
        if self.road_grid < 1:
            raise ValueError(f"road_grid must be >= 1, got {self.road_grid}")
        if check_paths and self.road_reference is not None and not Path(self.road_reference).is_file():
            raise FileNotFoundError(f"road_reference: reference checkpoint {self.road_reference!r} does not exist")


def region_index(h: int, w: int, grid: int, device: Optional[torch.device] = None) -> Tensor:
    """ROAD's spatial-aware adaptation: which of the ``grid x grid`` regions each position of an h x w map is in.

    Returns:
        h x w int64, ``row_band * grid + column_band`` with bands ``floor(i * grid / h)`` (regions
        differ in size by at most one row / column when ``grid`` does not divide the size).
    """
    if grid < 1 or h < 1 or w < 1:
        raise ValueError(f"grid, h, w: expected positive integers, got {grid}, {h}, {w}")
    rows = torch.arange(h, device=device) * grid // h
    cols = torch.arange(w, device=device) * grid // w
    return rows[:, None] * grid + cols[None, :]


class RegionDiscriminators(nn.Module):
    """``grid * grid`` domain discriminators, one per region of the feature map (ROAD's
    spatial-aware adaptation).

    Each is a pixel-wise classifier (1x1 conv C -> ``hidden``, LeakyReLU(0.2), 1x1 conv -> 1);
    all run as one conv and one grouped conv, and each position keeps the logit of its own
    region's classifier. B x C x h x w -> B x 1 x h x w logits.
    """

    def __init__(self, in_channels: int, grid: int = 3, hidden: int = 64) -> None:
        super().__init__()
        if int(in_channels) < 1 or int(grid) < 1 or int(hidden) < 1:
            raise ValueError(f"in_channels, grid, hidden: expected positive integers, got {in_channels}, {grid}, {hidden}")
        self.in_channels, self.grid = int(in_channels), int(grid)
        g = self.grid * self.grid
        self.hidden = nn.Conv2d(in_channels, g * hidden, 1)
        self.act = nn.LeakyReLU(0.2, inplace=True)
        self.classifier = nn.Conv2d(g * hidden, g, 1, groups=g)

    def forward(self, f: Tensor) -> Tensor:
        """B x C x h x w features -> B x 1 x h x w logits (each from its region's classifier)."""
        if f.dim() != 4 or f.shape[1] != self.in_channels:
            raise ValueError(f"f: expected B x {self.in_channels} x h x w, got shape {tuple(f.shape)}")
        h, w = f.shape[-2:]
        if h < self.grid or w < self.grid:
            raise ValueError(f"f: a {h} x {w} map cannot be split into {self.grid} x {self.grid} regions")
        all_regions = self.classifier(self.act(self.hidden(f)))  # B x G x h x w
        idx = region_index(h, w, self.grid, f.device).expand(f.shape[0], 1, h, w)
        return all_regions.gather(1, idx)


def distillation_loss(features: Tensor, reference: Tensor) -> Tensor:
    """ROAD's target guided distillation: ``1/2 ||x - x_ref||^2``, averaged over batch, positions and channels.

    Args:
        features: B x C x h x w features of the network being adapted (target images).
        reference: the frozen reference network's features on the same images, same shape.

    Returns:
        Scalar >= 0, 0 when the features equal the reference's.
    """
    if features.shape != reference.shape:
        raise ValueError(f"features, reference: expected one shape, got {tuple(features.shape)} and {tuple(reference.shape)}")
    return 0.5 * (features.float() - reference.float()).pow(2).mean()


def load_reference(model: nn.Module, path: Optional[str]) -> nn.Module:
    """The frozen reference: a copy of ``model`` (its initial weights), or loaded from ``path``
    (a checkpoint of this project, its ``"model"`` entry, or a bare state dict of the same arch)."""
    ref = copy.deepcopy(model)
    if path is not None:
        state = torch.load(Path(path), map_location="cpu", weights_only=True)
        state = state.get("model", state) if isinstance(state, dict) else state
        try:
            ref.load_state_dict(state)
        except RuntimeError as err:
            raise ValueError(f"road_reference: {path!r} does not hold weights of this network: {err}") from None
    ref.requires_grad_(False)
    return ref.eval()


class ROAD(Baseline):
    """``--method road``: the terms ``road_adv`` (region discriminators) and ``road_distill``.

    Submodule ``reference``: the frozen reference network (always in eval mode, no gradients).
    Discriminator ``"regions"``: :class:`RegionDiscriminators` on the stage-5 features.
    """

    def __init__(self, model: nn.Module, cfg) -> None:
        super().__init__()
        r = cfg.road
        self.grid = r.road_grid
        self.ndf = cfg.model.ndf
        self.channels = feature_channels(model)
        self.reference = load_reference(model, r.road_reference)

    def train(self, mode: bool = True) -> "ROAD":
        super().train(mode)
        self.reference.eval()  # the reference never changes, batch statistics included
        return self

    def build_discriminators(self) -> dict[str, nn.Module]:
        return {"regions": RegionDiscriminators(self.channels, grid=self.grid, hidden=self.ndf)}

    def network_terms(self, inp: BaselineInputs) -> BaselineTerms:
        fs, ft = inp.out_s.features[-1], inp.out_t.features[-1]
        with torch.no_grad():
            ref = self.reference(inp.xt).features[-1]
        adv = generator_loss(inp.discriminators["regions"](ft), inp.gan)
        return BaselineTerms({"road_adv": adv, "road_distill": distillation_loss(ft, ref)},
                             {"regions": DiscriminatorInputs(fs, ft, softmax=False)})
