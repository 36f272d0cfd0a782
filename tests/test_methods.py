"""The facts defined once: the method registry, final.json's record, bookkeeping fields, the device rule."""

import json

import pytest
import torch

from pfrlib import methods
from pfrlib.engine.rundir import RESUME_FREE_FIELDS
from pfrlib.config import ALL_METHODS
from pfrlib.config.fields import BOOKKEEPING, EXECUTION
from pfrlib.config.train_config import TrainConfig, bookkeeping_fields, fields_with_role, resume_free_fields
from pfrlib.config.device import check_device_name, device_type, resolve_device
from pfrlib.engine.record import METRIC_KEYS, FinalRecord


# --------------------------------------------------------------------------- methods
def test_registry_lists_every_method_once_in_family_order():
    assert ALL_METHODS == methods.names("ladder") + methods.names("baseline")
    assert methods.names() == ALL_METHODS + methods.names("translation") + methods.names("beyond")
    assert methods.names("ladder") == ("source_only", "adaptsegnet", "pfr", "pfr_adv", "oracle")
    assert [m.name for m in methods.methods()] == list(methods.names())


def test_registry_errors_name_the_known_methods():
    with pytest.raises(ValueError, match="unknown method 'pfr-adv'.*pfr_adv"):
        methods.get("pfr-adv")
    with pytest.raises(ValueError, match="already registered"):
        methods.register(methods.get("pfr"))
    with pytest.raises(ValueError, match="family"):
        methods.names("gan")
    with pytest.raises(ValueError, match="discriminator"):
        methods.Method("x", "x", "ladder", uses_target_images=True, discriminator="pixel")


def test_registry_drives_the_loss_weights_and_the_network():
    for name in methods.names():
        m = methods.get(name)
        cfg = TrainConfig.preset("cpu", method=name)
        w = cfg.effective_weights()
        assert (w["adv"] > 0) == ("adv" in m.eq6_terms) and (w["pfr"] > 0) == ("pfr" in m.eq6_terms)
        assert cfg.model.classifiers == m.classifiers and cfg.method_info is m
        assert (m.section is None) == (m.baseline is None) or m.family == "translation"  # its stage-1 section
        if m.discriminator == "output" and m.family == "ladder":
            assert "adv" in m.eq6_terms
    assert not methods.get("source_only").uses_target_images and methods.get("oracle").trains_on_target_labels


# --------------------------------------------------------------------------- final.json
def _record(**kw):
    d = dict(method="pfr", preset="cpu", seed=0, arch="small", iterations=2, world_size=1, replicas_identical=None,
             effective_weights={"seg": 1.0}, source_miou=0.5, target_miou=float("nan"),
             source_val={"miou": 0.5}, target_val={"miou": float("nan")}, wall_time_s=1.25,
             checkpoint="checkpoint_last.pt", best_on_val=None)
    d.update(kw)
    return FinalRecord(**d)


def test_final_record_round_trip_keeps_key_order(tmp_path):
    rec = _record()
    path = rec.write(tmp_path / "final.json")
    raw = json.loads(path.read_text())
    assert list(raw) == [*list(rec.to_dict())] and raw["target_miou"] is None  # NaN -> null, strict JSON
    back = FinalRecord.read(path)
    assert back.source_val == {"miou": 0.5} and back.checkpoint == "checkpoint_last.pt"
    assert set(METRIC_KEYS) == set(raw) - {"checkpoint", "note", "launched"}


def test_final_record_errors_name_the_file(tmp_path):
    path = tmp_path / "final.json"
    path.write_text(json.dumps({"method": "pfr"}))
    with pytest.raises(ValueError, match=f"{path}: missing key.*target_miou"):
        FinalRecord.read(path)
    path.write_text("[]")
    with pytest.raises(ValueError, match="expected a JSON object"):
        FinalRecord.read(path)


# --------------------------------------------------------------------------- bookkeeping
def test_bookkeeping_is_one_definition_read_by_resume_sweep_and_reuse():
    assert bookkeeping_fields() == ("out", "num_threads", "progress", "resume", "overwrite", "tensorboard")
    assert set(fields_with_role(EXECUTION)) == {("data", "num_workers"), ("data", "prefetch_factor"),
                                                  ("data", "pin_memory"), ("run", "device")}
    assert RESUME_FREE_FIELDS == resume_free_fields() == set(fields_with_role(BOOKKEEPING, EXECUTION))
    a = TrainConfig.preset("cpu", out="runs/a", num_threads=1, progress=False, resume=True, overwrite=True)
    b = TrainConfig.preset("cpu", out="../runs/b")
    assert a.without_bookkeeping() == b.without_bookkeeping()
    # an execution field is part of "the same run" (reuse), only free on resume
    assert a.without_bookkeeping() != b.replace(num_workers=2).without_bookkeeping()
    assert a.without_bookkeeping() != b.replace(seed=1).without_bookkeeping()


# --------------------------------------------------------------------------- device
def test_resolve_device_rule():
    assert resolve_device("cpu") == torch.device("cpu") and check_device_name("cuda:1") == "cuda:1"
    assert device_type("auto") == ("cuda" if torch.cuda.is_available() else "cpu") and device_type("cuda:0") == "cuda"
    assert resolve_device("auto").type == device_type("auto")
    for bad in ("gpu", "cuda:x", "CPU"):
        with pytest.raises(ValueError, match="device must be 'auto', 'cpu', 'cuda' or 'cuda:N'"):
            resolve_device(bad)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            resolve_device("cuda")
    else:
        assert resolve_device("cuda", local_rank=0) == torch.device("cuda", 0)
    with pytest.raises(ValueError, match="device must be"):
        TrainConfig.preset("cpu", device="tpu").validate()
