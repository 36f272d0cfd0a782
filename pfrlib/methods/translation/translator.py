"""Stage 1's networks and one update of them, per method: CyCADA, DLOW, TGCF-DA.

:class:`Translator` builds the generators and discriminators a method needs, their two Adam
optimisers (generators together, discriminators together, as CycleGAN's code) and the pools of
past fakes; :meth:`Translator.step` is one iteration: the generators' update on the method's
losses (:mod:`pfrlib.methods.translation.losses`), then the discriminators' update on detached fakes.

==========  =================================================================================
``cycada``   CycleGAN (``G: S -> T``, ``F: T -> S``, ``D_T``, ``D_S``): least-squares GAN +
             ``lambda_cycle`` x cycle + ``lambda_cycle * lambda_identity`` x identity, and with
             ``cycada_semantic`` CyCADA's semantic consistency (Eq. 5) through the frozen source
             model ``f_S`` in both directions (``f_S(G(x_s))`` against ``argmax f_S(x_s)``,
             ``f_S(F(x_t))`` against ``argmax f_S(x_t)``: target *images* only)
``dlow``     ``G(x_s, z)`` with conditional instance norm; the adversarial terms weighted by
             ``1 - z`` (``D_S``) and ``z`` (``D_T``), z ~ U[0, 1] per image; ``F`` maps back
             from any ``M(z)`` (cycle on the source side); the target side is CycleGAN's
             (``G(F(x_t), 1)``, identity ``G(x_t, 1) = x_t``), so z = 1 is CycleGAN's G; with
             ``dlow_source_identity`` the other end is held too: ``G(x_s, 0) = x_s``
             (``source_identity``, CycleGAN's identity weight), since ``M(0)`` is the source
             domain. Without it nothing but the ``1 - z`` weighted ``D_S`` separates ``z = 0``
             from ``z = 1``, and a short stage 1 gives the same target-like image at every z
``tgcf_da``  one cycle-free generator ``G(x_s, E(x_t))`` (source content, target style through
             AdaIN), ``D_T`` against real target images, and the semantic constraint
             ``CE(f_S(G(x_s, E(x_t))), y_s)`` with the *source labels*
==========  =================================================================================

Images are ``B x 3 x H x W`` floats in ``[-1, 1]``; ``f_S`` takes its own normalisation
(:func:`to_model_input`). Our choices where the papers leave room are said in each docstring.
"""

from __future__ import annotations

from typing import Any, Optional

import torch
from torch import Tensor, nn

from pfrlib.data.transforms import normalize
from pfrlib.methods.translation import losses as L
from pfrlib.methods.translation.config import TranslationConfig
from pfrlib.methods.translation.networks import PatchDiscriminator, ResnetGenerator, StyleEncoder, count_parameters
from pfrlib.methods.translation.pool import ImagePool

__all__ = ["Translator", "to_unit", "from_unit", "to_model_input"]


def to_unit(images_uint8: Tensor) -> Tensor:
    """uint8 ``B x 3 x H x W`` (0..255) -> float in ``[-1, 1]`` (the generators' range)."""
    return images_uint8.float() / 127.5 - 1.0


def from_unit(images: Tensor) -> Tensor:
    """float ``[-1, 1]`` -> uint8 0..255 (rounded; what the translated set stores)."""
    return ((images.clamp(-1, 1) + 1.0) * 127.5).round().to(torch.uint8)


def to_model_input(images: Tensor, mode: str) -> Tensor:
    """``[-1, 1]`` images -> the segmentation model's input normalisation, differentiably."""
    return normalize((images + 1.0) * 127.5, mode)


