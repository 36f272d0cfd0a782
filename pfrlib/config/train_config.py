"""A whole training run's configuration: :class:`TrainConfig` composes one section per concern.

The sections: :class:`~pfrlib.config.sections.DataConfig`, ``ModelConfig``, ``OptimConfig``,
``LossConfig``, ``RunConfig`` (:mod:`pfrlib.config.sections`) and the Table-1 baselines' own
(``CLANConfig``, ... in :mod:`pfrlib.methods.baselines`). Field names are unique across sections, so a
flat name (``lr``) finds its field. This module also answers questions about the fields:
:func:`fields_with_role` (bookkeeping, execution) and :func:`field_choices_of` (allowed values).
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any, Optional

from pfrlib import methods
from pfrlib.models import model_title
from pfrlib.methods.baselines.clan import CLANConfig
from pfrlib.methods.baselines.curriculum import CurriculumConfig
from pfrlib.methods.baselines.fcn_wild import FCNWildConfig
from pfrlib.methods.baselines.road import ROADConfig
from pfrlib.methods.beyond.advent import AdvEntConfig
from pfrlib.methods.beyond.fda import FDAConfig
from pfrlib.methods.beyond.minent import MinEntConfig
from pfrlib.methods.beyond.self_training import SelfTrainingConfig
from pfrlib.data.spec import labelled_test_spec
from pfrlib.io import atomic_write
from pfrlib.methods.translation.config import TranslationConfig
from pfrlib.config.device import device_type
from pfrlib.config.fields import BOOKKEEPING, EXECUTION, coerce, field_choices, field_role, field_types, jsonable, one_of
from pfrlib.config.presets import PRESET_SECTIONS, PRESETS, method_recipe
from pfrlib.config.sections import DataConfig, LossConfig, ModelConfig, OptimConfig, RunConfig
from pfrlib.config.validation import validate

__all__ = ["TrainConfig", "SECTIONS", "SECTION_TYPES", "LR_HISTORY_KEY", "DEVICE_AUTO", "method_classifiers", "fields_with_role",
           "bookkeeping_fields", "resume_free_fields", "field_choices_of"]

#: The key of ``config.json`` that records a resume's change of ``lr`` / ``d_lr`` per iteration
#: range (written by :mod:`pfrlib.engine.rundir`): a record of the run, not a field; ``from_dict`` skips it.
LR_HISTORY_KEY = "lr_history"
#: Options whose ``None`` means "decide by device" (on for CUDA, off on CPU), ``(section, field)``:
#: :meth:`TrainConfig.identity` resolves them.
DEVICE_AUTO = (("run", "bf16"), ("run", "channels_last"), ("run", "cudnn_benchmark"), ("run", "tf32"),
               ("data", "pin_memory"))
#: Fields added after runs had been written whose default changes what a run of some methods
#: computes: ``{field: (the value those runs were trained with, the methods it changes)}``. A
#: ``config.json`` of such a method that has the section but not the field loads with the old
#: value (so a run of the old behaviour never counts as a finished run of the new default); for
#: every other method the field changes nothing and takes the default. ``None`` for the methods:
#: the field changes every method's run.
ADDED_FIELDS: dict[str, tuple[Any, Optional[tuple[str, ...]]]] = {
    "translation.dlow_adv_weighting": ("none", ("dlow",)),  # without the field, DLOW's stage 2 is unweighted
    # without the field, the generator upsampled by transposed convolutions (CycleGAN's u_k)
    "translation.gen_upsampling": ("transposed", ("cycada", "dlow", "tgcf_da")),
    "translation.dlow_source_identity": (False, ("dlow",)),  # without the field, no identity at z = 0
    "data.synth_classes": (9, None),  # without the field, the run trained on the 9-class SynthStreets
}


def _target_test(target: str) -> Optional[str]:
    """The ``target_test`` that follows ``target`` (:func:`pfrlib.data.spec.labelled_test_spec`);
    None for a malformed spec, which validation names under ``target``."""
    try:
        return labelled_test_spec(target)
    except ValueError:
        return None


def method_classifiers(method: str) -> int:
    """Stage-5 classifiers a method trains (:attr:`pfrlib.methods.Method.classifiers`: 2 for ``clan``,
    CLAN's ``C1`` and ``C2``); 1 for a name that is not a method (validation rejects it)."""
    return methods.get(method).classifiers if method in methods.names() else 1


@dataclass
class TrainConfig:
    """A whole run: the sections. Build with :meth:`preset`, adjust with :meth:`replace`."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    run: RunConfig = field(default_factory=RunConfig)
    # the Table-1 baselines' sections (each named by its method's ``Method.section``)
    clan: CLANConfig = field(default_factory=CLANConfig)
    fcn_wild: FCNWildConfig = field(default_factory=FCNWildConfig)
    road: ROADConfig = field(default_factory=ROADConfig)
    curriculum: CurriculumConfig = field(default_factory=CurriculumConfig)
    # the methods beyond Table 1 (pfrlib.methods.beyond), one section each
    minent: MinEntConfig = field(default_factory=MinEntConfig)
    advent: AdvEntConfig = field(default_factory=AdvEntConfig)
    fda: FDAConfig = field(default_factory=FDAConfig)
    #: self-training and its combinations (``self_training``, ``pfr_adv_st``, ``adaptsegnet_st``)
    self_training: SelfTrainingConfig = field(default_factory=SelfTrainingConfig)
    #: stage 1 of the input-space methods (``cycada``, ``dlow``, ``tgcf_da``; :mod:`pfrlib.methods.translation`)
    translation: TranslationConfig = field(default_factory=TranslationConfig)
    preset_name: str = "custom"

    # ----------------------------------------------------------------- presets
    @classmethod
    def preset(cls, name: str = "cpu", **overrides: Any) -> "TrainConfig":
        """The ``cpu`` or ``paper`` preset with flat ``overrides`` applied (see :meth:`replace`).

        The method's own recipe at this scale comes first (:func:`~pfrlib.config.presets.method_recipe`:
        ``preset("paper", method="clan")`` trains CLAN's schedule and heads), then ``overrides``.
        """
        if name not in PRESET_SECTIONS:
            raise ValueError(f"preset: unknown preset {name!r}; expected one of {PRESETS}")
        cfg = cls(**PRESET_SECTIONS[name](), preset_name=name)
        method = next((v for k, v in overrides.items() if k.replace("__", ".") in ("method", "loss.method")),
                      cfg.loss.method)
        section = methods.get(method).section if method in methods.names() else None
        overrides = {**method_recipe(name, SECTION_TYPES.get(section), method), **overrides}
        return cfg.replace(**overrides) if overrides else cfg

    # ----------------------------------------------------------------- overrides
    @staticmethod
    def field_index() -> dict[str, str]:
        """``{flat field name: section}`` for every leaf field."""
        index: dict[str, str] = {}
        for section in SECTIONS:
            for f in fields(SECTION_TYPES[section]):
                index[f.name] = section
        return index

    def replace(self, **overrides: Any) -> "TrainConfig":
        """A copy with fields replaced by flat name (``lr=1e-3``) or ``section.name`` /
        ``section__name`` (``optim.lr``). Values are coerced to the field's type (so strings
        from the command line or notebooks work). Unknown names raise ``ValueError``."""
        index = self.field_index()
        sections = {s: dataclasses.replace(getattr(self, s)) for s in SECTIONS}
        preset_name = self.preset_name
        given: set[str] = set()
        for key, value in overrides.items():
            if key == "preset_name":
                preset_name = str(value)
                continue
            name = key.replace("-", "_")
            section: str | None = None
            for sep in (".", "__"):
                if sep in name:
                    section, name = name.split(sep, 1)
                    break
            if section is None:
                section = index.get(name)
            if section not in SECTION_TYPES or name not in {f.name for f in fields(SECTION_TYPES[section])}:
                raise ValueError(
                    f"unknown config field {key!r}; known fields: {', '.join(sorted(index))}"
                )
            ftype = field_types(SECTION_TYPES[section])[name]
            setattr(sections[section], name, coerce(value, ftype, key))
            given.add(name)
        if "method" in given and "classifiers" not in given:  # the method's network (CLAN: two heads)
            sections["model"].classifiers = method_classifiers(sections["loss"].method)
        if "target" in given and "target_test" not in given:  # the new target's own test split, if public
            sections["data"].target_test = _target_test(sections["data"].target)
        return TrainConfig(**sections, preset_name=preset_name)

    def effective_weights(self) -> dict[str, float]:
        """The weights of every loss term the method computes: :meth:`LossConfig.effective_weights`
        plus, for a baseline, its own terms from its section's ``loss_weights()`` (``clan_adv``,
        ``clan_discrepancy``; ``fcn_adv``, ``fcn_constraint``; ``road_adv``, ``road_distill``;
        ``curriculum_kl`` and the estimator's ``curriculum_estimator``)."""
        w = self.loss.effective_weights()
        section = self.method_info.section
        if section is not None:
            w.update(getattr(self, section).loss_weights())
        return w

    @property
    def method_info(self) -> methods.Method:
        """The :class:`pfrlib.methods.Method` this configuration trains."""
        return methods.get(self.loss.method)

    def without_bookkeeping(self) -> "TrainConfig":
        """A copy with every :data:`~pfrlib.config.fields.BOOKKEEPING` field at its default: two
        configurations that differ only in how or where a run is driven give equal copies."""
        defaults = {f"{s}.{f.name}": f.default for s in SECTIONS for f in fields(SECTION_TYPES[s])
                    if field_role(f) == BOOKKEEPING}
        return self.replace(**defaults)

    def identity(self) -> dict[str, Any]:
        """What decides this run's result, as a plain dict: :meth:`to_dict` without the
        bookkeeping fields (:meth:`without_bookkeeping`: a copy under another path is the same run),
        the device-automatic options resolved for the device it runs on (:data:`DEVICE_AUTO`: a
        saved ``False`` is the same run as ``None`` on a CPU). Two runs with equal identities are
        the same run (the launcher's reuse, :mod:`pfrlib.engine.stage_store`'s stage keys)."""
        d = self.without_bookkeeping().to_dict()
        cuda = device_type(self.run.device) == "cuda"
        for section, name in DEVICE_AUTO:
            if d[section].get(name) is None:
                d[section][name] = cuda
        return d

    def flat(self) -> dict[str, Any]:
        """``{flat field name: value}`` for every leaf field."""
        return {f.name: getattr(getattr(self, s), f.name) for s in SECTIONS for f in fields(SECTION_TYPES[s])}

    def summary(self) -> str:
        """A few lines saying what the configuration trains (for a notebook or a log; the whole
        configuration is :meth:`to_json`): the method and the network each as the option that
        selects it (``--method pfr_adv``, ``--arch deeplabv2_r101``), then in words."""
        d, m, o, r = self.data, self.model, self.optim, self.run
        terms = ", ".join(f"{k} {v:g}" for k, v in self.effective_weights().items() if v)
        sizes = f"source {d.source_size or 'native'}, target {d.target_size or 'native'}"
        return "\n".join([
            f"method   --method {self.loss.method}: {self.method_info.title}; preset {self.preset_name}, seed {r.seed}",
            f"data     {d.source} -> {d.target}; {sizes}; batch {d.batch_size}",
            f"model    --arch {m.arch}: {model_title(m.arch)}" + (", multi-level" if m.multi_level else "")
            + f", {m.num_classes} classes",
            f"optim    {o.optimizer} lr {o.lr:g}, {o.iterations:,} iterations ({o.schedule} schedule)",
            f"losses   {terms}",
            f"run      device {r.device}, out {r.out}",
        ])

    # ----------------------------------------------------------------- JSON
    def to_dict(self) -> dict[str, Any]:
        """Nested plain-JSON dict (tuples become lists)."""
        d = {s: jsonable(dataclasses.asdict(getattr(self, s))) for s in SECTIONS}
        d["preset_name"] = self.preset_name
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrainConfig":
        """Inverse of :meth:`to_dict` (unknown keys raise ``ValueError``).

        Fields the dict lacks (a ``config.json`` written before a section existed) take the values
        of the preset it names (``preset_name``), or the dataclass defaults for ``custom``: an
        old ``cpu`` run then still equals ``TrainConfig.preset("cpu", ...)`` of the same options;
        except :data:`ADDED_FIELDS`, which take the value the run was trained with.
        """
        if not isinstance(d, dict):
            raise ValueError(f"config must be a JSON object, got {type(d).__name__}")
        flat: dict[str, Any] = {}
        for key, value in d.items():
            if key == "preset_name":
                flat["preset_name"] = value
            elif key == LR_HISTORY_KEY:  # a record of the run (pfrlib.engine.rundir), not a field
                continue
            elif key in SECTION_TYPES and isinstance(value, dict):
                for name, v in value.items():
                    flat[f"{key}.{name}"] = v
            else:
                raise ValueError(f"config: unknown section {key!r}; expected {SECTIONS}")
        for name, (old_value, changed) in ADDED_FIELDS.items():
            if name.split(".")[0] in d and name not in flat and (changed is None or flat.get("loss.method") in changed):
                flat[name] = old_value
        base = cls.preset(d["preset_name"]) if d.get("preset_name") in PRESETS else cls()
        return base.replace(**flat)

    def to_json(self, path: str | os.PathLike | None = None) -> str:
        """JSON text; written atomically to ``path`` if given."""
        text = json.dumps(self.to_dict(), indent=2, sort_keys=False) + "\n"
        if path is not None:
            atomic_write(Path(path), lambda f: f.write(text), mode="w")
        return text

    @classmethod
    def from_json(cls, path: str | os.PathLike) -> "TrainConfig":
        """Load from a ``config.json`` file (errors name the file)."""
        p = Path(path)
        if not p.is_file():
            raise FileNotFoundError(f"config file {p} does not exist")
        try:
            data = json.loads(p.read_text())
        except json.JSONDecodeError as err:
            raise ValueError(f"config file {p} is not valid JSON ({err}); expected a config.json written by pfrlib") from None
        try:
            return cls.from_dict(data)
        except ValueError as err:
            raise ValueError(f"config file {p}: {err}") from None

    # ----------------------------------------------------------------- validation
    def validate(self, check_paths: bool = True) -> "TrainConfig":
        """Reject bad values before any training starts; errors name the field
        (:func:`pfrlib.config.validation.validate`). Returns ``self`` for chaining."""
        validate(self, check_paths)
        own = dict.fromkeys(m.section for m in methods.methods("baseline") + methods.methods("beyond") if m.section)
        for section in own:  # each section checks itself, whatever the method
            getattr(self, section).validate(check_paths)
        one_of("st_stage1", self.self_training.st_stage1, methods.stage1_names())
        self.translation.validate(check_paths)
        return self


