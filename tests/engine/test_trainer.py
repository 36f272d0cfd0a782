"""pfrlib.train: run directory, label hygiene, bit-exact resume, DDP, validation, NaN guard.

Runs are tiny (SynthStreets 32x64, a handful of items, a few iterations of the small model);
the assertions are about the machinery, not about accuracy.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from pfrlib.paper import losses
from pfrlib.paper.metrics import iou, miou
from pfrlib.config.train_config import TrainConfig
from pfrlib.data.spec import build_dataset
from pfrlib.data.transforms import EvalTransform
from pfrlib.engine.checkpoint import load_model
from pfrlib.engine.record import TEST_CONFUSION, read_test_confusion
from pfrlib.engine.scoring import evaluate_model
from pfrlib.engine.watchdog import NonFiniteLossError
from pfrlib.engine.trainer import Trainer
from pfrlib.engine.run import train
from pfrlib.train import main
from synth_folders import write_synth_folder

REPO = Path(__file__).resolve().parents[2]

TINY = dict(
    synth_size=(32, 64), synth_train_length=8, synth_val_length=4, batch_size=2,
    iterations=6, log_every=2, checkpoint_every=3, val_every=0, progress=False,
    model_kwargs={"widths": [8, 8, 16, 16]}, num_threads=1,
)


@pytest.fixture(autouse=True)
def _restore_torch_threads():
    """Runs use one thread (tiny tensors; robust on a busy CI box); restore the default after."""
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


def tiny(tmp_path: Path, name: str = "run", **overrides) -> TrainConfig:
    return TrainConfig.preset("cpu", **{**TINY, "out": str(tmp_path / name), **overrides})


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, map_location="cpu", weights_only=True)["model"]


def _same_weights(a: Path, b: Path) -> bool:
    wa, wb = _weights(a), _weights(b)
    return wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


def _metrics(path: Path) -> list[dict]:
    return [{k: v for k, v in json.loads(line).items() if k != "time"} for line in path.read_text().splitlines()]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _cli(tmp_path: Path, name: str, *extra: str) -> list[str]:
    args = ["--preset", "cpu", "--out", str(tmp_path / name), "--synth-size", "32", "64",
            "--synth-train-length", "8", "--synth-val-length", "4", "--batch-size", "2",
            "--model-kwargs", json.dumps(TINY["model_kwargs"]), "--no-progress", "--num-threads", "1"]
    return args + list(extra)


# --------------------------------------------------------------------------- run directory
def test_run_directory_holds_config_metrics_checkpoint_final(tmp_path):
    result = train(tiny(tmp_path, method="pfr_adv", multi_level=True, val_every=3, keep_best=True))
    out = result.out
    assert TrainConfig.from_json(out / "config.json") == result.config
    recs = _metrics(out / "metrics.jsonl")
    losses_recs = [r for r in recs if "seg" in r]
    assert [r["iter"] for r in losses_recs] == [2, 4, 6]
    for key in ("seg", "seg_aux", "adv", "adv_aux", "pfr", "pfr_style_2", "pfr_style_5", "d", "d_aux",
                "d_acc_source", "d_acc_target", "total", "lr"):
        assert key in losses_recs[0], key
    assert any("val_target_miou" in r for r in recs)
    final = json.loads((out / "final.json").read_text())
    assert final["iterations"] == 6 and final["method"] == "pfr_adv"
    assert 0.0 <= final["target_miou"] <= 1.0 and 0.0 <= final["source_miou"] <= 1.0
    assert final["target_val"]["per_class_iou"]["road"] is not None
    assert final["target_val"]["per_class_iou"]["train"] is None  # not a SynthStreets class
    assert final["best_on_val"]["selected_on"] == "synth:target"
    ckpt = torch.load(out / "checkpoint_last.pt", map_location="cpu", weights_only=True)
    assert ckpt["iteration"] == 6
    assert {"model", "discriminators", "optimizer", "scheduler", "d_optimizers", "rng"} <= set(ckpt)
    assert set(ckpt["discriminators"]) == {"main", "aux"}
    assert (out / "checkpoint_best.pt").exists()
    assert not list(out.glob(".*.tmp"))


def test_source_only_and_pfr_skip_the_discriminator(tmp_path):
    r = Trainer(tiny(tmp_path, method="source_only"))
    assert r.discriminators == {} and r.tgt_train is None
    p = Trainer(tiny(tmp_path, "p", method="pfr"))
    assert p.discriminators == {} and p.tgt_train is not None
    terms = p.step()
    assert "pfr" in terms and "adv" not in terms


# --------------------------------------------------------------------------- the target test split
def _test_matrices(checkpoint: Path) -> tuple[torch.Tensor, str]:
    """A checkpoint scored again, alone, on its run's target test set: per-image matrices and the spec."""
    model, cfg = load_model(checkpoint)
    ds = build_dataset(cfg.data.target_test, "test", EvalTransform(size=cfg.data.eval_size, normalize=None), cfg.data,
                       "target_test")
    return evaluate_model(model, ds, per_image=True).per_image, cfg.data.target_test


