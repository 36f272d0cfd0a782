# %% [markdown]
# # 09 · Beyond the paper: style three ways, Fourier swaps, entropy and pseudo-labels
#
# **The question:** since the paper, which simpler idea closes which part of the gap?
#
# **Paper:** PFR's Section 3.2 (style as Gram matrices, Eq. 2) beside three ideas that came after
# it and became the usual ways to adapt a segmentation network:
#
# * **entropy** (Vu et al., CVPR 2019, ADVENT): a model that has adapted is *confident* on the
#   target. MinEnt minimises the entropy of the target predictions directly; AdvEnt makes the
#   entropy maps of the two domains look alike with AdaptSegNet's discriminator;
# * **Fourier domain adaptation** (FDA; Yang & Soatto, CVPR 2020): swap the low-frequency
#   *amplitude spectrum* of a source image for a target image's, keep its phase, and train on
#   the result. No network, no training: style as the image's coarse spectrum;
# * **self-training** (CBST, Zou et al., ECCV 2018; BDL's code): an adapted model labels the
#   target images itself, keeping per class only its most confident pixels, and those
#   pseudo-labels train the next model.
#
# PFR says style lives in second-order *feature* statistics; FDA says in the image's low
# frequencies; entropy says nothing about style and looks at the *output* instead. All of them run
# in this project's one training loop (`python -m pfrlib.train --method minent|advent|fda|
# self_training|pfr_adv_st`; `pfrlib.methods.beyond`), so they can be compared on one benchmark.
#
# This notebook
#
# 1. computes the three views of "style" on one source and one target image of SynthStreets-19,
#    side by side;
# 2. swaps FDA's window at several betas and draws it on the spectrum (exercise 1), beside the
#    cheapest image-level transfer of all, per-channel histogram matching;
# 3. compares entropy maps before and after adaptation on the same target images (exercise 2);
# 4. makes pseudo-labels with per-class thresholds from the source-only model (exercise 3);
# 5. reads the "Beyond Table 1" results, with intervals, where they exist.
#
# It trains nothing new in the series: it reuses source only (notebook 03) and AdaptSegNet
# (notebook 05), seed 0, and trains them only if they are missing.

# %% tags=["parameters"]
smoke = None  # True: seconds-long runs (4 iterations), few images; None: $PFR_SMOKE (default off)
seed = 0  # seed of the series' runs reused here (03's source only, 05's adapted model)
adapted = "adaptsegnet"  # the adapted model, "after" in section 3 (adaptsegnet: notebook 05's run)
stage = 3  # the backbone stage (2-5) whose Gram matrix section 1 shows
betas = [0.01, 0.05, 0.1, 0.2]  # FDA's beta values in the grid of section 2
num_images = 3  # target images in the figures of sections 3 and 4
threshold_images = 200  # target train images the class thresholds of section 4 are computed over
runs_dir = None  # the series' run directory; None: ../runs/series (smoke: ../runs/smoke/series)
out_dir = "../runs/09_beyond_the_paper"  # where metrics.json is written
figures_dir = None  # None: ../figures (../runs/smoke/figures in smoke mode)

# %%
from pfrlib import methods as registry
from pfrlib.teaching.nbparams import Param, start

setup = start(globals(), {
    "smoke": Param(bool, optional=True),
    "seed": Param(int, min=0),
    "adapted": Param(str, choices=[m for m in registry.stage1_names() if m != "source_only"]),
    "stage": Param(int, min=2, max=5),
    "betas": Param(list, items=float, min=0, max=1),
    "num_images": Param(int, min=1, max=8),
    "threshold_images": Param(int, min=1),
    "runs_dir": Param(str, optional=True),
    "out_dir": Param(str),
    "figures_dir": Param(str, optional=True),
}, smoke_caps={"num_images": 2, "threshold_images": 8})
runs_dir, base, FIG = setup.runs_dir, setup.base, setup.figures

