# %% [markdown]
# # 03 · The source-only baseline and the domain gap
#
# **The question:** how large is the domain gap, i.e. how much worse on real (target) images is a
# network trained on game (source) images only than one trained on target labels, and where does
# it fail?
#
# **Paper:** Section 3.1, Eq. (1) (the segmentation loss), and the "Non-Adapted" column of
# Figure 3.
#
# Before adapting anything we measure the problem. A network trained with Eq. (1) on labelled
# source images only,
#
# $$\mathcal{L}_{seg} = -\sum_{h,w}\sum_{c} y_s^{(h,w,c)} \log p_s^{(h,w,c)},$$
#
# is evaluated twice: on held-out **source** images (how well it learned the task) and on
# **target** images (how well that transfers). The upper bound is an **oracle** trained on
# labelled target images, something unsupervised adaptation never has. The difference between
# source-only and oracle on the target is the **domain gap** the rest of the series tries to
# close.
#
# On SynthStreets-19, the series' benchmark, the two domains differ the way GTA5 and Cityscapes do,
# in miniature: in appearance (palette, textures, lighting, colour casts, blur, noise), in what a
# street holds (the game's class frequencies against Cityscapes'), in how it is seen (camera
# height, horizon, focal length) and in the proportions of objects. Section 0 shows each part.

# %% tags=["parameters"]
smoke = None  # True: a seconds-long run (4 iterations); None: $PFR_SMOKE (default off)
seed = 0  # training seed
iterations = None  # training iterations; None: the cpu preset's default
runs_dir = None  # the series' run directory; None: ../runs/series (smoke: ../runs/smoke/series)
out_dir = "../runs/03_source_only"  # where metrics.json is written
figures_dir = None  # None: ../figures (../runs/smoke/figures in smoke mode)

# %%
from pfrlib.teaching.nbparams import Param
from pfrlib.teaching.nbparams import start

setup = start(globals(), {
    "smoke": Param(bool, optional=True),
    "seed": Param(int, min=0),
    "iterations": Param(int, min=1, optional=True),
    "runs_dir": Param(str, optional=True),
    "out_dir": Param(str),
    "figures_dir": Param(str, optional=True),
})

# %%
import ipywidgets as widgets
import matplotlib.pyplot as plt
import torch

from pfrlib.paper import metrics
from pfrlib import viz
from pfrlib.config.train_config import TrainConfig
from pfrlib.data.synthstreets.dataset import SHIFT_TYPES, SynthStreets
from pfrlib.data.transforms import normalize
from pfrlib.engine.checkpoint import load_model
from pfrlib.engine.scoring import predict
from pfrlib.paper.metrics import CITYSCAPES_CLASSES
from pfrlib import methods as registry
from pfrlib.teaching.nbtools import announce, interactive, load_or_train_many, say, show_table
from pfrlib.viz.figure import save_figure
from pfrlib.teaching.nbparams import save_metrics
from pfrlib.teaching.selfcheck import check_close, check_equal
from pfrlib.viz.results import plot_per_class_iou, plot_training_curves
from pfrlib.viz.scenes import (prediction_grid, shift_components, shift_prediction,
                                synthstreets_samples)

# %% [markdown]
# ## 0. The two domains
#
# The same kind of scene in both domains, with the labels (Cityscapes trainIds, shown in the
# Cityscapes palette). Source: flat, saturated colours chosen at random per object, game-like
# frequencies (more cars, trucks and buses, fewer people and cyclists), a high camera with a wide
# lens; target: a desaturated per-class palette, textures, uneven light, colour casts, blur and
# noise, Cityscapes' frequencies, a lower camera with a longer lens, and real proportions.

# %% tags=["nbval-check-output"]
say("SynthStreets classes (trainId name):",
    ", ".join(f"{i} {CITYSCAPES_CLASSES[i]}" for i in SynthStreets.class_ids))

# %%
fig = synthstreets_samples(n=4, seed=0, size=(64, 128))
save_figure(fig, setup.figures / "synthstreets_samples.png")
plt.show()

