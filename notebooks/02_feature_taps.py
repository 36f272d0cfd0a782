# %% [markdown]
# # 02 · Feature taps: the four stages PFR aligns
#
# **The question:** which features does PFR align, what shape are they, and at which stage do the
# game and the real domain differ most?
#
# **Paper:** Section 3.1 (the segmentation network) and Section 3.2 ("the content feature ...
# obtained from the *i*-th stage (i = 2, 3, 4, 5) of the backbone ResNet-101").
#
# PFR does not align one feature map but four: the outputs of ResNet stages 2 to 5, i.e.
# torchvision's `layer1` ... `layer4`. Early stages see edges, colours and textures; late stages
# see object parts and classes. Aligning all four is the *progressive* in progressive feature
# refinement.
#
# Every model in `pfrlib.models` returns the same structure, so these taps are uniform:
#
# ```python
# out = model(x)          # x: (B, 3, H, W), normalised as model.normalization says
# out.logits              # (B, K, H/8, W/8): main head
# out.aux_logits          # (B, K, H/8, W/8) or None: AdaptSegNet's auxiliary head on stage 4
# out.features            # tuple of 4 maps: stage 2, 3, 4, 5
# ```
#
# In this notebook we
#
# 1. look at the stage shapes: strides, dilation, output stride 8, for the small CPU model and for
#    DeepLab-v2 / ResNet-101 at the paper's resolutions;
# 2. look at feature maps of a source and a target image;
# 3. measure, per stage, how far apart the two domains are in style (Eq. 2) and content (Eq. 3),
#    for a random network and for one trained on source only: where do the domains differ most?
#
# Section 2 **trains** that source-only network: a short run of `train_iterations` iterations,
# a minute or so on a two-core laptop (the cell prints the estimate, from measured run times,
# before it starts; a finished run is reused).

# %% tags=["parameters"]
smoke = None  # True: a seconds-long run (4 iterations, 4 images); None: $PFR_SMOKE (default off)
seed = 0  # seed for data, model initialisation and training
num_images = 32  # images per domain for the distance measurements
train_iterations = 600  # source-only training iterations for the "trained" network
out_dir = "../runs/02_feature_taps"  # where metrics.json and the training run go
figures_dir = None  # None: ../figures (../runs/smoke/figures in smoke mode)

# %%
from pfrlib.teaching.nbparams import Param
from pfrlib.teaching.nbparams import start

setup = start(globals(), {
    "smoke": Param(bool, optional=True),
    "seed": Param(int, min=0),
    "num_images": Param(int, min=2),
    "train_iterations": Param(int, min=1),
    "out_dir": Param(str),
    "figures_dir": Param(str, optional=True),
}, smoke_caps={"num_images": 4, "train_iterations": 4})

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch

from pfrlib.paper import losses
from pfrlib import models
from pfrlib.config.train_config import TrainConfig
from pfrlib.data.synthstreets.dataset import SynthStreets
from pfrlib.data.transforms import normalize
from pfrlib.engine.checkpoint import load_model
from pfrlib.teaching.nbtools import announce, load_or_train, say, show_table
from pfrlib.teaching.nbparams import live_frontend, save_metrics
from pfrlib.viz.features import stage_maps
from pfrlib.viz.figure import save_figure
from pfrlib.teaching.selfcheck import check_close
from pfrlib.models.common import count_parameters, feature_shapes

_ = torch.manual_seed(seed)

# %% [markdown]
# ## 1. Shapes: stride, dilation, output stride 8
#
# A standard ResNet halves the resolution five times (stride 32). DeepLab-v2 keeps stages 4 and 5
# at stride 8 and instead **dilates** their 3x3 convolutions (by 2 and 4) so the receptive field
# still grows. Stages 2 and 3 are at strides 4 and 8, so all taps from stage 3 on share one
# spatial grid. The table gives each stage's output shape (C, H, W) for one image.

# %%
small = models.build_model("small", num_classes=19)
with torch.device("meta"):
    deeplab = models.build_model("deeplabv2_r101", num_classes=19)


def shapes_row(model, h: int, w: int) -> list[str]:
    """Each output's shape for one h x w image, as "CxHxW" (stages 2-5, logits, aux logits)."""
    shapes = feature_shapes(model, (1, 3, h, w))
    return [f"{s[1]}x{s[2]}x{s[3]}" for s in shapes]


cases = [("small", small, 64, 128), ("deeplabv2_r101", deeplab, 720, 1280),
         ("deeplabv2_r101", deeplab, 512, 1024)]
header = ["stage 2", "stage 3", "stage 4", "stage 5", "logits", "aux"]
show_table([{"model": models.model_title(name), "input": f"{h}x{w}",
             **dict(zip(header, shapes_row(model, h, w)))} for name, model, h, w in cases],
           index=["model", "input"])
print(f"parameters: {models.model_title('small')} {count_parameters(small):,}, "
      f"{models.model_title('deeplabv2_r101')} {count_parameters(deeplab):,}")