class Translator(nn.Module):
    """The translation networks of one method (module docstring); ``reference`` is ``f_S`` or None."""

    def __init__(self, method: str, cfg: TranslationConfig, reference: Optional[nn.Module] = None,
                 seed: int = 0) -> None:
        super().__init__()
        if method not in ("cycada", "dlow", "tgcf_da"):
            raise ValueError(f"method: expected one of ('cycada', 'dlow', 'tgcf_da'), got {method!r}")
        self.method, self.cfg = method, cfg
        gen = dict(ngf=cfg.gen_filters, n_blocks=cfg.gen_blocks, n_down=cfg.gen_downsamplings,
                   upsampling=cfg.gen_upsampling)
        disc = dict(ndf=cfg.patch_filters, n_layers=cfg.patch_layers)
        self.generators = nn.ModuleDict()
        self.discriminators = nn.ModuleDict({"target": PatchDiscriminator(**disc)})
        if method == "cycada":
            self.generators["G"] = ResnetGenerator(**gen, norm="instance")
            self.generators["F"] = ResnetGenerator(**gen, norm="instance")
            self.discriminators["source"] = PatchDiscriminator(**disc)
        elif method == "dlow":
            self.generators["G"] = ResnetGenerator(**gen, norm="conditional", cond_dim=1)
            self.generators["F"] = ResnetGenerator(**gen, norm="instance")
            self.discriminators["source"] = PatchDiscriminator(**disc)
        else:
            self.generators["G"] = ResnetGenerator(**gen, norm="adain", cond_dim=cfg.style_dim)
            self.generators["E"] = StyleEncoder(nf=cfg.gen_filters, style_dim=cfg.style_dim)
        self.uses_reference = cfg.needs_reference(method)
        if self.uses_reference and reference is None:
            raise ValueError(f"method {method!r} needs the frozen source model (semantic_reference)")
        self.reference = reference if self.uses_reference else None
        if self.reference is not None:
            self.reference.eval().requires_grad_(False)
        betas = tuple(cfg.translation_betas)
        self.opt_g = torch.optim.Adam(self.generators.parameters(), lr=cfg.translation_lr, betas=betas)
        self.opt_d = torch.optim.Adam(self.discriminators.parameters(), lr=cfg.translation_lr, betas=betas)
        self.sched_g = torch.optim.lr_scheduler.LambdaLR(self.opt_g, cfg.decay_factor)
        self.sched_d = torch.optim.lr_scheduler.LambdaLR(self.opt_d, cfg.decay_factor)
        self.pools = {k: ImagePool(cfg.pool_size, seed=seed * 1000 + i) for i, k in enumerate(("target", "source"))}
        self.z_generator = torch.Generator().manual_seed(seed * 1000 + 7)

    # ------------------------------------------------------------------ bookkeeping
    def parameter_counts(self) -> dict[str, int]:
        """Trainable scalars: ``generators``, ``discriminators`` (the frozen ``f_S`` not counted)."""
        return {"generators": count_parameters(self.generators), "discriminators": count_parameters(self.discriminators)}

    def state(self) -> dict[str, Any]:
        """Everything a bit-exact resume needs (the frozen reference is not saved: it is rebuilt)."""
        return {"generators": self.generators.state_dict(), "discriminators": self.discriminators.state_dict(),
                "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(),
                "sched_g": self.sched_g.state_dict(), "sched_d": self.sched_d.state_dict(),
                "pools": {k: p.state_dict() for k, p in self.pools.items()},
                "z_generator": self.z_generator.get_state()}

    def load(self, state: dict[str, Any], device: torch.device) -> None:
        self.generators.load_state_dict(state["generators"])
        self.discriminators.load_state_dict(state["discriminators"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.sched_g.load_state_dict(state["sched_g"])
        self.sched_d.load_state_dict(state["sched_d"])
        for k, p in self.pools.items():
            p.load_state_dict(state["pools"][k], device)
        self.z_generator.set_state(state["z_generator"])

    # ------------------------------------------------------------------ translation
    @torch.no_grad()
    def translate(self, xs: Tensor, z: Optional[Tensor] = None, style_images: Optional[Tensor] = None) -> Tensor:
        """Source images ``[-1, 1]`` -> translated ``[-1, 1]`` (``z``: DLOW's domainness ``B``;
        ``style_images``: TGCF-DA's target images giving the style, ``B x 3 x H' x W'``)."""
        G = self.generators["G"]
        if self.method == "dlow":
            return G(xs, z if z is not None else torch.ones(xs.shape[0], device=xs.device))
        if self.method == "tgcf_da":
            if style_images is None:
                raise ValueError("tgcf_da: translate needs target style images")
            return G(xs, self.generators["E"](style_images))
        return G(xs)

    def _semantic(self, translated: Tensor, labels: Tensor) -> Tensor:
        mode = getattr(self.reference, "normalization", "unit")
        logits = self.reference(to_model_input(translated, mode)).logits
        if logits.shape[-2:] != labels.shape[-2:]:
            logits = torch.nn.functional.interpolate(logits, size=labels.shape[-2:], mode="bilinear", align_corners=True)
        return L.semantic_consistency(logits, labels)

    @torch.no_grad()
    def _pseudo_labels(self, images: Tensor) -> Tensor:
        """CyCADA's ``p(f_S, x) = argmax f_S(x)`` at the image size (``B x H x W``)."""
        mode = getattr(self.reference, "normalization", "unit")
        logits = self.reference(to_model_input(images, mode)).logits
        logits = torch.nn.functional.interpolate(logits, size=images.shape[-2:], mode="bilinear", align_corners=True)
        return logits.argmax(1)

    # ------------------------------------------------------------------ one iteration
    def step(self, xs: Tensor, ys: Tensor, xt: Tensor) -> dict[str, Tensor]:
        """One generator update, then one discriminator update; returns detached loss terms.

        ``xs`` source images, ``ys`` their labels (used by TGCF-DA's semantic constraint only),
        ``xt`` target images (never labels); images ``B x 3 x H x W`` in ``[-1, 1]``.
        """
        self.discriminators.requires_grad_(False)
        self.opt_g.zero_grad(set_to_none=True)
        terms, fakes = {"cycada": self._cycada, "dlow": self._dlow, "tgcf_da": self._tgcf}[self.method](xs, ys, xt)
        total = sum(terms.values())
        total.backward()
        self.opt_g.step()
        self.discriminators.requires_grad_(True)
        self.opt_d.zero_grad(set_to_none=True)
        d_terms = self._discriminator_terms(xs, xt, fakes)
        sum(d_terms.values()).backward()
        self.opt_d.step()
        self.sched_g.step()
        self.sched_d.step()
        out = {k: v.detach() for k, v in {**terms, **d_terms}.items()}
        out["g_total"] = total.detach()
        return out

    def _cycada(self, xs: Tensor, ys: Tensor, xt: Tensor):
        c = self.cfg
        G, F_ = self.generators["G"], self.generators["F"]
        D_T, D_S = self.discriminators["target"], self.discriminators["source"]
        fake_t, fake_s = G(xs), F_(xt)
        terms = {
            "gan_g": L.lsgan_generator(D_T(fake_t)),
            "gan_f": L.lsgan_generator(D_S(fake_s)),
            "cycle": c.lambda_cycle * (L.cycle_loss(xs, F_(fake_t)) + L.cycle_loss(xt, G(fake_s))),
        }
        if c.lambda_identity > 0:
            terms["identity"] = c.lambda_cycle * c.lambda_identity * (
                L.identity_loss(xt, G(xt)) + L.identity_loss(xs, F_(xs)))
        if self.reference is not None and c.lambda_semantic > 0:
            terms["semantic"] = c.lambda_semantic * (self._semantic(fake_t, self._pseudo_labels(xs))
                                                     + self._semantic(fake_s, self._pseudo_labels(xt)))
        return terms, {"target": fake_t, "source": fake_s}

    def _dlow(self, xs: Tensor, ys: Tensor, xt: Tensor):
        c = self.cfg
        G, F_ = self.generators["G"], self.generators["F"]
        D_T, D_S = self.discriminators["target"], self.discriminators["source"]
        z = torch.rand(xs.shape[0], generator=self.z_generator).to(xs.device)
        fake_m = G(xs, z)  # an image of the intermediate domain M(z)
        fake_s = F_(xt)
        ones = torch.ones(xt.shape[0], device=xt.device)
        terms = {
            "gan_g": L.dlow_adversarial(D_S(fake_m), D_T(fake_m), z),
            "gan_f": L.lsgan_generator(D_S(fake_s)),
            "cycle": c.lambda_cycle * (L.dlow_cycle(xs, F_(fake_m)) + L.cycle_loss(xt, G(fake_s, ones))),
        }
        if c.lambda_identity > 0:
            terms["identity"] = c.lambda_cycle * c.lambda_identity * (
                L.identity_loss(xt, G(xt, ones)) + L.identity_loss(xs, F_(xs)))
            if c.dlow_source_identity:  # M(0) = S: a source image is already in G(., 0)'s output domain
                zeros = torch.zeros(xs.shape[0], device=xs.device)
                terms["source_identity"] = c.lambda_cycle * c.lambda_identity * L.identity_loss(xs, G(xs, zeros))
        return terms, {"intermediate": fake_m, "source": fake_s, "z": z}

    def _tgcf(self, xs: Tensor, ys: Tensor, xt: Tensor):
        c = self.cfg
        G, E = self.generators["G"], self.generators["E"]
        fake_t = G(xs, E(xt))
        terms = {"gan_g": L.lsgan_generator(self.discriminators["target"](fake_t))}
        if c.lambda_semantic > 0:
            terms["semantic"] = c.lambda_semantic * self._semantic(fake_t, ys)
        return terms, {"target": fake_t}

    def _discriminator_terms(self, xs: Tensor, xt: Tensor, fakes: dict[str, Tensor]) -> dict[str, Tensor]:
        D_T = self.discriminators["target"]
        if self.method == "dlow":
            D_S, z = self.discriminators["source"], fakes["z"]
            m = fakes["intermediate"].detach()
            return {"d_target": L.dlow_discriminator(D_T(xt), D_T(m), z),
                    "d_source": L.dlow_discriminator(D_S(xs), D_S(m), 1.0 - z)
                    + L.lsgan_discriminator(D_S(xs), D_S(self.pools["source"].query(fakes["source"])))}
        out = {"d_target": L.lsgan_discriminator(D_T(xt), D_T(self.pools["target"].query(fakes["target"])))}
        if "source" in fakes:
            D_S = self.discriminators["source"]
            out["d_source"] = L.lsgan_discriminator(D_S(xs), D_S(self.pools["source"].query(fakes["source"])))
        return out
