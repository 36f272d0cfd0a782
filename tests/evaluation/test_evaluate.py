"""pfrlib.evaluation.evaluate and ``python -m pfrlib.evaluate``: the scores, the CLI, and its refusals.

The confusion matrix and mIoU of a known model, logits upsampled to the label size, the paper's
Table 1 read from the shipped CSV, the CLI's eval.json and table, the official benchmark format.
Then the refusals, each one line naming the file or option before anything is evaluated or written:
where the results go (``--save-results`` or ``--out`` that cannot be written; the read-only cases
use a read-only tmpfs, which needs root as in CI, and the probe's own failure is also simulated,
so the check is tested everywhere), and checkpoints that do not fit the saved configuration or the
data, bad options, non-finite logits (the ``reliability`` theme; ``tiny_checkpoint`` is in
tests/conftest.py).
"""

from __future__ import annotations

import errno
import json
import math
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import pfrlib.evaluation.evaluate as evaluation
from one_line import one_line
from pfrlib.config.train_config import TrainConfig
from pfrlib.engine.checkpoint import save_checkpoint
from pfrlib.engine.run import train
from pfrlib.engine.scoring import evaluate_model, predict
from pfrlib.evaluate import main as evaluate_main
from pfrlib.evaluation.evaluate import evaluate_checkpoint
from pfrlib.evaluation.tables import default_reference_path, reference_records, reference_rows
from pfrlib.models.common import SegmentationOutput


class _Threshold(nn.Module):
    """Predicts class 10 (sky) where channel 0 > 0, class 0 (road) elsewhere, at half resolution."""

    num_classes = 19

    def __init__(self):
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(()))

    def forward(self, x):
        small = x[:, :1, ::2, ::2]
        logits = torch.zeros(x.shape[0], 19, *small.shape[-2:]) + self.dummy
        logits[:, 10] = small[:, 0] * 10
        return SegmentationOutput(logits, None, (small,) * 4)


class _Pairs(torch.utils.data.Dataset):
    class_ids = (0, 10)
    num_classes = 19

    def __init__(self, items):
        self.items = items

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]


def _image_and_label(h=8, w=8, sky_rows=4):
    x = -torch.ones(3, h, w)
    x[:, :sky_rows] = 1.0
    y = torch.zeros(h, w, dtype=torch.long)
    y[:sky_rows] = 10
    return x, y


def test_confusion_matrix_and_miou_of_a_known_model():
    x, y = _image_and_label()
    y_wrong = y.clone()
    y_wrong[0, :] = 0   # 8 sky pixels labelled road: predicted sky -> FP for sky, FN for road
    y_wrong[-1, :2] = 255  # ignored
    model = _Threshold().train()
    res = evaluate_model(model, _Pairs([(x, y), (x, y_wrong)]), device="cpu", batch_size=1)
    assert model.training  # the caller's mode is restored
    cm = res.confusion
    assert cm[10, 10] == 32 + 24 and cm[0, 0] == 32 + 30 and cm[0, 10] == 8 and cm.sum() == 128 - 2
    road = (32 + 30) / (32 + 30 + 8)
    sky = 56 / (56 + 8)
    assert res.miou == pytest.approx((road + sky) / 2)
    per_class = res.per_class_iou()
    assert per_class["road"] == pytest.approx(road) and per_class["car"] is None
    assert res.num_images == 2 and res.megapixels_per_s > 0


def test_logits_are_upsampled_to_the_full_label_size():
    # the paper protocol: input resized (here 8x8), label at full size (16x16)
    x, _ = _image_and_label(8, 8, sky_rows=4)
    _, y = _image_and_label(16, 16, sky_rows=8)
    pred = predict(_Threshold(), x[None], out_size=(16, 16), align_corners=True)
    assert pred.shape == (1, 16, 16)
    res = evaluate_model(_Threshold(), _Pairs([(x, y)]), device="cpu")
    assert res.confusion.sum() == 256
    loose = predict(_Threshold(), x[None], out_size=(16, 16), align_corners=False)
    assert loose.shape == (1, 16, 16)


def test_shards_add_up_to_the_whole():
    items = [_image_and_label(8, 8, sky_rows=r) for r in (2, 3, 4, 5, 6)]
    whole = evaluate_model(_Threshold(), _Pairs(items), device="cpu").confusion
    parts = sum(evaluate_model(_Threshold(), _Pairs(items), device="cpu", shard=(r, 2)).confusion for r in (0, 1))
    assert torch.equal(whole, parts)


