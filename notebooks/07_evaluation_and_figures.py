# %% [markdown]
# # 07 · Evaluation, Table 1 and the paper's figures
#
# **The question:** how do our runs read beside the paper's Table 1 and Figure 3, and does the
# paper's claim about frequent and rare classes hold on SynthStreets?
#
# **Paper:** Section 4: Eq. (7) (IoU), Table 1 (per-class IoU on GTA5 → Cityscapes) and
# Figure 3 (target image, non-adapted, conventional adapt, ours, ground truth).
#
# This notebook collects the seed-0 runs of notebooks 03-05 from the shared run directory
# (training whatever is missing, with the same configurations, so it also runs on its own),
# evaluates them with `pfrlib.evaluate`, reads the multi-seed results of the project's sweeps
# (committed in `benchmarks/results/`: two seed sets, 0-2 and the held-out 5-7, both of the
# original 9-class SynthStreets until the SynthStreets-19 claims runs replace them), and
# regenerates the figures in `figures/`:
#
# * Table 1 side by side: the paper's rows (shipped with `pfrlib` as
#   `pfrlib/reference/table1.csv`) and ours, each labelled with what it ran on;
# * a Figure-3-style grid of target predictions;
# * training curves and the ablation bars;
# * Table 1, SynthStreets edition: the four published baselines that change only the losses
#   (CLAN, FCNs in the Wild, ROAD, Curriculum DA) trained in the same loop, and the paper's claim
#   about frequent and rare classes tested against CLAN, on both seed sets.
#
# Training every row of Table 1 on two seed sets takes hours on a laptop, so the multi-seed
# tables come from the committed results files (the cells say which, and print the command that
# regenerates each); `train_all=True` trains them all here instead (`make reproduce ALL=1`).
#
# **Read the table honestly.** Our rows are the small CPU model on SynthStreets at 64x128 (the
# seed-0 runs on SynthStreets-19, all 19 classes; the multi-seed files on the 9-class benchmark,
# their columns); the paper's are DeepLab-v2 / ResNet-101 on GTA5 → Cityscapes. The numbers
# are not comparable; the *ordering* of methods and the size of the gap closed are what the
# embedded benchmark can check. Paper-scale rows come from `python -m pfrlib.evaluate` on a real
# checkpoint (notebook 06).

# %% tags=["parameters"]
smoke = None  # True: a seconds-long run (4 iterations); None: $PFR_SMOKE (default off)
train_all = False  # True: train every Table-1 row on both seed sets here (hours), not read them
seeds = [0, 1, 2]  # seeds of the multi-seed tables; the first seed's runs are collected or trained
heldout_seeds = [5, 6, 7]  # the held-out seed set (trained only with train_all)
iterations = None  # training iterations for runs that are missing; None: the cpu preset's default
num_examples = 4  # target images in the Figure-3 grid
runs_dir = None  # the series' run directory; None: ../runs/series (smoke: ../runs/smoke/series)
out_dir = "../runs/07_evaluation_and_figures"  # where metrics.json is written
figures_dir = None  # None: ../figures (../runs/smoke/figures in smoke mode)

# %%
from pfrlib import methods as registry
from pfrlib.teaching.nbparams import Param, start

setup = start(globals(), {
    "smoke": Param(bool, optional=True),
    "train_all": Param(bool),
    "seeds": Param(list, items=int, min=0),
    "heldout_seeds": Param(list, items=int, min=0),
    "iterations": Param(int, min=1, optional=True),
    "num_examples": Param(int, min=1, max=16),
    "runs_dir": Param(str, optional=True),
    "out_dir": Param(str),
    "figures_dir": Param(str, optional=True),
}, smoke_caps={"seeds": 1, "heldout_seeds": 1})
runs_dir, base, FIG = setup.runs_dir, setup.base, setup.figures

# %%
import matplotlib.pyplot as plt
import torch