# %% [markdown]
# The shift is built from named components (`SynthShift19` in `pfrlib.data.synthstreets.shift`),
# each with a strength: the same target scenes with one component switched on at a time. The
# last three (`class_prior`, `camera`, `shape`) change the scene itself, not only its look. Section 3 lets you switch
# them on and off and watch what the trained model makes of each.

# %%
fig = shift_components(n=2, seed=0, size=(64, 128))
save_figure(fig, setup.figures / "synthstreets_shift_components.png")
plt.show()

# %% [markdown]
# ## 1. Train: source only, and the oracle
#
# Both runs use the `cpu` preset: the small CPU model on 64x128 SynthStreets-19 images, Adam, and
# the same number of iterations. The only difference is the data the segmentation loss sees.
# `load_or_train_many` reuses a finished run with the same configuration (so re-running the
# notebook, or notebook 07 later, costs nothing; delete the run directory to train again) and
# trains the missing ones side by side, one thread each, printing a line as each finishes.

# %%
methods = ("source_only", "oracle")
cfgs = [TrainConfig.preset("cpu", method=m, seed=seed, out=f"{setup.runs_dir}/{m}_s{seed}",
                           **setup.base) for m in methods]
jobs = 1 if smoke else None
say(announce(cfgs, jobs))
runs = dict(zip(methods, load_or_train_many(cfgs, jobs=jobs)))
run_rows = [{"run": registry.label(m), "source-val mIoU": 100 * r.final["source_miou"],
             "target-val mIoU": 100 * r.final["target_miou"],
             "training time (s)": r.final["wall_time_s"]} for m, r in runs.items()]
show_table(run_rows, digits=1,
           caption=f"seed {seed}, {runs['source_only'].final['iterations']} iterations")

# %% [markdown]
# ## 2. The gap
#
# The source-val number shows the task itself is learned well; the target-val number shows how
# much of that survives the change of domain. The oracle shows what the same network reaches
# when it *can* see target labels.

# %%
so, orc = runs["source_only"].final, runs["oracle"].final
gap = orc["target_miou"] - so["target_miou"]
print(f"source-only on source val : {100 * so['source_miou']:.1f} mIoU")
print(f"source-only on target val : {100 * so['target_miou']:.1f} mIoU")
print(f"oracle on target val      : {100 * orc['target_miou']:.1f} mIoU")
print(f"domain gap (oracle - source-only, target): {100 * gap:.1f} points")

# %% [markdown]
# ### Per-class IoU
#
# Which classes suffer? SynthStreets-19 draws all 19 Cityscapes classes with Cityscapes' long
# tail: road, building and vegetation cover most pixels, motorcycles, trains and riders a
# fraction of a percent. Read off the figure below which classes lose most between source val
# and target val. Are they the ones whose colour changes most (sky, vegetation, road), the rare
# ones, or the thin ones (pole, traffic light, sign: one or two pixels wide at 64x128)? The
# oracle's bars answer a second question: which classes are hard even with target labels.

# %%
per_class = {
    "source-only on source": so["source_val"]["per_class_iou"],
    "source-only on target": so["target_val"]["per_class_iou"],
    "oracle on target": orc["target_val"]["per_class_iou"],
}
title = f"Per-class IoU on the val splits: the domain gap by class (seed {seed})"
fig = plot_per_class_iou(per_class, title=title)
save_figure(fig, setup.figures / "03_per_class_iou.png")
plt.show()

# %% [markdown]
# ### Exercise 1
#
# Every IoU above comes from one **confusion matrix** accumulated over the whole val set (rows =
# ground truth, columns = prediction), Eq. (7):
#
# $$\mathrm{IoU}_c = \frac{TP_c}{TP_c + FP_c + FN_c}.$$
#
# The next cell builds the confusion matrix `cm` of the source-only model on the first
# target-val images. Compute the per-class IoU from it by hand, as a tensor of 19 values
# `iou_by_hand` (NaN for a class that appears in neither ground truth nor prediction), and the
# mean over SynthStreets' classes (`SynthStreets.class_ids`) as `miou_by_hand`.

