"""pfrlib.paper.step: one iteration of Eq. (6), and the GPU options on CPU (the optimiser and
AdaptSegNet's SGD listing: tests/paper/test_optim.py).

The reference iteration below writes one whole training step out in a single function (Eq. 1-6
inline, the discriminators after); the step functions must reproduce it bit for bit on CPU.
"""

from __future__ import annotations


import pytest
import torch
import torch.nn.functional as F

from pfrlib.data.labels import IGNORE_INDEX
from pfrlib.paper import losses
from pfrlib.config.train_config import TrainConfig
from pfrlib.engine.watchdog import FiniteCheck
from pfrlib.paper.step import NetworkStep, StepExtras, network_step
from pfrlib.engine.trainer import Trainer

TINY = dict(
    synth_size=(32, 64), synth_train_length=8, synth_val_length=4, batch_size=2,
    iterations=6, log_every=2, checkpoint_every=3, val_every=0, progress=False,
    model_kwargs={"widths": [8, 8, 16, 16]}, num_threads=1, hflip=True,
)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _trainer(tmp_path, name, **overrides) -> Trainer:
    cfg = TrainConfig.preset("cpu", **{**TINY, "out": str(tmp_path / name), **overrides})
    return Trainer(cfg, prepare_output=False)


def _reference_iteration(tr: Trainer) -> None:
    """One ``Trainer.step`` written out inline: forwards, Eq. (1)-(6), both updates."""
    cfg, w = tr.cfg, tr.weights
    tr.model.train()
    tr.opt.zero_grad(set_to_none=True)
    for d in tr.discriminators.values():
        for p in d.parameters():
            p.requires_grad_(False)
    terms = {}
    xs, ys = next(tr.src_iter)
    xs = tr._images(xs)
    ys = ys.long()
    out_s = tr.model(xs)
    up = lambda t, size: F.interpolate(t, size=tuple(size), mode="bilinear", align_corners=True)  # noqa: E731
    logits_s = up(out_s.logits.float(), xs.shape[-2:])
    terms["seg"] = losses.segmentation_loss(logits_s, ys)
    aux_s = aux_t = logits_t = None
    if tr.multi_level:
        aux_s = up(out_s.aux_logits.float(), xs.shape[-2:])
        terms["seg_aux"] = losses.segmentation_loss(aux_s, ys)
    if tr.tgt_iter is not None:
        xt = tr._images(next(tr.tgt_iter))
        out_t = tr.model(xt)
        if tr.use_adv:
            logits_t = up(out_t.logits.float(), xt.shape[-2:])
            terms["adv"] = losses.generator_loss(tr.discriminators["main"](F.softmax(logits_t, dim=1)), cfg.loss.gan)
            if tr.multi_level:
                aux_t = up(out_t.aux_logits.float(), xt.shape[-2:])
                terms["adv_aux"] = losses.generator_loss(tr.discriminators["aux"](F.softmax(aux_t, dim=1)), cfg.loss.gan)
        if w["pfr"] > 0:
            pfr = losses.pfr_loss([f.float() for f in out_s.features], [f.float() for f in out_t.features],
                                  stages=tuple(cfg.loss.pfr_stages), style_weight=cfg.loss.style_weight,
                                  content_weight=cfg.loss.content_weight, gram_normalize=cfg.loss.gram_normalize,
                                  content_form=cfg.loss.content_form, style_pairing=cfg.loss.style_pairing)
            terms["pfr"] = pfr.total
    total = sum(w[k] * v for k, v in terms.items())
    total.backward()
    tr.opt.step()
    tr.sched.step()
    if tr.use_adv:
        pairs = [("main", logits_s, logits_t)] + ([("aux", aux_s, aux_t)] if tr.multi_level else [])
        for k, ls, lt in pairs:
            d, opt = tr.discriminators[k], tr.d_opts[k]
            for p in d.parameters():
                p.requires_grad_(True)
            opt.zero_grad(set_to_none=True)
            loss_d = losses.discriminator_loss(d(F.softmax(ls.detach(), dim=1)), d(F.softmax(lt.detach(), dim=1)),
                                               cfg.loss.gan)
            loss_d.backward()
            opt.step()
            tr.d_scheds[k].step()
    tr.iteration += 1