def _check_test_scores(out: Path, final: dict, images: int) -> None:
    """final.json's target_test and best_on_val.target_test are the sums of the kept per-image matrices,
    which are those of the last and the val-chosen checkpoints scored again, image by image."""
    kept = read_test_confusion(out)
    assert kept.last.shape == (images, 19, 19) and kept.spec == "synth:target:test"
    for record, matrices, checkpoint in ((final["target_test"], kept.last, "checkpoint_last.pt"),
                                         (final["best_on_val"]["target_test"], kept.best_on_val, "checkpoint_best.pt")):
        assert (record["spec"], record["split"], record["num_images"]) == ("synth:target:test", "test", images)
        summed = torch.from_numpy(matrices.sum(0))
        assert record["miou"] == pytest.approx(miou(summed, list(kept.class_ids)))
        road = iou(summed)[0].item()
        assert record["per_class_iou"]["road"] == pytest.approx(road) and record["per_class_iou"]["train"] is None
        again, spec = _test_matrices(out / checkpoint)
        assert spec == kept.spec and torch.equal(again, torch.from_numpy(matrices))


def test_a_run_scores_its_last_and_its_val_chosen_model_on_the_target_test_split(tmp_path):
    result = train(tiny(tmp_path, method="source_only", val_every=2, keep_best=True, synth_val_length=5))
    final = result.final
    assert final["best_on_val"]["selected_on"] == "synth:target" and final["best_on_val"]["iteration"] in (2, 4)
    assert final["target_val"]["num_images"] == 5  # val and test share the length, not the images
    _check_test_scores(result.out, final, images=5)
    assert main(_cli(tmp_path, "no_test", "--method", "source_only", "--iterations", "2", "--target-test", "none")) == 0
    final = json.loads((tmp_path / "no_test" / "final.json").read_text())
    assert final["target_test"] is None and not (tmp_path / "no_test" / TEST_CONFUSION).exists()


# --------------------------------------------------------------------------- label hygiene
def _folder(root: Path, domain: str, n: int, noise: bool) -> Path:
    """SynthStreets items written as a FolderDataset (``images/`` + ``labels/``); optionally noisy labels."""
    return write_synth_folder(root, domain, n, noise, seed=123)


