# %% [markdown]
# # 03 · The source-only baseline and the domain gap
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
# On SynthStreets the two domains draw scenes from the same layout distribution and differ in
# appearance (palette, textures, lighting, blur, noise), as GTA5 and Cityscapes mostly do.

# %%
import matplotlib.pyplot as plt
import torch

from pfrlib import viz
from pfrlib.config import TrainConfig
from pfrlib.data import SynthStreets
from pfrlib.data.transforms import normalize
from pfrlib.evaluate import load_model, predict
from pfrlib.metrics import CITYSCAPES_CLASSES
from pfrlib.nbtools import check_parameters, figures_path, load_or_train_many, save_figure, series_settings, save_metrics, smoke_from_env

_before = set(globals())

# %% tags=["parameters"]
smoke = None  # True: a seconds-long run for CI; None: read $PFR_SMOKE (off by default)
seed = 0  # training seed
iterations = None  # training iterations; None: the cpu preset's default
runs_dir = None  # shared run directory of the series; None: ../runs/series (../runs/smoke/series in smoke mode)
out_dir = "../runs/03_source_only"  # where metrics.json is written
figures_dir = None  # None: ../figures (../runs/smoke/figures in smoke mode)

# %%
P = check_parameters(globals(), _before, declared=("smoke", "seed", "iterations", "runs_dir", "out_dir", "figures_dir"))
smoke = smoke_from_env(smoke)
preset = TrainConfig.preset("cpu")
runs_dir, overrides = series_settings(smoke, runs_dir, iterations)  # checks iterations
if iterations is None:
    iterations = preset.optim.iterations
overrides["seed"] = seed
FIG = figures_path(figures_dir, smoke)

# %% [markdown]
# ## 0. The two domains
#
# The same kind of scene in both domains, with the labels (Cityscapes trainIds, shown in the
# Cityscapes palette). Source: flat, saturated colours chosen at random per object, so a network
# must use shape and position; target: a desaturated per-class palette, textures, uneven light,
# colour casts, blur and noise.

# %%
# NBVAL_CHECK_OUTPUT: the classes are the same in smoke and default runs
print("SynthStreets classes (trainId: name):", {i: CITYSCAPES_CLASSES[i] for i in SynthStreets.class_ids})

# %%
fig = viz.synthstreets_samples(n=4, seed=0, size=(64, 128))
save_figure(fig, FIG / "synthstreets_samples.png")
plt.show()

# %% [markdown]
# The shift is built from named components (`pfrlib.data.SynthShift`), each with a strength:
# the same target scenes with one component switched on at a time. Exercise 1 below measures
# what each costs.

# %%
fig = viz.shift_components(n=2, seed=0, size=(64, 128))
save_figure(fig, FIG / "synthstreets_shift_components.png")
plt.show()

# %% [markdown]
# ## 1. Train: source only, and the oracle
#
# Both runs use the `cpu` preset: the small CPU model on 64x128 SynthStreets images, Adam, and
# the same number of iterations. The only difference is the data the segmentation loss sees.
# `load_or_train_many` reuses a finished run with the same configuration (so re-running the
# notebook, or notebook 07 later, costs nothing; delete the run directory to train again) and
# trains the missing ones side by side, one thread each.

# %%
methods = ("source_only", "oracle")
cfgs = [TrainConfig.preset("cpu", method=m, out=f"{runs_dir}/{m}_s{seed}", **overrides) for m in methods]
runs = dict(zip(methods, load_or_train_many(cfgs, jobs=1 if smoke else None)))
for method, r in runs.items():
    f = r.final
    print(f"{method:>12}: source-val mIoU {100 * f['source_miou']:5.1f} | target-val mIoU {100 * f['target_miou']:5.1f}"
          f" | {f['wall_time_s']:.0f} s")

# %% [markdown]
# ## 2. The gap
#
# The source-val number shows the task itself is learned well; the target-val number shows how
# much of that survives the change of appearance. The oracle shows what the same network reaches
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
# Which classes suffer? On SynthStreets, look at **sky**: always at the top of the image, yet
# close to 0 IoU on the target. The source sky is saturated blue, the target sky a pale grey, and
# a network trained on source colours has learned "blue at the top", not "the top". Position
# and shape survive the shift better than colour; the classes whose colour changes most (sky,
# sidewalk, building) lose most.

# %%
per_class = {
    "source-only on source": so["source_val"]["per_class_iou"],
    "source-only on target": so["target_val"]["per_class_iou"],
    "oracle on target": orc["target_val"]["per_class_iou"],
}
fig = viz.plot_per_class_iou(per_class, title="Per-class IoU: the domain gap by class")
save_figure(fig, FIG / "03_per_class_iou.png")
plt.show()

# %% [markdown]
# ### Training curves
#
# `metrics.jsonl` in each run directory holds every logged loss term and the periodic validation
# mIoU on source and target.

# %%
fig = viz.plot_training_curves({m: r.out / "metrics.jsonl" for m, r in runs.items()}, keys=("seg", "val_target_miou"))
save_figure(fig, FIG / "03_training_curves.png")
plt.show()

# %% [markdown]
# ## 3. Qualitative predictions
#
# Target validation images, the source-only prediction, the oracle's, and the ground truth.

# %%
cfg = runs["source_only"].config
tgt_val = SynthStreets("target", split="val", size=tuple(cfg.data.synth_size))
n_show = 4
images = torch.stack([tgt_val[i][0] for i in range(n_show)])
labels = torch.stack([tgt_val[i][1] for i in range(n_show)])
preds = {}
for method, r in runs.items():
    model, _ = load_model(r.out / "checkpoint_last.pt")
    preds[method] = predict(model, torch.stack([normalize(x, model.normalization) for x in images]))
fig = viz.prediction_grid(images, preds, labels)
save_figure(fig, FIG / "03_predictions.png")
plt.show()

# %%
metrics = dict(
    notebook="03_source_only_baseline",
    parameters=P | {"smoke": smoke, "iterations": iterations, "runs_dir": runs_dir},
    source_only=dict(source_miou=so["source_miou"], target_miou=so["target_miou"], wall_time_s=so["wall_time_s"]),
    oracle=dict(target_miou=orc["target_miou"], source_miou=orc["source_miou"], wall_time_s=orc["wall_time_s"]),
    gap=gap,
    per_class=per_class,
)
print("wrote", save_metrics(out_dir, metrics))

# %% [markdown]
# ## What to try
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
# **Exercises**
#
# 1. Train source-only with the target's `SynthShift` components switched off one at a time
#    (the dataset's `shift` argument): which component costs the most target mIoU?
# 2. The small model uses GroupNorm. With BatchNorm, evaluating with *target* batch statistics
#    is itself a form of adaptation (AdaBN). Why does that make BatchNorm a confounder when
#    comparing adaptation methods?
# 3. Why is the oracle not 100 mIoU? Look at its per-class IoU: which classes are hard even with
#    target labels, and why (size, thin structures, the 64x128 resolution)?
