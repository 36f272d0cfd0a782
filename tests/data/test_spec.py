"""pfrlib.data.spec: dataset specs (``synth:``, ``gta5:``, ``cityscapes:``, ``folder:``) to datasets."""

from __future__ import annotations

from pathlib import Path

import pytest

from pfrlib.data.real import GTA5, Cityscapes
from pfrlib.data.folder import FolderDataset
from pfrlib.data.synthstreets.dataset import SynthStreets
from pfrlib.data.spec import from_spec, labelled_test_spec
from .trees import save_rgb

pytestmark = pytest.mark.filterwarnings("ignore::pfrlib.data.releases.PartialDownloadWarning")


def test_from_spec(gta5_root: Path, cs_root: Path, tmp_path: Path):
    assert isinstance(from_spec(f"gta5:{gta5_root}"), GTA5)
    cs = from_spec(f"cityscapes:{cs_root}:val", split="train")
    assert isinstance(cs, Cityscapes) and cs.split == "val"
    assert from_spec(f"cityscapes:{cs_root}", split="val").split == "val"
    assert not from_spec(f"cityscapes:{cs_root}", labels=False).has_labels
    synth = from_spec("synth:target", split="val", size=(32, 64), length=5)
    assert isinstance(synth, SynthStreets) and synth.domain == "target" and len(synth) == 5
    save_rgb(tmp_path / "f" / "images" / "x.png")
    assert isinstance(from_spec(f"folder:{tmp_path / 'f'}", split="val"), FolderDataset)
    with pytest.raises(ValueError, match="unknown dataset kind 'imagenet'"):
        from_spec("imagenet:/x")
    with pytest.raises(ValueError, match="kind:root"):
        from_spec("synth")
    with pytest.raises(ValueError, match="synth:source or synth:target"):
        from_spec("synth:middle")
    with pytest.raises(FileNotFoundError, match="labels/00001.png"):
        from_spec(f"gta5:{tmp_path / 'absent'}")
    with pytest.raises(TypeError, match="does not take"):
        from_spec(f"gta5:{gta5_root}", size=(1, 2))


def test_the_labelled_test_split_of_a_spec():
    assert labelled_test_spec("synth:target") == "synth:target:test"
    assert labelled_test_spec("synth:source:train") == "synth:source:test"
    for spec in ("cityscapes:/cs", "cityscapes:/cs:val", "gta5:/g", "folder:/f"):
        assert labelled_test_spec(spec) is None  # Cityscapes' test labels are not public; the others have no test split