@pytest.mark.parametrize("method", ["pfr_adv", "clan", "fcn_wild", "road", "curriculum"])
def test_target_labels_are_never_read_by_adaptation(tmp_path, method):
    """Adaptation (the full method and every Table-1 baseline) on a target folder whose labels are
    noise gives bit-identical weights (and baseline state: estimator, reference, bounds)."""
    clean = _folder(tmp_path / "clean", "target", 6, noise=False)
    noisy = _folder(tmp_path / "noisy", "target", 6, noise=True)
    cfg = dict(method=method, multi_level=True, hflip=True, iterations=4, checkpoint_every=4, curriculum_start=0)
    a = train(tiny(tmp_path, "a", target=f"folder:{clean}", **cfg))
    b = train(tiny(tmp_path, "b", target=f"folder:{noisy}", **cfg))
    assert _same_weights(a.out / "checkpoint_last.pt", b.out / "checkpoint_last.pt")
    sa, sb = (torch.load(r.out / "checkpoint_last.pt", map_location="cpu", weights_only=True) for r in (a, b))
    assert all(torch.equal(v, sb["baseline"][k]) for k, v in sa.get("baseline", {}).items())
    assert a.final["target_miou"] != b.final["target_miou"]  # validation does read (different) labels
    if method != "pfr_adv":
        return
    # ...while the oracle, which trains on target labels, does see the noise
    cfg = dict(method="oracle", iterations=2, checkpoint_every=2)
    oa = train(tiny(tmp_path, "oa", target=f"folder:{clean}", **cfg))
    ob = train(tiny(tmp_path, "ob", target=f"folder:{noisy}", **cfg))
    assert not _same_weights(oa.out / "checkpoint_last.pt", ob.out / "checkpoint_last.pt")


# --------------------------------------------------------------------------- resume
def test_killed_run_resumes_bit_exactly(tmp_path):
    """SIGKILL a CLI run after a checkpoint, resume it, compare with an uninterrupted run."""
    its = 40
    extra = ["--method", "adaptsegnet", "--iterations", str(its), "--checkpoint-every", "4",
             "--log-every", "2", "--hflip"]
    killed = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "pfrlib.train", *_cli(tmp_path, "killed", *extra)],
                            env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    ckpt = killed / "checkpoint_last.pt"
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if ckpt.exists():
            break
        time.sleep(0.01)
    assert proc.poll() is None, f"run ended before it could be killed: {proc.stderr.read().decode()[-2000:]}"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    stopped_at = torch.load(ckpt, map_location="cpu", weights_only=True)["iteration"]
    assert 0 < stopped_at < its
    assert not (killed / "final.json").exists()

    assert main(_cli(tmp_path, "killed", *extra, "--resume")) == 0
    assert main(_cli(tmp_path, "whole", *extra)) == 0
    whole = tmp_path / "whole"
    assert _same_weights(killed / "checkpoint_last.pt", whole / "checkpoint_last.pt")
    assert _metrics(killed / "metrics.jsonl") == _metrics(whole / "metrics.jsonl")
    fk, fw = (json.loads((d / "final.json").read_text()) for d in (killed, whole))
    for key in ("target_val", "source_val"):
        assert (fk[key]["miou"], fk[key]["per_class_iou"]) == (fw[key]["miou"], fw[key]["per_class_iou"])


def test_data_stream_does_not_depend_on_loader_workers(tmp_path):
    """Each sample's augmentation is seeded by its stream position: workers change nothing."""
    cfg = dict(method="adaptsegnet", hflip=True, iterations=3, checkpoint_every=3)
    a = train(tiny(tmp_path, "w0", num_workers=0, **cfg))
    b = train(tiny(tmp_path, "w2", num_workers=2, **cfg))
    assert _same_weights(a.out / "checkpoint_last.pt", b.out / "checkpoint_last.pt")


def test_resume_refuses_a_changed_config_and_fresh_runs_refuse_an_occupied_dir(tmp_path):
    train(tiny(tmp_path, method="source_only", iterations=2))
    with pytest.raises(ValueError, match="weight_decay"):  # (lr and d_lr alone may change on resume)
        train(tiny(tmp_path, method="source_only", iterations=2, weight_decay=1e-4, resume=True))
    with pytest.raises(FileExistsError, match="out"):
        train(tiny(tmp_path, method="source_only", iterations=2))


# --------------------------------------------------------------------------- DDP
def test_ddp_two_processes_gloo(tmp_path):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "pfrlib.train", *_cli(tmp_path, "ddp", "--method", "pfr_adv", "--iterations", "3",
                                       "--val-every", "2", "--keep-best", "--device", "cpu")]
    env = _env()
    env["OMP_NUM_THREADS"] = "1"
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    final = json.loads((tmp_path / "ddp" / "final.json").read_text())
    assert final["world_size"] == 2 and final["iterations"] == 3
    assert len((tmp_path / "ddp" / "metrics.jsonl").read_text().splitlines()) >= 1  # rank 0 only writes
    assert final["replicas_identical"] is True
    _check_test_scores(tmp_path / "ddp", final, images=4)  # each rank scored half: put together in image order