# %%
import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from pfrlib.config.train_config import TrainConfig
from pfrlib.data.labels import CLASS_NAMES, IGNORE_INDEX
from pfrlib.data.synthstreets.dataset import SynthStreets
from pfrlib.data.transforms import normalize
from pfrlib.engine.checkpoint import load_model
from pfrlib.evaluation.results_files import (BEYOND_ROWS, BEYOND_SYNTH19, BEYOND_SYNTH19_HELDOUT,
                                             seed_scores)
from pfrlib.evaluation.tables import GAP_CLOSED, ladder, seed_set_cells
from pfrlib.io import wrap, wrap_command
from pfrlib.methods.beyond.entropy import entropy_map
from pfrlib.methods.beyond.fda import (fda_source_to_target, log_amplitude, swapped_window,
                                       window_size)
from pfrlib.methods.beyond.hist_match import match_histograms
from pfrlib.methods.beyond.self_training import (class_thresholds, confidence_histogram,
                                                 kept_per_class, pseudo_labels)
from pfrlib.paper import losses
from pfrlib.teaching.nbparams import save_metrics
from pfrlib.teaching.nbtools import announce, load_or_train_many, say, show_table
from pfrlib.teaching.selfcheck import check_close, check_equal
from pfrlib.viz.beyond import entropy_grid, fda_grid, style_three_ways
from pfrlib.viz.figure import image_grid, save_figure, to_rgb
from pfrlib.viz.scenes import prediction_grid

# %% [markdown]
# ## 0. Two models of the series
#
# Source only (trained on the labelled source images alone) and an adapted model (by default
# AdaptSegNet, the output-space adversarial method of notebook 05), both of the `cpu` preset and
# seed `seed`. `load_or_train_many` finds the runs notebooks 03 and 05 trained in the series'
# run directory (same configuration, same folder) and reuses them; on a fresh clone it trains
# them here, two at a time, and says how long that takes first.

# %%
names = ("source_only", adapted)
cfgs = [TrainConfig.preset("cpu", method=m, seed=seed, out=f"{runs_dir}/{m}_s{seed}", **base)
        for m in names]
jobs = 1 if smoke else None
say(announce(cfgs, jobs=jobs))
runs = dict(zip(names, load_or_train_many(cfgs, jobs=jobs)))
models = {m: load_model(r.out / "checkpoint_last.pt")[0] for m, r in runs.items()}
show_table([{"model": registry.label(m), "target-val mIoU (%)": 100 * r.target_miou,
             "source-val mIoU (%)": 100 * r.source_miou} for m, r in runs.items()],
           digits=1, caption=f"the two runs of seed {seed}, cpu preset")

# %%
cfg = runs["source_only"].config
size = tuple(cfg.data.synth_size)
H, W = size
source_train = SynthStreets("source", "train", size=size)
target_train = SynthStreets("target", "train", size=size)  # its labels only for reading, below
target_val = SynthStreets("target", "val", size=size)


@torch.no_grad()
def probabilities(model, images: torch.Tensor) -> torch.Tensor:
    """Softmax over the classes of uint8 images (N, 3, H, W), at the image size: (N, K, H, W)."""
    logits = model(normalize(images, model.normalization)).logits
    logits = F.interpolate(logits, size=images.shape[-2:], mode="bilinear", align_corners=True)
    return F.softmax(logits, dim=1)

# %% [markdown]
# ## 1. Style three ways, on one pair of images
#
# One source image and one target image, and three things computed from each:
#
# * PFR's **Gram matrix** $G = F F^\top / (CHW)$ of a stage's feature map (Eq. 2,
#   `pfrlib.paper.losses.gram_matrix`; notebook 01): which channels fire together, wherever;
# * FDA's **amplitude spectrum**: the magnitude of the image's 2-D Fourier transform, shown as
#   $\log(1 + |\mathcal{F}(x)|)$ with the zero frequency in the centre
#   (`pfrlib.methods.beyond.fda.log_amplitude`). Near the centre are the slow changes over the
#   whole image (overall colour, light, haze), far from it the edges and the fine texture;
# * the **entropy** of the source-only model's prediction at each pixel,
#   $E = -\sum_c p_c \log p_c / \log C$ (ADVENT's normalised form,
#   `pfrlib.methods.beyond.entropy.entropy_map`): 0 where the model is sure, 1 where it
#   cannot choose between the classes.

