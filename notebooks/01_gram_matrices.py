# %% [markdown]
# # 01 · Gram matrices: what "style" means in PFR
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
# pixels and it does not change. That is exactly why it suits domain adaptation: the game and
# the real world share layouts (road at the bottom, sky on top) but differ in *appearance*
# (palette, texture, lighting, noise), and appearance is what the Gram matrix measures.
#
# In this notebook we
#
# 1. build a Gram matrix by hand and check it against `pfrlib.losses.gram_matrix`;
# 2. shuffle pixels: the style loss stays zero while the content loss does not;
# 3. compare Gram matrices of source and target images of SynthStreets, our embedded two-domain
#    benchmark: cross-domain style distances are larger than within-domain ones;
# 4. look at the normalisation choices, which decide how large the loss is.

# %%
import math

import matplotlib.pyplot as plt
import numpy as np
import torch

from pfrlib import losses, models
from pfrlib.data import SynthStreets
from pfrlib.nbtools import check_parameters, figures_path, save_figure, save_metrics, smoke_from_env
from pfrlib.viz import colorize

_before = set(globals())

# %% tags=["parameters"]
smoke = None  # True: a seconds-long run for CI; None: read $PFR_SMOKE (off by default)
seed = 0  # seed for the images and the random feature extractor
num_images = 32  # images per domain for the Gram statistics
image_height = 64  # SynthStreets image height in pixels
image_width = 128  # SynthStreets image width in pixels
gram_normalize = "chw"  # Gram normalisation: "chw" (paper-scale-free default), "hw" or "none"
out_dir = "../runs/01_gram_matrices"  # where metrics.json is written
figures_dir = None  # None: ../figures (../runs/smoke/figures in smoke mode)

# %%
P = check_parameters(
    globals(),
    _before,
    declared=("smoke", "seed", "num_images", "image_height", "image_width", "gram_normalize", "out_dir", "figures_dir"),
    choices={"gram_normalize": ("chw", "hw", "none")},
    positive=("num_images", "image_height", "image_width"),
)
smoke = smoke_from_env(smoke)
if smoke:
    num_images = min(num_images, 4)
FIG = figures_path(figures_dir, smoke)
torch.manual_seed(seed)
print(f"smoke={smoke}, {num_images} images per domain at {image_height}x{image_width}, figures -> {FIG}")

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
print("our Gram matrix equals pfrlib.losses.gram_matrix:", torch.allclose(G_by_hand, G_lib))
print("shape:", tuple(G_lib.shape), "| symmetric:", torch.allclose(G_lib, G_lib.transpose(1, 2)))
print("eigenvalues (all >= 0, positive semi-definite):", torch.linalg.eigvalsh(G_lib[0]).round(decimals=4).tolist())

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

fig, axes = plt.subplots(1, 4, figsize=(14, 2.6))
axes[0].imshow(img.permute(1, 2, 0))
axes[0].set_title("source image")
axes[1].imshow(rgb_shuffled[0].permute(1, 2, 0))
axes[1].set_title("pixels shuffled")
for ax, x, title in ((axes[2], rgb, "Gram (image)"), (axes[3], rgb_shuffled, "Gram (shuffled)")):
    ax.imshow(losses.gram_matrix(x)[0], cmap="viridis")
    ax.set_title(title)
    ax.set_xticks(range(3), list("RGB"))
    ax.set_yticks(range(3), list("RGB"))
for ax in axes[:2]:
    ax.axis("off")
fig.tight_layout()
save_figure(fig, FIG / "01_shuffle_invariance.png")
plt.show()
print("max |difference| of the two Gram matrices:", (losses.gram_matrix(rgb) - losses.gram_matrix(rgb_shuffled)).abs().max().item())

# %% [markdown]
# ## 3. Source vs target style in SynthStreets
#
# SynthStreets draws the same kind of street scenes in two domains: a game-like **source** (flat
# saturated colours, sharp edges) and a real-like **target** (another palette, textures, lighting,
# blur, noise). The layouts come from the same distribution; only appearance differs.

# %%
fig, axes = plt.subplots(2, 4, figsize=(14, 3.6))
for col in range(2):
    for row, (ds, name) in enumerate(((src, "source"), (tgt, "target"))):
        x, y = ds[col]
        axes[row, 2 * col].imshow(x.permute(1, 2, 0))
        axes[row, 2 * col].set_title(f"{name} #{col}")
        axes[row, 2 * col + 1].imshow(colorize(y))
        axes[row, 2 * col + 1].set_title("labels")
for ax in axes.flat:
    ax.axis("off")
fig.tight_layout()
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

# %%
# NBVAL_CHECK_OUTPUT: the shapes printed here are the same in smoke and default runs
net = models.build_model("small", num_classes=19).eval()


def stage_features(ds, n: int) -> tuple[torch.Tensor, ...]:
    """The 4 stage outputs for the first n images of a dataset (images normalised as the model expects)."""
    x = torch.stack([ds[i][0] for i in range(n)]).float() / 255
    x = (x - 0.5) / 0.5  # the small model's "unit" normalisation
    with torch.no_grad():
        return net(x).features