def test_reference_rows_read_a_given_table1_csv(tmp_path):
    csv = tmp_path / "t.csv"
    names = "road,sidewalk,building,wall,fence,pole,traffic_light,traffic_sign,vegetation,terrain,sky," \
            "person,rider,car,truck,bus,train,motorcycle,bicycle"
    csv.write_text(f"method,backbone,{names},mIoU\nX,R101,{','.join(['50.0'] * 19)},50.0\n")
    rows = reference_rows(csv)
    assert len(rows) == 1 and "X" in rows[0] and "50.0" in rows[0] and "GTA5" in rows[0]
    with pytest.raises(FileNotFoundError, match="missing.csv"):
        reference_rows(tmp_path / "missing.csv")
    (tmp_path / "other.csv").write_text("method,mIoU\nX,1\n")
    with pytest.raises(ValueError, match="other.csv"):
        reference_rows(tmp_path / "other.csv")


def test_paper_table1_ships_with_the_package():
    path = default_reference_path()
    assert path.is_file() and path.parent.parent.name == "pfrlib", path  # inside the package, not ../shared
    rows = {r["method"]: r for r in reference_records()}
    assert rows["PFR (paper)"]["mIoU"] == 44.5 and rows["AdaptSegNet"]["mIoU"] == 42.4
    assert rows["PFR (paper)"]["road"] == 90.8 and rows["AdaptSegNet"]["sky"] == 75.6
    assert len(rows) == 9 and all(r["backbone"] in ("VGG-16", "ResNet-101") for r in rows.values())
    for name, r in rows.items():  # each row's classes average to its printed mIoU (TGCF-DA: a typo in the paper)
        mean = sum(r[c] for c in list(r)[2:-1]) / 19
        assert abs(mean - r["mIoU"]) < (1.0 if name == "TGCF-DA" else 0.06), name
    markdown = reference_rows()
    assert any("PFR (paper)" in row and row.rstrip(" |").endswith("44.5") for row in markdown)


@pytest.fixture(autouse=True)
def _restore_torch_threads():
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("evalrun") / "run"
    train(TrainConfig.preset(
        "cpu", method="adaptsegnet", out=str(out), synth_size=(32, 64), synth_train_length=4,
        synth_val_length=3, batch_size=2, iterations=2, checkpoint_every=2, progress=False,
        model_kwargs={"widths": [8, 8, 16, 16]}, num_threads=1,
    ))
    return out


def test_cli_writes_eval_json_matching_training_and_prints_table1(tiny_run, tmp_path, capsys):
    out = tmp_path / "eval"
    assert evaluate_main(["--checkpoint", str(tiny_run / "checkpoint_last.pt"), "--data", "synth:target",
                 "--out", str(out), "--save-predictions", "2"]) == 0
    text = capsys.readouterr().out
    report = json.loads((out / "eval.json").read_text())
    final = json.loads((tiny_run / "final.json").read_text())
    assert report["miou"] == pytest.approx(final["target_miou"])  # same data, same protocol
    assert report["per_class_iou"] == final["target_val"]["per_class_iou"]
    assert "ours: adaptsegnet" in text and "eval synth:target" in text
    assert "PFR (paper)" in text and "44.5" in text and "AdaptSegNet (paper" in text and "42.4" in text
    assert sorted(p.name for p in (out / "predictions").glob("*.png")) == ["pred_0000.png", "pred_0001.png"]


def test_cli_without_reference_prints_ours_only(tiny_run, tmp_path, capsys):
    assert evaluate_main(["--checkpoint", str(tiny_run / "checkpoint_last.pt"), "--data", "synth:source",
                 "--no-reference", "--limit", "1"]) == 0
    text = capsys.readouterr().out
    assert "ours: adaptsegnet" in text and "AdaptSegNet (paper" not in text


