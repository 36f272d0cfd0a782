"""Segmentation networks, the output-space discriminator and weight loading.

The paper (Section 3.1) uses AdaptSegNet's setting: DeepLab-v2 on a ResNet-101 whose stages 2..5
(``layer1..layer4``) give the features that PFR aligns (Eq. 2-4), and whose softmax output the
discriminator of Eq. (5) judges.

==========================  ==================================================================
``build_model(name, K)``    one of :data:`MODEL_NAMES` (below)
``build_from_config(cfg)``  the same from a :class:`pfrlib.config.ModelConfig` (what training uses)
``DeepLabV2``               ``"deeplabv2_r101"``: AdaptSegNet's multi-level DeepLab-v2, key for
                            key (:mod:`.deeplabv2`); input ``"caffe_bgr"``
``DilatedResNet``           ``"dilated_r18"`` / ``"dilated_r50"`` / ``"dilated_r101"``:
                            torchvision ResNets at output stride 8 (:mod:`.dilated_resnet`);
                            input ``"imagenet"``
``SmallSegNet``             ``"small"``: ~0.2M-parameter CPU model, same shape of computation
                            (:mod:`.small`); input ``"unit"``
``FCDiscriminator``         AdaptSegNet's output-space discriminator (:mod:`.discriminator`)
``TwoClassifierNet``        CLAN's two classifiers on one backbone, prediction = their sum
                            (:mod:`.two_classifier`; ``ModelConfig.classifiers = 2``)
``load_adaptsegnet_weights``  DeepLab init / AdaptSegNet checkpoints -> :class:`LoadReport`
==========================  ==================================================================

Every segmentation model returns :class:`SegmentationOutput` ``(logits, aux_logits, features)``,
has ``num_classes``, ``normalization`` (formulas in :mod:`.common`) and ``param_groups(lr)``
(backbone at ``lr``, heads at ``10 lr``).
"""

from __future__ import annotations

import numbers
from functools import partial
from typing import Callable

import torch.nn as nn

from pfrlib.models.deeplabv2 import DeepLabV2
from pfrlib.models.dilated_resnet import DilatedResNet
from pfrlib.models.small import SmallSegNet
from pfrlib.models.two_classifier import TwoClassifierNet
from pfrlib.models.weights import load_adaptsegnet_weights

__all__ = ["MODEL_NAMES", "MODEL_TITLES", "BUILDERS", "build_model", "build_from_config", "model_title"]

#: name -> constructor ``f(num_classes, **kwargs)`` (signatures show the accepted keywords).
BUILDERS: dict[str, Callable[..., nn.Module]] = {
    "deeplabv2_r101": DeepLabV2,
    "dilated_r18": partial(DilatedResNet, depth=18),
    "dilated_r50": partial(DilatedResNet, depth=50),
    "dilated_r101": partial(DilatedResNet, depth=101),
    "small": SmallSegNet,
}
MODEL_NAMES: tuple[str, ...] = tuple(BUILDERS)
#: name -> the network in words, as tables and figures show it (the names are for commands and files).
MODEL_TITLES: dict[str, str] = {
    "deeplabv2_r101": "DeepLab-v2 / ResNet-101",
    "dilated_r18": "dilated ResNet-18",
    "dilated_r50": "dilated ResNet-50",
    "dilated_r101": "dilated ResNet-101",
    "small": "small CPU network",
}


def model_title(name: str) -> str:
    """The network registered as ``name`` in words (:data:`MODEL_TITLES`); ValueError listing the names otherwise."""
    if name not in MODEL_TITLES:
        raise ValueError(f"model name {name!r} is unknown; expected one of {', '.join(MODEL_NAMES)}")
    return MODEL_TITLES[name]


def build_model(name: str, num_classes: int, **kwargs) -> nn.Module:
    """Build the segmentation model registered as ``name`` with ``num_classes`` outputs.

    ``kwargs`` go to the constructor (e.g. ``multi_level=False``, ``aspp_branches=4``,
    ``bn_mode="frozen"``, ``weights_path=...``). For ``"deeplabv2_r101"`` a ``weights_path``
    (DeepLab init file or AdaptSegNet checkpoint) is loaded with :func:`load_adaptsegnet_weights`
    and its report kept as ``model.load_report``.

    Raises:
        ValueError: unknown ``name`` (the message lists :data:`MODEL_NAMES`) or ``num_classes < 1``.
    """
    if name not in BUILDERS:
        raise ValueError(f"model name {name!r} is unknown; expected one of {', '.join(MODEL_NAMES)}")
    if isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral) or num_classes < 1:
        raise ValueError(f"num_classes: expected an integer >= 1, got {num_classes!r}")
    num_classes = int(num_classes)
    if name == "deeplabv2_r101" and "weights_path" in kwargs:
        path = kwargs.pop("weights_path")
        model = DeepLabV2(num_classes, **kwargs)
        if path is not None:
            model.load_report = load_adaptsegnet_weights(model, path)
        return model
    return BUILDERS[name](num_classes, **kwargs)


def build_from_config(model_cfg, load_init: bool = True) -> nn.Module:
    """The segmentation network a :class:`pfrlib.config.ModelConfig` describes.

    ``build_model(model_cfg.arch, model_cfg.num_classes, multi_level=model_cfg.multi_level,
    **model_cfg.model_kwargs)``; then, when ``load_init`` and ``model_cfg.init`` is set, the
    DeepLab / AdaptSegNet ``.pth`` it names is loaded with :func:`load_adaptsegnet_weights`.
    With ``model_cfg.classifiers == 2`` (CLAN) the network is wrapped in :class:`TwoClassifierNet`
    after the initial weights are loaded. Errors name the config field (``model_kwargs``, ``arch``,
    ``classifiers``).
    """
    kwargs = dict(model_cfg.model_kwargs)
    if "multi_level" in kwargs:
        raise ValueError("model_kwargs: set multi_level with its own field (--multi-level), not in model_kwargs")
    if getattr(model_cfg, "aspp_branches", None) is not None:  # its own field (--aspp-branches)
        if "aspp_branches" in kwargs:
            raise ValueError("model_kwargs: set aspp_branches with its own field (--aspp-branches), not in model_kwargs")
        kwargs["aspp_branches"] = model_cfg.aspp_branches
    try:
        model = build_model(model_cfg.arch, model_cfg.num_classes, multi_level=model_cfg.multi_level, **kwargs)
    except TypeError as err:
        raise ValueError(f"model_kwargs: build_model({model_cfg.arch!r}) rejected {kwargs}: {err}") from err
    if load_init and model_cfg.init is not None:
        load_adaptsegnet_weights(model, model_cfg.init)
    classifiers = int(getattr(model_cfg, "classifiers", 1))
    if classifiers == 2:
        model = TwoClassifierNet(model)
    elif classifiers != 1:
        raise ValueError(f"classifiers: expected 1 or 2 (CLAN), got {classifiers}")
    return model
