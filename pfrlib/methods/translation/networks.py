"""The translation networks of the CycleGAN recipe (Zhu et al., ICCV 2017, Sec. 4 and appendix 7.2).

* :class:`ResnetGenerator` - ``c7s1-k, d2k, d4k, R4k x n, u2k, uk, c7s1-3`` (the paper's notation:
  a 7x7 convolution, ``n_down`` stride-2 downsamplings, ``n_blocks`` residual blocks, as many
  2x upsamplings, a 7x7 convolution and ``tanh``); reflection padding. Each upsampling
  (:func:`upsampler`, :data:`UPSAMPLINGS`) is a *resize-convolution* by default: a nearest (or
  bilinear) 2x resize, then a 3x3 convolution. CycleGAN's own ``u_k`` is a fractional-stride
  (transposed) 3x3 convolution of stride 2 (``"transposed"``): its kernel overlaps unevenly (each
  output pixel receives 1, 2 or 4 kernel taps by the parity of its row and column), which draws a
  checkerboard even on a constant input (Odena et al. 2016, "Deconvolution and Checkerboard
  Artifacts"); a resize-convolution weights every output pixel alike. The normalisation is
  pluggable (:data:`NORMS`):

  - ``"instance"``: instance normalisation (CycleGAN, CyCADA);
  - ``"conditional"``: conditional instance normalisation whose scale and shift are an affine
    function of DLOW's domainness ``z`` (Gong et al., CVPR 2019, Sec. 3.3: the generator takes
    ``z`` as an input and ``G(x, z)`` lands in the intermediate domain ``M(z)``);
  - ``"adain"``: adaptive instance normalisation whose scale and shift come from a *style code*
    of a target image (TGCF-DA's target-guided generator, Choi et al., ICCV 2019, Sec. 3.1:
    source content, target style, no cycle).

* :class:`PatchDiscriminator` - ``C64-C128-C256-C512`` then a 1-channel 4x4 convolution: with
  ``n_layers = 3`` each output pixel sees a 70 x 70 patch of the input (the "70x70 PatchGAN").
* :class:`StyleEncoder` - a small strided CNN + global average pooling that turns a target image
  into the style code of ``"adain"`` (TGCF-DA).

Images are ``B x 3 x H x W`` in ``[-1, 1]``; ``H`` and ``W`` must be divisible by ``2 ** n_down``.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor, nn

__all__ = ["NORMS", "UPSAMPLINGS", "upsampler", "ConditionalInstanceNorm2d", "ResnetGenerator", "PatchDiscriminator",
           "StyleEncoder", "patch_receptive_field", "count_parameters"]

#: Normalisations of :class:`ResnetGenerator`.
NORMS: tuple[str, ...] = ("instance", "conditional", "adain")
#: The generator's 2x upsamplings (:func:`upsampler`), the default first.
UPSAMPLINGS: tuple[str, ...] = ("nearest", "bilinear", "transposed")


def count_parameters(module: nn.Module) -> int:
    """Number of trainable scalars of ``module``."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


class ConditionalInstanceNorm2d(nn.Module):
    """Instance norm whose affine parameters are driven by a condition vector ``c``.

    ``y = gamma(c) * (x - mu(x)) / sigma(x) + beta(c)`` with ``gamma(c) = 1 + W_g c`` and
    ``beta(c) = W_b c`` (linear maps, so the condition ``c = 0`` gives plain instance norm).

    For DLOW ``c = z`` (``B x 1``, the domainness); for TGCF-DA ``c`` is the style code
    (``B x S``). ``x`` is ``B x C x H x W``.
    """

    def __init__(self, channels: int, cond_dim: int) -> None:
        super().__init__()
        self.norm = nn.InstanceNorm2d(channels, affine=False)
        self.gamma = nn.Linear(cond_dim, channels)
        self.beta = nn.Linear(cond_dim, channels)
        for lin in (self.gamma, self.beta):
            nn.init.zeros_(lin.weight)
            nn.init.zeros_(lin.bias)
        self.cond: Optional[Tensor] = None  # set by the generator before each forward

    def forward(self, x: Tensor) -> Tensor:
        if self.cond is None:
            raise RuntimeError("ConditionalInstanceNorm2d: no condition set (call the generator with z / style)")
        g = 1.0 + self.gamma(self.cond)[:, :, None, None]
        b = self.beta(self.cond)[:, :, None, None]
        return g * self.norm(x) + b