from pfrlib import viz
from pfrlib.config.train_config import TrainConfig
from pfrlib.data.synthstreets.dataset import BENCHMARK_NAMES, SynthStreets
from pfrlib.data.transforms import normalize
from pfrlib import models
from pfrlib.evaluation.tables import (GAP_CLOSED, PAPER_LABEL, class_pixel_share, format_table,
                                      format_table_row, gap_closed_percent, reference_records,
                                      reference_rows, table1_rows)
from pfrlib.engine.checkpoint import load_model
from pfrlib.engine.scoring import predict
from pfrlib.io import atomic_write
from pfrlib.paper.metrics import CITYSCAPES_CLASSES
from pfrlib.teaching.nbtools import announce, load_or_train_many, say, show_table
from pfrlib.viz.figure import save_figure
from pfrlib.teaching.nbparams import save_metrics
from pfrlib.evaluation.results_files import TABLE1_FILES, results_ladder, seed_set_summaries
from pfrlib.teaching.selfcheck import check_close, check_equal
from pfrlib.viz.results import (plot_iou_heatmap, plot_ladder, plot_share_vs_difference,
                                plot_training_curves)
from pfrlib.viz.scenes import prediction_grid

LADDER, BASELINES = registry.names("ladder"), registry.names("baseline")

# %% [markdown]
# ## 1. Collect the runs
#
# The ablation ladder's runs of the first seed: notebooks 03-05 trained them in the shared run
# directory, so they are reused; whatever is missing is trained here (the line before says what
# and about how long). `train_all=True` also trains the ladder and the four baselines on every
# seed of both seed sets (section 4 and 5 then use those runs).

# %%
trained_seeds = list(dict.fromkeys([seeds[0], *seeds, *heldout_seeds])) if train_all else [seeds[0]]
keys = [(method, seed) for method in (LADDER + BASELINES if train_all else LADDER)
        for seed in trained_seeds]
cfgs = [TrainConfig.preset("cpu", method=m, seed=s, out=f"{runs_dir}/{m}_s{s}", **base)
        for m, s in keys]
jobs = 1 if smoke else None
say(announce(cfgs, jobs=jobs))
results = dict(zip(keys, load_or_train_many(cfgs, jobs=jobs)))
say(f"{len(results)} runs: {len(LADDER)} ladder methods x seed {seeds[0]}"
    + (f", and the ladder and baselines x seeds {trained_seeds}" if train_all else "")
    + f", {results[keys[0]].final['iterations']} iterations each")

# %% [markdown]
# ## 2. Table 1, side by side
#
# Per-class IoU (%) of the first seed's final models on SynthStreets-19 target val under the
# paper's rows (our mIoU averages the classes the benchmark draws: all 19). First the paper's three
# ResNet-101 rows that matter most here, as the paper reports them, a column per method:

# %% tags=["nbval-check-output"]
paper = reference_records()
backbones = ", ".join(sorted({r["backbone"] for r in paper[-3:]}))
show_table({r["method"]: {c: r[c] for c in [*CITYSCAPES_CLASSES, "mIoU"]} for r in paper[-3:]},
           digits=1, caption=f"IoU (%), {PAPER_LABEL}, backbone {backbones}")

# %% [markdown]
# Then every row of the paper's table and ours, a column per class the benchmark draws (with a
# benchmark that draws fewer, the paper's other classes follow in a table of their own):

# %%
arch = results[(LADDER[0], seeds[0])].config.model.arch
h, w = results[(LADDER[0], seeds[0])].config.data.synth_size
ours = []
for method in LADDER:
    f = results[(method, seeds[0])].final
    ours.append(dict(name=f"{registry.label(method)} (ours)",
                     per_class=f["target_val"]["per_class_iou"], miou_value=f["target_miou"],
                     backbone=models.model_title(arch)))