# %% [markdown]
# Note the odd sizes at DeepLab-v2 scale (e.g. 91x161 at 720x1280): its max-pool uses
# `ceil_mode=True`, as in AdaptSegNet's Caffe-derived model, so 720 -> 360 -> 181 -> 91.
# GTA5 (1280x720) and Cityscapes (1024x512) features therefore differ in size: the Gram matrix
# (C x C) does not care, and the content term resizes the target map to the source's.
#
# ### Exercise 1
#
# The **stride** of a stage is how many input pixels one feature position spans. From the
# 720x1280 shapes (`feature_shapes(deeplab, (1, 3, 720, 1280))` gives `(B, C, H, W)` per
# output), compute the stride of stages 2-5 as `round(720 / H)` and store them in
# `deeplab_strides` (a list of four integers). Which stages share the output stride 8?

# %% tags=["solution"]
# Exercise 1. Store the strides of DeepLab-v2's stages 2-5 at 720x1280 in `deeplab_strides`.
stage_shapes = feature_shapes(deeplab, (1, 3, 720, 1280))[:4]
deeplab_strides = [round(720 / s[2]) for s in stage_shapes]
print("strides of stages 2-5:", deeplab_strides)

# %% tags=["selfcheck"]
check_close("strides of stages 2-5", deeplab_strides, [4, 8, 8, 8],
            hint="divide the input size by each stage's feature-map size in the table; DeepLab-v2 "
                 "trades the last downsamplings for dilation")

# %% [markdown]
# ### Exercise 2
#
# How many numbers does each term of $\mathcal{L}_{pfr}$ compare per image? The style term
# compares two $C \times C$ Gram matrices, the content term two $C \times H \times W$ maps. For
# DeepLab-v2 at 720x1280, store the per-stage counts in `gram_entries` and `content_entries`
# (lists of four integers). Which term's size depends on the image resolution?

# %% tags=["solution"]
# Exercise 2. Per stage (2-5) of DeepLab-v2 at 720x1280: entries of one Gram matrix
# (`gram_entries`) and of one feature map (`content_entries`).
gram_entries = [c * c for _, c, _, _ in stage_shapes]
content_entries = [c * h * w for _, c, h, w in stage_shapes]
for stage, g, n in zip(losses.PFR_STAGES, gram_entries, content_entries):
    print(f"stage {stage}: Gram {g:>10,} entries | feature map {n:>11,} entries")

# %% tags=["selfcheck"]
check_close("Gram matrix entries per stage", gram_entries,
            [256 ** 2, 512 ** 2, 1024 ** 2, 2048 ** 2],
            hint="a Gram matrix is C x C: read each stage's C from the table")
check_close("feature map entries per stage", content_entries,
            [256 * 181 * 321, 512 * 91 * 161, 1024 * 91 * 161, 2048 * 91 * 161],
            hint="C x H x W from the table above")

# %% [markdown]
# ## 2. What the stages see
#
# One source and one target image through a small network trained on source only for
# `train_iterations` steps (reused if a finished run with the same configuration exists). We
# show, for each stage, the mean over channels of the feature map.

# %%
cfg = TrainConfig.preset(
    "cpu", method="source_only", seed=seed, iterations=train_iterations,
    out=f"{out_dir}/source_only", val_every=0, progress=live_frontend() and not smoke,
    **({"synth_val_length": 8} if smoke else {}),
)
say(announce([cfg], jobs=1))
result = load_or_train(cfg)  # a progress bar in JupyterLab; one summary line in a saved notebook
trained, _ = load_model(f"{out_dir}/source_only/checkpoint_last.pt")
print(f"source-only after {train_iterations} iterations: source-val mIoU "
      f"{100 * result.source_miou:.1f}, target-val mIoU {100 * result.target_miou:.1f}")

# %%
size = tuple(cfg.data.synth_size)
src = SynthStreets("source", split="val", size=size, seed=seed)
tgt = SynthStreets("target", split="val", size=size, seed=seed)


def batch(ds, n: int) -> torch.Tensor:
    """First n images of a dataset as a normalised (n, 3, H, W) batch."""
    return torch.stack([normalize(ds[i][0], "unit") for i in range(n)])


with torch.no_grad():
    one = trained(torch.cat([batch(src, 1), batch(tgt, 1)])).features

fig = stage_maps([src[0][0], tgt[0][0]], one, ["source val #0", "target val #0"],
                 title=f"mean over channels of each stage's output, source-only network "
                       f"({train_iterations} iterations, seed {seed})")
save_figure(fig, setup.figures / "02_feature_maps.png")
plt.show()

# %% [markdown]
# ## 3. Where do the domains differ most?
#
# For each stage we compute, on `num_images` images per domain,
#
# * the **style gap**: mean style distance $\lVert G(f_s) - G(f_t) \rVert_F$ across domains
#   divided by the mean distance between images of the same domain (a ratio > 1 means the
#   domains are separable by style at that stage);
# * the **content gap**: the same ratio for the content distance (RMS difference, Eq. 3).
#
# We do it for the randomly initialised network and the source-trained one.

# %%
def stage_distances(fa, fb) -> tuple[dict, dict]:
    """Per-stage style and content distances between two batches (image i of fa vs of fb)."""
    out = losses.pfr_loss(fa, fb)  # Eq. (4) with its per-stage terms of Eq. (2) and (3)
    return out.style, out.content