# %%
cfg = runs["source_only"].config
size = tuple(cfg.data.synth_size)
tgt_val = SynthStreets("target", split="val", size=size)
so_model, _ = load_model(runs["source_only"].out / "checkpoint_last.pt")
n_cm = min(64, len(tgt_val))
cm_images = torch.stack([normalize(tgt_val[i][0], so_model.normalization) for i in range(n_cm)])
cm_labels = torch.stack([tgt_val[i][1] for i in range(n_cm)])
cm = metrics.confusion_matrix(predict(so_model, cm_images), cm_labels, num_classes=19)
print(f"confusion matrix of the source-only model on {n_cm} target-val images: {tuple(cm.shape)}, "
      f"{int(cm.sum()):,} labelled pixels")

# %% tags=["solution"]
# Exercise 1. From `cm` (rows: ground truth, columns: prediction) compute `iou_by_hand`, the
# 19 per-class IoUs (NaN where TP + FP + FN = 0), and `miou_by_hand`, their mean over
# `SynthStreets.class_ids`.
cmf = cm.double()
tp = cmf.diagonal()
fp = cmf.sum(0) - tp  # predicted as c, but another class
fn = cmf.sum(1) - tp  # class c, predicted as another
iou_by_hand = tp / (tp + fp + fn)  # 0 / 0 gives NaN for absent classes
miou_by_hand = iou_by_hand[list(SynthStreets.class_ids)].nanmean().item()
for c in SynthStreets.class_ids:
    print(f"{CITYSCAPES_CLASSES[c]:>13}: IoU {100 * iou_by_hand[c].item():5.1f}")
print(f"mIoU over the {len(SynthStreets.class_ids)} SynthStreets classes: {100 * miou_by_hand:.1f}")

# %% tags=["selfcheck"]
check_close("per-class IoU", iou_by_hand, metrics.iou(cm),
            hint="TP is the diagonal; FP of class c is column c minus TP; FN is row c minus TP")
check_close("mIoU over the SynthStreets classes", miou_by_hand,
            metrics.miou(cm, SynthStreets.class_ids),
            hint="average only over SynthStreets.class_ids, skipping NaN")

# %% [markdown]
# ### Exercise 2
#
# Which class loses the most IoU when the source-only model moves from source val to target val?
# Use `so["source_val"]["per_class_iou"]` and `so["target_val"]["per_class_iou"]` (fractions;
# `None` for a class in neither the labels nor the predictions) and set `most_hurt_class` to its
# name. Is it a class whose colour changes, a rare one or a thin one?

# %% tags=["solution"]
# Exercise 2. Set `most_hurt_class` to the class whose IoU drops most from source val to target
# val for the source-only model.
drop = {name: v - so["target_val"]["per_class_iou"][name]
        for name, v in so["source_val"]["per_class_iou"].items() if v is not None}
most_hurt_class = max(drop, key=drop.get)
before = so["source_val"]["per_class_iou"][most_hurt_class]
after = so["target_val"]["per_class_iou"][most_hurt_class]
print(f"{most_hurt_class}: {100 * before:.1f} IoU on source val, {100 * after:.1f} on target val")

# %% tags=["selfcheck"]
_src, _tgt = so["source_val"]["per_class_iou"], so["target_val"]["per_class_iou"]
check_equal("the class that loses most IoU", most_hurt_class,
            max((n for n in _src if _src[n] is not None), key=lambda n: _src[n] - _tgt[n]),
            hint="compute source IoU minus target IoU for each class that has a value, and take "
                 "the largest")

# %% [markdown]
# ### Training curves
#
# `metrics.jsonl` in each run directory holds every logged loss term and the periodic validation
# mIoU on source and target.

# %%
fig = plot_training_curves({registry.label(m): r.out / "metrics.jsonl" for m, r in runs.items()},
                           keys=("seg", "val_target_miou"),
                           title=f"source only and oracle, seed {seed}")
save_figure(fig, setup.figures / "03_training_curves.png")
plt.show()

# %% [markdown]
# ## 3. Qualitative predictions
#
# Target validation images, the source-only prediction, the oracle's, and the ground truth.