drawn_by_synth = [c for c in CITYSCAPES_CLASSES if ours[0]["per_class"][c] is not None]
benchmark = BENCHMARK_NAMES[results[(LADDER[0], seeds[0])].config.data.synth_classes]
ran_on = f"{benchmark} {h}x{w} target val, seed {seeds[0]}"
# the paper's row -> ours
row_name = {m.paper_row: registry.label(m.name) for m in registry.methods() if m.paper_row}
paper_rows = [f"paper: {row_name.get(r['method'], r['method'])}" for r in paper]
show_table([{"row": name, **{c: r[c] for c in drawn_by_synth}, "mIoU": r["mIoU"],
             "backbone": r["backbone"]} for name, r in zip(paper_rows, paper)]
           + [{"row": f"ours: {registry.label(m)}",
               **{c: 100 * row["per_class"][c] for c in drawn_by_synth},
               "mIoU": 100 * row["miou_value"], "backbone": row["backbone"]}
              for m, row in zip(LADDER, ours)],
           digits=1,
           caption=f"IoU (%) on the classes SynthStreets draws; paper: {PAPER_LABEL}; "
                   f"ours: {ran_on}")
others = [c for c in CITYSCAPES_CLASSES if c not in drawn_by_synth]
if others:
    show_table([{"row": name, **{c: r[c] for c in others}} for name, r in zip(paper_rows, paper)],
               digits=1, caption=f"the paper's IoU (%) on the {len(others)} other classes "
                                 "(the benchmark does not draw them, so ours have no row here)")
# the same table as Markdown, for a report
ours_rows = [format_table_row(**(row | {"name": f"{row['name']}; {ran_on}"})) for row in ours]
markdown = format_table(reference_rows() + ours_rows)
_ = atomic_write(FIG / "table1_side_by_side.md", lambda fh: fh.write(markdown + "\n"), mode="w")

# %% [markdown]
# ### Exercise 1
#
# Which classes does the full method ("PFR (the paper's method)", `pfr_adv`) improve over AdaptSegNet
# (`adaptsegnet`) in the first seed's runs? Read the per-class IoUs from
# `results[(method, seeds[0])].final["target_val"]["per_class_iou"]` (fractions; `None` for a
# class in neither the labels nor the predictions) and set `improved_classes` to the list of
# class names whose IoU is higher for `pfr_adv`, in the table's column order. Are they among the
# classes the paper names (road, building, wall, fence, terrain, rider, truck and bus)? One seed
# is one draw: the claims runs (`docs/protocol.md`) ask the same with ten seeds and intervals.

# %% tags=["solution"]
# Exercise 1. Set `improved_classes` to the classes (in column order) where pfr_adv's IoU is
# higher than adaptsegnet's, first seed.
ours_iou = results[("pfr_adv", seeds[0])].final["target_val"]["per_class_iou"]
theirs_iou = results[("adaptsegnet", seeds[0])].final["target_val"]["per_class_iou"]
improved_classes = [c for c, v in ours_iou.items()
                    if v is not None and theirs_iou[c] is not None and v > theirs_iou[c]]
for c in improved_classes:
    print(f"{c:>13}: {100 * theirs_iou[c]:5.1f} -> {100 * ours_iou[c]:5.1f}")

# %% tags=["selfcheck"]
_ours = results[("pfr_adv", seeds[0])].final["target_val"]["per_class_iou"]
_theirs = results[("adaptsegnet", seeds[0])].final["target_val"]["per_class_iou"]
check_equal("classes where PFR + adversarial beats AdaptSegNet", improved_classes,
            [c for c in _ours
             if _ours[c] is not None and _theirs[c] is not None and _ours[c] > _theirs[c]],
            hint="compare the two dicts class by class, skip None, keep the dict's order")

# %% [markdown]
# ## 3. Figure 3: qualitative results
#
# Columns as in the paper: (a) target image, (b) non-adapted, (c) conventional adapt
# (AdaptSegNet), (d) ours (PFR + adversarial), (e) ground truth.

# %%
size = tuple(results[("source_only", seeds[0])].config.data.synth_size)
tgt_val = SynthStreets("target", split="val", size=size)
images = torch.stack([tgt_val[i][0] for i in range(num_examples)])
labels = torch.stack([tgt_val[i][1] for i in range(num_examples)])
preds = {}
for method in ("source_only", "adaptsegnet", "pfr_adv"):
    model, _ = load_model(results[(method, seeds[0])].out / "checkpoint_last.pt")
    inputs = torch.stack([normalize(x, model.normalization) for x in images])
    preds[registry.label(method)] = predict(model, inputs)