def _state(tr: Trainer) -> dict[str, torch.Tensor]:
    sd = {f"model.{k}": v for k, v in tr.model.state_dict().items()}
    for name, d in tr.discriminators.items():
        sd.update({f"{name}.{k}": v for k, v in d.state_dict().items()})
    return sd


@pytest.mark.parametrize("method,multi_level", [
    ("source_only", False), ("adaptsegnet", True), ("pfr", False), ("pfr_adv", False), ("pfr_adv", True),
    ("oracle", False),
])
def test_step_functions_reproduce_the_inline_reference_step_bit_for_bit(tmp_path, method, multi_level):
    new = _trainer(tmp_path, "new", method=method, multi_level=multi_level)
    ref = _trainer(tmp_path, "ref", method=method, multi_level=multi_level)
    for _ in range(3):
        new.step()
        _reference_iteration(ref)
    a, b = _state(new), _state(ref)
    assert a.keys() == b.keys()
    different = [k for k in a if not torch.equal(a[k], b[k])]
    assert not different, f"{method}: {different[:5]}"
    assert new.finite.first_failure() is None


class _CountingNet(torch.nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net, self.calls = net, 0

    def forward(self, x):
        self.calls += 1
        return self.net(x)


@pytest.mark.parametrize("method,forwards", [("source_only", 1), ("adaptsegnet", 2), ("pfr", 2), ("pfr_adv", 2)])
def test_one_source_and_one_target_forward_per_iteration(tmp_path, method, forwards):
    tr = _trainer(tmp_path, method, method=method, multi_level=True)
    counter = _CountingNet(tr.model)
    tr.net = counter
    for i in range(2):
        tr.step()
    assert counter.calls == 2 * forwards


def test_network_step_returns_the_weighted_sum_of_eq6(tmp_path):
    tr = _trainer(tmp_path, "t", method="pfr_adv", multi_level=True)
    xs, ys = next(tr.src_iter)
    xt = next(tr.tgt_iter)
    ns = network_step(tr.net, tr.discriminators, tr.opt, (tr._images(xs), ys), tr._images(xt), tr.weights,
                      tr.cfg.loss)
    assert isinstance(ns, NetworkStep) and ns.forwards == 2
    assert set(ns.terms) == {"seg", "seg_aux", "adv", "adv_aux", "pfr"}
    expected = sum(tr.weights[k] * v.detach() for k, v in ns.terms.items())
    assert torch.allclose(ns.total.detach(), expected)
    assert set(ns.outputs) == {"main", "aux"}
    assert {"pfr_style_2", "pfr_style_5"} <= set(ns.stage_terms)


class _RecordingNet(torch.nn.Module):
    """Calls ``net`` and keeps each output, so a test can recompute a loss from the same logits."""

    def __init__(self, net):
        super().__init__()
        self.net, self.outs = net, []

    def forward(self, x):
        self.outs.append(self.net(x))
        return self.outs[-1]


def test_network_step_upsamples_to_the_label_and_target_sizes_not_the_rescaled_inputs(tmp_path):
    """CLAN's rescaled inputs (``image_scales``): the source logits go to the labels' size and the
    target logits to ``target_size`` (its ``interp_source`` / ``interp_target``), and Eq. (1) is
    the cross-entropy of those upsampled logits."""
    tr = _trainer(tmp_path, "t", method="adaptsegnet", multi_level=True)
    torch.manual_seed(0)
    xs, xt = torch.randn(2, 3, 26, 52), torch.randn(2, 3, 35, 70)  # rescaled by 0.8 and 1.1
    ys = torch.randint(0, 19, (2, 32, 64))
    net = _RecordingNet(tr.net)
    ns = network_step(net, tr.discriminators, tr.opt, (xs, ys), xt, tr.weights, tr.cfg.loss,
                      StepExtras(target_size=(32, 64)))
    (ls, lt), (aux_s, aux_t) = ns.outputs["main"], ns.outputs["aux"]
    assert ls.shape[-2:] == aux_s.shape[-2:] == lt.shape[-2:] == aux_t.shape[-2:] == (32, 64)
    up = F.interpolate(net.outs[0].logits.detach(), size=(32, 64), mode="bilinear", align_corners=True)
    torch.testing.assert_close(ns.terms["seg"].detach(), losses.segmentation_loss(up, ys))
    # without target_size the target logits keep the target images' size, as before
    ns = network_step(tr.net, tr.discriminators, tr.opt, (xs, ys), xt, tr.weights, tr.cfg.loss)
    assert ns.outputs["main"][1].shape[-2:] == (35, 70)


def test_total_loss_is_eq6_and_names_a_term_without_weight():
    t = {"seg": torch.tensor(2.0), "adv": torch.tensor(3.0), "pfr": torch.tensor(5.0)}
    w = {"seg": 1.0, "adv": 0.1, "pfr": 0.01, "seg_aux": 0.5}
    assert losses.total_loss(t, w).item() == pytest.approx(2.0 + 0.3 + 0.05)
    with pytest.raises(KeyError, match="pfr"):
        losses.total_loss(t, {"seg": 1.0, "adv": 1.0})


def test_segmentation_loss_without_check_is_zero_when_all_pixels_are_ignored():
    logits = torch.randn(2, 4, 8, 8, requires_grad=True)
    labels = torch.full((2, 8, 8), IGNORE_INDEX, dtype=torch.uint8)
    loss = losses.segmentation_loss(logits, labels, check=False)
    assert loss.item() == 0.0
    loss.backward()
    assert torch.count_nonzero(logits.grad) == 0
    labels[0, 0, 0] = 1
    ref = F.cross_entropy(logits, labels.long(), ignore_index=IGNORE_INDEX)
    assert torch.equal(losses.segmentation_loss(logits, labels, check=False), ref)


def test_finite_check_records_the_first_failure_without_raising():
    fc = FiniteCheck()
    fc.update({"seg": torch.tensor(1.0), "pfr": torch.tensor(2.0)}, 1)
    assert fc.first_failure() is None
    fc.update({"seg": torch.tensor(1.0), "pfr": torch.tensor(float("nan"))}, 2)
    fc.update({"seg": torch.tensor(float("inf")), "pfr": torch.tensor(1.0)}, 3)
    it, bad, values = fc.first_failure()
    assert it == 2 and "pfr" in bad and "seg" not in bad and values["seg"] == 1.0


# --------------------------------------------------------------------------- GPU options, on CPU
def _one_loss(tmp_path, name, **overrides) -> float:
    torch.manual_seed(0)
    tr = _trainer(tmp_path, name, method="pfr_adv", multi_level=True, **overrides)
    return tr.step()["total"].item()


def test_bf16_autocast_step_is_close_to_fp32(tmp_path):
    fp32 = _one_loss(tmp_path, "fp32", bf16=False)
    bf16 = _one_loss(tmp_path, "bf16", bf16=True)
    # bf16 keeps 8 bits of mantissa (relative rounding 2^-8 = 0.4%) in every conv; over a dozen
    # layers the first loss moves by well under 5%
    assert bf16 == pytest.approx(fp32, rel=0.05)
    assert bf16 != fp32  # autocast really ran


def test_channels_last_gives_the_same_loss(tmp_path):
    a = _one_loss(tmp_path, "contig", channels_last=False)
    b = _one_loss(tmp_path, "cl", channels_last=True)
    assert b == pytest.approx(a, rel=1e-5)


def test_gpu_options_resolve_to_off_on_cpu(tmp_path):
    tr = _trainer(tmp_path, "auto", method="source_only")
    assert tr.cfg.run.bf16 is None and not tr.bf16 and not tr.channels_last and not tr.pin_memory


@pytest.mark.slow
def test_compiled_step_runs(tmp_path):
    pytest.importorskip("torch._dynamo")
    # aot_eager: dynamo traces the step and AOT autograd its backward, as with the inductor, but
    # no kernels are generated (a cold inductor compiles C++ for half a minute on a CPU)
    loss = _one_loss(tmp_path, "compiled", compile=True, compile_backend="aot_eager")
    assert loss == pytest.approx(_one_loss(tmp_path, "eager"), rel=1e-4)


# --------------------------------------------------------------------------- layout
# the layering of every pfrlib module: tests/test_layout.py