# %%
pair = torch.stack([source_train[0][0], target_train[0][0]])  # uint8 (2, 3, H, W)
so_model = models["source_only"]
with torch.no_grad():
    features = so_model(normalize(pair, so_model.normalization)).features[stage - 2]
grams = losses.gram_matrix(features)  # (2, C, C)
spectra = log_amplitude(pair)  # (2, H, W)
entropies = entropy_map(probabilities(so_model, pair))  # (2, H, W)
print(f"stage {stage} features {tuple(features.shape)} -> Gram matrices {tuple(grams.shape)}; "
      f"spectra {tuple(spectra.shape)}; entropy maps {tuple(entropies.shape)}")
fig = style_three_ways(pair, grams, spectra, entropies, ["source train #0", "target train #0"],
                       title=f"Style three ways: stage {stage} of the source-only network "
                             f"(seed {seed}), the image's spectrum, its prediction's entropy")
save_figure(fig, FIG / "09_style_three_ways.png")
plt.show()

# %% [markdown]
# How far apart are the two images by each view? For the Gram matrix and the spectrum: the size
# of the difference relative to the source's (the spectrum inside FDA's window at the `cpu`
# preset's beta, the frequencies FDA trains with, and outside it); for the entropy, the mean of
# each map.

# %%
fda_cfg = TrainConfig.preset("cpu", method="fda").fda
window = swapped_window(H, W, window_size(H, W, fda_cfg.fda_beta), fda_cfg.fda_window)


def relative(a: torch.Tensor, b: torch.Tensor) -> float:
    """||a - b|| / ||a||, in %."""
    return 100 * ((a - b).norm() / a.norm()).item()


show_table([
    {"view": f"Gram matrix, stage {stage} (PFR)", "source": grams[0].norm().item(),
     "target": grams[1].norm().item(), "difference (% of source)": relative(grams[0], grams[1])},
    {"view": f"log amplitude in FDA's window (beta = {fda_cfg.fda_beta:g})",
     "source": spectra[0][window].norm().item(), "target": spectra[1][window].norm().item(),
     "difference (% of source)": relative(spectra[0][window], spectra[1][window])},
    {"view": "log amplitude outside the window", "source": spectra[0][~window].norm().item(),
     "target": spectra[1][~window].norm().item(),
     "difference (% of source)": relative(spectra[0][~window], spectra[1][~window])},
    {"view": "entropy of the prediction (mean)", "source": entropies[0].mean().item(),
     "target": entropies[1].mean().item(),
     "difference (% of source)": 100 * abs(entropies[1].mean() / entropies[0].mean() - 1).item()},
], digits=2, caption="source train #0 against target train #0; Gram and spectrum: Frobenius "
                     "norms of the values and of their difference")

# %% [markdown]
# **What to look for.** The Gram matrix and the spectrum both forget *where* things are and keep
# *how* the image looks, one in the network's features, one in the pixels. The entropy map is of
# another kind: it is not a statistic of the image but of the model on it, and it is high where
# the model has not learned the target's look (compare the two entropy maps: where is the target
# image uncertain?). That is why MinEnt can work without any statement about style.
#
# ## 2. FDA: the target's low frequencies in the source image
#
# FDA's swap (`fda_source_to_target`, the order of its code: on the images as loaded, before the
# mean is subtracted) replaces the amplitude of the frequencies in a window of half-width
# $b = \lfloor \min(H, W)\,\beta \rfloor$ around the zero frequency by the target's, and keeps the
# source's phase, which holds the layout. The `cpu` preset's window is FDA's training code's
# (`fda_window`), its four $b \times b$ corners of the unshifted spectrum: a $2b \times 2b$
# square in the centred picture. Each column below is the source image after the swap at one
# beta, and its spectrum with the window drawn.

# %%
swapped = {b: fda_source_to_target(pair[:1], pair[1:], b, fda_cfg.fda_window)[0] for b in betas}
windows = {b: swapped_window(H, W, window_size(H, W, b), fda_cfg.fda_window) for b in betas}
fig = fda_grid(pair[0], pair[1], swapped, windows,
               title=f"FDA's swap ({fda_cfg.fda_window!r} window) of source train #0 with "
                     f"target train #0, {H}x{W}")
