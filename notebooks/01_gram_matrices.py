# %% [markdown]
# # 01 · Gram matrices: what "style" means in PFR
#
# **The question:** what does PFR call the *style* of a feature map, and why does its Gram matrix
# tell a game image from a real one while ignoring where things are?
#
# **Paper:** Section 3.2, Eq. (2) (style loss) and Eq. (3) (content loss) of *Towards Adaptive
# Semantic Segmentation by Progressive Feature Refinement*.
#
# PFR aligns the features of source (game) and target (real) images stage by stage. It splits each
# stage's feature map $C_i$ into two things that it matches separately:
#
# * the **content** $C_i$ itself: *what is where*, compared position by position (Eq. 3);
# * the **style** $S_i = G(C_i)$, the **Gram matrix** of the feature map (Eq. 2): which channels
#   fire *together*, wherever that happens in the image.
#
# The Gram matrix is the idea from neural style transfer (Gatys et al., the paper's ref. [19]).
# For a feature map $f$ of shape $C \times H \times W$, flatten the spatial grid into
# $F \in \mathbb{R}^{C \times HW}$; then
#
# $$G(f) = \frac{F F^\top}{C\,H\,W} \in \mathbb{R}^{C \times C}, \qquad
#   G_{jk} = \frac{1}{CHW}\sum_{p=1}^{HW} F_{j p} F_{k p}.$$
#
# Entry $(j, k)$ is the correlation between channels $j$ and $k$ averaged over all positions
# $p$. The sum runs over positions, so **the Gram matrix forgets where things are**: shuffle the
# pixels and it does not change. That is why it suits domain adaptation: the game and the real
# world share the broad layout of a street (road at the bottom, sky on top) but differ in
# *appearance* (palette, texture, lighting, noise), and appearance is what the Gram matrix
# measures. They also differ in what is where and how large (class frequencies, camera, object
# proportions), which a statistic that forgets positions sees only in part.
#
# In this notebook we
#
# 1. build a Gram matrix by hand and check it against `pfrlib.paper.losses.gram_matrix`;
# 2. shuffle pixels: the style loss stays zero while the content loss does not;
# 3. compare Gram matrices of source and target images of SynthStreets-19, our embedded two-domain
#    benchmark: cross-domain style distances are larger than within-domain ones;
# 4. look at the normalisation choices, which decide how large the loss is.

# %% tags=["parameters"]
smoke = None  # True: a seconds-long run on 4 images; None: $PFR_SMOKE (default off)
seed = 0  # seed for the images and the random feature extractor
num_images = 32  # images per domain for the Gram statistics
image_height = 64  # SynthStreets image height in pixels
image_width = 128  # SynthStreets image width in pixels
gram_normalize = "chw"  # Gram normalisation: "chw" (paper-scale-free default), "hw" or "none"
out_dir = "../runs/01_gram_matrices"  # where metrics.json is written
figures_dir = None  # None: ../figures (../runs/smoke/figures in smoke mode)

# %%
from pfrlib.config.train_config import field_choices_of
from pfrlib.teaching.nbparams import Param
from pfrlib.teaching.nbparams import start

setup = start(globals(), {
    "smoke": Param(bool, optional=True),
    "seed": Param(int, min=0),
    "num_images": Param(int, min=2),
    "image_height": Param(int, min=32),
    "image_width": Param(int, min=32),
    "gram_normalize": Param(str, choices=field_choices_of("gram_normalize")),
    "out_dir": Param(str),
    "figures_dir": Param(str, optional=True),
}, smoke_caps={"num_images": 4})

# %%
import math

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import torch

from pfrlib.paper import losses
from pfrlib import models, viz
from pfrlib.data.synthstreets.dataset import SynthStreets
from pfrlib.teaching.nbtools import interactive, show_table
from pfrlib.viz.figure import save_figure
from pfrlib.teaching.nbparams import save_metrics
from pfrlib.teaching.selfcheck import check_close, check_range
from pfrlib.data.palette import colorize
from pfrlib.viz.features import gram_pair, shuffle_invariance, style_gap
from pfrlib.viz.figure import add_class_legend

_ = torch.manual_seed(seed)

# %% [markdown]
# ## 1. A Gram matrix by hand
#
# Take a small random "feature map" with $C=4$ channels on a $3 \times 5$ grid, flatten it, and
# multiply. We then check our three lines against the library's `gram_matrix`.