PAPER_BASELINES = ["clan", "fcn_wild", "road", "curriculum"]


def _paper_argv(method: str, out: Path, *extra: str) -> list[str]:
    return ["--preset", "paper", "--method", method, "--source", "synth:source", "--target", "synth:target",
            "--source-val", "synth:source", "--target-val", "synth:target", "--synth-size", "65", "129",
            "--source-size", "65", "129", "--target-size", "65", "129", "--eval-size", "65", "129",
            "--iterations", "2", "--synth-train-length", "8", "--synth-val-length", "2", "--device", "cpu",
            "--out", str(out), "--no-progress", *extra]


@pytest.mark.slow
def test_torchrun_trains_the_papers_model_and_every_table1_baseline(tmp_path):
    """The README's torchrun command on the paper preset (DeepLab-v2 R101 multi-level, SGD with
    AdaptSegNet's listing) on 2 gloo ranks, then every Table-1 baseline with ``--preset paper
    --method M`` at a small size (one block per stage), all in one launch (tests/engine/torchrun_many.py:
    one agent and two interpreters for the five runs).

    The papers' model: with AdaptSegNet's 2-branch ASPP heads, branches 3-4 never get a gradient, so
    they are frozen; otherwise DDP stops at the second iteration ("parameters that were not used in
    producing loss"). Two iterations show that it does not. The baselines: their discriminators and
    trainable extras (Curriculum's estimator) are DDP-wrapped, every parameter that requires a
    gradient gets one (CLAN's weighting from the first iteration), and both ranks end with
    bitwise-equal weights.
    """
    runs = [_paper_argv("pfr_adv", tmp_path / "ddp_paper")]
    for method in PAPER_BASELINES:
        runs.append(_paper_argv(
            method, tmp_path / f"paper_{method}", "--model-kwargs", json.dumps({"layers": [1, 1, 1, 1]}),
            "--fcn-stat-images", "8", "--curriculum-start", "0", "--clan-preheat", "0",
            "--num-workers", "0"))  # the loaders' workers under torchrun: the papers' model above has them
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           str(Path(__file__).with_name("torchrun_many.py")), json.dumps(runs)]
    env = _env()
    env["OMP_NUM_THREADS"] = "1"
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = tmp_path / "ddp_paper"
    final = json.loads((out / "final.json").read_text())
    assert final["world_size"] == 2 and final["iterations"] == 2 and final["arch"] == "deeplabv2_r101"
    assert final["replicas_identical"] is True  # both ranks hold bitwise the same weights
    assert (out / "checkpoint_last.pt").exists() and not (out / "checkpoint_pending.pt").exists()
    for method in PAPER_BASELINES:
        final = json.loads((tmp_path / f"paper_{method}" / "final.json").read_text())
        assert final["world_size"] == 2 and final["arch"] == "deeplabv2_r101" and final["method"] == method
        assert final["iterations"] == 2 and final["replicas_identical"] is True, method