def upsampler(kind: str, in_channels: int, out_channels: int) -> nn.Module:
    """One 2x upsampling of :class:`ResnetGenerator`, ``B x in x H x W -> B x out x 2H x 2W``.

    ``"nearest"`` / ``"bilinear"``: resize by 2, then a 3x3 convolution with reflection padding
    (a resize-convolution: every output pixel sees the same number of kernel taps, so a constant
    input gives a constant output). ``"transposed"``: CycleGAN's fractional-stride convolution
    (kernel 3, stride 2, padding 1, output padding 1), whose uneven overlap draws a checkerboard.
    """
    if kind == "transposed":
        return nn.ConvTranspose2d(in_channels, out_channels, 3, stride=2, padding=1, output_padding=1)
    if kind not in UPSAMPLINGS:
        raise ValueError(f"gen_upsampling: expected one of {UPSAMPLINGS}, got {kind!r}")
    resize = nn.Upsample(scale_factor=2, mode=kind, **({"align_corners": False} if kind == "bilinear" else {}))
    return nn.Sequential(resize, nn.ReflectionPad2d(1), nn.Conv2d(in_channels, out_channels, 3))


def _norm(kind: str, channels: int, cond_dim: int) -> nn.Module:
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=False)
    return ConditionalInstanceNorm2d(channels, cond_dim)