# %%
g = torch.Generator().manual_seed(0)
f = torch.randn(1, 4, 3, 5, generator=g)  # (B, C, H, W)

B, C, H, W = f.shape
F_flat = f.reshape(B, C, H * W)  # (B, C, HW): one row per channel
G_by_hand = F_flat @ F_flat.transpose(1, 2) / (C * H * W)  # (B, C, C)

G_lib = losses.gram_matrix(f)  # default normalisation "chw"
torch.testing.assert_close(G_by_hand, G_lib)
print("our Gram matrix equals pfrlib.paper.losses.gram_matrix:", torch.allclose(G_by_hand, G_lib))
print("shape:", tuple(G_lib.shape), "| symmetric:", torch.allclose(G_lib, G_lib.transpose(1, 2)))
eigenvalues = torch.linalg.eigvalsh(G_lib[0]).tolist()
print("eigenvalues (all >= 0, positive semi-definite):", [round(v, 4) for v in eigenvalues])

# %% [markdown]
# ## 2. Style forgets layout, content does not
#
# Shuffle the spatial positions of a feature map with one permutation shared by all channels.
# Every channel pair still meets at the same set of positions, so every $G_{jk}$ is the same sum
# in another order. The content (the map itself) is scrambled.
#
# `style_loss` and `content_loss` take the **four stage outputs** of a backbone (stages 2-5, the
# paper's $i = 2, \dots, 5$); here we make four random maps to stand in for them.

# %%
def shuffle_positions(x: torch.Tensor, seed: int = 1) -> torch.Tensor:
    """Permute the H*W positions of a (B, C, H, W) map, the same permutation for every channel."""
    b, c, h, w = x.shape
    perm = torch.randperm(h * w, generator=torch.Generator().manual_seed(seed))
    return x.reshape(b, c, h * w)[:, :, perm].reshape(b, c, h, w)


stage_feats = tuple(torch.randn(2, ch, 8, 16, generator=g) for ch in (8, 16, 32, 32))
shuffled = tuple(shuffle_positions(x) for x in stage_feats)

sty = losses.style_loss(stage_feats, shuffled)
con = losses.content_loss(stage_feats, shuffled)
print(f"style loss   (Eq. 2) between a map and its shuffle: {sty.item():.2e}")
print(f"content loss (Eq. 3) between a map and its shuffle: {con.item():.3f}")

# %% [markdown]
# The same holds for images. Below, a SynthStreets source image and a version with its pixels
# shuffled: for the Gram matrix of the RGB "features" they are the same image.

# %%
src = SynthStreets("source", split="train", size=(image_height, image_width), seed=seed)
tgt = SynthStreets("target", split="train", size=(image_height, image_width), seed=seed)
img, lab = src[0]
rgb = img.float().unsqueeze(0) / 255  # (1, 3, H, W)
rgb_shuffled = shuffle_positions(rgb)

g_image, g_shuffled = losses.gram_matrix(rgb), losses.gram_matrix(rgb_shuffled)
fig = shuffle_invariance(img, rgb_shuffled[0], g_image[0], g_shuffled[0],
                         image_title=f"source image (train #0, seed {seed})")
save_figure(fig, setup.figures / "01_shuffle_invariance.png")
plt.show()
print(f"max |difference| of the two Gram matrices: {(g_image - g_shuffled).abs().max().item():.1e}")

# %% [markdown]
# ### Exercise 1
#
# Shuffle the pixels of only *one* channel (say R) of `rgb`, leaving G and B where they are.
# Does the Gram matrix stay the same? Store the largest absolute change of its **diagonal**
# entries in `diag_change` and of its **off-diagonal** entries in `offdiag_change`. Before you
# run it: which of the two should be zero, and why?

# %% tags=["solution"]
# Exercise 1. Shuffle only the R channel of `rgb`; compare the Gram matrices. Set `diag_change`
# and `offdiag_change` to the largest |change| on and off the diagonal.
one = rgb.clone()
b, c, h, w = one.shape
perm = torch.randperm(h * w, generator=torch.Generator().manual_seed(2))
one[:, 0] = one[:, 0].reshape(b, h * w)[:, perm].reshape(b, h, w)
d = (losses.gram_matrix(one) - losses.gram_matrix(rgb))[0]
diag_change = d.diagonal().abs().max().item()
offdiag_change = (d - torch.diag(d.diagonal())).abs().max().item()
print(f"largest change on the diagonal:  {diag_change:.2e}  (each channel's energy is kept)")
print(f"largest change off the diagonal: {offdiag_change:.2e}  (R no longer meets G and B)")