def test_cli_reference_overrides_the_shipped_table(tiny_run, tmp_path, capsys):
    names = "road,sidewalk,building,wall,fence,pole,traffic_light,traffic_sign,vegetation,terrain,sky," \
            "person,rider,car,truck,bus,train,motorcycle,bicycle"
    mine = tmp_path / "mine.csv"
    mine.write_text(f"method,backbone,{names},mIoU\nMyMethod,R50,{','.join(['12.5'] * 19)},12.5\n")
    assert evaluate_main(["--checkpoint", str(tiny_run / "checkpoint_last.pt"), "--data", "synth:source",
                 "--reference", str(mine), "--limit", "1"]) == 0
    text = capsys.readouterr().out
    assert "MyMethod" in text and "PFR (paper)" not in text
    with pytest.raises(SystemExit) as exit_info:  # a reference that is not there is an error, not an empty table
        evaluate_main(["--checkpoint", str(tiny_run / "checkpoint_last.pt"), "--data", "synth:source",
              "--reference", str(tmp_path / "none.csv")])
    assert exit_info.value.code == 2 and "none.csv" in capsys.readouterr().err


def test_cli_names_a_missing_checkpoint_or_dataset(tiny_run, tmp_path, capsys):
    assert evaluate_main(["--checkpoint", str(tmp_path / "nope.pt"), "--data", "synth:target"]) == 2
    assert "nope.pt" in capsys.readouterr().err
    assert evaluate_main(["--checkpoint", str(tiny_run / "checkpoint_last.pt"), "--data", f"folder:{tmp_path}/none"]) == 2
    assert "none" in capsys.readouterr().err


# --------------------------------------------------------------------------- official format
def _official_pixel_scores(results: Path, gts: list[Path]) -> dict:
    """cityscapesscripts' evalPixelLevelSemanticLabeling on ``results``: its own prediction search
    and pixel-level scoring. (Its instance-level part calls np.in1d, removed in numpy 2.4: switched off.)"""
    from cityscapesscripts.evaluation import evalPixelLevelSemanticLabeling as official

    args = official.CArgs()
    args.__dict__.update(official.args.__dict__)
    args.evalInstLevelScore, args.JSONOutput, args.quiet, args.colorized = False, False, True, False
    args.predictionPath, args.predictionWalk = str(results), None
    preds = [official.getPrediction(args, str(gt)) for gt in gts]
    return official.evaluateImgLists(preds, [str(gt) for gt in gts], args)


def test_save_results_writes_what_the_official_evaluator_scores_as_we_do(tiny_run, tmp_path, capsys):
    from cityscapesscripts.helpers.labels import labels as cs_labels
    from PIL import Image

    from pfrlib.data.releases import PartialDownloadWarning
    from shipped_datasets import make_cityscapes

    cs = make_cityscapes(tmp_path / "cs", size=(34, 68))
    out, results = tmp_path / "eval", tmp_path / "results"
    with pytest.warns(PartialDownloadWarning):
        assert evaluate_main(["--checkpoint", str(tiny_run / "checkpoint_last.pt"), "--data", f"cityscapes:{cs}:val",
                     "--eval-size", "32", "64", "--out", str(out), "--save-results", str(results),
                     "--no-reference"]) == 0
    assert "wrote 4 label-id PNG(s)" in capsys.readouterr().out
    report = json.loads((out / "eval.json").read_text())
    assert report["results"]["files"] == 4 and "| ours: adaptsegnet" in (out / "table.md").read_text()
    gts = sorted((cs / "gtFine" / "val").glob("*/*_gtFine_labelIds.png"))
    written = sorted(results.rglob("*.png"))
    assert [p.name.split("_leftImg8bit")[0] for p in written] == [g.name.split("_gtFine")[0] for g in gts]
    evaluated_ids = {l.id for l in cs_labels if not l.ignoreInEval}
    for pred, gt in zip(written, gts):
        im = Image.open(pred)
        assert im.mode == "L" and im.size == Image.open(gt).size  # the label's full resolution
        assert set(np.unique(np.asarray(im)).tolist()) <= evaluated_ids  # label ids, not trainIds
    official = _official_pixel_scores(results, gts)
    ours = report["per_class_iou"]
    assert set(official["classScores"]) >= set(ours) and len(ours) == 19
    for name, value in ours.items():
        theirs = official["classScores"][name]
        assert (value is None and math.isnan(theirs)) or value == pytest.approx(theirs, abs=1e-12), name
    assert report["miou"] == pytest.approx(official["averageScoreClasses"], abs=1e-12)
    assert sum(v is not None for v in ours.values()) >= 5  # a non-trivial comparison
    # refused before evaluating: non-Cityscapes data, a results folder that already holds files
    assert evaluate_main(["--checkpoint", str(tiny_run / "checkpoint_last.pt"), "--data", "synth:target",
                 "--save-results", str(tmp_path / "r2")]) == 2
    assert "Cityscapes" in capsys.readouterr().err
    assert evaluate_main(["--checkpoint", str(tiny_run / "checkpoint_last.pt"), "--data", f"cityscapes:{cs}:val",
                 "--save-results", str(results)]) == 2  # refused before the data is read
    assert "not an empty folder" in capsys.readouterr().err and len(list(results.rglob("*.png"))) == 4