class _ResBlock(nn.Module):
    """``R_k``: two 3x3 convolutions with reflection padding and a skip connection."""

    def __init__(self, ch: int, norm: str, cond_dim: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(ch, ch, 3), _norm(norm, ch, cond_dim), nn.ReLU(True),
            nn.ReflectionPad2d(1), nn.Conv2d(ch, ch, 3), _norm(norm, ch, cond_dim))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class ResnetGenerator(nn.Module):
    """CycleGAN's ResNet generator with a pluggable normalisation (module docstring).

    Args:
        ngf: filters of the first layer (CycleGAN: 64).
        n_blocks: residual blocks (CycleGAN: 9 for 256x256 and larger, 6 for 128x128).
        n_down: stride-2 downsamplings (CycleGAN: 2).
        norm: one of :data:`NORMS`.
        cond_dim: size of the condition (1 for DLOW's ``z``, the style code size for ``"adain"``).
        upsampling: one of :data:`UPSAMPLINGS` (:func:`upsampler`; CycleGAN: ``"transposed"``).

    Call: ``G(x)`` (``"instance"``), ``G(x, z)`` with ``z`` of shape ``B`` or ``B x 1``
    (``"conditional"``), ``G(x, style)`` with ``style`` ``B x cond_dim`` (``"adain"``);
    ``B x 3 x H x W -> B x 3 x H x W`` in ``[-1, 1]``.
    """

    def __init__(self, ngf: int = 64, n_blocks: int = 9, n_down: int = 2, norm: str = "instance",
                 cond_dim: int = 1, upsampling: str = "nearest") -> None:
        super().__init__()
        if upsampling not in UPSAMPLINGS:
            raise ValueError(f"gen_upsampling: expected one of {UPSAMPLINGS}, got {upsampling!r}")
        if norm not in NORMS:
            raise ValueError(f"norm: expected one of {NORMS}, got {norm!r}")
        if ngf < 1 or n_blocks < 0 or n_down < 0:
            raise ValueError(f"ResnetGenerator needs ngf >= 1, n_blocks >= 0, n_down >= 0; got {ngf}, {n_blocks}, {n_down}")
        self.norm_kind, self.n_down = norm, n_down
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(3, ngf, 7), _norm(norm, ngf, cond_dim), nn.ReLU(True)]
        ch = ngf
        for _ in range(n_down):
            layers += [nn.Conv2d(ch, ch * 2, 3, stride=2, padding=1), _norm(norm, ch * 2, cond_dim), nn.ReLU(True)]
            ch *= 2
        layers += [_ResBlock(ch, norm, cond_dim) for _ in range(n_blocks)]
        for _ in range(n_down):
            layers += [upsampler(upsampling, ch, ch // 2), _norm(norm, ch // 2, cond_dim), nn.ReLU(True)]
            ch //= 2
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ch, 3, 7), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        self._conditional = [m for m in self.modules() if isinstance(m, ConditionalInstanceNorm2d)]

    def forward(self, x: Tensor, cond: Optional[Tensor] = None) -> Tensor:
        f = 2 ** self.n_down
        if x.shape[-2] % f or x.shape[-1] % f:
            raise ValueError(f"ResnetGenerator: image size {tuple(x.shape[-2:])} must be divisible by {f} (2 ** n_down)")
        if self._conditional:
            if cond is None:
                raise ValueError(f"ResnetGenerator(norm={self.norm_kind!r}) needs a condition (z or a style code)")
            cond = cond.reshape(x.shape[0], -1).to(x.dtype)
            for m in self._conditional:
                m.cond = cond
        try:
            return self.net(x)
        finally:
            for m in self._conditional:
                m.cond = None


class PatchDiscriminator(nn.Module):
    """CycleGAN's PatchGAN: ``C64-C128-C256-C512`` (4x4 convolutions, LeakyReLU 0.2, instance norm
    from the second layer on; stride 2 except the last) and a 1-channel 4x4 convolution.

    ``B x 3 x H x W -> B x 1 x H' x W'``: one real/fake score per patch (no sigmoid: the
    least-squares loss takes the raw score). ``n_layers = 3`` gives 70 x 70 patches
    (:func:`patch_receptive_field`).
    """

    def __init__(self, ndf: int = 64, n_layers: int = 3, in_channels: int = 3) -> None:
        super().__init__()
        if ndf < 1 or n_layers < 1:
            raise ValueError(f"PatchDiscriminator needs ndf >= 1 and n_layers >= 1; got {ndf}, {n_layers}")
        layers: list[nn.Module] = [nn.Conv2d(in_channels, ndf, 4, stride=2, padding=1), nn.LeakyReLU(0.2, True)]
        ch = ndf
        for i in range(1, n_layers + 1):
            nxt = ndf * min(2 ** i, 8)
            stride = 2 if i < n_layers else 1
            layers += [nn.Conv2d(ch, nxt, 4, stride=stride, padding=1), nn.InstanceNorm2d(nxt), nn.LeakyReLU(0.2, True)]
            ch = nxt
        layers += [nn.Conv2d(ch, 1, 4, stride=1, padding=1)]
        self.net = nn.Sequential(*layers)
        self.n_layers = n_layers

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


def patch_receptive_field(n_layers: int) -> int:
    """Side of the input patch one output of :class:`PatchDiscriminator` sees.

    Walk back from one output pixel: ``r <- (r - 1) * stride + 4`` per 4x4 convolution, for the
    last convolution (stride 1), the stride-1 layer, and ``n_layers`` stride-2 layers; 3 -> 70.
    """
    r = 1
    for stride in [1, 1] + [2] * n_layers:
        r = (r - 1) * stride + 4
    return r


class StyleEncoder(nn.Module):
    """A target image's style code (TGCF-DA): strided 4x4 convolutions, global average pooling, a
    linear layer. ``B x 3 x H x W -> B x style_dim``."""

    def __init__(self, nf: int = 64, style_dim: int = 8, n_down: int = 4) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(3, nf, 7, padding=3), nn.ReLU(True)]
        ch = nf
        for _ in range(n_down):
            nxt = min(ch * 2, nf * 4)
            layers += [nn.Conv2d(ch, nxt, 4, stride=2, padding=1), nn.ReLU(True)]
            ch = nxt
        self.net = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1))
        self.fc = nn.Linear(ch, style_dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(torch.flatten(self.net(x), 1))
