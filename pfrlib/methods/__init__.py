"""The training methods, each defined once: what ``--method NAME`` trains.

A :class:`Method` says everything the rest of ``pfrlib`` needs to know about a method: whether it
reads target images, which terms of Eq. (6) it keeps, which discriminator it trains, its Table-1
baseline class and configuration section, and how the tables name it. The configuration
(``--method`` choices, the loss weights), the run loop, the baselines' builder, the benchmarks
and the notebooks read them from here; nothing else types a method's name in a list.

================  ==========  ===================================================================
family            methods     what changes
================  ==========  ===================================================================
``"ladder"``      5           the loss weights of Eq. (6) (the paper's ablation): ``source_only``,
                              ``adaptsegnet``, ``pfr``, ``pfr_adv``, ``oracle``
``"baseline"``    4           extra loss terms on the same network (:mod:`pfrlib.methods.baselines`):
                              ``clan``, ``fcn_wild``, ``road``, ``curriculum``
``"translation"`` 3           image-translation rows of Table 1 (:mod:`pfrlib.methods.translation`):
                              ``cycada``, ``dlow``, ``tgcf_da``
``"beyond"``      7           methods since the paper, beyond its Table 1 (:mod:`pfrlib.methods.beyond`):
                              ``minent``, ``advent`` (ADVENT), ``fda`` (Fourier domain adaptation),
                              ``hist_match`` (per-channel histogram matching, the zero-parameter
                              sanity row), ``self_training`` (pseudo-labels) and its combinations
                              ``pfr_adv_st``, ``adaptsegnet_st``
================  ==========  ===================================================================

Usage::

    from pfrlib import methods
    methods.names()                  # every --method, ladder first
    methods.names("ladder")          # the ablation ladder of Eq. (6)
    methods.get("clan").baseline     # pfrlib.methods.baselines.CLAN
    methods.label("pfr_adv")         # "PFR (the paper's method)": how tables and legends name it
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from pfrlib.methods.baselines.clan import CLAN
from pfrlib.methods.baselines.curriculum import Curriculum
from pfrlib.methods.baselines.fcn_wild import FCNWild
from pfrlib.methods.baselines.road import ROAD
from pfrlib.methods.beyond.advent import AdvEnt
from pfrlib.methods.beyond.fda import FDA
from pfrlib.methods.beyond.hist_match import HistMatch
from pfrlib.methods.beyond.minent import MinEnt
from pfrlib.methods.beyond.self_training import SelfTraining

__all__ = ["FAMILIES", "DISCRIMINATORS", "Method", "register", "get", "names", "methods", "stage1_names", "label",
           "in_words"]

#: Method families, in the order :func:`names` lists them.
FAMILIES: tuple[str, ...] = ("ladder", "baseline", "translation", "beyond")
#: The families whose methods are rows of the paper's Table 1 (``"beyond"`` is the methods that came
#: after the paper: their own table).
TABLE1_FAMILIES: tuple[str, ...] = ("ladder", "baseline", "translation")
#: Discriminator kinds: ``"output"`` (AdaptSegNet's output-space ``FCDiscriminator`` on the softmax),
#: ``"feature"`` (one on the last-stage features), ``"region"`` (ROAD's grid of feature-region ones),
#: ``"entropy"`` (ADVENT's: the output-space one on the weighted self-information maps).
DISCRIMINATORS: tuple[str, ...] = ("output", "feature", "region", "entropy")
#: The lambda-weighted terms of Eq. (6) a ladder method may keep (``seg`` is always on).
EQ6_TERMS: tuple[str, ...] = ("adv", "pfr")


@dataclass(frozen=True)
class Method:
    """One ``--method``.

    Attributes:
        name: the ``--method`` value (``"pfr_adv"``).
        title: in words, for tables and figures (``"PFR + adversarial (the paper's method)"``).
        family: ``"ladder"``, ``"baseline"``, ``"translation"`` or ``"beyond"`` (:data:`FAMILIES`).
        uses_target_images: the training step forwards unlabelled target images.
        discriminator: the kind it trains (:data:`DISCRIMINATORS`), or None.
        eq6_terms: the lambda-weighted terms of Eq. (6) kept from ``LossConfig`` (``"adv"``,
            ``"pfr"``); the others get weight 0 (:meth:`pfrlib.config.LossConfig.effective_weights`).
            A baseline keeps none: its own terms and weights are in its config ``section``.
        baseline: the :class:`pfrlib.paper.step.Baseline` subclass that adds its terms, or None.
        section: the ``TrainConfig`` section holding its own options and weights, or None (also
            for a baseline with no option of its own: ``hist_match``).
        table1_row: the row's name in the paper's Table 1 (or ours where it has none), or None.
        paper_row: its row in the shipped copy of the paper's Table 1 (the ``method`` column of
            ``pfrlib/reference/table1.csv``), or None where the paper has no such row.
        trains_on_target_labels: supervised on the labelled *target* training set (the oracle).
        classifiers: stage-5 classifiers of its network (2 for CLAN's ``C1``, ``C2``).
        self_training: trained in rounds of pseudo-labels from an adapted model
            (:mod:`pfrlib.engine.two_stage.self_training`: its trainer makes the ``baseline``,
            :class:`~pfrlib.methods.beyond.self_training.SelfTraining`, from the labelling model).
        stage1: the method whose trained model a self-training method starts from (``pfr_adv``
            for ``pfr_adv_st``); None for ``self_training``, whose ``st_stage1`` field names it.
        tuned_weight: the one ``TrainConfig`` field (flat name) the tuning protocol varies for it,
            the weight of the term it adds to source only (``docs/protocol.md``,
            :mod:`pfrlib.evaluation.tuning`); None where nothing is tuned (the bounds).
    """

    name: str
    title: str
    family: str
    uses_target_images: bool
    discriminator: Optional[str] = None
    eq6_terms: tuple[str, ...] = ()
    baseline: Optional[type] = None
    section: Optional[str] = None
    table1_row: Optional[str] = None
    paper_row: Optional[str] = None
    trains_on_target_labels: bool = False
    classifiers: int = 1
    self_training: bool = False
    stage1: Optional[str] = None
    tuned_weight: Optional[str] = None

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"method {self.name!r}: family must be one of {FAMILIES}, got {self.family!r}")
        if self.discriminator is not None and self.discriminator not in DISCRIMINATORS:
            raise ValueError(f"method {self.name!r}: discriminator must be one of {DISCRIMINATORS} or None, "
                             f"got {self.discriminator!r}")
        if not set(self.eq6_terms) <= set(EQ6_TERMS):
            raise ValueError(f"method {self.name!r}: eq6_terms must be a subset of {EQ6_TERMS}, got {self.eq6_terms}")
        if self.stage1 is not None and not self.self_training:
            raise ValueError(f"method {self.name!r}: only a self-training method has a stage1")


_REGISTRY: dict[str, Method] = {}


def register(method: Method) -> Method:
    """Add ``method`` to the registry (a name may be registered once); returns it."""
    if method.name in _REGISTRY:
        raise ValueError(f"method {method.name!r} is already registered")
    _REGISTRY[method.name] = method
    return method


def get(name: str) -> Method:
    """The :class:`Method` called ``name``; a clear ``ValueError`` listing the known names otherwise."""
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise ValueError(f"method: unknown method {name!r}; expected one of {names()}") from None


def table1_names() -> tuple[str, ...]:
    """The methods that are rows of the paper's Table 1 (:data:`TABLE1_FAMILIES`), in registry order."""
    return tuple(n for fam in TABLE1_FAMILIES for n in names(fam))


def names(family: Optional[str] = None) -> tuple[str, ...]:
    """Every registered method name (ladder, then baselines, then translation), or one family's."""
    if family is not None and family not in FAMILIES:
        raise ValueError(f"family: unknown family {family!r}; expected one of {FAMILIES}")
    return tuple(m.name for fam in FAMILIES if family in (None, fam) for m in _REGISTRY.values() if m.family == fam)


def methods(family: Optional[str] = None) -> tuple[Method, ...]:
    """The :class:`Method` objects, in the order of :func:`names`."""
    return tuple(_REGISTRY[n] for n in names(family))


def stage1_names() -> tuple[str, ...]:
    """The methods a self-training run may start from (``st_stage1``): those the run loop trains in
    one stage (not the input-space or self-training methods) on a network of one classifier,
    whose checkpoint the self-training network loads."""
    return tuple(m.name for m in methods() if m.family != "translation" and not m.self_training
                 and m.classifiers == 1 and not m.trains_on_target_labels)


def label(name: str) -> str:
    """A method's name in words, as a table's row or a figure's legend shows it: its Table-1 row
    name (:attr:`Method.table1_row`; its ``title`` where it has none). Every table and figure of
    the series names a method this way; its ``--method`` key is for commands and files."""
    method = get(name)
    return method.table1_row or method.title


def in_words(text: str) -> str:
    """:func:`label` of a registered method's name; any other text (already in words) as it is."""
    return label(text) if text in _REGISTRY else text


# --------------------------------------------------------------------------- the ablation ladder
register(Method("source_only", "source only", "ladder", uses_target_images=False,
                table1_row="Non-adapted (source only)"))
register(Method("adaptsegnet", 'AdaptSegNet (output-space adversarial, "Conventional Adapt")', "ladder",
                uses_target_images=True, discriminator="output", eq6_terms=("adv",), table1_row="AdaptSegNet",
                paper_row="AdaptSegNet", tuned_weight="lambda_adv"))
register(Method("pfr", "PFR only (Eq. 4)", "ladder", uses_target_images=True, eq6_terms=("pfr",),
                table1_row="PFR only (Eq. 4)", tuned_weight="lambda_pfr"))
register(Method("pfr_adv", "PFR + adversarial (the paper's method)", "ladder", uses_target_images=True,
                discriminator="output", eq6_terms=("adv", "pfr"), table1_row="PFR (the paper's method)",
                paper_row="PFR (paper)", tuned_weight="lambda_pfr"))
register(Method("oracle", "oracle (target labels)", "ladder", uses_target_images=False,
                trains_on_target_labels=True, table1_row="Oracle (target labels)"))

# --------------------------------------------------------------------------- Table-1 baselines
register(Method("clan", "CLAN (Luo et al., CVPR 2019)", "baseline", uses_target_images=True,
                discriminator="output", baseline=CLAN, section="clan", table1_row="CLAN", paper_row="CLAN",
                classifiers=2, tuned_weight="clan_lambda_adv"))
register(Method("fcn_wild", "FCNs in the Wild (Hoffman et al., 2016)", "baseline", uses_target_images=True,
                discriminator="feature", baseline=FCNWild, section="fcn_wild", table1_row="FCNs in the Wild",
                paper_row="FCN Wld", tuned_weight="fcn_lambda_adv"))
register(Method("road", "ROAD (Chen, Li, Van Gool, CVPR 2018)", "baseline", uses_target_images=True,
                discriminator="region", baseline=ROAD, section="road", table1_row="ROAD", paper_row="ROAD",
                tuned_weight="road_lambda_adv"))
register(Method("curriculum", "Curriculum DA (Zhang, David, Gong, ICCV 2017)", "baseline",
                uses_target_images=True, baseline=Curriculum, section="curriculum", table1_row="Curriculum DA",
                paper_row="Curriculum", tuned_weight="curriculum_lambda"))

# --------------------------------------------------------------------------- input-space rows (pfrlib.methods.translation)
# Stage 1 trains an image translator (the ``translation`` config section), stage 2 the network on
# the translated source set: CyCADA and DLOW with AdaptSegNet's output-space discriminator, TGCF-DA
# with a mean teacher (pfrlib.engine.two_stage.mean_teacher).
register(Method("cycada", "CyCADA (Hoffman et al., ICML 2018)", "translation", uses_target_images=True,
                discriminator="output", eq6_terms=("adv",), section="translation", table1_row="CyCADA",
                paper_row="CyCADA", tuned_weight="lambda_semantic"))
register(Method("dlow", "DLOW (Gong et al., CVPR 2019)", "translation", uses_target_images=True,
                discriminator="output", eq6_terms=("adv",), section="translation", table1_row="DLOW",
                paper_row="DLOW", tuned_weight="lambda_cycle"))
register(Method("tgcf_da", "TGCF-DA (Choi et al., ICCV 2019)", "translation", uses_target_images=True,
                section="translation", table1_row="TGCF-DA", paper_row="TGCF-DA",
                tuned_weight="lambda_consistency"))

# --------------------------------------------------------------------------- beyond Table 1 (pfrlib.methods.beyond)
# Issue 33: the simpler ideas since the paper, in the same loop (not rows of the paper's Table 1).
register(Method("minent", "MinEnt: entropy minimisation (Vu et al., CVPR 2019, ADVENT)", "beyond",
                uses_target_images=True, baseline=MinEnt, section="minent", table1_row="MinEnt",
                tuned_weight="minent_lambda"))
register(Method("advent", "AdvEnt: adversarial entropy minimisation (Vu et al., CVPR 2019, ADVENT)", "beyond",
                uses_target_images=True, discriminator="entropy", baseline=AdvEnt, section="advent",
                table1_row="AdvEnt", tuned_weight="advent_lambda_adv"))
register(Method("fda", "FDA: Fourier domain adaptation, one beta (Yang & Soatto, CVPR 2020)", "beyond",
                uses_target_images=True, baseline=FDA, section="fda", table1_row="FDA",
                tuned_weight="fda_lambda_ent"))
# The sanity row of the per-component grid (sweeps/components.yaml): FDA's pairing with the
# cheapest pixel-space alignment, no option, no term, nothing to tune (so no tuned_weight).
register(Method("hist_match", "histogram matching: each source channel to a target image's, zero parameters",
                "beyond", uses_target_images=True, baseline=HistMatch, table1_row="Histogram matching"))

# Self-training (pfrlib.methods.beyond.self_training; rounds: pfrlib.engine.two_stage.self_training):
# an adapted model's confident target predictions, thresholded per class, train the next model.
register(Method("self_training", "self-training, class-wise pseudo-labels (CBST, Zou et al. 2018; BDL's code)",
                "beyond", uses_target_images=True, baseline=SelfTraining, section="self_training",
                table1_row="Self-training", self_training=True, tuned_weight="st_lambda"))
register(Method("pfr_adv_st", "PFR + adversarial, then a round of self-training", "beyond",
                uses_target_images=True, baseline=SelfTraining, section="self_training",
                table1_row="PFR + self-training", self_training=True, stage1="pfr_adv",
                tuned_weight="st_lambda"))
register(Method("adaptsegnet_st", "AdaptSegNet, then a round of self-training", "beyond",
                uses_target_images=True, baseline=SelfTraining, section="self_training",
                table1_row="AdaptSegNet + self-training", self_training=True,
                stage1="adaptsegnet", tuned_weight="st_lambda"))
