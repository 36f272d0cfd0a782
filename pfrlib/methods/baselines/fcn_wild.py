"""FCNs in the Wild (Hoffman, Wang, Yu, Darrell, arXiv 1612.02649, 2016), ``--method fcn_wild``.

The paper adapts a segmentation FCN with two terms, which we keep (named as in the paper;
equation numbers are not cited: we could not check them against the paper text here):

* **global domain alignment**: a fully convolutional domain discriminator
  on the last feature layer (``fc7`` of its VGG FCN; here stage 5, :class:`FeatureDiscriminator`)
  tells source from target per position; the network is trained to fool it (the "inverted label"
  loss: target features labelled source, the engine's Eq. 5 with features instead of softmax);
* **category-specific adaptation**: the share of a target image's pixels
  assigned to class ``c`` must lie between bounds ``alpha_c`` and ``beta_c`` computed from the
  source labels' per-image class sizes, for the classes present in the image (which classes are
  present comes from the current prediction here, never from a target label; the 10% / 90%
  quantiles are our choice, ``FCNWildConfig``). The paper enforces this with constrained pseudo-labels (Pathak et al.'s CCNN: find
  the labelling closest to the prediction that meets the bounds, train on it). We use a smooth
  equivalent with the same feasible set: a hinge on the *predicted* class proportions
  (:func:`class_size_constraint_loss`), ``sum_c present_c (relu(alpha_c - P_c) + relu(P_c - beta_c))``,
  zero exactly when the soft class sizes satisfy the bounds, with a gradient towards them otherwise.

Its bounds (:func:`class_size_bounds`) come from the first ``fcn_stat_images`` source training
labels (:class:`FCNWild` keeps them as buffers, so they are in the checkpoint). The loss weights
are ours (:class:`pfrlib.config.FCNWildConfig`): the paper's belong to its VGG-16 FCN8s solver.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from pfrlib.paper.losses import generator_loss
from pfrlib.models.common import feature_shapes
from pfrlib.paper.step import Baseline, BaselineInputs, BaselineTerms, DiscriminatorInputs
from pfrlib.methods.baselines.common import check_weights, label_distribution, predicted_distribution

__all__ = ["FCNWildConfig", "FCNWild", "FeatureDiscriminator", "class_size_bounds", "class_size_constraint_loss",
           "source_class_sizes", "feature_channels"]


@dataclass
class FCNWildConfig:
    """``--method fcn_wild`` (Hoffman et al. 2016; :mod:`pfrlib.methods.baselines.fcn_wild`).

    The paper trains VGG-16 FCN8s with its own solver settings; its loss weights do not carry to
    this network, so the weights below are our choice (AdaptSegNet's scale), the 10% / 90%
    quantiles and the presence threshold too (the paper bounds class sizes by source statistics).
    """

    #: Weight of the fooling term of the feature-level (last stage) domain discriminator.
    fcn_lambda_adv: float = 0.001
    #: Weight of the category-specific class-size constraint.
    fcn_lambda_constraint: float = 0.01
    #: Per-class lower / upper bound: these quantiles of the class's pixel fraction over the source
    #: images that contain it (1.0 = the maximum).
    fcn_lower_quantile: float = 0.1
    fcn_upper_quantile: float = 0.9
    #: A class is constrained in a target image when its predicted (argmax) share is at least this.
    fcn_presence: float = 0.001
    #: Source training images whose labels give the class-size statistics (the first N).
    fcn_stat_images: int = 200

    def loss_weights(self) -> dict[str, float]:
        """The weights of the two FCNs-in-the-Wild terms in Eq. (6)'s sum."""
        return {"fcn_adv": self.fcn_lambda_adv, "fcn_constraint": self.fcn_lambda_constraint}

    @classmethod
    def cpu(cls) -> "FCNWildConfig":
        """The ``cpu`` preset's values (chosen on seed 0; ``docs/tuning.md``, "Table 1 baselines")."""
        return cls(fcn_lambda_adv=0.002, fcn_lambda_constraint=0.1)

    @staticmethod
    def paper_overrides() -> dict[str, Any]:
        """What the ``paper`` preset changes for ``--method fcn_wild`` (``docs/baselines.md``).

        No public code of this paper was found, so only what its paper says about the network
        applies: one classifier, no AdaptSegNet-style auxiliary head. The rest is the engine's
        (AdaptSegNet's) recipe.
        """
        return {"multi_level": False}

    def validate(self, check_paths: bool = True) -> None:
        """Reject bad values (checked whatever the method: a config file stays valid)."""
        check_weights(self, "fcn_lambda_adv", "fcn_lambda_constraint")
        for name in ("fcn_lower_quantile", "fcn_upper_quantile", "fcn_presence"):
            v = getattr(self, name)
            if not (0 <= v <= 1):
                raise ValueError(f"{name} must be in [0, 1], got {v}")
        if self.fcn_lower_quantile > self.fcn_upper_quantile:
            raise ValueError(f"fcn_lower_quantile ({self.fcn_lower_quantile}) must be <= fcn_upper_quantile "
                             f"({self.fcn_upper_quantile})")
        if self.fcn_stat_images < 1:
            raise ValueError(f"fcn_stat_images must be >= 1, got {self.fcn_stat_images}")


class FeatureDiscriminator(nn.Module):
    """A fully convolutional domain discriminator on feature maps (resolution kept).

    B x C x h x w -> B x 1 x h x w logits: 3x3 conv (C -> ndf), LeakyReLU(0.2), 3x3 conv
    (ndf -> ndf), LeakyReLU(0.2), 1x1 conv (ndf -> 1).
    """

    def __init__(self, in_channels: int, ndf: int = 64) -> None:
        super().__init__()
        if int(in_channels) < 1 or int(ndf) < 1:
            raise ValueError(f"in_channels, ndf: expected positive integers, got {in_channels!r}, {ndf!r}")
        self.in_channels = int(in_channels)
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, ndf, 3, padding=1), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf, ndf, 3, padding=1), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf, 1, 1),
        )

    def forward(self, f: Tensor) -> Tensor:
        """B x C x h x w features -> B x 1 x h x w logits ("source" vs "target")."""
        if f.dim() != 4 or f.shape[1] != self.in_channels:
            raise ValueError(f"f: expected B x {self.in_channels} x h x w, got shape {tuple(f.shape)}")
        return self.net(f)