fig = prediction_grid(images, preds, labels,
                      titles=("(a) target image", "(b) non-adapted", "(c) conventional adapt",
                              "(d) ours", "(e) ground truth"),
                      title=f"{benchmark} target val #0-{num_examples - 1}, models of seed "
                            f"{seeds[0]}",
                      class_ids=SynthStreets.class_ids)
save_figure(fig, FIG / "07_figure3_qualitative.png")
plt.show()

# %% [markdown]
# ## 4. Training curves and the ablation bars
#
# The runs validate on the whole target val set at a regular interval (`val_every`) and once
# more at the last iteration; that last point is the number in the table above.

# %%
fig = plot_training_curves(
    {registry.label(m): results[(m, seeds[0])].out / "metrics.jsonl" for m in LADDER},
    keys=("seg", "val_target_miou"),
    title=f"seed {seeds[0]}: source segmentation loss and target val mIoU",
)
save_figure(fig, FIG / "07_training_curves.png")
plt.show()

# %% [markdown]
# Over seeds, from the project's sweeps: the committed results files (the cell prints which, and
# the command that regenerates each; both are of the 9-class SynthStreets), or with
# `train_all=True` the runs trained in section 1 (SynthStreets-19). The ladder below is the first
# seed set's; section 5 puts both side by side.

# %%
summaries = seed_set_summaries({k: r.final for k, r in results.items()} if train_all else None,
                               LADDER + BASELINES, {"seeds": seeds, "held-out": heldout_seeds},
                               where=runs_dir)
first = next(iter(summaries))
table = results_ladder(summaries[first], LADDER)
show_table([{"method": registry.label(m), "mean mIoU": t["mean"], "std": t["std"],
             GAP_CLOSED: gap_closed_percent(m, t),
             "per seed": ", ".join(f"{v:.1f}" for v in t["runs"])} for m, t in table.items()],
           digits=1, caption=f"SynthStreets target val mIoU (%), {first}; {GAP_CLOSED} of the two "
                             "bounds: '-'")
fig = plot_ladder(table, title=f"SynthStreets target val mIoU, mean ± std over {first}")
save_figure(fig, FIG / "07_ablation_bars.png")
plt.show()

# %% [markdown]
# ### Exercise 2
#
# The **std** column is the *sample* standard deviation over seeds. From the per-seed values
# `table[m]["runs"]`, compute it by hand for every method, as a dict `std_by_hand`
# (`{method: std}`). With one seed it is 0 by convention. Why divide by $n - 1$ and not $n$?
#
# ### Exercise 3
#
# "Gap closed" is where a method's mean lands between source only (0%) and the oracle (100%).
# Compute it by hand as a dict `gap_closed_by_hand` (`{method: fraction}`, 0.33 for 33%). What
# would a method below source only give?

# %% tags=["solution"]
# Exercise 2. Compute `std_by_hand`: the sample standard deviation (divide by n - 1) of each
# method's per-seed values `table[m]["runs"]`; 0.0 for a single seed.
std_by_hand = {}
for m, t in table.items():
    runs, n = t["runs"], len(t["runs"])
    mean = sum(runs) / n
    std_by_hand[m] = (sum((v - mean) ** 2 for v in runs) / (n - 1)) ** 0.5 if n > 1 else 0.0
say("; ".join(f"{registry.label(m)}: {v:.2f}" for m, v in std_by_hand.items()))

# %% tags=["selfcheck"]
check_close("sample std over seeds", std_by_hand, {m: t["std"] for m, t in table.items()},
            hint="the mean of squared deviations uses n - 1 in the denominator (ddof 1)")

# %% tags=["solution"]
# Exercise 3. Compute `gap_closed_by_hand`: for each method, (mean - mean of source only) /
# (mean of oracle - mean of source only), from `table`.
low, high = table["source_only"]["mean"], table["oracle"]["mean"]
gap_closed_by_hand = {m: (t["mean"] - low) / (high - low) for m, t in table.items()}
say("; ".join(f"{registry.label(m)}: {100 * v:.0f}%" for m, v in gap_closed_by_hand.items()))