#: Section names, in file order; and the dataclass of each.
SECTIONS: tuple[str, ...] = tuple(f.name for f in fields(TrainConfig) if f.default_factory is not MISSING)
SECTION_TYPES: dict[str, type] = {f.name: f.default_factory for f in fields(TrainConfig) if f.default_factory is not MISSING}


def fields_with_role(*roles: str) -> tuple[tuple[str, str], ...]:
    """``(section, field name)`` of every ``TrainConfig`` field whose role is one of ``roles``
    (:data:`~pfrlib.config.fields.BOOKKEEPING`, :data:`~pfrlib.config.fields.EXECUTION`)."""
    return tuple((s, f.name) for s in SECTIONS for f in fields(SECTION_TYPES[s]) if field_role(f) in roles)


def bookkeeping_fields() -> tuple[str, ...]:
    """Flat names of the bookkeeping fields (``out``, ``num_threads``, ``progress``, ``resume``,
    ``overwrite``): what a sweep or launcher sets itself for every run."""
    return tuple(name for _, name in fields_with_role(BOOKKEEPING))


def resume_free_fields() -> frozenset[tuple[str, str]]:
    """``(section, field)`` pairs a resumed run may change: the bookkeeping and execution fields."""
    return frozenset(fields_with_role(BOOKKEEPING, EXECUTION))


def field_choices_of(name: str) -> Optional[tuple]:
    """The allowed values of the field with flat name ``name`` (``"gan"`` -> ``("bce", "lsgan")``),
    None if it is not a closed set; unknown names raise ``ValueError``. For the notebooks'
    parameter checks and the command line's help."""
    section = TrainConfig.field_index().get(name)
    if section is None:
        raise ValueError(f"unknown config field {name!r}")
    return field_choices(next(f for f in fields(SECTION_TYPES[section]) if f.name == name))
