"""Reading one image or one label file: what every real-dataset loader does per item.

* :func:`read_image` - any image file as uint8 H x W x 3 RGB (8-bit RGB PNGs through
  ``torchvision.io.decode_png`` when available, everything else through PIL).
* :func:`read_label` - a single-channel label PNG, checked and converted to trainIds
  (:func:`pfrlib.data.labels.label_to_train_ids`).

Label files are read with PIL, which returns the palette *indices* of a palette PNG (GTA5 stores
its ids that way; OpenCV would return the palette's colours instead). Unreadable files (missing,
corrupt, truncated) are errors naming the file.
"""

from __future__ import annotations

import functools
import os
import warnings
import zlib
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch
from PIL import Image

from pfrlib.data.errors import DataFileError
from pfrlib.data.labels import canonical_label_format, label_to_train_ids

__all__ = ["read_image", "read_label"]


@functools.lru_cache(maxsize=None)
def _png_decoder():
    """``(torchvision.io.decode_png, ImageReadMode)``, or ``None`` when torchvision's image
    extension is missing or fails to load (PIL then reads every file). Imported on the first
    file read, not with this module: torchvision costs about 1.5 s of CPU to import."""
    try:
        # deferred: importing torchvision costs every process about 1.5 s of CPU
        from torchvision.io import ImageReadMode, decode_png
    except Exception:  # noqa: BLE001
        return None
    return decode_png, ImageReadMode

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _decode_rgb8_png(path: Path) -> Optional[np.ndarray]:
    """H x W x 3 uint8 of an 8-bit RGB PNG via ``torchvision.io.decode_png``, else ``None``.

    ``None`` (the caller falls back to PIL) for other files, other PNG colour types / bit
    depths, a missing or failing torchvision image extension, or a file it cannot decode (PIL
    then raises the error that names the file).
    """
    decoder = _png_decoder()
    if decoder is None:
        return None
    decode_png, ImageReadMode = decoder
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError:
        return None
    # IHDR is the first chunk: signature (8) + length (4) + "IHDR" (4) + width, height (8) + depth, colour type
    if data.size < 33 or data[:8].tobytes() != _PNG_SIGNATURE or data[12:16].tobytes() != b"IHDR":
        return None
    if int(data[24]) != 8 or int(data[25]) != 2:  # 8 bits per sample, truecolour without alpha
        return None
    # Walk every chunk and check its CRC: libpng errors in the image data can crash torchvision's
    # decoder (a segfault, not an exception), so a corrupt or truncated file goes to PIL instead.
    # (Only a file written with valid CRCs around an invalid zlib stream would still get through.)
    buf = memoryview(data)
    pos, end = 8, False
    while pos + 12 <= data.size:
        length = int.from_bytes(buf[pos:pos + 4], "big")
        kind = bytes(buf[pos + 4:pos + 8])
        if pos + 12 + length > data.size:
            return None
        if zlib.crc32(buf[pos + 4:pos + 8 + length]) != int.from_bytes(buf[pos + 8 + length:pos + 12 + length], "big"):
            return None
        if kind == b"tRNS":  # a transparent colour could come back as an alpha channel
            return None
        pos += 12 + length
        if kind == b"IEND":
            end = True
            break
    if not end:
        return None
    try:
        with warnings.catch_warnings():  # torchvision 0.29 deprecates its image codecs (for TorchCodec)
            warnings.simplefilter("ignore", DeprecationWarning)
            chw = decode_png(torch.from_numpy(data), ImageReadMode.UNCHANGED)
    except Exception:  # noqa: BLE001  (corrupt / truncated: PIL names the file)
        return None
    if chw.dtype != torch.uint8 or chw.dim() != 3 or chw.shape[0] != 3:
        return None
    return chw.permute(1, 2, 0).numpy()


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as uint8 H x W x 3 RGB (grayscale, RGBA, palette, 16-bit converted).

    8-bit RGB PNGs (every GTA5 and Cityscapes frame) are decoded with
    ``torchvision.io.decode_png`` when it is available (faster than PIL on full-size frames;
    ``benchmarks/data_pipeline.py`` measures both), with the same pixels; every other file, and
    any PNG that path cannot decode, goes through PIL (which then names the file in the error).

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file cannot be decoded (corrupt or truncated), naming the file.
    """
    path = Path(path)
    fast = _decode_rgb8_png(path)
    if fast is not None:
        return fast
    try:
        with Image.open(path) as im:
            im.load()
            if im.mode in ("I;16", "I;16B", "I;16L", "I"):  # 16-bit grayscale: keep the top 8 bits
                arr = np.asarray(im, dtype=np.int64)
                arr = (arr >> 8 if arr.max(initial=0) > 255 else arr).clip(0, 255).astype(np.uint8)
                return np.repeat(arr[..., None], 3, axis=2)
            if im.mode != "RGB":
                im = im.convert("RGBA").convert("RGB") if im.mode in ("P", "PA", "LA") else im.convert("RGB")
            return np.asarray(im, dtype=np.uint8).copy()
    except FileNotFoundError:
        raise FileNotFoundError(f"image file not found: {path}") from None
    except (OSError, SyntaxError, ValueError) as err:
        raise ValueError(f"cannot decode image {path} (corrupt or truncated file?): {err}") from err


def read_label(path: str | os.PathLike, encoding: str, *, class_ids: Optional[Sequence[int]] = None,
               unknown_labels: str = "error", empty_labels: str = "error", ids: str = "cityscapes_ids") -> np.ndarray:
    """Read a label PNG, check its values and return uint8 H x W trainIds (255 = ignore).

    Args:
        path: a single-channel PNG (mode L, P (palette indices are the ids), I or I;16).
        encoding: ``"cityscapes_ids"`` (alias ``"ids"``: Cityscapes label ids, mapped with the
            cityscapesscripts table) or ``"trainid"`` (alias ``"train_ids"``: already trainIds).
        class_ids: the trainIds the dataset holds (default 0..18).
        unknown_labels: ``"error"`` (default) or ``"ignore"``: see
            :func:`pfrlib.data.labels.label_to_train_ids`.
        empty_labels: ``"error"`` (default) or ``"allow"`` a label without class pixels.
        ids: the values a label-id file may hold, a key of
            :data:`pfrlib.data.labels.STORED_IDS` (``"gta5"``, ``"cityscapes"``, ``"cityscapes_ids"``).

    Raises:
        DataFileError: naming the file: missing, undecodable, a colour label, values that are
        neither a class id nor 255, no class pixel. ValueError: a bad ``encoding``.
    """
    path = Path(path)
    fmt = canonical_label_format(encoding, "encoding")
    try:
        with Image.open(path) as im:
            im.load()
            if im.mode not in ("L", "P", "I", "I;16", "I;16B", "I;16L"):
                raise DataFileError(
                    f"label {path} has mode {im.mode!r}; expected a single-channel (L or palette) PNG of ids, "
                    f"not a colour visualisation", path)
            arr = np.asarray(im)  # palette images give palette indices = the stored ids
    except FileNotFoundError:
        raise DataFileError(f"label file not found: {path}", path) from None
    except DataFileError:
        raise
    except (OSError, SyntaxError, ValueError) as err:
        raise DataFileError(f"cannot decode label {path} (corrupt or truncated file?): {err}", path) from err
    return label_to_train_ids(arr, fmt, path=path, class_ids=class_ids, unknown_labels=unknown_labels,
                              empty_labels=empty_labels, ids=ids)