# %% tags=["selfcheck"]
check_close("share of the gap closed", gap_closed_by_hand,
            {m: t["gap_closed"] for m, t in table.items()},
            hint="use the means over seeds; source only gives 0 and the oracle 1")

# %% [markdown]
# **What to look for.** Compare the ordering with the paper's claim (Ours 44.5 > AdaptSegNet
# 42.4 > non-adapted) and the per-class columns with its discussion (its gain "primarily comes
# from" road, building, wall, fence, terrain, rider, truck and bus). On the 9-class SynthStreets
# of the committed files the target shift is mostly appearance, so adaptation shows where colour
# carried the class for the source-only model: sky (grey instead of blue), sidewalk, building,
# and cars, and the two alignments split the work: compare the sky column of "PFR only" with
# that of "AdaptSegNet". Small classes (pole, traffic sign, person) stay far below the oracle
# row of the table on both seed sets (whether they also gain least depends on the seed set:
# compare the per-class figures of both in `docs/results.md`). SynthStreets-19 adds a shift of
# camera, class frequencies and proportions, which colour alone does not explain: compare the
# seed-0 table of section 2.

# %% [markdown]
# ## 5. Table 1, SynthStreets edition
#
# The paper's Table 1 puts PFR next to eight published methods, each number copied from its own
# paper (other backbones, codebases and evaluation details). Four of those methods change only
# the *losses* on the same segmentation network, so `pfrlib` trains them in the same loop as PFR,
# with the same network, data, schedule and evaluation (`--method clan`, `fcn_wild`, `road`,
# `curriculum`; docs/choices.md's "Table 1 baselines" and docs/baselines.md say what each keeps
# from its paper and what it approximates):
#
# * **CLAN** (Luo et al. 2019): two classifiers kept different; where they disagree on a target
#   pixel, the output-space adversarial loss is weighted up (category-level alignment).
# * **FCNs in the Wild** (Hoffman et al. 2016): a domain discriminator on the last backbone stage,
#   plus target class proportions held within bounds estimated from source labels.
# * **ROAD** (Chen et al. 2018): one discriminator per region of a grid over the features
#   (spatial-aware), and target features kept near a frozen reference network's.
# * **Curriculum DA** (Zhang et al. 2017): the target images' label distribution, predicted by a
#   model trained on source, imposed on the target predictions (a KL term).
#
# The three image-translation methods (CyCADA, DLOW, TGCF-DA) first restyle the source images
# with a GAN (`pfrlib.methods.translation`); their rows show our numbers where the results files hold
# them, and "-" otherwise.

# %% [markdown]
# Every row of the paper's Table 1 once: what this project measured on SynthStreets (mean ± std
# over each seed set, same network for all; the held-out set is the honest check), and the
# paper's number on GTA5 → Cityscapes beside it. Read down a column, never across: ours and the
# paper's are different benchmarks and networks.

# %%
table1 = {name: results_ladder(summary, [m for m in registry.table1_names() if m in summary])
          for name, summary in summaries.items()}
paper_by_name = {r["method"]: r for r in paper}
show_table(table1_rows(table1, registry.table1_names(), paper), digits=1,
           caption=f"mIoU: ours, SynthStreets {h}x{w} target val, mean ± std over each seed set; "
                   f"{GAP_CLOSED}: share of the source-only -> oracle gap closed (the two bounds: "
                   f"'-'); paper: {PAPER_LABEL}")
absent = [registry.label(m) for m in registry.table1_names()
          if not any(m in t for t in table1.values())]
if absent:
    say(f"{', '.join(absent)}: " + ("not trained here" if train_all else "not in the results file")
        + " ('-')")

# %% [markdown]
# Per class, mean over the first seed set (a row per method, a column per class SynthStreets draws):

# %%
per_class_mean = {m: row["per_class_target"] for m, row in summaries[first].items()}
fig = plot_iou_heatmap({registry.label(m): v for m, v in per_class_mean.items()},
                       highlight=registry.label("pfr_adv"),
                       title=f"Table 1, SynthStreets edition: target val IoU (%), mean over "
                             f"{first}")