# %% tags=["selfcheck"]
check_range("diagonal change (each channel with itself)", diag_change, 0.0, 1e-6,
            hint="G_jj sums F_jp * F_jp over positions: a permutation of one channel keeps "
                 "that sum")
check_range("off-diagonal change (R with G and B)", offdiag_change, 1e-4, float("inf"),
            hint="did you shuffle one channel only? shuffling all three with one permutation "
                 "changes nothing")

# %% [markdown]
# ## 3. Source vs target style in SynthStreets
#
# SynthStreets-19 draws the same kind of street scenes in two domains: a game-like **source**
# (flat saturated colours, sharp edges) and a real-like **target** (another palette, textures,
# lighting, blur, noise). The scenes differ too, as GTA5's and Cityscapes' do: the game's class
# frequencies (more vehicles, fewer people and cyclists), a higher camera with a wider lens, and
# game-like object proportions; the target shows a car hood in some frames.

# %%
fig, axes = plt.subplots(2, 4, figsize=(14, 3.6))
for col in range(2):
    for row, (ds, name) in enumerate(((src, "source"), (tgt, "target"))):
        x, y = ds[col]
        axes[row, 2 * col].imshow(x.permute(1, 2, 0))
        axes[row, 2 * col].set_title(f"{name} #{col}")
        axes[row, 2 * col + 1].imshow(colorize(y))
        axes[row, 2 * col + 1].set_title(f"{name} #{col}: labels")
for ax in axes.flat:
    ax.axis("off")
fig.suptitle(f"SynthStreets-19 train split, seed {seed}, {image_height}x{image_width}")
fig.tight_layout(rect=(0, 0.1, 1, 1))
add_class_legend(fig, SynthStreets.class_ids)
plt.show()

# %% [markdown]
# To get feature maps like PFR's, we pass the images through the four stages of the small CPU
# model (`pfrlib.models.build_model("small")`), **randomly initialised**: random convolutional
# features are already a good texture descriptor (a classic observation from style transfer),
# and using an untrained network keeps this notebook independent of any training.
#
# For each stage we compute, over pairs of images, the style distance
# $\lVert G(f_a) - G(f_b) \rVert_F$ for pairs within the source domain, within the target domain
# and across domains.

# %% tags=["nbval-check-output"]
net = models.build_model("small", num_classes=19).eval()


def stage_features(ds, n: int) -> tuple[torch.Tensor, ...]:
    """The 4 stage outputs for the first n images of a dataset (normalised as the model expects)."""
    x = torch.stack([ds[i][0] for i in range(n)]).float() / 255
    x = (x - 0.5) / 0.5  # the small model's "unit" normalisation
    with torch.no_grad():
        return net(x).features


feats_src = stage_features(src, num_images)
feats_tgt = stage_features(tgt, num_images)
for stage, (fs, ft) in enumerate(zip(feats_src, feats_tgt), start=2):
    gram_shape = tuple(losses.gram_matrix(fs).shape[1:])
    print(f"stage {stage}: features {tuple(fs.shape[1:])} -> Gram {gram_shape}")

# %%
def pairwise_style(fa: torch.Tensor, fb: torch.Tensor) -> torch.Tensor:
    """All pairwise ||G(a_i) - G(b_j)||_F between two batches of one stage's features, (Na, Nb)."""
    ga = losses.gram_matrix(fa, gram_normalize).flatten(1)
    gb = losses.gram_matrix(fb, gram_normalize).flatten(1)
    return torch.cdist(ga, gb)


def off_diagonal_mean(d: torch.Tensor) -> float:
    n = d.shape[0]
    return float(d[~torch.eye(n, dtype=torch.bool)].mean())


rows = []
for stage, (fs, ft) in enumerate(zip(feats_src, feats_tgt), start=2):
    rows.append(
        dict(
            stage=stage,
            within_source=off_diagonal_mean(pairwise_style(fs, fs)),
            within_target=off_diagonal_mean(pairwise_style(ft, ft)),
            across=float(pairwise_style(fs, ft).mean()),
        )
    )
for r in rows:
    r["ratio"] = r["across"] / max(r["within_source"], r["within_target"])
show_table([{"stage": r["stage"], "within source": r["within_source"],
             "within target": r["within_target"], "across": r["across"], "ratio": r["ratio"]}
            for r in rows],
           digits={"within source": 4, "within target": 4, "across": 4, "ratio": 2},
           caption=f"mean style distance ({gram_normalize} Gram), {num_images} images per domain; "
                   "ratio = across / max(within)")