def test_evaluation_does_not_import_viz_or_import_inside_functions():
    import ast

    import pfrlib.evaluation.evaluate as ev

    # no import of viz from evaluate's modules, and no pfrlib import inside a function (cycles hide there)
    root = Path(ev.__file__).parents[1]
    for rel in ("evaluation/evaluate.py", "engine/scoring.py", "evaluation/tables.py", "data/real.py", "data/readers.py",
                "data/folder.py", "data/releases.py", "data/labels.py", "data/convert_labels.py",
                "data/cityscapes_results.py", "data/spec.py"):
        tree = ast.parse((root / rel).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                assert "viz" not in (node.module or "") and not any(a.name == "viz" for a in node.names), rel
        for fn in (n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))):
            for node in ast.walk(fn):
                if isinstance(node, ast.ImportFrom):
                    assert not node.level and not (node.module or "").startswith("pfrlib"), f"{rel}: {fn.name}"


# --------------------------------------------------------------------------- where the results go
@pytest.fixture
def no_evaluation(monkeypatch):
    """Loading the model fails the test: a refusal must come before any evaluation."""
    def load_model(*_a, **_k):
        raise AssertionError("the checkpoint was loaded: the output folders were not checked first")

    monkeypatch.setattr(evaluation, "load_model", load_model)


@pytest.fixture
def read_only(tmp_path):
    """A read-only file system (a tmpfs mounted ``ro``), with an empty folder on it."""
    where = tmp_path / "ro"
    where.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(where)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a read-only tmpfs here ({(proc.stderr or proc.stdout).strip()[:120]}); needs root")
    yield where
    subprocess.run(["umount", "-l", str(where)], capture_output=True)


def _args(tmp_path: Path, *extra: str) -> list[str]:
    return ["--checkpoint", str(tmp_path / "run" / "checkpoint_last.pt"), "--data", "cityscapes:/cs:val", *extra]


@pytest.mark.parametrize("inside", ["", "results", "new/results"])
def test_save_results_on_a_read_only_file_system_is_one_line_before_evaluating(tmp_path, capsys, read_only,
                                                                              no_evaluation, inside):
    target = read_only / inside if inside else read_only  # the empty folder itself, or one to create on it
    assert evaluate_main(_args(tmp_path, "--save-results", str(target))) == 2
    line = one_line(capsys.readouterr().err)
    assert line.startswith("error: save_results: cannot write in ") and str(read_only) in line, line
    assert "(Read-only file system)" in line and "expected a new or empty folder that can be written" in line
    assert "--save-results" in line and "Errno" not in line


def test_out_on_a_read_only_file_system_is_one_line_before_evaluating(tmp_path, capsys, read_only, no_evaluation):
    assert evaluate_main(_args(tmp_path, "--out", str(read_only / "eval"))) == 2
    line = one_line(capsys.readouterr().err)
    assert line.startswith("error: out: cannot write in ") and "(Read-only file system)" in line and "--out" in line


def test_the_check_is_a_probe_file_and_its_failure_names_the_option(tmp_path, capsys, monkeypatch, no_evaluation):
    results = tmp_path / "results"
    results.mkdir()
    real = tempfile.mkstemp

    def mkstemp(*a, dir=None, **k):
        if Path(dir) == results:  # the probe, on a file system that refuses it
            raise OSError(errno.EROFS, "Read-only file system")
        return real(*a, dir=dir, **k)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    assert evaluate_main(_args(tmp_path, "--save-results", str(results))) == 2
    line = one_line(capsys.readouterr().err)
    assert f"save_results: cannot write in {results} (Read-only file system)" in line
    assert list(results.iterdir()) == []  # the probe left nothing behind


