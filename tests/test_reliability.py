"""Reliability: bad input and faults give one line naming the file or parameter, and lose nothing.

Each case is a mistake a new user makes (labels in the wrong encoding, a truncated PNG read by
a DataLoader worker, a checkpoint that is not one, a typo in a sweep spec, two sweep specs with
the same name, a second writer in a run directory, a full disk). Everything runs at tiny size: SynthStreets 32x64, a few items, the small model
with widths [8, 8, 16, 16], one thread. The engine's own cases (NaN guard, --overwrite, --resume)
are tested with the engine.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from pfrlib.launch import launcher as launch, sweep
from pfrlib.sweep import main as sweep_main
from pfrlib.engine.checkpoint import load_checkpoint, save_checkpoint
from pfrlib.config.train_config import TrainConfig
from pfrlib.data.errors import DataFileError
from pfrlib.data.folder import FolderDataset
from pfrlib.data.labels import ids_to_train_ids
from pfrlib.data.convert_labels import main as convert_main
from pfrlib.evaluation.evaluate import evaluate_checkpoint
from pfrlib.evaluate import main as evaluate_main
from pfrlib.launch.sweep_report import aggregate
from pfrlib.launch.sweep_spec import load_spec

TINY = dict(
    synth_size=(32, 64), synth_train_length=4, synth_val_length=2, batch_size=2,
    iterations=2, log_every=1, checkpoint_every=2, val_every=0, progress=False,
    model_kwargs={"widths": [8, 8, 16, 16]}, num_threads=1,
)
SWEEP_TINY = {"preset": "cpu", "iterations": 2, "synth_size": [32, 64], "synth_train_length": 4,
              "synth_val_length": 2, "batch_size": 2}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def one_line(text: str) -> str:
    """The single line of an error message (fails the test if there are more; progress bars aside)."""
    lines = [ln for ln in str(text).replace("\r", "\n").splitlines()
             if ln.strip() and not re.match(r"^\w+:\s+\d+%\|", ln)]
    assert len(lines) == 1, f"expected one line, got {len(lines)}:\n{text}"
    return lines[0]


# --------------------------------------------------------------------------- folder data
def folder(root: Path, labels: list[np.ndarray], h: int = 32, w: int = 64, options: dict | None = None) -> Path:
    """A folder dataset: random RGB images and the given label arrays (uint8 PNGs)."""
    rng = np.random.default_rng(0)
    for i, lab in enumerate(labels):
        (root / "images").mkdir(parents=True, exist_ok=True)
        (root / "labels").mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(root / "images" / f"f{i}.png")
        Image.fromarray(np.broadcast_to(lab, (h, w)).astype(np.uint8), mode="L").save(root / "labels" / f"f{i}.png")
    if options is not None:
        (root / "pfr_dataset.json").write_text(json.dumps(options))
    return root


def cityscapes_ids(h: int = 32, w: int = 64) -> np.ndarray:
    """A label in Cityscapes *label ids*: road 7, sidewalk 8, building 11, vegetation 21, sky 23, car 26."""
    lab = np.full((h, w), 7, np.uint8)
    lab[: h // 4] = 23
    lab[h // 4: h // 2, : w // 2] = 11
    lab[h // 4: h // 2, w // 2:] = 21
    lab[h // 2:, : w // 4] = 8
    lab[-4:, -8:] = 26
    return lab


def test_out_of_range_label_values_are_an_error_naming_file_and_values(tmp_path):
    ds = FolderDataset(folder(tmp_path / "d", [np.full((32, 64), 200)]))
    with pytest.raises(DataFileError) as err:
        ds[0]
    msg = one_line(err.value)
    assert str(tmp_path / "d" / "labels" / "f0.png") in msg and "[200]" in msg and "2048 of 2048 pixels" in msg
    assert "unknown_labels='ignore'" in msg  # how to opt in to ignoring them
    # opting in maps them to ignore; a label left with no class pixel at all is still an error
    with pytest.raises(DataFileError, match=r"f0.png has no pixel of any class.*empty_labels='allow'"):
        FolderDataset(tmp_path / "d", unknown_labels="ignore")[0]
    _, label = FolderDataset(tmp_path / "d", unknown_labels="ignore", empty_labels="allow")[0]
    assert bool((label == 255).all())


def test_some_unknown_values_are_an_error_not_a_silent_ignore(tmp_path):
    lab = np.zeros((32, 64), np.uint8)
    lab[0, :5] = 200
    ds = FolderDataset(folder(tmp_path / "d", [lab]))
    with pytest.raises(DataFileError, match=r"f0.png holds value\(s\) \[200\] \(5 of 2048 pixels\)"):
        ds[0]
    _, label = FolderDataset(tmp_path / "d", unknown_labels="ignore")[0]
    assert label[0, :5].tolist() == [255] * 5 and int(label[1:].max()) == 0


def test_cityscapes_label_ids_where_trainids_are_expected_say_how_to_convert(tmp_path):
    ids = cityscapes_ids()
    root = folder(tmp_path / "d", [ids, ids])
    with pytest.raises(DataFileError) as err:
        FolderDataset(root)[0]
    msg = one_line(err.value)
    assert "f0.png" in msg and "[21, 23, 26]" in msg and "look like Cityscapes label ids" in msg
    assert "label_format='cityscapes_ids'" in msg and "python -m pfrlib.data.convert_labels" in msg
    # option 1: read them as label ids
    want = ids_to_train_ids(ids)
    assert set(np.unique(want)) == {0, 1, 2, 8, 10, 13}
    _, label = FolderDataset(root, label_format="cityscapes_ids")[0]
    assert np.array_equal(label.numpy(), want)
    # option 2: the dataset root says so (what a command-line run uses)
    (root / "pfr_dataset.json").write_text('{"label_format": "cityscapes_ids"}')
    assert np.array_equal(FolderDataset(root)[1][1].numpy(), want)
    (root / "pfr_dataset.json").write_text('{"label_fromat": "cityscapes_ids"}')
    with pytest.raises(ValueError, match=r"pfr_dataset.json: unknown option\(s\) \['label_fromat'\]; allowed"):
        FolderDataset(root)
    (root / "pfr_dataset.json").unlink()
    with pytest.raises(ValueError, match=r"label_format: unknown label format 'ids19'; expected one of"):
        FolderDataset(root, label_format="ids19")
    # option 3: convert the files once; the converter never overwrites
    os.rename(root / "labels", root / "label_ids")
    assert convert_main([str(root / "label_ids"), str(root / "labels")]) == 0
    _, label = FolderDataset(root)[0]
    assert np.array_equal(label.numpy(), want)
    before = (root / "labels" / "f0.png").read_bytes()
    assert convert_main([str(root / "label_ids"), str(root / "labels")]) == 2
    assert (root / "labels" / "f0.png").read_bytes() == before


def test_a_label_without_any_class_pixel_is_an_error(tmp_path):
    root = folder(tmp_path / "d", [np.full((32, 64), 255), np.zeros((32, 64))])
    ds = FolderDataset(root)
    with pytest.raises(DataFileError, match=r"labels.f0.png has no pixel of any class: all 2048 pixels are 255"):
        ds[0]
    assert int(ds[1][1].max()) == 0  # the other item is fine: the check is per item, as it is read
    assert bool((FolderDataset(root, empty_labels="allow")[0][1] == 255).all())
    # label ids that are all void (0 = unlabeled) are no class either
    ids_root = folder(tmp_path / "ids", [np.zeros((32, 64))], options={"label_format": "cityscapes_ids"})
    with pytest.raises(DataFileError, match="no pixel of any class.*Cityscapes ids with no trainId"):
        FolderDataset(ids_root)[0]


def test_worker_errors_are_one_line_naming_the_file(tmp_path):
    root = folder(tmp_path / "d", [np.zeros((32, 64)), np.zeros((32, 64))])
    good = (root / "images" / "f1.png").read_bytes()
    (root / "images" / "f1.png").write_bytes(good[: len(good) // 2])  # truncated
    loader = torch.utils.data.DataLoader(FolderDataset(root), batch_size=1, num_workers=1)
    with pytest.raises(DataFileError) as err:
        list(loader)
    msg = one_line(err.value)
    assert str(root / "images" / "f1.png") in msg and "truncated" in msg and "DataLoader worker" in msg
    assert "Traceback" in err.value.worker_traceback  # the full worker traceback is kept for debugging
    # the same for a bad label value, in the main process and in a worker
    Image.fromarray(np.full((32, 64), 40, np.uint8), mode="L").save(root / "labels" / "f0.png")
    (root / "images" / "f1.png").write_bytes(good)
    with pytest.raises(DataFileError) as err:
        list(torch.utils.data.DataLoader(FolderDataset(root), batch_size=2, num_workers=1))
    assert "labels/f0.png holds value(s) [40]" in one_line(err.value)


def test_data_file_error_parses_the_text_torch_reraises_with():
    text = ("Caught DataFileError in DataLoader worker process 3.\nOriginal Traceback (most recent call last):\n"
            '  File "x.py", line 1, in <module>\n    f()\n'
            "pfrlib.data.errors.DataFileError: cannot decode image /d/a.png (corrupt or truncated file?): broken\n")
    err = DataFileError(text)
    assert str(err) == "cannot decode image /d/a.png (corrupt or truncated file?): broken (in a DataLoader worker)"
    assert err.worker_traceback == text and isinstance(err, ValueError)
    assert str(DataFileError("label /d/a.png\nis bad", "/d/a.png")) == "label /d/a.png is bad"


def test_training_on_labels_that_are_all_out_of_range_stops_with_one_line(tmp_path, capsys):
    from pfrlib.train import main as train_main

    root = folder(tmp_path / "d", [np.full((32, 64), 200)] * 2)
    rc = train_main(["--preset", "cpu", "--source", f"folder:{root}", "--source-val", "synth:source",
                     "--synth-size", "32", "64", "--synth-train-length", "4", "--synth-val-length", "2",
                     "--source-size", "32", "64", "--batch-size", "2", "--iterations", "2", "--num-workers", "1",
                     "--model-kwargs", json.dumps(TINY["model_kwargs"]), "--no-progress", "--num-threads", "1",
                     "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert rc == 2
    line = one_line(err)
    assert line.startswith("error: ") and "labels/f" in line and "[200]" in line
    assert not (tmp_path / "run" / "final.json").exists()


# --------------------------------------------------------------------------- checkpoints
@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    """One tiny finished run (2 iterations): its checkpoint_last.pt."""
    from pfrlib.engine.run import train

    out = tmp_path_factory.mktemp("run") / "run"
    result = train(TrainConfig.preset("cpu", **{**TINY, "out": str(out)}))
    ckpt = result.out / "checkpoint_last.pt"
    assert ckpt.is_file()
    return ckpt


def _bad_files(tmp_path: Path, good: Path) -> dict[str, tuple[Path, str]]:
    """name -> (file, a phrase its error must contain)."""
    data = good.read_bytes()
    files = {
        "missing": (tmp_path / "nope.pt", "does not exist"),
        "directory": (tmp_path, "is a directory"),
        "empty": (tmp_path / "empty.pt", "is empty"),
        "truncated": (tmp_path / "truncated.pt", "truncated or corrupt"),
        "random bytes": (tmp_path / "random.pt", "not a torch.save archive"),
        "text": (tmp_path / "notes.txt", "it is a text file, not a torch.save archive"),
        "pickled objects": (tmp_path / "other.pt", "pickled Python objects"),
        "bare state_dict": (tmp_path / "bare.pt", "bare state_dict of 2 tensors"),
        "other dict": (tmp_path / "other_dict.pt", "'epoch', 'state_dict'"),
        "other format": (tmp_path / "other_format.pt", "format 'othertool-2', not a pfrlib checkpoint format"),
    }
    files["empty"][0].write_bytes(b"")
    files["truncated"][0].write_bytes(data[: len(data) // 2])
    files["random bytes"][0].write_bytes(np.random.default_rng(0).bytes(4096))
    files["text"][0].write_text("hello, this is a text file\n")
    torch.save({"model": np.zeros(3)}, files["pickled objects"][0])
    torch.save({"w": torch.zeros(2), "b": torch.zeros(2)}, files["bare state_dict"][0])
    torch.save({"state_dict": {"w": torch.zeros(2)}, "epoch": 3}, files["other dict"][0])
    torch.save({"format": "othertool-2", "model": {}, "config": {}}, files["other format"][0])
    return files


def test_checkpoint_problems_are_one_line_naming_the_file(tmp_path, tiny_run):
    for name, (path, phrase) in _bad_files(tmp_path, tiny_run).items():
        with pytest.raises((ValueError, OSError)) as err:
            load_checkpoint(path)
        msg = one_line(err.value)
        assert str(path) in msg and phrase in msg, (name, msg)
        assert "weights_only=False" not in msg and "weights_only` set to `False" not in msg, name
    assert load_checkpoint(tiny_run)["format"].startswith("pfrlib-checkpoint-")


def test_evaluate_cli_on_bad_checkpoints_prints_one_line_and_exits_2(tmp_path, tiny_run, capsys):
    files = _bad_files(tmp_path, tiny_run)
    for name in ("truncated", "text", "pickled objects"):
        path = files[name][0]
        assert evaluate_main(["--checkpoint", str(path), "--data", "synth:target", "--no-reference"]) == 2
        line = one_line(capsys.readouterr().err)
        assert line.startswith("error: checkpoint ") and str(path) in line, (name, line)


def _resaved(tiny_run: Path, dest: Path, **config_overrides) -> Path:
    state = torch.load(tiny_run, map_location="cpu", weights_only=True)
    state["config"] = TrainConfig.from_dict(state["config"]).replace(**config_overrides).to_dict()
    save_checkpoint(dest, state)
    return dest


def test_weights_that_do_not_fit_the_saved_config(tmp_path, tiny_run, capsys):
    five = _resaved(tiny_run, tmp_path / "five.pt", num_classes=5)
    with pytest.raises(ValueError) as err:
        evaluate_checkpoint(five, "synth:target", eval_size=(32, 64), limit=1)
    msg = one_line(err.value)
    assert str(five) in msg and "5 classes" in msg and "the weights predict 19 classes" in msg
    wide = _resaved(tiny_run, tmp_path / "wide.pt", model_kwargs={"widths": [8, 8, 16, 32]})
    assert evaluate_main(["--checkpoint", str(wide), "--data", "synth:target", "--limit", "1"]) == 2
    line = one_line(capsys.readouterr().err)
    assert str(wide) in line and "shape mismatch" in line and "arch 'small'" in line


def test_checkpoint_classes_differ_from_the_data(tmp_path, tiny_run):
    from pfrlib.models import build_from_config

    state = torch.load(tiny_run, map_location="cpu", weights_only=True)
    cfg = TrainConfig.from_dict(state["config"]).replace(num_classes=5)
    state["config"] = cfg.to_dict()
    state["model"] = build_from_config(cfg.model, load_init=False).state_dict()
    path = save_checkpoint(tmp_path / "five_ok.pt", state)
    with pytest.raises(ValueError) as err:
        evaluate_checkpoint(path, "synth:target", eval_size=(32, 64), limit=1)
    msg = one_line(err.value)
    assert str(path) in msg and "predicts 5 classes" in msg and "'synth:target' has 19" in msg


def test_evaluate_options_and_device(tmp_path, tiny_run, capsys):
    args = ["--checkpoint", str(tiny_run), "--data", "synth:target", "--eval-size", "32", "64", "--no-reference"]
    assert evaluate_main([*args, "--limit", "0"]) == 2
    assert "limit: must be an integer >= 1, got 0" in one_line(capsys.readouterr().err)
    if not torch.cuda.is_available():
        assert evaluate_main([*args, "--device", "cuda"]) == 2
        assert one_line(capsys.readouterr().err) == "error: device: 'cuda' requested but CUDA is not available"
    assert evaluate_main([*args, "--device", "gpu"]) == 2
    assert "device must be" in one_line(capsys.readouterr().err)
    assert evaluate_main([*args, "--limit", "1", "--out", str(tmp_path / "ev")]) == 0
    assert (tmp_path / "ev" / "eval.json").is_file()


def test_non_finite_logits_are_refused_and_nothing_is_overwritten(tmp_path, tiny_run, capsys):
    state = torch.load(tiny_run, map_location="cpu", weights_only=True)
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


# --------------------------------------------------------------------------- run directory
REPO = Path(__file__).resolve().parent.parent


def _run_args(out: Path, *extra: str) -> list[str]:
    """``python -m pfrlib.train`` arguments of a tiny run in ``out``."""
    return ["--preset", "cpu", "--out", str(out), "--synth-size", "32", "64", "--synth-train-length", "4",
            "--synth-val-length", "2", "--batch-size", "2", "--iterations", "2", "--checkpoint-every", "2",
            "--model-kwargs", json.dumps(TINY["model_kwargs"]), "--no-progress", "--num-threads", "1", *extra]


def _snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under ``folder``: its bytes and modification time."""
    return {str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_second_writer_is_refused_with_one_line_naming_the_holder(tmp_path, capsys):
    from pfrlib.train import main as train_main

    out = tmp_path / "run"
    holder = ("import time; from pfrlib.config.train_config import TrainConfig; from pfrlib.engine.rundir import RunDirectory; "
              f"r = RunDirectory(TrainConfig.preset('cpu', out={str(out)!r})); print('locked', flush=True); "
              "time.sleep(300)")
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen([sys.executable, "-c", holder], env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        before = _snapshot(out)
        for extra in ([], ["--overwrite"], ["--resume"]):
            assert train_main(_run_args(out, *extra)) == 2
            line = one_line(capsys.readouterr().err)
            assert f"run directory {out} is in use by process {proc.pid}" in line, line
            assert f"lock file {out / '.lock'}" in line and "--out" in line
            assert _snapshot(out) == before  # nothing written beside the holder's lock file
    finally:
        proc.kill()  # the holder dies without letting go: the kernel releases its lock
        proc.wait()
    assert train_main(_run_args(out)) == 0
    assert json.loads((out / "final.json").read_text())["iterations"] == 2


def test_resuming_a_finished_run_changes_nothing(tmp_path, capsys):
    from pfrlib.train import main as train_main
    from pfrlib.engine.run import train

    out = tmp_path / "fin"
    assert train_main(_run_args(out)) == 0
    capsys.readouterr()
    before = _snapshot(out)
    assert train_main(_run_args(out, "--resume")) == 0
    captured = capsys.readouterr()
    assert f"resume: {out} already finished all 2 iterations" in captured.err and "nothing written" in captured.err
    assert "(2 iterations" in captured.out  # the run's result is reported as usual
    assert _snapshot(out) == before
    # a changed learning rate would train nothing: refused, and the record still says what was trained
    assert train_main(_run_args(out, "--resume", "--lr", "0.1")) == 2
    line = one_line(capsys.readouterr().err)
    lr = json.loads(before["config.json"][0])["optim"]["lr"]
    assert str(out) in line and "already finished all 2 iterations" in line and f"lr {lr} -> 0.1" in line
    assert _snapshot(out) == before
    # the Python API returns the finished run's result
    cfg = TrainConfig.from_json(out / "config.json").replace(resume=True)
    assert train(cfg).final == json.loads(before["final.json"][0])
    assert _snapshot(out) == before


class _Interrupted(RuntimeError):
    pass


def _interrupt_at(monkeypatch, call: int) -> None:
    """Make the ``call``-th ``Trainer.step`` of the next run raise (a run stopped mid-way)."""
    from pfrlib.engine.trainer import Trainer

    real, calls = Trainer.step, {"n": 0}

    def step(self):
        calls["n"] += 1
        if calls["n"] == call:
            raise _Interrupted("stopped")
        return real(self)

    monkeypatch.setattr(Trainer, "step", step)


def test_a_resume_that_changes_lr_records_it_per_iteration_range(tmp_path, monkeypatch, capsys):
    from pfrlib.engine.run import train

    cfg = TrainConfig.preset("cpu", **{**TINY, "iterations": 6, "out": str(tmp_path / "lr")})
    lr, d_lr = cfg.optim.lr, cfg.optim.d_lr
    _interrupt_at(monkeypatch, 5)  # checkpoint 2 confirmed by iteration 3; checkpoint 4 still pending
    with pytest.raises(_Interrupted):
        train(cfg)
    monkeypatch.undo()
    _interrupt_at(monkeypatch, 4)  # resumed at 2: checkpoint 4 confirmed by iteration 5
    with pytest.raises(_Interrupted):
        train(cfg.replace(resume=True, lr=lr / 2))
    assert f"resume: continuing from iteration 2 with lr {lr} -> {lr / 2}" in capsys.readouterr().err
    monkeypatch.undo()
    result = train(cfg.replace(resume=True, lr=lr / 4, d_lr=d_lr * 2))
    assert result.final["iterations"] == 6
    saved = json.loads((tmp_path / "lr" / "config.json").read_text())
    assert saved["lr_history"] == [
        {"from_iteration": 0, "lr": lr, "d_lr": d_lr},
        {"from_iteration": 2, "lr": lr / 2, "d_lr": d_lr},
        {"from_iteration": 4, "lr": lr / 4, "d_lr": d_lr * 2},
    ]
    assert saved["optim"]["lr"] == lr / 4  # the rates in effect now: what a further resume must match
    assert TrainConfig.from_json(tmp_path / "lr" / "config.json") == cfg.replace(resume=True, lr=lr / 4, d_lr=d_lr * 2)


def test_a_refused_run_leaves_no_folder_it_created(tmp_path, capsys):
    from pfrlib.train import main as train_main

    unlabelled = tmp_path / "unlabelled"
    (unlabelled / "images").mkdir(parents=True)
    Image.fromarray(np.zeros((32, 64, 3), np.uint8)).save(unlabelled / "images" / "f0.png")
    noise = folder(tmp_path / "noise", [np.full((32, 64), 200)] * 2)  # every label value unknown
    cases = {
        "no source labels": (["--source", f"folder:{unlabelled}"], "has no labels"),
        "unknown label values": (["--source", f"folder:{noise}", "--source-val", "synth:source",
                                  "--source-size", "32", "64", "--num-workers", "1"], "[200]"),
        "nothing to resume": (["--resume"], "holds no checkpoint_last.pt"),
    }
    existing = tmp_path / "existing"
    existing.mkdir()
    for name, (extra, phrase) in cases.items():
        new = tmp_path / "new" / "deeper" / "run"
        assert train_main(_run_args(new, *extra)) == 2, name
        assert phrase in one_line(capsys.readouterr().err), name
        assert not (tmp_path / "new").exists(), name
        assert train_main(_run_args(existing, *extra)) == 2, name
        capsys.readouterr()
        assert list(existing.iterdir()) == [], name  # an existing folder is left as it was: empty


def test_an_interrupted_overwrite_is_put_back_at_the_next_start(tmp_path, capsys):
    from pfrlib.train import main as train_main

    out = tmp_path / "ow"
    assert train_main(_run_args(out)) == 0
    before = {k: v[0] for k, v in _snapshot(out).items()}
    # what a --overwrite killed before its first good checkpoint leaves: the old run moved aside
    aside = out / ".replaced-20260101-000000-1"
    aside.mkdir()
    from pfrlib.engine.rundir import RUN_FILES

    for name in RUN_FILES:  # what --overwrite moves aside (its events folder included)
        if (out / name).exists():
            (out / name).rename(aside / name)
    (out / "config.json").write_text(before["config.json"].decode().replace('"seed": 0', '"seed": 7'))
    (out / "checkpoint_pending.pt").write_bytes(b"half")
    capsys.readouterr()
    assert train_main(_run_args(out)) == 2  # the old run is back: a new run is refused as usual
    err = capsys.readouterr().err
    assert "put back the run" in err and "already holds a run" in err
    assert {k: v[0] for k, v in _snapshot(out).items()} == before


# --------------------------------------------------------------------------- a full disk
@pytest.fixture
def small_disk(tmp_path):
    """A tmpfs of a given size (the machine must allow mounting one: root, e.g. CI)."""
    mounted = []

    def mount(size: str) -> Path:
        where = tmp_path / f"disk{len(mounted)}"
        where.mkdir()
        proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            pytest.skip(f"cannot mount a small tmpfs here ({(proc.stderr or proc.stdout).strip()[:120]}); "
                        f"the full-disk tests need root")
        mounted.append(where)
        return where

    yield mount
    for where in mounted:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def _fill(disk: Path) -> None:
    """Fill ``disk`` to the last byte."""
    with open(disk / "filler", "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 4096)
        except OSError:
            pass
        try:
            while True:
                f.write(b"\0")
        except OSError:
            pass


def test_a_full_disk_is_one_line_naming_the_file_and_nothing_half_written_stays(small_disk, capsys):
    from pfrlib.train import main as train_main

    disk = small_disk("1m")  # config.json and metrics fit, a checkpoint (~2.4 MB) does not
    out = disk / "run"
    assert train_main(_run_args(out)) == 2
    line = one_line(capsys.readouterr().err)
    assert re.match(rf"error: disk full: cannot write {re.escape(str(out))}/checkpoint_pending.pt "
                    r"\([0-9.]+ (bytes|KiB|MiB) left on its file system\); nothing half-written was kept", line), line
    assert not list(out.glob(".*.tmp")) and not (out / "checkpoint_pending.pt").exists()
    for rec in (out / "metrics.jsonl").read_text().splitlines():
        json.loads(rec)  # whole records only


def test_overwrite_on_a_nearly_full_disk_keeps_the_old_run(small_disk, capsys):
    from pfrlib.train import main as train_main

    disk = small_disk("4m")  # one run fits, a second checkpoint beside it does not
    out = disk / "run"
    assert train_main(_run_args(out)) == 0
    before = _snapshot(out)
    capsys.readouterr()
    assert train_main(_run_args(out, "--overwrite", "--seed", "1")) == 2
    line = one_line(capsys.readouterr().err)
    assert line.startswith(f"error: disk full: cannot write {out}/") and "the run it was replacing is put back" in line
    assert {k: v[0] for k, v in _snapshot(out).items()} == {k: v[0] for k, v in before.items()}
    assert not list(out.glob(".replaced-*")) and not list(out.glob(".*.tmp"))


def test_a_metrics_record_cut_by_a_full_disk_is_taken_back(small_disk):
    from pfrlib.engine.rundir import DiskFullError, RunDirectory

    disk = small_disk("64k")
    rundir = RunDirectory(TrainConfig.preset("cpu", out=str(disk / "run")))
    rundir.start()
    rundir.log({"iter": 1, "seg": 1.0})
    kept = (disk / "run" / "metrics.jsonl").read_bytes()
    _fill(disk)
    with pytest.raises(DiskFullError) as err:
        rundir.log({"iter": 2, "note": "x" * 20000})
    assert f"cannot write {disk / 'run' / 'metrics.jsonl'}" in one_line(err.value)
    assert (disk / "run" / "metrics.jsonl").read_bytes() == kept
    rundir.fail()


# --------------------------------------------------------------------------- sweeps
def spec_file(path: Path, **spec) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


@pytest.mark.parametrize("spec, phrases", [
    (dict(name="x", grid={"seed": [0]}, metircs=["target_miou"]),
     ["unknown key(s) ['metircs']", "allowed:", "'metrics'"]),
    (dict(name="x", fixed=SWEEP_TINY, grid={"metod": ["pfr"]}),
     ["unknown grid key 'metod'", "did you mean 'method'", "lambda_pfr"]),
    (dict(name="x", fixed=SWEEP_TINY, grid={"method": ["pfr", "pfr_advv"]}),
     ["run 'method=pfr_advv'", "method: unknown value 'pfr_advv'", "pfr_adv"]),
    (dict(name="x", fixed=SWEEP_TINY, grid={"seed": [0]}, metrics=["target_mIoU"]),
     ["unknown metric 'target_mIoU'", "did you mean 'target_miou'"]),
    (dict(name="x", fixed={**SWEEP_TINY, "out": "elsewhere"}, grid={"seed": [0]}),
     ["fixed key 'out' is set by the sweep itself"]),
    (dict(name="x", fixed={**SWEEP_TINY, "source": "folder:/no/such/dir"}, grid={"seed": [0]}),
     ["run 'seed=0'", "/no/such/dir", "does not exist"]),
    (dict(name="x", fixed=SWEEP_TINY, grid={"seed": [0]}, group_by=["method"]),
     ["group_by key 'method' is not a parameter"]),
    (dict(name="x", fixed={**SWEEP_TINY, "seed": [0, 1]}, grid={"method": ["pfr"]}),
     ["run 'method=pfr'", "seed: cannot interpret [0, 1]", "under 'grid:'"]),
    (dict(name=5, grid={"seed": [0]}), ["'name' must be a non-empty word"]),
])
def test_bad_sweep_specs_stop_before_anything_runs(tmp_path, capsys, spec, phrases):
    path = spec_file(tmp_path / "spec.yaml", **spec)
    assert sweep_main([str(path), "--root", str(tmp_path / "runs")]) == 2
    line = one_line(capsys.readouterr().err)
    assert line.startswith("error: ") and str(path) in line
    for phrase in phrases:
        assert phrase in line, (phrase, line)
    assert not (tmp_path / "runs").exists()  # nothing started


def test_sweep_spec_that_is_not_yaml(tmp_path, capsys):
    path = tmp_path / "spec.yaml"
    path.write_text("name: x\ngrid: {seed: [0}\n")
    assert sweep_main([str(path), "--root", str(tmp_path / "runs")]) == 2
    line = one_line(capsys.readouterr().err)
    assert f"{path} is not valid YAML (line 2, column 16)" in line


def _fake_backend(fail: set[str]):
    """A stand-in for the local launcher: writes config.json (+ final.json unless the run should fail)."""
    from pfrlib.launch.local import Backend
    from pfrlib.launch.job import Outcome

    class Fake(Backend):
        def __init__(self, jobs=None):
            pass

        def run(self, jobs, plans, report=print):
            outcomes = []
            for job in jobs:
                job.out.mkdir(parents=True, exist_ok=True)
                job.train_config().to_json(job.out / "config.json")
                ok = job.name not in fail
                if ok:
                    (job.out / "final.json").write_text(json.dumps({"target_miou": 0.25, "source_miou": 0.5}))
                outcome = Outcome(job, "finished" if ok else "failed", error=None if ok else "fake failure")
                (job.out / "status.json").write_text(json.dumps(outcome.to_status()))
                outcomes.append(outcome)
            return outcomes
    return Fake


def test_failed_runs_appear_in_the_summary(tmp_path, monkeypatch):
    monkeypatch.setitem(launch.BACKENDS, "local", _fake_backend({"method=pfr_seed=1", "method=pfr_adv_seed=0",
                                                                "method=pfr_adv_seed=1"}))
    spec = load_spec(spec_file(tmp_path / "spec.yaml", name="s", fixed=SWEEP_TINY,
                                     grid={"method": ["pfr", "pfr_adv"], "seed": [0, 1]}, group_by=["method"]))
    statuses = sweep.run_sweep(spec, root=tmp_path / "runs", log=lambda *_: None)
    assert sum(not s["ok"] for s in statuses) == 3
    result = aggregate(spec, root=tmp_path / "runs")
    md = result["markdown"]
    assert "| pfr | 1 (1 failed) | 25.0 ± 0.0 |" in md and "| pfr_adv | 0 (2 failed) | FAILED |" in md
    assert "Failed runs (3" in md and "method=pfr_adv_seed=1" in md
    csv_text = (tmp_path / "runs" / "s" / "results.csv").read_text()
    assert csv_text.count(",failed,") == 3 and csv_text.count(",ok,") == 1


def test_two_specs_with_one_name_do_not_share_a_folder_unless_asked(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(launch.BACKENDS, "local", _fake_backend(set()))
    a = spec_file(tmp_path / "a" / "spec.yaml", name="same", fixed=SWEEP_TINY, grid={"seed": [0]})
    b = spec_file(tmp_path / "b" / "spec.yaml", name="same", fixed={**SWEEP_TINY, "lr": 1e-3}, grid={"seed": [0]})
    root = tmp_path / "runs"
    assert sweep_main([str(a), "--root", str(root)]) == 0
    capsys.readouterr()
    final = (root / "same" / "seed=0" / "final.json").read_text()
    assert sweep_main([str(b), "--root", str(root)]) == 2
    line = one_line(capsys.readouterr().err)
    assert "holds the runs of sweep spec a/spec.yaml" in line and "b/spec.yaml" in line and "--share-dir" in line
    assert (root / "same" / "seed=0" / "final.json").read_text() == final  # untouched
    # asked to share: b may write there; its run (another configuration) is moved aside, not lost
    assert sweep_main([str(b), "--root", str(root), "--share-dir"]) == 0
    (kept,) = (root / "same" / "_replaced").glob("*/seed=0")
    assert (kept / "final.json").read_text() == final
    assert json.loads((root / "same" / "sweep.json").read_text())["specs"] == ["a/spec.yaml", "b/spec.yaml"]


def test_a_finished_run_with_another_configuration_is_kept_not_overwritten(tmp_path, monkeypatch):
    monkeypatch.setitem(launch.BACKENDS, "local", _fake_backend(set()))
    path = spec_file(tmp_path / "spec.yaml", name="s", fixed=SWEEP_TINY, grid={"seed": [0]})
    root = tmp_path / "runs"
    sweep.run_sweep(load_spec(path), root=root, log=lambda *_: None)
    run_dir = root / "s" / "seed=0"
    (run_dir / "final.json").write_text('{"target_miou": 0.99}')  # the old result, to be kept
    spec_file(path, name="s", fixed={**SWEEP_TINY, "lr": 1e-3}, grid={"seed": [0]})
    logs: list[str] = []
    sweep.run_sweep(load_spec(path), root=root, log=logs.append)
    warning = next(x for x in logs if "WARNING" in x)
    assert re.search(r"seed=0 finished with another configuration \(lr: [0-9.e-]+ -> 0.001\)", one_line(warning))
    (kept,) = (root / "s" / "_replaced").glob("*/seed=0")
    assert str(kept) in warning
    assert (kept / "final.json").read_text() == '{"target_miou": 0.99}'
    assert json.loads((run_dir / "final.json").read_text())["target_miou"] == 0.25  # the rerun