# %% [markdown]
# **What to look for:** the *across* column is larger than both *within* columns at every stage
# (ratio > 1): two source images differ in layout and content, yet their styles are closer to
# each other than to any target image. This is the domain gap as the Gram matrix sees it, and
# what the style loss of Eq. (2) pushes to zero.
#
# The figure shows the mean Gram matrix of each domain at stage 2 and their difference.

# %%
mean_g_src = losses.gram_matrix(feats_src[0], gram_normalize).mean(0)
mean_g_tgt = losses.gram_matrix(feats_tgt[0], gram_normalize).mean(0)
fig = style_gap(mean_g_src, mean_g_tgt, rows, stage=2)
save_figure(fig, setup.figures / "01_gram_source_vs_target.png")
plt.show()

# %% [markdown]
# **Explore.** Pick a stage: its mean Gram matrix over the source images, over the target
# images, and their difference. Early stages have few channels and a blocky, high-contrast
# difference; later stages spread it over many channel pairs. (In JupyterLab the stage is a
# menu; a saved notebook shows stage 2.)

# %%
mean_grams = {
    stage: (losses.gram_matrix(fs, gram_normalize).mean(0),
            losses.gram_matrix(ft, gram_normalize).mean(0))
    for stage, (fs, ft) in enumerate(zip(feats_src, feats_tgt), start=2)
}


def show_stage(stage: int) -> None:
    """Mean source and target Gram matrices of one stage, and their difference."""
    g_s, g_t = mean_grams[stage]
    gram_pair(g_s, g_t, title=f"stage {stage}: {g_s.shape[0]} channels, mean over {num_images} "
                              f"train images per domain, seed {seed}, "
                              f"normalisation {gram_normalize!r}")
    plt.show()


interactive(show_stage,
            {"stage": widgets.Dropdown(options=list(mean_grams), value=2, description="stage")})

# %% [markdown]
# ### Exercise 2
#
# Read the table above: which stage separates the domains best, i.e. has the largest
# across/within ratio? Set `best_stage` to its number (2-5), computed from `rows`. If you could
# afford the style loss at one stage only, is that where you would put it? (Notebook 04 tests
# this in training.)

# %% tags=["solution"]
# Exercise 2. Set `best_stage` to the stage (2-5) with the largest across/within ratio in `rows`.
best_stage = max(rows, key=lambda r: r["ratio"])["stage"]
print(f"stage {best_stage} separates the domains best (ratio {max(r['ratio'] for r in rows):.2f})")

# %% tags=["selfcheck"]
check_close("stage with the largest across/within ratio", best_stage,
            sorted(rows, key=lambda r: r["ratio"])[-1]["stage"],
            hint="compare the `ratio` of the four rows; the stage number is the row's `stage`")

# %% [markdown]
# ## 4. Normalisation decides the loss scale
#
# The paper writes $\lVert S_i^s - S_i^t \rVert_2$ without saying how $S_i$ is normalised.
# `pfrlib.paper.losses.gram_matrix` offers three choices: the raw $F F^\top$ (`"none"`), divided
# by the number of positions $HW$ (`"hw"`, a mean over positions), or by $CHW$ (`"chw"`). Which
# one matters as soon as the resolution changes: a $\lambda$ tuned at one resolution should still
# be right at another. Below, `x_big` is `x_small` at twice the resolution.

# %%
x_small = rgb
x_big = torch.nn.functional.interpolate(rgb, scale_factor=2, mode="nearest")
print(f"x_small: {tuple(x_small.shape)} -> x_big: {tuple(x_big.shape)}, every pixel repeated 2x2")


def gram_growth(norm: str) -> float:
    """How many times larger the Gram matrix of x_big is than that of x_small (Frobenius norms)."""
    big = losses.gram_matrix(x_big, norm).norm().item()
    return big / losses.gram_matrix(x_small, norm).norm().item()


# the measurement, shown after the exercise
measured_ratio = {norm: gram_growth(norm) for norm in field_choices_of("gram_normalize")}

# %% [markdown]
# ### Exercise 3
#
# Predict before you measure. `x_big` repeats every pixel of `x_small` in a 2x2 block
# (nearest-neighbour upsampling). Work out on paper by what factor each normalisation's Gram
# matrix grows, then write your predictions into `predicted_ratio` as
# `{"none": ..., "hw": ..., "chw": ...}`. The self-check compares them with the measurement,
# which the table after it shows.