def test_a_writable_folder_passes_and_keeps_nothing_of_the_probe(tmp_path):
    from pfrlib.io import check_writable_folder

    assert check_writable_folder(tmp_path / "a" / "b", "out", "x") == tmp_path / "a" / "b"
    assert list(tmp_path.iterdir()) == []  # neither the probe nor the folder to create
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(NotADirectoryError, match=r"^out: .*file is a file, not a folder; expected x$"):
        check_writable_folder(blocker / "run", "out", "x")


# --------------------------------------------------------------------------- checkpoints that do not fit, bad options
def _resaved(tiny_checkpoint: Path, dest: Path, **config_overrides) -> Path:
    state = torch.load(tiny_checkpoint, map_location="cpu", weights_only=True)
    state["config"] = TrainConfig.from_dict(state["config"]).replace(**config_overrides).to_dict()
    save_checkpoint(dest, state)
    return dest


@pytest.mark.reliability
def test_weights_that_do_not_fit_the_saved_config(tmp_path, tiny_checkpoint, capsys):
    five = _resaved(tiny_checkpoint, tmp_path / "five.pt", num_classes=5)
    with pytest.raises(ValueError) as err:
        evaluate_checkpoint(five, "synth:target", eval_size=(32, 64), limit=1)
    msg = one_line(err.value)
    assert str(five) in msg and "5 classes" in msg and "the weights predict 19 classes" in msg
    wide = _resaved(tiny_checkpoint, tmp_path / "wide.pt", model_kwargs={"widths": [8, 8, 16, 32]})
    assert evaluate_main(["--checkpoint", str(wide), "--data", "synth:target", "--limit", "1"]) == 2
    line = one_line(capsys.readouterr().err)
    assert str(wide) in line and "shape mismatch" in line and "arch 'small'" in line


@pytest.mark.reliability
def test_checkpoint_classes_differ_from_the_data(tmp_path, tiny_checkpoint):
    from pfrlib.models import build_from_config

    state = torch.load(tiny_checkpoint, map_location="cpu", weights_only=True)
    cfg = TrainConfig.from_dict(state["config"]).replace(num_classes=5)
    state["config"] = cfg.to_dict()
    state["model"] = build_from_config(cfg.model, load_init=False).state_dict()
    path = save_checkpoint(tmp_path / "five_ok.pt", state)
    with pytest.raises(ValueError) as err:
        evaluate_checkpoint(path, "synth:target", eval_size=(32, 64), limit=1)
    msg = one_line(err.value)
    assert str(path) in msg and "predicts 5 classes" in msg and "'synth:target' has 19" in msg


@pytest.mark.reliability
def test_evaluate_options_and_device(tmp_path, tiny_checkpoint, capsys):
    args = ["--checkpoint", str(tiny_checkpoint), "--data", "synth:target", "--eval-size", "32", "64", "--no-reference"]
    assert evaluate_main([*args, "--limit", "0"]) == 2
    assert "limit: must be an integer >= 1, got 0" in one_line(capsys.readouterr().err)
    if not torch.cuda.is_available():
        assert evaluate_main([*args, "--device", "cuda"]) == 2
        assert one_line(capsys.readouterr().err) == "error: device: 'cuda' requested but CUDA is not available"
    assert evaluate_main([*args, "--device", "gpu"]) == 2
    assert "device must be" in one_line(capsys.readouterr().err)
    assert evaluate_main([*args, "--limit", "1", "--out", str(tmp_path / "ev")]) == 0
    assert (tmp_path / "ev" / "eval.json").is_file()


@pytest.mark.reliability
def test_non_finite_logits_are_refused_and_nothing_is_overwritten(tmp_path, tiny_checkpoint, capsys):
    state = torch.load(tiny_checkpoint, map_location="cpu", weights_only=True)
    key = next(k for k, v in state["model"].items() if v.is_floating_point() and v.dim() == 4)
    state["model"][key] = torch.full_like(state["model"][key], float("nan"))
    path = save_checkpoint(tmp_path / "nan.pt", state)
    out = tmp_path / "ev"
    out.mkdir()
    (out / "eval.json").write_text('{"miou": 0.5}')  # an earlier evaluation: must survive
    assert evaluate_main(["--checkpoint", str(path), "--data", "synth:target", "--eval-size", "32", "64",
                          "--limit", "2", "--out", str(out)]) == 2
    line = one_line(capsys.readouterr().err)
    assert str(path) in line and "non-finite logits" in line and "nothing was scored" in line
    assert (out / "eval.json").read_text() == '{"miou": 0.5}'