# %%
n_show = 4
images = torch.stack([tgt_val[i][0] for i in range(n_show)])
labels = torch.stack([tgt_val[i][1] for i in range(n_show)])
preds = {}
for method, r in runs.items():
    model, _ = load_model(r.out / "checkpoint_last.pt")
    inputs = torch.stack([normalize(x, model.normalization) for x in images])
    preds[registry.label(method)] = predict(model, inputs)
fig = prediction_grid(images, preds, labels, class_ids=SynthStreets.class_ids,
                      title=f"target val #0-{n_show - 1}, models of seed {seed}")
save_figure(fig, setup.figures / "03_predictions.png")
plt.show()

# %% [markdown]
# ### Explore: which part of the shift hurts?
#
# The target domain is the source scene plus a list of shift components. Switch them on and off
# and watch the source-only model's prediction: the scene (image), its label and the prediction
# update together. (In JupyterLab each component is a checkbox; a saved notebook shows the full
# shift.)

# %%
def show_shift(index: int = 0, **components: bool) -> None:
    """Target val scene `index` with the chosen shift components on, and the source-only
    prediction."""
    shift = shift_type(**{name: 1.0 if on else 0.0 for name, on in components.items()})
    shift_prediction(so_model, shift, index=index, size=size,
                     model_name=f"source only (seed {seed})")
    plt.show()


shift_type = SHIFT_TYPES[cfg.data.synth_classes]  # the benchmark's shift: SynthShift19
controls = {"index": widgets.IntSlider(value=0, min=0, max=15, description="val image")}
controls |= {name: widgets.Checkbox(value=True, description=name)
             for name in shift_type.components()}
interactive(show_shift, controls)

# %%
metrics = dict(
    notebook="03_source_only_baseline",
    parameters=setup.params | {"runs_dir": setup.runs_dir, "iterations": (
        TrainConfig.preset("cpu").optim.iterations if iterations is None else iterations)},
    source_only=dict(source_miou=so["source_miou"], target_miou=so["target_miou"],
                     wall_time_s=so["wall_time_s"]),
    oracle=dict(target_miou=orc["target_miou"], source_miou=orc["source_miou"],
                wall_time_s=orc["wall_time_s"]),
    gap=gap,
    per_class=per_class,
)
print("wrote", save_metrics(out_dir, metrics))

# %% [markdown]
# ## What to try
#
# From the repository root:
#
# ```bash
# # a longer run: does the source-only target mIoU improve, or does it overfit to source style?
# .venv/bin/papermill --cwd notebooks notebooks/03_source_only_baseline.ipynb runs/03_long.ipynb \
#     -p iterations 4000 -p out_dir ../runs/03_long -p figures_dir ../runs/03_long
# # the spread over seeds (compare with notebook 05's table)
# for s in 1 2; do .venv/bin/papermill --cwd notebooks notebooks/03_source_only_baseline.ipynb \
#     runs/03_seed$s.ipynb -p seed $s -p out_dir ../runs/03_seed$s -p figures_dir ../runs/03_seed$s; done
# ```
#
# The same baseline from the command line: `python -m pfrlib.train --preset cpu --method source_only --out runs/so`.
#
# **More questions**
#
# - Train source-only with the target's `SynthShift19` components switched off one at a time
#   (the dataset's `shift` argument): which component costs the most target mIoU? The view above
#   shows single images; a run measures the whole val set.
# - The small model uses GroupNorm. With BatchNorm, evaluating with *target* batch statistics
#   is itself a form of adaptation (AdaBN). Why does that make BatchNorm a confounder when
#   comparing adaptation methods?
# - Why is the oracle not 100 mIoU? Look at its per-class IoU: which classes are hard even with
#   target labels, and why (size, thin structures, the 64x128 resolution)? Train it at 128x256
#   (`python -m pfrlib.train --preset cpu --method oracle --synth-size 128 256`, about four times
#   as long) and compare the thin classes.
# - The original 9-class SynthStreets (`--synth-classes 9`: nine nearly equally frequent classes,
#   a shift that is almost only appearance) is still there: how large is its gap?