def test_a_diverged_run_keeps_a_checkpoint_whose_model_is_finite(tmp_path, capsys):
    """SGD at lr 30: weights blow up (finite, ~1e11) one iteration before the losses turn NaN.
    Only checkpoints whose next losses were finite are kept, so the kept model evaluates."""
    from pfrlib.evaluation.evaluate import evaluate_checkpoint

    out = tmp_path / "nan"
    code = main(_cli(tmp_path, "nan", "--optimizer", "sgd", "--lr", "30", "--checkpoint-every", "1",
                     "--iterations", "30"))
    assert code == 3
    err = capsys.readouterr().err
    assert "non-finite" in err and "checkpoint_last.pt (iteration" in err
    result, _ = evaluate_checkpoint(out / "checkpoint_last.pt", "synth:target")
    assert result.miou == result.miou  # a real number
    model_state = torch.load(out / "checkpoint_last.pt", map_location="cpu", weights_only=True)["model"]
    assert all(torch.isfinite(v).all() for v in model_state.values() if v.is_floating_point())
    assert not (out / "checkpoint_pending.pt").exists()
    # continue it from that checkpoint with a sane learning rate: reported, recorded, trains to the end
    assert main(_cli(tmp_path, "nan", "--optimizer", "sgd", "--lr", "1e-3", "--checkpoint-every", "1",
                     "--iterations", "30", "--resume")) == 0
    assert "lr 30.0 -> 0.001" in capsys.readouterr().err
    assert json.loads((out / "config.json").read_text())["optim"]["lr"] == 1e-3
    assert json.loads((out / "final.json").read_text())["iterations"] == 30


def test_an_overflowing_weighted_sum_names_the_term(tmp_path, capsys):
    assert main(_cli(tmp_path, "ovf", "--method", "pfr", "--lambda-pfr", "1e38", "--gram-normalize", "none",
                     "--iterations", "2")) == 3
    err = capsys.readouterr().err
    assert "'total' = inf" in err and "largest weighted term is 'pfr'" in err


def test_a_corrupt_config_json_is_named(tmp_path, capsys):
    train(tiny(tmp_path, "cj", method="source_only", iterations=2, checkpoint_every=2))
    (tmp_path / "cj" / "config.json").write_text("{not json")
    assert main(_cli(tmp_path, "cj", "--resume")) == 2
    err = capsys.readouterr().err
    assert "config.json" in err and "not valid JSON" in err


@pytest.mark.parametrize("value", ["inf", "nan"])
def test_non_finite_learning_rates_are_rejected_up_front(tmp_path, capsys, value):
    assert main(_cli(tmp_path, "lr", "--lr", value)) == 2
    assert "lr" in capsys.readouterr().err


def test_overwrite_keeps_the_old_run_until_the_new_one_has_a_checkpoint(tmp_path):
    old = train(tiny(tmp_path, "ow", method="source_only", iterations=2, checkpoint_every=2))
    before = (old.out / "final.json").read_text()
    # the new run fails before its first checkpoint (an unreadable image)
    bad = tmp_path / "bad"
    (bad / "images").mkdir(parents=True)
    (bad / "images" / "000.png").write_bytes(b"not a png")
    with pytest.raises(Exception):
        train(tiny(tmp_path, "ow", method="source_only", iterations=2, overwrite=True, source=f"folder:{bad}"))
    assert (old.out / "final.json").read_text() == before and (old.out / "checkpoint_last.pt").exists()
    assert not list(old.out.glob(".replaced-*"))
    # a successful replacement removes the old run
    new = train(tiny(tmp_path, "ow", method="source_only", iterations=3, checkpoint_every=3, overwrite=True))
    assert new.final["iterations"] == 3 and not list(new.out.glob(".replaced-*"))


def test_resume_without_a_checkpoint_is_an_error(tmp_path, capsys):
    assert main(_cli(tmp_path, "empty", "--resume")) == 2
    assert "holds no checkpoint_last.pt" in capsys.readouterr().err


def test_leftover_temporary_checkpoints_are_removed_on_the_next_start(tmp_path):
    first = train(tiny(tmp_path, "tmp", method="source_only", iterations=2, checkpoint_every=2))
    junk = first.out / ".checkpoint_last.pt.abc123.tmp"
    junk.write_bytes(b"half a checkpoint")
    train(tiny(tmp_path, "tmp", method="source_only", iterations=2, checkpoint_every=2, overwrite=True))
    assert not junk.exists()


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("args,field", [
    (["--method", "dann"], "method"),
    (["--preset", "gpu"], "preset"),
    (["--target", "imagenet:/x"], "target"),
    (["--lambda-pfr", "-1"], "lambda_pfr"),
    (["--lambda-adv", "-0.5"], "lambda_adv"),
    (["--source", "folder:/nonexistent/pfr-data"], "source"),
    (["--num-classes", "7"], "num_classes"),
])
def test_bad_configuration_is_rejected_before_training(tmp_path, capsys, args, field):
    assert main(_cli(tmp_path, "bad", *args)) == 2
    err = capsys.readouterr().err
    assert field in err
    assert not (tmp_path / "bad" / "metrics.jsonl").exists()


