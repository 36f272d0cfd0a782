"""Dataset specs: one string names a dataset, so configs and command lines can say which.

==========================  ============================================================
``synth:source``            SynthStreets, source (game-like) domain
``synth:target``            SynthStreets, target (real-like) domain
``synth:target:test``       a SynthStreets split in the spec: ``train``, ``val`` or ``test``
``gta5:/path``              :class:`~pfrlib.data.real.GTA5` at ``/path``
``cityscapes:/path[:split]``  :class:`~pfrlib.data.real.Cityscapes` (split in the spec wins)
``folder:/path``            :class:`~pfrlib.data.real.FolderDataset`
==========================  ============================================================
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from torch.utils.data import Dataset

from pfrlib.data.real import GTA5, Cityscapes
from pfrlib.data.folder import FolderDataset
from pfrlib.data.synthstreets.dataset import SHIFT_TYPES, SynthStreets

__all__ = ["KINDS", "parse_spec", "from_spec", "build_dataset", "labelled_test_spec"]

#: Dataset kinds a spec may name.
KINDS: tuple[str, ...] = ("synth", "gta5", "cityscapes", "folder")

_EXAMPLES = "e.g. synth:source, synth:target, gta5:/data/gta5, cityscapes:/data/cityscapes:val, folder:/data/mine"


def parse_spec(spec: str, field_name: Optional[str] = None) -> tuple[str, str, Optional[str]]:
    """Split ``kind:rest[:split]`` into ``(kind, rest, split)`` without touching the disk.

    ``rest`` is the SynthStreets domain or a root directory; ``split`` is only parsed for
    ``cityscapes`` (a trailing ``:train``, ``:val`` or ``:test``) and ``synth``
    (``synth:target:val``, ``synth:target:test``). ``synth:target:val`` -> ``("synth", "target", "val")``;
    ``folder:/data/b`` -> ``("folder", "/data/b", None)``. The one parser of specs: configs
    validate with it too (:meth:`pfrlib.config.TrainConfig.validate`).

    Raises:
        ValueError: not a string, no ``:``, unknown kind, or an empty root / unknown domain;
        the message starts with ``field_name`` (the config field) when given.
    """
    where = f"{field_name}: " if field_name else ""
    if not isinstance(spec, str) or ":" not in spec:
        raise ValueError(f"{where}dataset spec {spec!r} must look like kind:root with kind in {KINDS}; {_EXAMPLES}")
    kind, rest = spec.split(":", 1)
    if kind not in KINDS:
        raise ValueError(f"{where}unknown dataset kind {kind!r} in spec {spec!r}; expected one of {KINDS}; {_EXAMPLES}")
    split: Optional[str] = None
    if kind == "synth":
        domain, _, split_ = rest.partition(":")
        if domain not in ("source", "target") or split_ not in ("", "train", "val", "test"):
            raise ValueError(f"{where}synth spec {spec!r} must be synth:source or synth:target "
                             f"(optionally :train, :val or :test)")
        return kind, domain, (split_ or None)
    if kind == "cityscapes":
        head, sep, tail = rest.rpartition(":")
        if sep and head and tail in Cityscapes.SPLITS:
            rest, split = head, tail
    if not rest:
        raise ValueError(f"{where}dataset spec {spec!r} names no root directory; {_EXAMPLES}")
    return kind, rest, split


def labelled_test_spec(spec: str) -> Optional[str]:
    """The test split of the dataset ``spec`` names, where its test labels are public: for a
    SynthStreets spec that split of the same domain (``synth:target`` -> ``synth:target:test``);
    for every other kind None (Cityscapes' test labels are kept by its benchmark server; a folder
    or GTA5 has no test split of its own). What :attr:`pfrlib.config.DataConfig.target_test`
    follows when only the target is given."""
    kind, rest, _split = parse_spec(spec)
    return f"synth:{rest}:test" if kind == "synth" else None


def from_spec(spec: str, split: Optional[str] = None, transform: Optional[Callable] = None, **kw: Any) -> Dataset:
    """Build the dataset a spec names.

    Args:
        spec: see the module docstring.
        split: ``"train"`` / ``"val"`` / ``"test"`` (SynthStreets, Cityscapes); ``None`` = train. A split
            written in the spec itself takes precedence. GTA5 has no official split: every
            split is the whole set (or ``list_file``). A folder dataset uses ``root/{split}``
            if present, else ``root``.
        transform: ``(image, label) -> ...`` passed to the dataset.
        **kw: passed to the dataset class, e.g. ``size=``, ``length=``, ``seed=``, ``shift=``,
            ``cache_dir=``, ``classes=`` (SynthStreets), ``list_file=`` (GTA5), ``labels=`` (Cityscapes,
            folder, GTA5).

    Raises:
        ValueError: malformed spec or unknown kind; FileNotFoundError: missing root (the
        message shows the expected layout); TypeError: an option the dataset does not take.
    """
    kind, rest, spec_split = parse_spec(spec)
    split = spec_split or split
    cls = {"synth": SynthStreets, "gta5": GTA5, "cityscapes": Cityscapes, "folder": FolderDataset}[kind]
    try:
        if kind == "synth":
            return SynthStreets(domain=rest, split=split or "train", transform=transform, **kw)
        if kind == "gta5":
            return GTA5(rest, transform=transform, **kw)
        if kind == "cityscapes":
            return Cityscapes(rest, split=split or "train", transform=transform, **kw)
        return FolderDataset(rest, split=split, transform=transform, **kw)
    except TypeError as err:
        if "unexpected keyword" in str(err):
            raise TypeError(f"{cls.__name__} (spec {spec!r}) does not take option(s) {sorted(kw)}: {err}") from None
        raise


def build_dataset(spec: str, split: str, transform: Optional[Callable], data_cfg: Any, field_name: str,
                  labels: bool = True) -> Dataset:
    """:func:`from_spec` with a :class:`pfrlib.config.DataConfig`'s SynthStreets options.

    SynthStreets gets ``data_cfg.synth_size``, ``synth_classes``, ``synth_seed``, ``synth_in_memory``, its
    target domain ``synth_shift`` and the train /
    val length (val and test share it); ``labels=False`` opens a
    real dataset without its label files (adaptation methods open the target training set this
    way: its labels are never read). A split written in the spec (``cityscapes:/cs:val``,
    ``synth:target:val``) wins over ``split``. Errors start with ``field_name``, the config
    field that named the spec (``source``, ``target_val``, ...).
    """
    kind, rest, spec_split = parse_spec(spec, field_name=field_name)
    kw: dict[str, Any] = {}
    if kind == "synth":
        kw["size"] = tuple(data_cfg.synth_size)
        kw["classes"] = data_cfg.synth_classes
        kw["seed"] = data_cfg.synth_seed
        kw["keep_in_memory"] = data_cfg.synth_in_memory
        if rest == "target":
            kw["shift"] = SHIFT_TYPES[data_cfg.synth_classes].parse(data_cfg.synth_shift)
        train = (spec_split or split) == "train"
        length = data_cfg.synth_train_length if train else data_cfg.synth_val_length
        if length is not None:
            kw["length"] = length
    elif not labels:
        kw["labels"] = False
    try:
        return from_spec(spec, split=split, transform=transform, **kw)
    except FileNotFoundError as err:
        raise FileNotFoundError(f"{field_name}: {err}") from err
    except (ValueError, TypeError) as err:
        raise ValueError(f"{field_name}: {err}") from err