save_figure(fig, FIG / "09_fda_grid.png")
plt.show()
show_table([{"beta": f"{b:g}", "b": window_size(H, W, b),
             "frequencies swapped": int(windows[b].sum()),
             "mean change of a pixel (0-255)": (swapped[b] - pair[0].float()).abs().mean().item()}
            for b in betas], digits=1, index="beta",
           caption=f"the cpu preset trains FDA with beta = {fda_cfg.fda_beta:g}")

# %% [markdown]
# At the smallest beta the window may hold no frequency at all ($b = 0$ on these
# $64 \times 128$ images: FDA's published 0.01 was chosen for $1024 \times 512$ crops), and the
# image does not change. A few frequencies already move the whole image's colour and light
# towards the target's; a large window starts to carry the target's *structure* (its blotches)
# into the source image, which is why FDA keeps beta small.
#
# ### Exercise 1
#
# How large must beta be for the window to swap at least `n_frequencies` frequencies of these
# images? Find the smallest such beta, `beta_needed` (a number). Use only
# $b = \lfloor \min(H, W)\,\beta \rfloor$ and the size of the training code's window,
# $(2b)^2$ frequencies of the full spectrum; check yourself with `swapped_window` if you like.

# %% tags=["nbval-check-output"]
n_frequencies = 400
print(f"images {H}x{W}: min(H, W) = {min(H, W)}; at least {n_frequencies} frequencies to swap")

# %% tags=["solution"]
# Exercise 1. Set `beta_needed`: the smallest beta whose window swaps at least `n_frequencies`
# frequencies of an H x W image.
b_needed = 0
while (2 * b_needed) ** 2 < n_frequencies:
    b_needed += 1
beta_needed = b_needed / min(H, W)  # the smallest beta with floor(min(H, W) * beta) = b_needed
print(f"b = {b_needed}: beta = {beta_needed:g} swaps {(2 * b_needed) ** 2} frequencies")

