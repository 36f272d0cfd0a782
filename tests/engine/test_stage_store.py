"""pfrlib.engine.stage_store: stages shared across run folders (``--stage-store``).

The keys (equal exactly when the stage is the same), tiny TGCF-DA and self-training runs that
train a shared stage once and end as runs without the store do, a different key training again,
a publish cut short, the entry's lock (waited for while held, not after its holder died), and a
bad store path refused before anything is written.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from pfrlib.config.train_config import TrainConfig
from pfrlib.engine import stage_store as store_mod
from pfrlib.engine.dirlock import FolderLock
from pfrlib.engine import run as run_mod
from pfrlib.engine.run import stage_entries, train, train_to_exit_status
from pfrlib.engine.stage_store import KEY_FILE, StageStore, entry_name, run_stage_key, translator_key
from pfrlib.engine.two_stage import run as two_stage_run
from pfrlib.engine.two_stage import stage1 as stage1_mod
from pfrlib.engine.two_stage.run import reference_config
from pfrlib.engine.two_stage.self_training import stage1_config
from pfrlib.engine.two_stage.stage1 import stage1_key

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = dict(synth_size=(32, 64), synth_train_length=6, synth_val_length=3, batch_size=2, iterations=2,
            log_every=1, checkpoint_every=2, val_every=0, progress=False,
            model_kwargs={"widths": [8, 8, 16, 16]}, num_threads=1)
TINY_T = dict(translation_iterations=4, translation_batch_size=2, gen_filters=4, gen_blocks=1, patch_filters=4,
              pool_size=3, reference_iterations=1, translation_checkpoint_every=2)


def tiny(tmp_path: Path, name: str, method: str = "tgcf_da", **overrides) -> TrainConfig:
    return TrainConfig.preset("cpu", method=method, **{**TINY, **TINY_T, "out": str(tmp_path / name), **overrides})


def _translator_entry(cfg: TrainConfig) -> str:
    ref = run_stage_key(reference_config(cfg)) if cfg.translation.needs_reference(cfg.loss.method) else None
    key = stage1_key(cfg.loss.method, cfg.translation, cfg.data, cfg.run.seed)
    return entry_name("translator", translator_key(key, ref, cfg.run.device))


def test_stage_entries_name_the_keys_the_runs_use(tmp_path):
    cfg = tiny(tmp_path, "a")
    assert stage_entries(cfg) == [("reference", entry_name("run", run_stage_key(reference_config(cfg)))),
                                  ("translator", _translator_entry(cfg))]
    st = tiny(tmp_path, "st", method="adaptsegnet_st")
    plain = tiny(tmp_path, "plain", method="adaptsegnet")  # a plain run that is the adapted model
    assert stage_entries(st) == [("adapted", stage_entries(plain)[0][1])] and stage_entries(plain)[0][0] == "run"
    assert stage_entries(tiny(tmp_path, "o", method="oracle")) == []  # trains on target labels: no stage 1


# --------------------------------------------------------------------------- keys
def test_keys_are_equal_exactly_when_the_stage_is_the_same(tmp_path):
    a = tiny(tmp_path, "a", lambda_consistency=5.0)
    # a stage-2 field, the output folder, the store itself: the same translator and reference
    for same in (a.replace(lambda_consistency=40.0), a.replace(out=str(tmp_path / "b"), stage_store="s")):
        assert _translator_entry(same) == _translator_entry(a)
        assert run_stage_key(reference_config(same)) == run_stage_key(reference_config(a))
    # a stage-1 field, the seed, the data, another reference (its run's learning rate), the device
    for other in (a.replace(gen_filters=5), a.replace(seed=1), a.replace(synth_seed=3), a.replace(lr=1e-3),
                  a.replace(device="cuda")):
        assert _translator_entry(other) != _translator_entry(a)
    assert run_stage_key(reference_config(a.replace(lr=1e-3))) != run_stage_key(reference_config(a))
    # cuda:0 and cuda:1 train the same stage; a given reference checkpoint is keyed by its bytes
    assert run_stage_key(a.replace(device="cuda:0")) == run_stage_key(a.replace(device="cuda:1"))
    # self-training: the rounds' fields leave the adapted model's key alone, the seed does not
    st = tiny(tmp_path, "st", method="pfr_adv_st", st_lambda=1.0)
    assert run_stage_key(stage1_config(st.replace(st_lambda=0.5, st_rounds=2))) == run_stage_key(stage1_config(st))
    assert run_stage_key(stage1_config(st.replace(seed=1))) != run_stage_key(stage1_config(st))
    with pytest.raises(ValueError, match="stage kind"):
        entry_name("segmentation", {})


# --------------------------------------------------------------------------- tiny runs
class _Count:
    """Counts the calls of a function it wraps (trainings of a stage)."""

    def __init__(self, fn):
        self.fn, self.n = fn, 0

    def __call__(self, *args, **kwargs):
        self.n += 1
        return self.fn(*args, **kwargs)


def _weights(run_out: Path) -> list[torch.Tensor]:
    state = torch.load(run_out / "segmentation" / "checkpoint_last.pt", weights_only=True)["model"]
    return [state[k] for k in sorted(state)]


def test_two_runs_with_equal_stage_keys_train_stage_1_once_and_end_as_runs_without_the_store(tmp_path, monkeypatch):
    translators = _Count(stage1_mod.train_translator)
    references = _Count(two_stage_run.train_loop)  # TGCF-DA's stage 2 is the mean teacher's own trainer
    monkeypatch.setattr(stage1_mod, "train_translator", translators)
    monkeypatch.setattr(two_stage_run, "train_loop", references)
    store = tmp_path / "store"
    a = train(tiny(tmp_path, "a", lambda_consistency=5.0, stage_store=str(store)))
    assert (translators.n, references.n) == (1, 1)
    assert {k: v["linked"] for k, v in a.final["stage_store"].items()} == {"reference": False, "translator": False}
    b = train(tiny(tmp_path, "b", lambda_consistency=10.0, stage_store=str(store)))
    assert (translators.n, references.n) == (1, 1)  # both stages linked from the store
    assert {k: v["linked"] for k, v in b.final["stage_store"].items()} == {"reference": True, "translator": True}
    assert b.final["stage_store"]["translator"]["entry"] == str(store / _translator_entry(b.config))
    # the run folder holds the whole stage, readable alone: the set, the translator, the reference
    bt = b.out / "translation"
    assert len(list((bt / "set" / "images").glob("*.png"))) == 12 and (bt / "done.json").is_file()
    assert (bt / "checkpoint_last.pt").stat().st_nlink >= 2  # hard-linked, not copied
    assert TrainConfig.from_json(b.out / "reference" / "config.json").run.out == str(b.out / "reference")
    assert not (bt / KEY_FILE).exists()
    # stage 2 on the linked stages ends where a run without the store ends (same seed, same weight)
    plain = train(tiny(tmp_path, "plain", lambda_consistency=10.0))
    assert (translators.n, references.n) == (2, 2)
    assert b.final["target_miou"] == plain.final["target_miou"]
    assert all(torch.equal(x, y) for x, y in zip(_weights(b.out), _weights(plain.out), strict=True))
    # another stage-1 key (another seed) trains its own translator and reference
    c = train(tiny(tmp_path, "c", lambda_consistency=5.0, seed=1, stage_store=str(store)))
    assert (translators.n, references.n) == (3, 3) and not c.final["stage_store"]["translator"]["linked"]
    assert len([p for p in store.iterdir() if not p.name.startswith(".")]) == 4
    # the same run again reuses its own folder (nothing linked, nothing trained)
    again = train(tiny(tmp_path, "b", lambda_consistency=10.0, stage_store=str(store)))
    assert (translators.n, references.n) == (3, 3) and not again.final["stage_store"]["translator"]["linked"]


def test_self_training_runs_share_their_adapted_model_with_the_plain_run(tmp_path, monkeypatch):
    runs = _Count(two_stage_run.train_loop)  # the rounds are the self-training trainer's
    monkeypatch.setattr(two_stage_run, "train_loop", runs)
    monkeypatch.setattr(run_mod, "train_loop", runs)
    store = str(tmp_path / "store")
    plain = train(tiny(tmp_path, "plain", method="adaptsegnet", stage_store=store))  # published as a run
    assert runs.n == 1 and plain.final["stage_store"]["run"]["linked"] is False
    a = train(tiny(tmp_path, "a", method="adaptsegnet_st", st_lambda=1.0, stage_store=store))
    b = train(tiny(tmp_path, "b", method="adaptsegnet_st", st_lambda=0.5, stage_store=store))
    assert runs.n == 1 and a.final["stage_store"]["adapted"]["linked"] and b.final["stage_store"]["adapted"]["linked"]
    assert a.final["stage_store"]["adapted"]["entry"] == plain.final["stage_store"]["run"]["entry"]
    assert a.final["self_training"]["stage1"]["target_miou"] == plain.final["target_miou"]
    # the plain run again, in another folder that a launcher already writes in: linked, its files kept
    again_out = tmp_path / "again"
    again_out.mkdir()
    (again_out / "log.txt").write_text("the launcher's")
    again = train(tiny(tmp_path, "again", method="adaptsegnet", stage_store=store))
    assert runs.n == 1 and again.final["stage_store"]["run"]["linked"]
    assert again.final["target_miou"] == plain.final["target_miou"] and (again_out / "log.txt").read_text() == "the launcher's"
    assert json.loads((again_out / "final.json").read_text())["stage_store"]["run"]["linked"]
    assert TrainConfig.from_json(again_out / "config.json").run.out == str(again_out)
    with pytest.raises(ValueError, match="torchrun"):
        monkeypatch.setenv("WORLD_SIZE", "2")
        train(tiny(tmp_path, "dist", method="adaptsegnet", stage_store=store))


# --------------------------------------------------------------------------- publishing and the lock
def _stage(dest: Path, text: str = "trained") -> dict:
    """A stand-in stage: one checkpoint-like file and one record; reused when ``dest`` holds it."""
    if (dest / "done.json").is_file():
        return json.loads((dest / "done.json").read_text())
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "weights.pt").write_text(text)
    (dest / "done.json").write_text(json.dumps({"text": text}))
    return {"text": text}


def test_a_publish_cut_short_leaves_no_entry(tmp_path, monkeypatch):
    store, key = StageStore(tmp_path / "store"), {"x": 1}

    def killed(*_):
        raise KeyboardInterrupt  # the run stopped after the files, before the rename

    monkeypatch.setattr(store_mod, "write_json", killed)
    with pytest.raises(KeyboardInterrupt):
        store.obtain("run", key, tmp_path / "a", lambda: _stage(tmp_path / "a"), here="free")
    assert not store.entry("run", key).exists()
    assert [p.name for p in store.root.iterdir() if p.name.startswith(".tmp-")]  # only a temporary folder
    monkeypatch.undo()
    record, info = store.obtain("run", key, tmp_path / "b", lambda: _stage(tmp_path / "b"), here="free")
    assert not info["linked"] and store.entry("run", key).is_dir()
    assert not [p for p in store.root.iterdir() if p.name.startswith(".tmp-")]  # the dead publisher's is gone
    # a stopped stage (complete() false) is not published
    stopped = StageStore(tmp_path / "store2")
    stopped.obtain("run", key, tmp_path / "c", lambda: _stage(tmp_path / "c"), here="free", complete=lambda r: False)
    assert not stopped.entry("run", key).exists()


def test_the_lock_makes_a_second_run_wait_but_not_for_a_dead_holder(tmp_path, monkeypatch):
    monkeypatch.setattr(store_mod, "POLL_SECONDS", 0.02)
    store, key = StageStore(tmp_path / "store"), {"x": 2}
    store.root.mkdir()
    lock_path = store.root / f".{entry_name('run', key)}.lock"
    held = FolderLock(lock_path)
    assert held.acquire() is None
    held.write_pid()
    said, done = [], {}
    t = threading.Thread(target=lambda: done.update(r=store.obtain(
        "run", key, tmp_path / "w", lambda: _stage(tmp_path / "w", "waiter"), here="free", progress=said.append)))
    t.start()
    time.sleep(0.3)
    assert t.is_alive() and not (tmp_path / "w").exists()  # waiting, nothing trained
    assert said and f"waiting for process {os.getpid()}" in said[0]
    _stage(tmp_path / "maker", "maker")  # the holder publishes, then lets go
    store._publish(tmp_path / "maker", store.entry("run", key), key)
    held.release()
    t.join(10)
    record, info = done["r"]
    assert info["linked"] and record == {"text": "maker"}  # the stage the holder made, not trained again
    assert (tmp_path / "w" / "weights.pt").read_text() == "maker"  # the waiter's folder holds the maker's stage
    # a holder killed (-9) while making the stage: the kernel dropped its lock, the next run goes on
    key2 = {"x": 3}
    path2 = store.root / f".{entry_name('run', key2)}.lock"
    holder = subprocess.Popen([sys.executable, "-c", "import fcntl, sys, time; f = open(sys.argv[1], 'w'); "
                               "fcntl.flock(f, fcntl.LOCK_EX); f.write('x'); f.flush(); print('held', flush=True); "
                               "time.sleep(60)", str(path2)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    holder.kill()
    holder.wait()
    record, info = store.obtain("run", key2, tmp_path / "d", lambda: _stage(tmp_path / "d"), here="free")
    assert record == {"text": "trained"} and not info["linked"] and store.entry("run", key2).is_dir()


def test_a_bad_store_path_is_refused_before_anything_is_written(tmp_path, capsys):
    a_file = tmp_path / "file"
    a_file.write_text("not a folder")
    for bad in (a_file, a_file / "sub"):
        cfg = tiny(tmp_path, "run", stage_store=str(bad))
        with pytest.raises(ValueError, match=r"^stage_store: .*file"):
            cfg.validate()
        assert train_to_exit_status(cfg) == 2
        assert "stage_store" in capsys.readouterr().err and not (tmp_path / "run").exists()