# %% tags=["solution"]
# Exercise 3. Predict, for each normalisation, by what factor the Gram matrix of `x_big` (every
# pixel repeated 2x2) exceeds that of `x_small`; store the factors in `predicted_ratio`.

# Every product F_jp F_kp now appears 4 times: the raw sum grows 4x; dividing by HW (4x more
# positions) or by CHW (same C) cancels that.
predicted_ratio = {"none": 4.0, "hw": 1.0, "chw": 1.0}

# %% tags=["selfcheck"]
check_close("predicted growth of the Gram matrix at 2x resolution", predicted_ratio, measured_ratio,
            rtol=1e-3, hint="count how often each product F_jp F_kp appears in the sum, then what "
                            "each normalisation divides by")

# %% [markdown]
# The measurement:

# %%
show_table([{"normalisation": norm,
             "Gram norm at 1x": losses.gram_matrix(x_small, norm).norm().item(),
             "at 2x resolution": losses.gram_matrix(x_big, norm).norm().item(), "ratio": ratio}
            for norm, ratio in measured_ratio.items()], digits=4)

# %% [markdown]
# The raw $F F^\top$ grows with the number of positions $HW$: the same image at twice the
# resolution has a 4x larger raw Gram matrix. Dividing by $HW$ removes that; dividing by $CHW$
# also evens out stages with different channel counts. `pfrlib` defaults to `"chw"` so the same
# $\lambda_{pfr}$ carries from the 64x128 CPU benchmark to the paper's 1280x720.
#
# The content term has the same issue, only worse. The paper's literal $\lVert C^s - C^t\rVert$
# sums over every element, so it grows with $\sqrt{CHW}$; `pfrlib.paper.losses.content_loss` divides
# by $\sqrt{CHW}$ by default (a root-mean-square difference) and keeps the literal form as
# `form="literal"`. Notebook 04 shows what the literal form does to training at the paper's
# $\lambda_{pfr}=0.004$.

# %%
lit = losses.content_loss(feats_src, feats_tgt, form="literal").item()
rms = losses.content_loss(feats_src, feats_tgt, form="rms").item()
sty_value = losses.style_loss(feats_src, feats_tgt, normalize=gram_normalize).item()
print(f"style loss (Eq. 2, {gram_normalize}):       {sty_value:.4f}")
print(f"content loss (Eq. 3), rms form:      {rms:.4f}")
print(f"content loss (Eq. 3), literal form:  {lit:.1f}   ({lit / sty_value:.0f}x the style loss)")

# %%
metrics = dict(
    notebook="01_gram_matrices",
    parameters=setup.params,
    style_distance_per_stage=rows,
    style_loss=sty_value,
    content_loss_rms=rms,
    content_loss_literal=lit,
    across_over_within_min_ratio=min(r["ratio"] for r in rows),
)
print("wrote", save_metrics(out_dir, metrics))

# %% [markdown]
# ## What to try
#
# Run this notebook headless with other parameters ([papermill](https://papermill.readthedocs.io);
# outputs go to `runs/`, never over the committed notebook). The commands run from the
# repository root (where `make lab` starts JupyterLab's terminals):
#
# ```bash
# # raw Gram matrices: how much larger is the loss, and does the across/within ratio change?
# .venv/bin/papermill --cwd notebooks notebooks/01_gram_matrices.ipynb runs/01_none.ipynb \
#     -p gram_normalize none -p out_dir ../runs/01_none -p figures_dir ../runs/01_none
# # more images, another seed
# .venv/bin/papermill --cwd notebooks notebooks/01_gram_matrices.ipynb runs/01_seed1.ipynb \
#     -p seed 1 -p num_images 64 -p out_dir ../runs/01_seed1 -p figures_dir ../runs/01_seed1
# ```
#
# **More questions**
#
# - Compute the style distance between a target image and a *blurred* copy of itself
#   (`torchvision.transforms.v2.functional.gaussian_blur`). Which stages react to blur?
# - SynthStreets-19's target shift has named components (`SynthShift19` in
#   `pfrlib.data.synthstreets.shift`). Switch all but one off
#   (`SynthStreets("target", ..., shift=SynthShift19.only("noise"))`) and recompute the
#   across/within table: which component does the Gram matrix see most, and does it see
#   `camera` (a scene component) at all?