# %% tags=["selfcheck"]
check_close("the smallest beta", beta_needed,
            min(k / min(H, W) for k in range(1, min(H, W) // 2 + 1)
                if int(swapped_window(H, W, k, "corners").sum()) >= n_frequencies),
            hint="first the smallest b with (2b)^2 >= n_frequencies; floor(min(H, W) * beta) "
                 "reaches b first at beta = b / min(H, W)")

# %% [markdown]
# ### The floor below FDA: histogram matching
#
# The crudest image-level style transfer has no window and no spectrum at all: give each colour
# channel of the source image the value distribution of the same channel of the target image,
# rank for rank (`match_histograms`; `--method hist_match` trains on it). It moves every
# per-channel colour statistic and nothing else: not the texture, not the blur, not the layout.
# The project keeps it as the sanity row of the pixel-space methods (`docs/results.md`, "Which
# shift each family closes"): a translator that closes no more of a shift component's gap than
# this closes nothing a per-channel colour map could not. Below, the source image, FDA's swap at
# the `cpu` preset's beta, the histogram-matched image and the target, with each image's distance
# to the target in mean channel colour and in the low frequencies FDA swaps.

# %%
matched = match_histograms(pair[:1].float(), pair[1:].float())[0]
fda_cpu = fda_source_to_target(pair[:1], pair[1:], fda_cfg.fda_beta, fda_cfg.fda_window)[0]
views = {"source": pair[0].float(), f"FDA, beta = {fda_cfg.fda_beta:g}": fda_cpu,
         "histogram-matched": matched, "target": pair[1].float()}
fig = image_grid([[to_rgb(v.clamp(0, 255).byte()) for v in views.values()]], list(views),
                 title="Two image-level style transfers of source train #0 towards target train #0")
save_figure(fig, FIG / "09_hist_match.png")
plt.show()
spectrum = {k: log_amplitude(v[None])[0] for k, v in views.items()}
show_table([{"image": k, "mean colour distance to the target (0-255)":
             (v.mean((1, 2)) - views["target"].mean((1, 2))).norm().item(),
             "log-amplitude difference in FDA's window (%)":
             relative(spectrum[k][window], spectrum["target"][window])} for k, v in views.items()],
           digits=1, index="image", caption="distance of each image to the target image")

# %% [markdown]
# FDA's window always holds the zero frequency, which *is* the mean colour, so its swap lands the
# mean exactly on the target's. Histogram matching aims at each channel's whole distribution,
# yet on these flat, drawn scenes it lands further off: every pixel of a region of one value
# gets one value (the target's at the top of that region's quantile range, as scikit-image's
# `match_histograms` does too), so a large flat region cannot be spread over the target's
# values. Neither touches the layout. That is why the two rows sit side by side in the grid of
# shift components: they should close parts of the appearance components and leave the camera,
# the class prior and the shapes where they were.

# %% [markdown]
# ## 3. Entropy before and after adaptation
#
# The same target-val images through the source-only model (before) and the adapted model
# (after). ADVENT's observation: a model trained on source alone is confident on source images
# and unsure on target images, and adapting it makes it more confident there. MinEnt turns the
# observation into a loss; AdvEnt asks a discriminator to make the target's entropy maps look
# like the source's.

# %%
val_images = torch.stack([target_val[i][0] for i in range(num_images)])  # uint8 (N, 3, H, W)
val_prob = {m: probabilities(models[m], val_images) for m in names}  # (N, K, H, W) each
fig = entropy_grid(val_images, {f"{registry.label(m)}": entropy_map(val_prob[m]) for m in names},
                   title=f"Entropy of the prediction on target val #0-{num_images - 1}: before "
                         f"and after adaptation (seed {seed})")
save_figure(fig, FIG / "09_entropy_before_after.png")
plt.show()

# %% [markdown]
# Over more images, with the labels: is the entropy low where the prediction is right, and does
# the adapted model's change of entropy come with more pixels right? Entropy minimisation bets
# that lowering the uncertainty mostly means being right more often.

# %%
n_eval = 8 if smoke else 64
eval_images = torch.stack([target_val[i][0] for i in range(n_eval)])
eval_labels = torch.stack([target_val[i][1] for i in range(n_eval)])
labelled = eval_labels != IGNORE_INDEX
rows = []
for m in names:
    prob = probabilities(models[m], eval_images)
    ent, right = entropy_map(prob), prob.argmax(dim=1) == eval_labels
    rows.append({"model": registry.label(m), "mean entropy": ent[labelled].mean().item(),
                 "on right pixels": ent[labelled & right].mean().item(),
                 "on wrong pixels": ent[labelled & ~right].mean().item(),
                 "pixels right (%)": 100 * right[labelled].float().mean().item()})
show_table(rows, digits={"mean entropy": 3, "on right pixels": 3, "on wrong pixels": 3,
                         "pixels right (%)": 1},
           caption=f"target val #0-{n_eval - 1}, normalised entropy (0-1)")

# %% [markdown]
# **Read the two rows together.** Within each model, the wrong pixels are the uncertain ones: the
# entropy map is a map of likely errors, which is what makes it useful without labels. Across
# the two models, confidence and correctness need not move together: a model can become *surely
# wrong*, and an entropy loss would then push further in the same direction. Which happened here
# for the adapted model, on this seed? The multi-seed rows of section 5 are what says whether an
# entropy method closes part of the gap.

# %% [markdown]
# ### Exercise 2
#
# Compute the entropy maps of the source-only model on the images above by hand, from its
# class probabilities `p = val_prob["source_only"]` (N, K, H, W): at each pixel
# $E = -\sum_c p_c \log p_c$, divided by $\log K$ so that it lies in $[0, 1]$. Call the result
# `entropy_by_hand` (N, H, W). A probability of exactly 0 contributes 0 ($p \log p \to 0$): add a
# tiny number inside the log.

# %% tags=["solution"]
# Exercise 2. Compute `entropy_by_hand` (N, H, W): the normalised entropy of
# val_prob["source_only"] at each pixel.
p = val_prob["source_only"]
num_classes = p.shape[1]
entropy_by_hand = -(p * torch.log(p + 1e-30)).sum(dim=1) / torch.log(torch.tensor(num_classes))
print(f"mean entropy: {entropy_by_hand.mean().item():.4f}, shape {tuple(entropy_by_hand.shape)}")

# %% tags=["selfcheck"]
check_close("normalised entropy maps", entropy_by_hand, entropy_map(val_prob["source_only"]),
            rtol=1e-4, atol=1e-5,
            hint="sum -p log p over the class dimension (dim 1), then divide by log(K); the base "
                 "of the logarithm cancels if both logs use the same one")

# %% [markdown]
# ## 4. Pseudo-labels, thresholded per class
#
# Self-training keeps a pixel's predicted class as a label only where the model is confident
# enough. One threshold for every class (BDL's paper: 0.9) keeps the easy, frequent classes and
# leaves the rare ones almost unlabelled. CBST's class-balanced answer, as BDL's code writes it:
# per class, the median confidence of the pixels predicted as that class over the target set,
# capped at 0.9 (`class_thresholds` reads them from a histogram of confidences). Here the
# source-only model labels `threshold_images` target train images; the `cpu` preset's
# self-training settings give the percentile and the cap.

# %%
st = TrainConfig.preset("cpu", method="self_training").self_training
histogram = 0
for start_at in range(0, threshold_images, 32):  # batches of 32, to keep the memory small
    batch = [target_train[i] for i in range(start_at, min(start_at + 32, threshold_images))]
    prob = probabilities(so_model, torch.stack([x for x, _ in batch]))
    histogram = histogram + confidence_histogram(prob)
thresholds = class_thresholds(histogram, st.st_percentile, st.st_max_threshold, st.st_thresholds)
say(f"thresholds from {threshold_images} target train images: the class's "
    f"{st.st_percentile:g} quantile of its confidences, capped at {st.st_max_threshold:g} "
    f"({st.st_thresholds!r})")

# %% [markdown]
# A second pass over the same images counts, per class, the pixels predicted, the pixels that
# keep their label, and (with the target labels, which self-training never sees: here only to
# read the result) how many of each are right.

# %%
predicted = kept = right_all = right_kept = 0
for start_at in range(0, threshold_images, 32):
    batch = [target_train[i] for i in range(start_at, min(start_at + 32, threshold_images))]
    prob = probabilities(so_model, torch.stack([x for x, _ in batch]))
    truth = torch.stack([y for _, y in batch])
    counts = kept_per_class(prob, thresholds)
    predicted, kept = predicted + counts[0], kept + counts[1]
    pred, labels = prob.argmax(dim=1), pseudo_labels(prob, thresholds)
    right_all = right_all + torch.bincount(pred[pred == truth], minlength=len(thresholds))
    right_kept = right_kept + torch.bincount(labels[labels == truth], minlength=len(thresholds))
classes = [c for c in SynthStreets.class_ids if predicted[c] > 0]
show_table([{"class": CLASS_NAMES[c], "threshold": thresholds[c].item(),
             "pixels predicted": int(predicted[c]),
             "kept (%)": 100 * (kept[c] / predicted[c]).item(),
             "right among predicted (%)": 100 * (right_all[c] / predicted[c]).item(),
             "right among kept (%)": 100 * (right_kept[c] / kept[c].clamp(min=1)).item()}
            for c in classes],
           digits={"threshold": 3, "kept (%)": 1, "right among predicted (%)": 1,
                   "right among kept (%)": 1},
           caption=f"source-only model (seed {seed}) on {threshold_images} target train images; "
                   f"{len(SynthStreets.class_ids) - len(classes)} classes never predicted")

# %% [markdown]
# **What to look for.** The thresholds differ by class: a class the model is sure of keeps a high
# bar (up to the cap), a class it hesitates on gets a low one, and so every predicted class keeps
# about the same share of its pixels, the percentile's. Compare "right among kept" with "right
# among predicted" class by class: where the confident part of a class is right more often than
# all of it, the labels are worth training on; where it is not, self-training teaches the model
# its own mistakes. The maps below show the pseudo-labels of a few images, the pixels left out in
# black.

# %%
pl_images = torch.stack([target_train[i][0] for i in range(num_images)])
pl_truth = torch.stack([target_train[i][1] for i in range(num_images)])
prob_pl = probabilities(so_model, pl_images)  # (N, K, H, W)
fig = prediction_grid(pl_images, {"prediction": prob_pl.argmax(dim=1),
                                  "pseudo-labels": pseudo_labels(prob_pl, thresholds)},
                      pl_truth, titles=("target train image", "source-only prediction",
                                        "pseudo-labels (black: left out)", "ground truth (unseen)"),
                      title="Pseudo-labels of the source-only model, target train "
                            f"#0-{num_images - 1}")
save_figure(fig, FIG / "09_pseudo_labels.png")
plt.show()

# %% [markdown]
# ### Exercise 3
#
# BDL's *paper* uses one threshold for every class, 0.9. Make those pseudo-labels by hand for the
# images above from `prob_pl` (N, K, H, W): each pixel's arg-max class where its highest
# probability is at least 0.9, else `IGNORE_INDEX` (255). Call them `fixed_labels` (N, H, W).
# Then, among the classes the model predicts on at least 200 pixels of these images, which keep
# *no* pseudo-label at all under the one threshold? Set `none_kept` to their names
# (`CLASS_NAMES[c]`), sorted alphabetically (an empty list if every class keeps some).

# %% tags=["solution"]
# Exercise 3. Set `fixed_labels` (N, H, W): arg-max where the top probability >= 0.9, else 255;
# and `none_kept`: the sorted names of the classes (predicted on >= 200 pixels) that keep none.
confidence, arg_max = prob_pl.max(dim=1)
fixed_labels = torch.where(confidence >= 0.9, arg_max, torch.full_like(arg_max, IGNORE_INDEX))
none_kept = sorted(CLASS_NAMES[c] for c in arg_max.unique().tolist()
                   if int((arg_max == c).sum()) >= 200 and not bool((fixed_labels == c).any()))
print(f"{len(none_kept)} classes lose every pseudo-label to the one threshold: {none_kept}")

# %% tags=["selfcheck"]
one_threshold = torch.full((prob_pl.shape[1],), 0.9)
check_close("pseudo-labels with one threshold", fixed_labels, pseudo_labels(prob_pl, one_threshold),
            hint="max over dim 1 gives the confidence and the class; keep the class where the "
                 "confidence is >= 0.9, else 255")
fixed_counts = kept_per_class(prob_pl, one_threshold)
check_equal("the classes keeping no pseudo-label", none_kept,
            sorted(CLASS_NAMES[c] for c in range(len(one_threshold))
                   if fixed_counts[0][c] >= 200 and fixed_counts[1][c] == 0),
            hint="per class: count the pixels predicted as it and the pixels of fixed_labels "
                 "equal to it; keep the names with >= 200 of the first and none of the second")

# %% [markdown]
# With the class-wise thresholds of section 4 every one of these classes keeps about half of its
# pixels: that is what "class-balanced" buys, and why a rare class the model is unsure of still
# gets a say in the next round.

# %% [markdown]
# ## 5. The table: which idea closes which part of the gap
#
# One seed shows what each idea *does*; whether it closes more of the source-only → oracle gap
# than another needs several seeds and intervals. The "Beyond Table 1" rows (the methods above,
# source only, PFR + adversarial and the oracle, the `cpu` preset on SynthStreets-19, both seed
# sets of `docs/protocol.md`) are read from committed results files, never trained here; each
# mean comes with its 95% bootstrap interval over seeds.

# %%
beyond_files = (BEYOND_SYNTH19, BEYOND_SYNTH19_HELDOUT)  # one per seed set
shown = [m for m in BEYOND_ROWS if m != "oracle"] + ["oracle"]  # the bounds first and last
read = {f.label: f.read() for f in beyond_files if f.resolve().is_file()}
# each row's per-seed mIoU on the best split the file holds (target test for the claims runs)
tables = {k: ladder({m: seed_scores(rows[m])[0] for m in shown if m in rows})
          for k, rows in read.items()}
splits = sorted({seed_scores(entry)[2] for rows in read.values() for entry in rows.values()})
for f in beyond_files:
    if not f.resolve().is_file():
        say(wrap(f"{f.path} does not exist yet ({f.what}): issue 33's runs are not trained. "
                 "These commands train them and write it:") + "\n" + wrap_command(f.regenerate()))
if tables:
    show_table([{"method": registry.label(m)} | seed_set_cells(tables, m, spread="interval")
                for m in shown], digits=1,
               caption=f"target {' and '.join(splits)} mIoU (%), mean [95% interval] over seeds; "
                       f"{GAP_CLOSED}: "
                       "share of the source-only -> oracle gap closed")

# %%
metrics = dict(
    notebook="09_beyond_the_paper",
    parameters=setup.params | {"runs_dir": runs_dir},
    runs={m: dict(target_miou=r.target_miou, out=str(r.out)) for m, r in runs.items()},
    style={"gram_difference_pct": relative(grams[0], grams[1]),
           "spectrum_window_difference_pct": relative(spectra[0][window], spectra[1][window]),
           "mean_entropy": {"source": entropies[0].mean().item(),
                            "target": entropies[1].mean().item()}},
    entropy_on_target_val=rows,
    thresholds={CLASS_NAMES[c]: thresholds[c].item() for c in classes},
    kept_share={CLASS_NAMES[c]: (kept[c] / predicted[c]).item() for c in classes},
    beyond_tables_present=[f.path for f in beyond_files if f.resolve().is_file()],
)
print("wrote", save_metrics(out_dir, metrics))

# %% [markdown]
# ## What to try
#
# ```bash
# # a MinEnt run of seed 0 beside the series' runs (a few minutes), then its entropy maps here
# .venv/bin/python -m pfrlib.train --preset cpu --method minent --seed 0 --out runs/series/minent_s0
# .venv/bin/papermill --cwd notebooks notebooks/09_beyond_the_paper.ipynb runs/09_minent.ipynb \
#     -p adapted minent -p out_dir ../runs/09_minent -p figures_dir ../runs/09_minent
# # histogram matching, the sanity row beside FDA (section 2)
# .venv/bin/python -m pfrlib.train --preset cpu --method hist_match --seed 0 --out runs/hm_s0
# # FDA at the cpu preset's beta and at a larger one
# .venv/bin/python -m pfrlib.train --preset cpu --method fda --seed 0 --out runs/fda_s0
# .venv/bin/python -m pfrlib.train --preset cpu --method fda --fda-beta 0.15 --seed 0 --out runs/fda_b015_s0
# # one round of self-training from the series' source-only model
# .venv/bin/python -m pfrlib.train --preset cpu --method self_training \
#     --st-init runs/series/source_only_s0/checkpoint_last.pt --seed 0 --out runs/st_s0
# # the "Beyond Table 1" results files of section 5: the claims sweeps (every row, both seed sets;
# # hours on a laptop), then each file collected from their runs (the command section 5 prints)
# make sweep SPEC=sweeps/claims.yaml && make sweep SPEC=sweeps/claims_heldout.yaml
# ```
#
# **More questions**
#
# 1. The Gram matrix and the amplitude spectrum both forget layout. Shuffle the pixels of an
#    image (notebook 01's `shuffle_positions`): which of the two stays the same, and why does the
#    other not?
# 2. Swap the *phase* instead of the amplitude (take the target's phase, keep the source's
#    amplitude, with `torch.fft`). What does the image show now, and what does that say about
#    where the layout of an image lives?
# 3. Section 3's table: is the adapted model's entropy lower on its wrong pixels too? What would
#    MinEnt do to a pixel the model is confidently wrong about?
# 4. Section 4 with `threshold_images` 20 instead of 200: how much do the thresholds move? CBST
#    computes them over the whole target set for a reason.
# 5. Set `adapted` to `pfr_adv` (notebook 05's full method): is the paper's method more confident
#    on the target than AdaptSegNet? Is it more often right?