feats_src = stage_features(src, num_images)
feats_tgt = stage_features(tgt, num_images)
for stage, (fs, ft) in enumerate(zip(feats_src, feats_tgt), start=2):
    print(f"stage {stage}: features {tuple(fs.shape[1:])} -> Gram {tuple(losses.gram_matrix(fs).shape[1:])}")

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
print(f"{'stage':>5} {'within source':>14} {'within target':>14} {'across':>10} {'across / within':>16}")
for r in rows:
    ratio = r["across"] / max(r["within_source"], r["within_target"])
    r["ratio"] = ratio
    print(f"{r['stage']:>5} {r['within_source']:>14.4f} {r['within_target']:>14.4f} {r['across']:>10.4f} {ratio:>16.2f}")

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
vmax = float(torch.maximum(mean_g_src.abs().max(), mean_g_tgt.abs().max()))
fig, axes = plt.subplots(1, 4, figsize=(15, 3.4), gridspec_kw={"width_ratios": [1, 1, 1, 1.3]})
axes[0].imshow(mean_g_src, cmap="viridis", vmin=0, vmax=vmax)
axes[0].set_title("mean Gram, source (stage 2)")
axes[1].imshow(mean_g_tgt, cmap="viridis", vmin=0, vmax=vmax)
axes[1].set_title("mean Gram, target (stage 2)")
d = mean_g_src - mean_g_tgt
lim = float(d.abs().max())
axes[2].imshow(d, cmap="coolwarm", vmin=-lim, vmax=lim)
axes[2].set_title("source - target")
for ax in axes[:3]:
    ax.set_xticks([])
    ax.set_yticks([])
stages = [r["stage"] for r in rows]
w = 0.27
axes[3].bar(np.array(stages) - w, [r["within_source"] for r in rows], w, label="within source")
axes[3].bar(np.array(stages), [r["within_target"] for r in rows], w, label="within target")
axes[3].bar(np.array(stages) + w, [r["across"] for r in rows], w, label="across domains")
axes[3].set_xticks(stages, [f"stage {s}" for s in stages])
axes[3].set_ylabel("mean style distance")
axes[3].set_yscale("log")
axes[3].legend(fontsize=8)
fig.tight_layout()
save_figure(fig, FIG / "01_gram_source_vs_target.png")
plt.show()

# %% [markdown]
# ## 4. Normalisation decides the loss scale
#
# The paper writes $\lVert S_i^s - S_i^t \rVert_2$ without saying how $S_i$ is normalised. The
# raw $F F^\top$ grows with the number of positions $HW$: the same image at twice the resolution
# has a 4x larger raw Gram matrix, so a $\lambda$ tuned at one resolution would be wrong at
# another. Dividing by $HW$ (a mean over positions) removes that; dividing by $CHW$ also evens
# out stages with different channel counts. `pfrlib` defaults to `"chw"` so the same
# $\lambda_{pfr}$ carries from the 64x128 CPU benchmark to the paper's 1280x720.

# %%
x_small = rgb
x_big = torch.nn.functional.interpolate(rgb, scale_factor=2, mode="nearest")
print(f"{'normalisation':>13} {'Gram norm at 1x':>16} {'at 2x resolution':>17} {'ratio':>6}")
for norm in ("none", "hw", "chw"):
    a = losses.gram_matrix(x_small, norm).norm().item()
    b = losses.gram_matrix(x_big, norm).norm().item()
    print(f"{norm:>13} {a:>16.4f} {b:>17.4f} {b / a:>6.2f}")

# %% [markdown]
# The content term has the same issue, only worse. The paper's literal $\lVert C^s - C^t\rVert$
# sums over every element, so it grows with $\sqrt{CHW}$; `pfrlib.losses.content_loss` divides
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
    parameters={k: P[k] for k in P if k != "smoke"} | {"smoke": smoke},
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
# outputs go to `runs/`, never over the committed notebook):
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
# **Exercises**
#
# 1. Shuffle the pixels of only *one* channel. Does the Gram matrix still stay the same? Why not?
# 2. Which stage shows the largest across/within ratio? Is that where you would put the style
#    loss if you could only afford one stage? (Notebook 04 tests this in training.)
# 3. SynthStreets' target shift has named components (`pfrlib.data.SynthShift`). Switch all but
#    one off and recompute the table: which component does the Gram matrix see most?
# 4. Compute the style distance between a target image and a *blurred* copy of itself. Which
#    stages react to blur?

# %% [markdown]
# ### Worked exercises
#
# (In the student copy made by `make student`, these cells are empty `# TODO` stubs.)

# %% tags=["solution"]
# Exercise 1. Shuffle the pixels of only one channel of `rgb` (the other channels stay where they
# are). Does the Gram matrix stay the same? Compare its diagonal and off-diagonal entries.
one = rgb.clone()
b, c, h, w = one.shape
perm = torch.randperm(h * w, generator=torch.Generator().manual_seed(2))
one[:, 0] = one[:, 0].reshape(b, h * w)[:, perm].reshape(b, h, w)
d = (losses.gram_matrix(one) - losses.gram_matrix(rgb))[0]
print(f"largest change on the diagonal:  {d.diagonal().abs().max().item():.2e}  (each channel's energy is kept)")
print(f"largest change off the diagonal: {(d - torch.diag(d.diagonal())).abs().max().item():.2e}  (R no longer meets G and B where it did)")

# %% tags=["solution"]
# Exercise 4. Compute the style distance between target images and blurred copies of themselves.
# Which stages react to blur?
import torchvision.transforms.v2.functional as TF

xt = (torch.stack([tgt[i][0] for i in range(num_images)]).float() / 255 - 0.5) / 0.5
with torch.no_grad():
    blur_terms = losses.pfr_loss(net(xt).features, net(TF.gaussian_blur(xt, kernel_size=5, sigma=1.5)).features).style
for stage, value in blur_terms.items():
    print(f"stage {stage}: style distance to the blurred copy {float(value):.4f}")