save_figure(fig, FIG / "07_table1_per_class.png")
plt.show()

# %% [markdown]
# ### Frequent and rare classes: PFR against CLAN
#
# The paper reads its Table 1 this way: *"PFR achieves limited performance gain on some less
# frequent objects ... compared to class-wise alignment methods [CLAN], it is excellent at the
# dominant classes such as road, building"*. PFR aligns whole feature maps (Gram matrices average
# over every pixel, so large classes dominate them); CLAN weights its alignment per pixel by how
# unsure the two classifiers are, which can favour small, hard classes. First, the paper's own
# numbers: PFR minus CLAN per class on GTA5 → Cityscapes.

# %%
pfr_row = paper_by_name[registry.get("pfr_adv").paper_row]
clan_row = paper_by_name[registry.get("clan").paper_row]
paper_delta = {c: pfr_row[c] - clan_row[c] for c in CITYSCAPES_CLASSES}
show_table([{"class": c, "PFR": pfr_row[c], "CLAN": clan_row[c], "PFR - CLAN": d}
            for c, d in sorted(paper_delta.items(), key=lambda kv: -kv[1])],
           digits=1,
           caption="the paper's Table 1 (ResNet-101, GTA5 -> Cityscapes), best for PFR first")

# %% [markdown]
# To test the claim here we need each class's *frequency*: its share of the labelled pixels of
# the target val split the IoUs are measured on, that of the benchmark the tables come from (the
# 9-class SynthStreets for the committed files). Its labels, stacked:

# %%
table_classes = (results[("source_only", seeds[0])].config.data.synth_classes if train_all
                 else TABLE1_FILES[0].synth_classes)
share_set = SynthStreets("target", split="val", size=size, classes=table_classes)
val_labels = torch.stack([share_set[i][1] for i in range(len(share_set))])
print(f"SynthStreets ({table_classes} classes) target val labels: {tuple(val_labels.shape)} "
      "trainIds (255 = ignore)")
print(f"val_labels: {tuple(val_labels.shape)} trainIds (255 = ignore)")

# %% [markdown]
# ### Exercise 4
#
# From `val_labels`, compute each class's share of the labelled pixels (leave out the ignore
# value 255) as a tensor `share_by_hand` of length 19 (trainId order) that sums to 1.
# `torch.bincount` does the counting. Which class is the most frequent, and which the rarest of
# those the benchmark draws?

# %% tags=["solution"]
# Exercise 4. Compute `share_by_hand`: (19,) pixel shares of each trainId in `val_labels`, 255
# left out.
labelled = val_labels[val_labels != 255].long()
share_by_hand = torch.bincount(labelled, minlength=19).double() / labelled.numel()
say(", ".join(f"{c} {100 * float(v):.1f}%"
              for c, v in zip(CITYSCAPES_CLASSES, share_by_hand) if v > 0))

# %% tags=["selfcheck"]
check_close("pixel share of each class", share_by_hand, class_pixel_share(val_labels),
            hint="count with torch.bincount(..., minlength=19) over the labels != 255, then divide "
                 "by that count")

# %% [markdown]
# A class counts as **frequent** when its share is above the share every class would have if
# the classes the benchmark draws were equally common (1/9 for nine classes), and **rare**
# otherwise. Below: each
# class's share, the mean IoU over seeds of PFR + adversarial and of CLAN, and their difference.

# %%
share = class_pixel_share(val_labels)
drawn = [c for c, v in zip(CITYSCAPES_CLASSES, share) if v > 0]
share_pct = {c: 100 * float(share[CITYSCAPES_CLASSES.index(c)]) for c in drawn}
split = 100 / len(drawn)
deltas = {name: {c: s["pfr_adv"]["per_class_target"][c] - s["clan"]["per_class_target"][c]
                 for c in drawn} for name, s in summaries.items()}
