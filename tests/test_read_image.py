"""``read_image``: the torchvision PNG fast path returns exactly what PIL returns, and falls back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from pfrlib.data.readers import _decode_rgb8_png, read_image


def pil_rgb(path: Path) -> np.ndarray:
    """The reference: PIL's decode, converted to RGB as ``read_image``'s PIL path does."""
    with Image.open(path) as im:
        im.load()
        if im.mode != "RGB":
            im = im.convert("RGBA").convert("RGB") if im.mode in ("P", "PA", "LA") else im.convert("RGB")
        return np.asarray(im, dtype=np.uint8).copy()


def noisy_rgb(h: int, w: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def has_fast_path(tmp_path: Path) -> bool:
    p = tmp_path / "probe.png"
    Image.fromarray(noisy_rgb(2, 3, 0)).save(p)
    return _decode_rgb8_png(p) is not None


@pytest.mark.parametrize("shape", [(1, 1), (7, 13), (61, 97)])
@pytest.mark.parametrize("compress_level", [0, 6, 9])
def test_rgb8_png_matches_pil(tmp_path: Path, shape: tuple[int, int], compress_level: int):
    path = tmp_path / "a.png"
    Image.fromarray(noisy_rgb(*shape, seed=shape[0])).save(path, compress_level=compress_level)
    got = read_image(path)
    want = pil_rgb(path)
    assert got.dtype == np.uint8 and got.shape == (*shape, 3)
    assert np.array_equal(got, want)
    assert got.flags.writeable


def test_fast_path_is_taken_for_rgb8_and_not_for_other_pngs(tmp_path: Path):
    if not has_fast_path(tmp_path):
        pytest.skip("torchvision has no PNG decoder here (read_image uses PIL throughout)")
    rgb = tmp_path / "rgb.png"
    Image.fromarray(noisy_rgb(9, 11, 1)).save(rgb)
    assert _decode_rgb8_png(rgb) is not None
    others = {
        "gray": Image.fromarray(np.arange(99, dtype=np.uint8).reshape(9, 11), mode="L"),
        "rgba": Image.fromarray(np.dstack([noisy_rgb(9, 11, 2), np.full((9, 11), 100, np.uint8)]), mode="RGBA"),
        "palette": Image.fromarray(noisy_rgb(9, 11, 3)).convert("P"),
        "gray16": Image.fromarray(np.arange(99, dtype=np.uint16).reshape(9, 11) * 600),
    }
    for name, im in others.items():
        p = tmp_path / f"{name}.png"
        im.save(p)
        assert _decode_rgb8_png(p) is None, name
        got = read_image(p)
        assert got.shape == (9, 11, 3) and got.dtype == np.uint8, name
        if name != "gray16":
            assert np.array_equal(got, pil_rgb(p)), name
    jpg = tmp_path / "a.jpg"
    Image.fromarray(noisy_rgb(9, 11, 4)).save(jpg)
    assert _decode_rgb8_png(jpg) is None and np.array_equal(read_image(jpg), pil_rgb(jpg))


def test_ancillary_chunks_do_not_change_pixels(tmp_path: Path):
    """gAMA / sRGB / text chunks are ignored by both decoders; a tRNS chunk sends the file to PIL."""
    img = noisy_rgb(17, 23, 5)
    info = PngImagePlugin.PngInfo()
    info.add(b"gAMA", (45455).to_bytes(4, "big"))
    info.add(b"sRGB", b"\x00")
    info.add_text("Software", "pfr test")
    path = tmp_path / "chunks.png"
    Image.fromarray(img).save(path, pnginfo=info)
    assert np.array_equal(read_image(path), img)
    trns = tmp_path / "trns.png"
    Image.fromarray(img).save(trns, transparency=(1, 2, 3))
    assert _decode_rgb8_png(trns) is None
    assert np.array_equal(read_image(trns), pil_rgb(trns))


def test_corrupt_truncated_and_missing_files(tmp_path: Path):
    good = tmp_path / "good.png"
    Image.fromarray(noisy_rgb(40, 50, 6)).save(good)
    data = good.read_bytes()
    cut = tmp_path / "cut.png"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="cut.png"):
        read_image(cut)
    bad_idat = tmp_path / "bad.png"
    bad_idat.write_bytes(data[:60] + bytes(len(data) - 60))
    with pytest.raises(ValueError, match="bad.png"):
        read_image(bad_idat)
    with pytest.raises(FileNotFoundError, match="nope.png"):
        read_image(tmp_path / "nope.png")