def test_unwritable_output_directory(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    assert main(_cli(tmp_path, "file/run")) == 2
    assert "out" in capsys.readouterr().err


def test_nan_guard_names_the_term_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    real = losses.pfr_loss
    calls = {"n": 0}

    def poisoned(*a, **k):
        out = real(*a, **k)
        calls["n"] += 1
        if calls["n"] == 5:
            return out._replace(total=out.total * float("nan"))
        return out

    monkeypatch.setattr(losses, "pfr_loss", poisoned)
    cfg = tiny(tmp_path, method="pfr", iterations=8, checkpoint_every=2)
    with pytest.raises(NonFiniteLossError, match="iteration 5: term 'pfr'") as info:
        train(cfg)
    # checkpoint 4 was written, but the next losses (iteration 5) were not finite: it is not
    # confirmed as good, so the newest good checkpoint is iteration 2's
    assert "checkpoint_last.pt (iteration 2)" in str(info.value)
    ckpt = torch.load(cfg.run.out + "/checkpoint_last.pt", map_location="cpu", weights_only=True)
    assert ckpt["iteration"] == 2
    assert not Path(cfg.run.out, "checkpoint_pending.pt").exists()
    assert all(torch.isfinite(v).all() for v in ckpt["model"].values() if v.is_floating_point())
    assert not Path(cfg.run.out, "final.json").exists()


# --------------------------------------------------------------------------- load-or-train (notebooks)
def test_load_or_train_reuses_resumes_and_retrains(tmp_path, capsys):
    from pfrlib.teaching.nbtools import load_or_train

    cfg = tiny(tmp_path, "lot")
    first = load_or_train(cfg)
    stamp = (first.out / "final.json").stat().st_mtime_ns
    again = load_or_train(cfg.replace(num_threads=None, progress=True))  # bookkeeping only: reused
    assert "reusing" in capsys.readouterr().out
    assert (again.out / "final.json").stat().st_mtime_ns == stamp and again.final == first.final
    other = load_or_train(cfg.replace(lr=1e-3))  # another experiment in the same directory: retrained
    assert json.loads((other.out / "config.json").read_text())["optim"]["lr"] == 1e-3


def test_load_or_train_many_in_parallel_matches_in_process_training(tmp_path, capsys):
    from pfrlib.teaching.nbtools import load_or_train_many

    cfgs = [tiny(tmp_path, f"many_{m}", method=m) for m in ("source_only", "pfr_adv")]
    ref = train(tiny(tmp_path, "ref_pfr_adv", method="pfr_adv"))
    results = load_or_train_many(cfgs, jobs=2, threads=1)
    assert [r.config.loss.method for r in results] == ["source_only", "pfr_adv"]
    assert _same_weights(results[1].out / "checkpoint_last.pt", ref.out / "checkpoint_last.pt")
    assert results[1].final["target_miou"] == ref.final["target_miou"]
    capsys.readouterr()
    load_or_train_many(cfgs, jobs=2)  # everything finished: nothing is trained again
    reused = [line for line in capsys.readouterr().out.splitlines() if line.startswith("reusing")]
    assert len(reused) == 1 and reused[0].startswith("reusing 2 finished runs")  # one line for all
    with pytest.raises(ValueError, match="same run.out"):
        load_or_train_many([cfgs[0], cfgs[0]], jobs=2)


def test_load_or_train_many_names_a_failed_run(tmp_path):
    from pfrlib.teaching.nbtools import load_or_train_many

    good = tiny(tmp_path, "good")
    bad = tiny(tmp_path, "bad", source=f"folder:{tmp_path / 'missing'}")
    with pytest.raises(RuntimeError, match="bad"):
        load_or_train_many([good, bad], jobs=2)