delta = deltas[first]
show_table([{"class": c, "pixel share (%)": share_pct[c],
             "group": "frequent" if share_pct[c] > split else "rare",
             "PFR + adv IoU": per_class_mean["pfr_adv"][c], "CLAN IoU": per_class_mean["clan"][c],
             **{f"difference, {name}": d[c] for name, d in deltas.items()}}
            for c in sorted(drawn, key=lambda c: -share_pct[c])],
           digits=1, caption=f"{BENCHMARK_NAMES[table_classes]} target val; "
                             f"IoU: mean over {first}; difference: "
                             f"PFR + adv IoU minus CLAN IoU (points); "
                             f"frequent = share > {split:.1f}%")
fig = plot_share_vs_difference(share_pct, delta, split, ylabel="IoU: PFR + adv - CLAN (points)",
                               title=f"Is PFR's edge over CLAN on the frequent classes? ({first})")
save_figure(fig, FIG / "07_frequent_vs_rare.png")
plt.show()

# %% [markdown]
# ### Exercise 5
#
# Summarise the table in two numbers: the mean of `delta` (PFR + adversarial minus CLAN, in IoU
# points) over the **frequent** classes and over the **rare** ones, as a dict
# `group_delta = {"frequent": ..., "rare": ...}`. The paper's claim predicts the first is larger
# than the second. Does it hold here? Is the difference larger than the spread over seeds in the
# table of section 5? (`delta` is the first seed set's; the verdict below repeats it on both.)

# %% tags=["solution"]
# Exercise 5. Compute `group_delta`: the mean of `delta` over the frequent classes
# (share_pct > split) and over the rare ones.
frequent = [c for c in drawn if share_pct[c] > split]
rare = [c for c in drawn if share_pct[c] <= split]
group_delta = {"frequent": sum(delta[c] for c in frequent) / len(frequent),
               "rare": sum(delta[c] for c in rare) / len(rare)}
say(", ".join(f"{g}: {v:+.1f} points" for g, v in group_delta.items()))

# %% tags=["selfcheck"]
_groups = {g: [delta[c] for c in drawn if (share_pct[c] > split) == (g == "frequent")]
           for g in ("frequent", "rare")}
check_close("mean IoU difference per group", group_delta,
            {g: sum(v) / len(v) for g, v in _groups.items()},
            hint="a class is frequent when share_pct[c] > split; average delta[c] within each "
                 "group")

# %% [markdown]
# The verdict, computed from the runs above (it is rewritten whenever the runs change):

# %%
_freq = [c for c in drawn if share_pct[c] > split]
_rare = [c for c in drawn if share_pct[c] <= split]
for _name, _delta in deltas.items():
    print(f"{_name}:")
    _sets = (("frequent", _freq), ("rare", _rare))
    _mean = {g: sum(_delta[c] for c in cs) / len(cs) for g, cs in _sets}
    for g, cs in _sets:
        ahead = [c for c in cs if _delta[c] > 0]
        say(f"  {g:>8} classes ({', '.join(cs)}): PFR + adv ahead of CLAN on {len(ahead)} of "
            f"{len(cs)}, mean difference {_mean[g]:+.1f} IoU points")
    _pfr, _clan = table1[_name]["pfr_adv"], table1[_name]["clan"]
    print(f"  overall: PFR + adv {_pfr['mean']:.1f} ± {_pfr['std']:.1f} mIoU, "
          f"CLAN {_clan['mean']:.1f} ± {_clan['std']:.1f}")
    print("  the paper's pattern (a larger edge on frequent classes) "
          + ("holds" if _mean["frequent"] > _mean["rare"] else "does not hold")
          + " on SynthStreets")
    # one class can decide a mean over three to six classes: the verdict again without the
    # largest difference
    _top = max(drawn, key=lambda c: abs(_delta[c]))
    _without = {g: [_delta[c] for c in cs if c != _top] for g, cs in _sets}
    _mean_without = {g: sum(v) / len(v) for g, v in _without.items() if v}
    _holds = _mean_without.get("frequent", 0) > _mean_without.get("rare", 0)
    print(f"  without {_top} ({_delta[_top]:+.1f}): "
          + ", ".join(f"{g} {v:+.1f}" for g, v in _mean_without.items())
          + " -> the pattern " + ("holds" if _holds else "does not hold"))

