"""Self-training (``--method self_training``, ``pfr_adv_st``, ``adaptsegnet_st``): the class-wise
thresholds and the pseudo-label masking against cases worked by hand, and tiny runs of
``python -m pfrlib.train`` that train (stage 1, then a round), reuse and evaluate; bad input is
one line before anything is written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from pfrlib import methods
from pfrlib.config.train_config import TrainConfig
from pfrlib.evaluate import main as evaluate_main
from pfrlib.methods.beyond.self_training import (CONFIDENCE_BINS, SelfTrainingConfig, class_thresholds,
    confidence_histogram, kept_per_class, pseudo_label_loss, pseudo_labels)
from pfrlib.train import main as train_main
from one_line import one_line
from interrupt import stop_at

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def probabilities(classes: list[int], confidences: list[float], k: int = 3) -> torch.Tensor:
    """1 x K x 1 x N probabilities: pixel i predicts ``classes[i]`` with ``confidences[i]`` (> 1/2),
    the rest shared by the other classes."""
    p = torch.zeros(1, k, 1, len(classes), dtype=torch.float64)
    for i, (c, q) in enumerate(zip(classes, confidences)):
        p[0, :, 0, i] = (1 - q) / (k - 1)
        p[0, c, 0, i] = q
    return p.float()


# Class 0: four pixels, class 1: five, class 2: none. Dyadic confidences: exact in the histogram.
CLASSES = [0, 0, 0, 0, 1, 1, 1, 1, 1]
CONF = [0.875, 0.5, 0.75, 0.625, 0.5625, 0.6875, 0.9375, 0.8125, 0.96875]


def test_class_thresholds_by_hand():
    hist = confidence_histogram(probabilities(CLASSES, CONF))
    assert hist.shape == (3, CONFIDENCE_BINS) and hist.sum(1).tolist() == [4, 5, 0]
    # class 0 sorted: 0.5, 0.625, 0.75, 0.875; index round(4 * 0.5) = 2 -> 0.75
    # class 1 sorted: 0.5625, 0.6875, 0.8125, 0.9375, 0.96875; round(5 * 0.5) = round(2.5) = 2 (halves
    #   to even, as np.round in BDL's SSL.py) -> 0.8125
    # class 2: no pixel predicted -> 0 (BDL)
    assert class_thresholds(hist, 0.5, 0.9).tolist() == [0.75, 0.8125, 0.0]
    # the cap: class 1's 0.8125 is capped at 0.8; class 0's 0.75 stays
    assert class_thresholds(hist, 0.5, 0.8).tolist() == pytest.approx([0.75, 0.8, 0.0])
    # percentile 0.8: class 0 index round(3.2) = 3 -> 0.875, capped at 0.9; class 1 index 4 -> 0.96875 -> 0.9
    assert class_thresholds(hist, 0.8, 0.9).tolist() == pytest.approx([0.875, 0.9, 0.0])
    # percentile 1 takes the largest (index n - 1, not n); 0 the smallest
    assert class_thresholds(hist, 1.0, 1.0).tolist() == [0.875, 0.96875, 0.0]
    assert class_thresholds(hist, 0.0, 1.0).tolist() == [0.5, 0.5625, 0.0]
    # BDL's paper: one threshold for every class
    assert class_thresholds(hist, 0.5, 0.9, mode="fixed").tolist() == pytest.approx([0.9] * 3)


def test_pseudo_labels_mask_the_pixels_below_their_class_threshold():
    prob = probabilities(CLASSES, CONF)
    labels = pseudo_labels(prob, torch.tensor([0.75, 0.8125, 0.0]))
    # class 0 keeps 0.875 and 0.75 (>= its threshold), drops 0.5 and 0.625; class 1 keeps 0.9375,
    # 0.8125, 0.96875, drops 0.5625 and 0.6875
    assert labels[0, 0].tolist() == [0, 255, 0, 255, 255, 255, 1, 1, 1]
    fixed = pseudo_labels(prob, torch.full((3,), 0.9))
    assert fixed[0, 0].tolist() == [255] * 6 + [1, 255, 1]


def test_kept_per_class_counts_predicted_and_kept_pixels_by_hand():
    prob = probabilities(CLASSES, CONF)
    # the thresholds of the test above keep 2 of class 0's 4 pixels and 3 of class 1's 5
    predicted, kept = kept_per_class(prob, torch.tensor([0.75, 0.8125, 0.0]))
    assert predicted.tolist() == [4, 5, 0] and kept.tolist() == [2, 3, 0]
    # one threshold of 0.9: class 0 keeps none, class 1 its 0.9375 and 0.96875
    assert kept_per_class(prob, torch.full((3,), 0.9))[1].tolist() == [0, 2, 0]


def test_histograms_add_up_and_the_loss_ignores_masked_pixels():
    a, b = probabilities(CLASSES[:4], CONF[:4]), probabilities(CLASSES[4:], CONF[4:])
    assert torch.equal(confidence_histogram(a) + confidence_histogram(b),
                       confidence_histogram(probabilities(CLASSES, CONF)))
    logits = torch.randn(1, 3, 1, 9)
    labels = torch.tensor([[[0, 255, 0, 255, 255, 255, 1, 1, 1]]])
    keep = labels[0, 0] != 255
    expected = torch.nn.functional.cross_entropy(logits[0, :, 0, keep].T, labels[0, 0, keep])
    torch.testing.assert_close(pseudo_label_loss(logits, labels), expected)
    assert pseudo_label_loss(logits, torch.full_like(labels, 255)).item() == 0.0  # nothing labelled: 0, not NaN


@pytest.mark.parametrize("field,value", [("st_max_threshold", 0.0), ("st_max_threshold", 1.5),
                                         ("st_percentile", -0.1), ("st_percentile", float("nan")),
                                         ("st_rounds", 0), ("st_lambda", -1.0), ("st_thresholds", "median"),
                                         ("st_start", "scratch")])
def test_bad_values_name_their_field(field, value):
    with pytest.raises(ValueError, match=field):
        SelfTrainingConfig(**{field: value}).validate()


def test_the_registry_and_the_presets():
    assert {"self_training", "pfr_adv_st", "adaptsegnet_st"} <= set(methods.names("beyond"))
    assert methods.get("pfr_adv_st").stage1 == "pfr_adv" and methods.get("adaptsegnet_st").stage1 == "adaptsegnet"
    assert "clan" not in methods.stage1_names() and "pfr_adv" in methods.stage1_names()
    paper = TrainConfig.preset("paper", method="pfr_adv_st")
    assert (paper.optim.iterations, paper.optim.schedule_iterations, paper.self_training.st_stage1_iterations) == \
        (120_000, 250_000, 150_000)
    st = paper.self_training
    assert (st.st_percentile, st.st_max_threshold, st.st_lambda, st.st_rounds) == (0.5, 0.9, 1.0, 1)
    assert TrainConfig.preset("cpu", method="self_training").effective_weights() == \
        {**TrainConfig.preset("cpu", method="source_only").effective_weights(), "st": 1.0}


# --------------------------------------------------------------------------- tiny runs
TINY = ["--preset", "cpu", "--synth-size", "32", "64", "--synth-train-length", "4", "--synth-val-length", "2",
        "--batch-size", "2", "--iterations", "2", "--log-every", "1", "--checkpoint-every", "2", "--val-every", "0",
        "--no-progress", "--num-threads", "1", "--model-kwargs", json.dumps({"widths": [8, 8, 16, 16]})]


def test_pfr_adv_st_then_self_training_from_its_model_train_reuse_and_evaluate(tmp_path, capsys):
    out = tmp_path / "pfr_adv_st"
    assert train_main([*TINY, "--method", "pfr_adv_st", "--st-stage1-iterations", "3", "--out", str(out)]) == 0
    final = json.loads((out / "final.json").read_text())
    assert final["method"] == "pfr_adv_st" and final["iterations"] == 2 and final["checkpoint"] == \
        "round_1/checkpoint_last.pt"
    rec = final["self_training"]
    assert rec["stage1"]["method"] == "pfr_adv" and rec["stage1"]["iterations"] == 3
    assert len(rec["thresholds"]) == 1 and all(0.0 <= t <= 0.9 for t in rec["thresholds"][0])
    assert json.loads((out / "stage1" / "final.json").read_text())["method"] == "pfr_adv"
    rows = [json.loads(line) for line in (out / "round_1" / "metrics.jsonl").read_text().splitlines()]
    assert all(r["st"] == r["st"] and 0.0 <= r["st_labelled"] <= 1.0 for r in rows if "st" in rows[-1])
    assert {"seg", "st", "st_labelled"} <= set(rows[-1]) and "adv" not in rows[-1]

    # the same command again reuses both stages
    stamp = (out / "round_1" / "checkpoint_last.pt").stat().st_mtime_ns
    assert train_main([*TINY, "--method", "pfr_adv_st", "--st-stage1-iterations", "3", "--out", str(out)]) == 0
    assert (out / "round_1" / "checkpoint_last.pt").stat().st_mtime_ns == stamp
    assert json.loads((out / "final.json").read_text())["target_miou"] == final["target_miou"]

    # self_training from that adapted model, two rounds, the paper's fixed threshold
    st_out = tmp_path / "st"
    init = out / "stage1" / "checkpoint_last.pt"
    assert train_main([*TINY, "--method", "self_training", "--st-init", str(init), "--st-rounds", "2",
                       "--st-thresholds", "fixed", "--out", str(st_out)]) == 0
    st_final = json.loads((st_out / "final.json").read_text())
    assert st_final["checkpoint"] == "round_2/checkpoint_last.pt" and not (st_out / "stage1").exists()
    assert st_final["self_training"]["init"] == str(init)
    k = TrainConfig.preset("cpu").model.num_classes
    assert st_final["self_training"]["thresholds"] == [[0.9] * k, [0.9] * k]

    capsys.readouterr()
    assert evaluate_main(["--checkpoint", str(st_out / st_final["checkpoint"]), "--data", "synth:target",
                          "--out", str(tmp_path / "eval")]) == 0
    report = json.loads((tmp_path / "eval" / "eval.json").read_text())
    assert report["per_class_iou"] == st_final["target_val"]["per_class_iou"]


@pytest.mark.reliability
@pytest.mark.parametrize("args,field", [
    (["--st-init", "missing/checkpoint_last.pt"], "st_init"),
    (["--st-max-threshold", "1.5"], "st_max_threshold"),
    (["--st-percentile", "2"], "st_percentile"),
    (["--st-stage1", "clan"], "st_stage1"),
])
def test_bad_input_is_one_line_naming_the_field_and_writes_nothing(tmp_path, capsys, args, field):
    out = tmp_path / "run"
    assert train_main([*TINY, "--method", "self_training", *args, "--out", str(out)]) == 2
    line = one_line(capsys.readouterr().err)
    assert line.startswith("error: ") and field in line
    assert not out.exists()


@pytest.mark.reliability
def test_a_checkpoint_of_another_network_is_refused_before_anything_is_written(tmp_path, capsys, tiny_checkpoint):
    out = tmp_path / "run"
    other = ["--model-kwargs", json.dumps({"widths": [4, 4, 8, 8]})]  # tiny_checkpoint: widths 8, 8, 16, 16
    assert train_main([*TINY, *other, "--method", "self_training", "--st-init", str(tiny_checkpoint),
                       "--out", str(out)]) == 2
    line = one_line(capsys.readouterr().err)
    assert "st_init" in line and str(tiny_checkpoint) in line
    assert not out.exists()


def test_a_round_resumes_bit_exactly_with_its_thresholds(tmp_path, monkeypatch, tiny_checkpoint):
    from pfrlib.engine.run import train
    from pfrlib.engine.two_stage.self_training import SelfTrainingTrainer

    def cfg(name, **kw):
        return TrainConfig.preset("cpu", method="self_training", st_init=str(tiny_checkpoint), out=str(tmp_path / name),
                                  synth_size=(32, 64), synth_train_length=4, synth_val_length=2, batch_size=2,
                                  iterations=4, checkpoint_every=2, log_every=1, val_every=0, progress=False,
                                  model_kwargs={"widths": [8, 8, 16, 16]}, num_threads=1, **kw)

    whole = train(cfg("whole"))
    stop_at(monkeypatch, SelfTrainingTrainer, 3, lambda: train(cfg("cut")))
    monkeypatch.setattr(SelfTrainingTrainer, "count_confidences",
                        lambda self, teacher: pytest.fail("a resumed round counted its thresholds again"))
    cut = train(cfg("cut", resume=True))
    assert cut.final["self_training"]["thresholds"] == whole.final["self_training"]["thresholds"]
    a = torch.load(whole.out / "round_1" / "checkpoint_last.pt", map_location="cpu", weights_only=True)
    b = torch.load(cut.out / "round_1" / "checkpoint_last.pt", map_location="cpu", weights_only=True)
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