def gap_ratios(net: torch.nn.Module, n: int) -> list[dict]:
    """Per stage: across-domain / within-domain mean distance, for style and for content."""
    with torch.no_grad():
        fs = net(batch(src, n)).features
        ft = net(batch(tgt, n)).features
    h = n // 2
    first = lambda f: tuple(x[:h] for x in f)  # noqa: E731
    second = lambda f: tuple(x[h:2 * h] for x in f)  # noqa: E731
    # within: two halves of the same domain; across: a source half against a target half
    within = [stage_distances(first(fs), second(fs)), stage_distances(first(ft), second(ft))]
    across = [stage_distances(first(fs), second(ft)), stage_distances(first(ft), second(fs))]
    rows = []
    for stage in losses.PFR_STAGES:
        row = dict(stage=stage)
        for k, kind in enumerate(("style", "content")):
            w = 0.5 * float(within[0][k][stage] + within[1][k][stage])
            a = 0.5 * float(across[0][k][stage] + across[1][k][stage])
            row.update({f"{kind}_within": w, f"{kind}_across": a, f"{kind}_ratio": a / w})
        rows.append(row)
    return rows


n = max(2, num_images)
random_net = models.build_model("small", num_classes=19).eval()
gaps = {"random init": gap_ratios(random_net, n), "source-trained": gap_ratios(trained, n)}
show_table([{"network": name, "stage": r["stage"], "style across/within": r["style_ratio"],
             "content across/within": r["content_ratio"]}
            for name, rows in gaps.items() for r in rows],
           index=["network", "stage"],
           caption=f"distance ratios on {n} val images per domain (seed {seed})")

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 3.4), sharey=True)
x = np.arange(4)
for ax, kind in zip(axes, ("style", "content")):
    for j, (name, rows) in enumerate(gaps.items()):
        ax.bar(x + (j - 0.5) * 0.38, [r[f"{kind}_ratio"] for r in rows], 0.38, label=name)
    ax.axhline(1.0, color="k", lw=0.8, ls="--")
    ax.set_xticks(x, [f"stage {s}" for s in losses.PFR_STAGES])
    ax.set_title(f"{kind} distance: across / within domains ({n} val images, seed {seed})",
                 fontsize=9)
axes[0].set_ylabel("ratio (1 = domains indistinguishable)")
# below the bars
fig.legend(*axes[0].get_legend_handles_labels(), loc="lower center", ncol=2, frameon=False)
fig.tight_layout(rect=(0, 0.09, 1, 1))
save_figure(fig, setup.figures / "02_stage_gaps.png")
plt.show()

# %% [markdown]
# **What to look for.**
#
# * The **style** ratio is well above 1 at every stage: the Gram matrices of source and target
#   features are separable, and most clearly at the early stages, which see colour, texture and
#   noise, which SynthStreets-19's appearance components change between domains.
# * The **content** ratio stays near 1: two unrelated images differ in layout about as much
#   whatever their domain. Pulling the content of *unpaired* source and target images together
#   position by position is therefore a much weaker, noisier signal than matching their style,
#   one reason the CPU preset uses style alignment only (notebook 04 measures it).
# * Training on source changes the picture: the trained network's later stages encode classes,
#   and the domains now differ there too. That is the gap PFR (and the output-space
#   discriminator of notebook 05) tries to close.

# %%
metrics = dict(
    notebook="02_feature_taps",
    parameters=setup.params,
    source_only=dict(source_miou=result.source_miou, target_miou=result.target_miou),
    stage_gaps=gaps,
    parameters_small=count_parameters(small),
    parameters_deeplabv2_r101=count_parameters(deeplab),
)
print("wrote", save_metrics(out_dir, metrics))

# %% [markdown]
# ## What to try
#
# From the repository root:
#
# ```bash
# # a better-trained network: do the late-stage gaps grow?
# .venv/bin/papermill --cwd notebooks notebooks/02_feature_taps.ipynb runs/02_long.ipynb \
#     -p train_iterations 2000 -p out_dir ../runs/02_long -p figures_dir ../runs/02_long
# # more images for tighter estimates, another seed
# .venv/bin/papermill --cwd notebooks notebooks/02_feature_taps.ipynb runs/02_seed1.ipynb \
#     -p seed 1 -p num_images 64 -p out_dir ../runs/02_seed1 -p figures_dir ../runs/02_seed1
# ```
#
# **More questions**
#
# - Compute the receptive field of one stage-5 unit of DeepLab-v2 (dilations 2 and 4 in stages
#   4 and 5). How much of a 512x1024 Cityscapes image does it see?
# - Switch off all SynthStreets-19 shift components but `noise` (`SynthShift19.only("noise")`,
#   `pfrlib.data.synthstreets.shift`) and rerun section 3: at which stage does noise show up
#   most? And with only `camera`, a change of the scene rather than its look?
# - Use `models.build_model("dilated_r18", 19)` instead of the small model in section 1
#   (`shapes_row(model, 64, 128)`). Which stages change resolution?
