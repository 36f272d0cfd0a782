"""pfrlib.methods (the registry, in the package's ``__init__``): every method once, errors naming the
known methods, and the registry driving the loss weights and the network."""

from __future__ import annotations

import pytest

from pfrlib import methods
from pfrlib.config import ALL_METHODS
from pfrlib.config.train_config import TrainConfig


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
        assert (m.section is None) == (m.baseline is None) or m.family == "translation"  \
            or (m.section is None and m.tuned_weight is None)  # its stage-1 section; a baseline with no option
        if m.discriminator == "output" and m.family == "ladder":
            assert "adv" in m.eq6_terms
    assert not methods.get("source_only").uses_target_images and methods.get("oracle").trains_on_target_labels


def test_every_method_and_network_has_a_name_in_words():
    from pfrlib.models import MODEL_NAMES, model_title

    for name in methods.names():
        assert methods.label(name) and methods.label(name) != name and "_" not in methods.label(name)
        assert methods.in_words(name) == methods.label(name)
    assert methods.label("pfr_adv") == methods.get("pfr_adv").table1_row
    assert methods.in_words("stages 23") == "stages 23"  # not a method: already words
    for name in MODEL_NAMES:
        assert model_title(name) != name and "_" not in model_title(name)
    with pytest.raises(ValueError, match="unknown method 'nope'"):
        methods.label("nope")
    with pytest.raises(ValueError, match="model name 'nope' is unknown"):
        model_title("nope")