# %% [markdown]
# **Reading it.** Three things to keep apart before agreeing or disagreeing with the paper:
#
# * *The two methods' overall level.* On SynthStreets CLAN sits below AdaptSegNet (section 5's
#   table; its `cpu` weights were chosen on one seed, `docs/tuning.md`), so PFR + adversarial is
#   ahead of it on most classes and the frequent/rare question becomes a difference of
#   differences. In the paper the two are within 1.3 mIoU, which is what makes its per-class
#   reading meaningful; the paper's own rows (the table above) do show it: PFR ahead on road,
#   sidewalk, building, car, behind on pole, traffic light, traffic sign and the two-wheelers.
# * *One class can decide a mean.* Sky is the class the output-space stage repairs (notebook 05):
#   the line "without ..." above recomputes the verdict without the class with the largest
#   difference. When the two verdicts disagree, the claim rests on that one class.
# * *What "rare" means here.* The 9-class SynthStreets of the committed files draws its classes
#   in comparable amounts; none is as rare as Cityscapes' train, motorcycle or bicycle, the
#   classes where the paper's gap to CLAN opens. SynthStreets-19 draws Cityscapes' long tail
#   (the most frequent class over a hundred times the least), and the claims runs repeat this
#   test on it with intervals (`docs/protocol.md`); `train_all=True` runs it here on one machine.
#
# The held-out seeds (`sweeps/table1_heldout.yaml`, docs/results.md) repeat all nine rows on seeds no value
# was chosen on: where the two verdicts above disagree, the held-out one is the honest answer.

# %%
metrics = dict(
    notebook="07_evaluation_and_figures",
    parameters=setup.params | {"runs_dir": runs_dir},
    results_source="trained here" if train_all else {f.label: f.path for f in TABLE1_FILES},
    ladder=table,
    per_class_first_seed={m: results[(m, seeds[0])].final["target_val"]["per_class_iou"]
                          for m in LADDER},
    table1=table1,
    table1_per_class_mean=per_class_mean,
    frequent_vs_rare={"share_pct": share_pct, "split_pct": split, "pfr_adv_minus_clan": deltas},
)
print("wrote", save_metrics(out_dir, metrics))

# %% [markdown]
# ## What to try
#
# From the repository root:
#
# ```bash
# # a paper-scale checkpoint as a Table-1 row (on a machine with Cityscapes)
# python -m pfrlib.evaluate --checkpoint runs/paper_pfr_adv_s0/checkpoint_last.pt \
#     --data cityscapes:/data/cityscapes:val --eval-size 512,1024 --out runs/eval_pfr_adv
# # Table 1, SynthStreets edition as a sweep (resumable), on seeds 0-2 and on the held-out ones
# make sweep SPEC=sweeps/table1.yaml
# make sweep SPEC=sweeps/table1_heldout.yaml
# # then rewrite the results files this notebook reads from those runs
# python benchmarks/ablation.py --table1 --seeds 0 1 2 --collect runs/table1 --save benchmarks/results/table1.json
# python benchmarks/ablation.py --table1 --seeds 5 6 7 --collect runs/table1_heldout --save benchmarks/results/table1_heldout.json
# # or train every table here instead of reading the files, on five seeds (hours on 2 cores)
# .venv/bin/papermill --cwd notebooks notebooks/07_evaluation_and_figures.ipynb runs/07_5seeds.ipynb \
#     -p train_all True -y "seeds: [0, 1, 2, 3, 4]" -p out_dir ../runs/07_5seeds -p figures_dir ../runs/07_5seeds
# ```
#
# **More questions**
#
# - Evaluate with `align_corners=False` (`python -m pfrlib.evaluate ... --no-align-corners`).
#   AdaptSegNet's issue #11 reports 40.8 vs 42.4 mIoU from this switch alone: how much does it
#   move our numbers, and why is it smaller at 64x128?
# - The best-on-validation checkpoint (`keep_best=True`) selects on the target *val* set. Why is
#   the number it gives optimistic, and why does `final.json` report the final model instead?