def feature_channels(model: nn.Module) -> int:
    """Channels of the network's stage-5 features (one shape-only forward on the meta device)."""
    base = getattr(model, "base", model)
    return int(feature_shapes(base, (1, 3, 65, 65))[3][1])


def class_size_bounds(sizes: Tensor, lower_quantile: float, upper_quantile: float) -> tuple[Tensor, Tensor]:
    """FCNs in the Wild, category-specific adaptation: per-class bounds on an image's class size from source statistics.

    Args:
        sizes: N x K per-image class fractions of N source label maps
            (:func:`~pfrlib.methods.baselines.common.label_distribution`).
        lower_quantile, upper_quantile: quantiles of a class's fraction over the source images in
            which it appears (``FCNWildConfig``: 0.1 and 0.9).

    Returns:
        ``(alpha, beta)``, two K vectors (float32); a class that never appears gets ``(0, 0)``.
    """
    if sizes.dim() != 2:
        raise ValueError(f"sizes: expected N x K class fractions, got shape {tuple(sizes.shape)}")
    k = sizes.shape[1]
    alpha, beta = torch.zeros(k), torch.zeros(k)
    for c in range(k):
        present = sizes[:, c][sizes[:, c] > 0].float()
        if present.numel():
            alpha[c] = torch.quantile(present, lower_quantile)
            beta[c] = torch.quantile(present, upper_quantile)
    return alpha, beta


def class_size_constraint_loss(proportions: Tensor, alpha: Tensor, beta: Tensor, present: Tensor) -> Tensor:
    """FCNs in the Wild's class-size constraint, smooth form: the predicted class sizes kept within bounds.

    ``L = mean_b sum_c present_bc * (relu(alpha_c - P_bc) + relu(P_bc - beta_c))``.

    Args:
        proportions: B x K predicted class proportions ``P`` (mean softmax over the pixels).
        alpha, beta: K lower / upper bounds (:func:`class_size_bounds`).
        present: B x K booleans: the classes constrained in each image.

    Returns:
        Scalar >= 0; 0 when every present class's size lies within its bounds.
    """
    if proportions.dim() != 2 or present.shape != proportions.shape:
        raise ValueError(f"proportions, present: expected two B x K tensors, got {tuple(proportions.shape)} "
                         f"and {tuple(present.shape)}")
    alpha = alpha.to(proportions)
    beta = beta.to(proportions)
    gap = torch.relu(alpha - proportions) + torch.relu(proportions - beta)
    return (gap * present.to(proportions)).sum(dim=1).mean()


def source_class_sizes(dataset, num_classes: int, limit: int) -> Tensor:
    """N x K class fractions of the first ``limit`` source training label maps (N = min(limit, len)).

    The dataset's random augmentation draws from torch's global generator: its state is restored
    afterwards, so computing the statistics changes nothing else in the run.
    """
    n = min(int(limit), len(dataset))
    rows = []
    with torch.random.fork_rng(devices=[]):
        for i in range(n):
            _, label = dataset[i]
            rows.append(label_distribution(torch.as_tensor(label).unsqueeze(0), num_classes)[0])
    return torch.stack(rows)


class FCNWild(Baseline):
    """``--method fcn_wild``: the terms ``fcn_adv`` (feature-level fooling) and ``fcn_constraint``.

    Discriminator ``"feature"``: :class:`FeatureDiscriminator` on the stage-5 features.
    Buffers ``alpha``, ``beta``: the class-size bounds (K each).
    """

    needs_source_labels = True

    def __init__(self, model: nn.Module, cfg, source_dataset) -> None:
        super().__init__()
        f = cfg.fcn_wild
        self.f = f
        self.ndf = cfg.model.ndf
        self.channels = feature_channels(model)
        sizes = source_class_sizes(source_dataset, cfg.model.num_classes, f.fcn_stat_images)
        alpha, beta = class_size_bounds(sizes, f.fcn_lower_quantile, f.fcn_upper_quantile)
        self.register_buffer("alpha", alpha)
        self.register_buffer("beta", beta)

    def build_discriminators(self) -> dict[str, nn.Module]:
        return {"feature": FeatureDiscriminator(self.channels, ndf=self.ndf)}

    def network_terms(self, inp: BaselineInputs) -> BaselineTerms:
        fs, ft = inp.out_s.features[-1], inp.out_t.features[-1]
        adv = generator_loss(inp.discriminators["feature"](ft), inp.gan)
        proportions = predicted_distribution(inp.logits_t)
        with torch.no_grad():  # image-level labels from the current prediction (not a target label)
            hard = torch.nn.functional.one_hot(inp.logits_t.argmax(1), proportions.shape[1]).float().mean(dim=(1, 2))
            present = hard >= max(self.f.fcn_presence, 1e-12)
        constraint = class_size_constraint_loss(proportions, self.alpha, self.beta, present)
        return BaselineTerms({"fcn_adv": adv, "fcn_constraint": constraint},
                             {"feature": DiscriminatorInputs(fs, ft, softmax=False)})
