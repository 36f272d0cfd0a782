# %% [markdown]
# # 06 · Paper-scale training: GTA5 → Cityscapes with DeepLab-v2 / ResNet-101
#
# **The question:** what does the same training loop take at the paper's scale (GTA5 →
# Cityscapes, DeepLab-v2 / ResNet-101): how much memory, how long per step, and can this machine
# run it?
#
# **Paper:** Section 3.1 (DeepLab-v2, ResNet-101), Section 3.4 ($\lambda_{adv} = 0.002$,
# $\lambda_{pfr} = 0.004$), Section 4 (GTA5 → Cityscapes, Table 1).
#
# Everything so far ran on SynthStreets on a CPU. The `paper` preset is the same training loop
# at the paper's scale:
#
# | | `paper` preset |
# |---|---|
# | data | GTA5 resized to 1280x720 → Cityscapes train resized to 1024x512 (no target labels) |
# | model | DeepLab-v2 / ResNet-101, AdaptSegNet's multi-level layout (aux head on stage 4), ImageNet/COCO init file |
# | network optimiser | SGD lr 2.5e-4, momentum 0.9, weight decay 5e-4, 10x lr on the heads, poly 0.9 over 250k iterations, stopped at 150k; the backbone stepped 1-4 times per iteration as AdaptSegNet's code does (section 1b) |
# | discriminator | Adam 1e-4, betas (0.9, 0.99), poly decay |
# | loss weights | $\lambda_{adv} = 0.002$ (aux 0.0002), $\lambda_{pfr} = 0.004$, $\lambda_{seg,aux} = 0.1$ |
# | batch | 1 source + 1 target image per iteration |
#
# This notebook checks what it can: whether a GPU and the datasets are there, the step time, and
# how long the full run would take. **Without a GPU or without the data it says so in a banner and
# runs the very same code path on SynthStreets for a few iterations**, so the notebook always runs.
#
# The datasets and the init weights cannot be downloaded by this project: get them from their
# owners and point the parameters at them:
#
# * GTA5 ("Playing for Data"): `ROOT/images/00001.png ...`, `ROOT/labels/00001.png ...`;
# * Cityscapes: `ROOT/leftImg8bit/{train,val}/CITY/*_leftImg8bit.png`,
#   `ROOT/gtFine/{train,val}/CITY/*_gtFine_labelIds.png`;
# * AdaptSegNet's init file `DeepLab_resnet_pretrained_init-f81d91e8.pth` (ImageNet/COCO).
#
# Two exercises size one paper-scale iteration without a GPU: the memory of the training state
# (exercise 1) and of the stage features PFR compares (exercise 2).

# %% tags=["parameters"]
smoke = None  # True: a seconds-long run (2 iterations); None: $PFR_SMOKE (default off)
gta5_root = None  # GTA5 root (images/, labels/); None: not available
cityscapes_root = None  # Cityscapes root (leftImg8bit/, gtFine/); None: not available
init_weights = None  # AdaptSegNet's DeepLab_resnet_pretrained_init-f81d91e8.pth; None: random init
iterations = 20  # iterations to run here (the full run is the preset's 150k: use the command line)
method = "pfr_adv"  # pfr_adv, adaptsegnet, pfr, source_only
bf16 = True  # bf16 autocast on GPU
seed = 0  # training seed
out_dir = "../runs/06_full_gpu_training"  # run directory and metrics.json
figures_dir = None  # None: ../figures (../runs/smoke/figures in smoke mode)

# %%
from pfrlib.teaching.nbparams import Param
from pfrlib.teaching.nbparams import start

setup = start(globals(), {
    "smoke": Param(bool, optional=True),
    "gta5_root": Param(str, optional=True),
    "cityscapes_root": Param(str, optional=True),
    "init_weights": Param(str, optional=True),
    "iterations": Param(int, min=1),
    "method": Param(str, choices=("pfr_adv", "adaptsegnet", "pfr", "source_only")),
    "bf16": Param(bool),
    "seed": Param(int, min=0),
    "out_dir": Param(str),
    "figures_dir": Param(str, optional=True),
})

# %%
import json
import time
from collections import Counter
from pathlib import Path

import matplotlib.pyplot as plt
import torch

from pfrlib import models, viz
from pfrlib.config.train_config import TrainConfig
from pfrlib.teaching.nbparams import live_frontend, save_metrics
from pfrlib.viz.figure import save_figure
from pfrlib.teaching.nbtools import say, show_table
from pfrlib.paper.optim import adaptsegnet_repeats
from pfrlib.teaching.selfcheck import check_close, check_equal
from pfrlib.engine.run import train
from pfrlib.models.common import count_parameters, feature_shapes
from pfrlib.viz.results import plot_training_curves

# %% [markdown]
# ## 1. What is available?

# %%
has_gpu = torch.cuda.is_available()
has_data = bool(gta5_root and cityscapes_root and Path(gta5_root).is_dir()
                and Path(cityscapes_root).is_dir())
paper_scale = has_gpu and has_data and not smoke
if paper_scale:
    say(f"GPU: {torch.cuda.get_device_name(0)} | GTA5: {gta5_root} | Cityscapes: {cityscapes_root}")
    cfg = TrainConfig.preset(
        "paper", method=method, seed=seed, iterations=iterations, source=f"gta5:{gta5_root}",
        target=f"cityscapes:{cityscapes_root}:train",
        target_val=f"cityscapes:{cityscapes_root}:val", init=init_weights, bf16=bf16,
        channels_last=True, out=f"{out_dir}/paper_{method}", overwrite=True,
    )
else:
    missing = (([] if has_gpu else ["a CUDA GPU"])
               + ([] if has_data else ["the GTA5 and Cityscapes roots"]))
    reason = "smoke mode" if smoke else "missing " + " and ".join(missing)
    rule = "=" * 60  # a line narrower than the course site's output column (about 70 characters)
    print(rule)
    print(f"  NOT PAPER SCALE ({reason}).")
    print("  Running the same code path (paper preset: DeepLab-v2 R101, multi-level, SGD, poly,")
    print("  both discriminators, PFR at stages 2-5) on SynthStreets at 64x128 for a few")
    print("  iterations.")
    print("  The step time below is NOT the paper-scale step time.")
    print(rule)
    cfg = TrainConfig.preset(
        "paper", method=method, seed=seed, iterations=2 if smoke else min(iterations, 5),
        source="synth:source", target="synth:target", source_val=None, target_val=None,
        source_size=None, target_size=None, eval_size=None, synth_size=(64, 128),
        synth_val_length=2 if smoke else 8, num_workers=0, init=None, bf16=False,
        channels_last=False, out=f"{out_dir}/stand_in_{method}", overwrite=True, log_every=1,
        val_every=0, checkpoint_every=1000, progress=live_frontend() and not smoke,
    )
    if not smoke and iterations > cfg.optim.iterations:
        say(f"iterations: {iterations} asked, {cfg.optim.iterations} run here: the stand-in only "
            "shows the code path; give the data and a GPU to run them all")
print(cfg.summary())  # the whole configuration: cfg.to_json()

# %% [markdown]
# ## 1b. How AdaptSegNet's code really steps the backbone
#
# AdaptSegNet's `optim_parameters`, which the paper inherits, builds the 1x learning-rate group
# by looping over `module.modules()` of `conv1, bn1, layer1..layer4` and, inside, over
# `sub.parameters()`. Because `parameters()` recurses, a weight is listed once per *enclosing*
# module: `conv1` once, a bottleneck convolution three times (stage, bottleneck, conv), a
# shortcut convolution four times (stage, bottleneck, `downsample`, conv). SGD steps a tensor
# once per listing, so the backbone's effective learning rate is about 3-4x the stated 2.5e-4
# (momentum and weight decay compound with it). The paper's 44.5 mIoU and AdaptSegNet's 42.4 were
# trained that way, so the `paper` preset does the same (`param_listing="adaptsegnet"`, with the
# repeats applied explicitly by `pfrlib.paper.optim.RepeatedSGD`); `--param-listing unique` trains at
# the stated rate.
#
# Which SGD exactly? `RepeatedSGD` reproduces the one AdaptSegNet ran, PyTorch 0.4's: one
# momentum buffer per tensor from its first listing on, updated and applied once per listing.
# Today's `torch.optim.SGD` given the same list with duplicates does something else: on the first
# step every duplicate starts its own buffer (at momentum 0.9 a 4x-listed tensor moves by
# $4\,lr\,g$ instead of $9.05\,lr\,g$), and only from the second step on do they share one.
# Replayed on a current PyTorch, AdaptSegNet's own iteration differs from `RepeatedSGD`'s first
# update by 1.26 (relative norm) on the 4x-listed shortcut convolutions, while a replay with 0.4's
# semantics matches it to 4e-6 (`pfrlib.paper.optim`; `tests/paper/test_optim.py` shows both on a small
# module). The counts, straight from the model:

# %%
deeplab = models.build_model("deeplabv2_r101", 19, multi_level=True)
names = {id(p): n for n, p in deeplab.named_parameters()}
repeats = {names[id(p)]: r for p, r in adaptsegnet_repeats(deeplab.backbone_modules()).items()}
def kind(name: str) -> str:
    """Which kind of backbone tensor a parameter name is."""
    if name.startswith("conv1"):
        return "conv1 (stem)"
    return "shortcut conv" if ".downsample." in name else "bottleneck conv"


rows = Counter((kind(n), r) for n, r in repeats.items())
heads = [p for m in deeplab.head_modules() for p in m.parameters() if p.requires_grad]
show_table([{"tensor": k, "steps per iteration": r, "tensors": c}
            for (k, r), c in sorted(rows.items())]
           + [{"tensor": "heads (10x lr)", "steps per iteration": 1, "tensors": len(heads)}],
           caption=f"AdaptSegNet lists {sum(repeats.values()) + len(heads)} tensors for "
                   f"{len(repeats) + len(heads)} trainable ones")

# %% [markdown]
# ### Exercise 1
#
# What does the training state of this network take on the GPU, before a single activation?
# SGD with momentum keeps three fp32 numbers (4 bytes each) per *trainable* parameter: the
# weight, its gradient and the momentum buffer (the frozen BatchNorm statistics and affine
# parameters of DeepLab-v2 have no gradient). Count the trainable parameters of `deeplab` with
# `count_parameters` as `n_trainable`, and compute the memory of that state in GiB
# ($2^{30}$ bytes) as `train_state_gib`. How much of a 12 GiB Titan X, AdaptSegNet's GPU, is left?

# %% tags=["solution"]
# Exercise 1. Set `n_trainable` (trainable parameters of `deeplab`) and `train_state_gib` (weights,
# gradients and momentum in fp32, in GiB).
n_trainable = count_parameters(deeplab, trainable_only=True)
train_state_gib = 3 * 4 * n_trainable / 2**30
print(f"{n_trainable:,} trainable of {count_parameters(deeplab):,} parameters; "
      f"weights + gradients + momentum: {train_state_gib:.2f} GiB")

# %% tags=["selfcheck"]
_trainable = sum(p.numel() for p in deeplab.parameters() if p.requires_grad)
check_equal("trainable parameters", n_trainable, _trainable,
            hint="frozen parameters (requires_grad False) do not count")
check_close("training state (GiB)", train_state_gib, 3 * 4 * _trainable / 2**30, rtol=1e-3,
            hint="what does SGD with momentum keep per trainable value, and how many bytes is one "
                 "fp32 value? 1 GiB is 2**30 bytes")

# %% [markdown]
# ### Exercise 2
#
# PFR compares the stage features of a source and a target image. At paper scale the source is
# 1280x720: `feature_shapes(deeplab, (1, 3, 720, 1280))` gives the shape of each stage's
# output without computing anything (it runs on PyTorch's `meta` device). For stages 2..5
# compute the number of values in the feature map, $C \cdot H \cdot W$, as a dict
# `feature_values`, and in its Gram matrix, $C \cdot C$, as a dict `gram_values` (stage -> int).
# Which of the two depends on the image size, and what does that mean for comparing a 1280x720
# source with a 1024x512 target?

# %%
paper_shapes = feature_shapes(deeplab, (1, 3, 720, 1280))
say("stage outputs, then the logits of the two heads:", paper_shapes)

# %% tags=["solution"]
# Exercise 2. Set `feature_values` and `gram_values`: for stages 2..5 (the first four shapes),
# the number of values of the feature map (C*H*W) and of its Gram matrix (C*C).
feature_values = {s: c * h * w for s, (_, c, h, w) in zip((2, 3, 4, 5), paper_shapes[:4])}
gram_values = {s: c * c for s, (_, c, _, _) in zip((2, 3, 4, 5), paper_shapes[:4])}
show_table([{"stage": s, "feature map (millions)": feature_values[s] / 1e6,
             "Gram matrix (millions)": gram_values[s] / 1e6,
             "fp32 feature map (MiB)": 4 * feature_values[s] / 2**20} for s in feature_values],
           digits=2, caption="one 720x1280 source image")

# %% tags=["selfcheck"]
_shapes = dict(zip((2, 3, 4, 5), paper_shapes[:4]))
check_close("values per feature map", feature_values,
            {s: sh[1] * sh[2] * sh[3] for s, sh in _shapes.items()},
            hint="C * H * W of the shapes (B, C, H, W) of the first four entries")
check_close("values per Gram matrix", gram_values, {s: sh[1] ** 2 for s, sh in _shapes.items()},
            hint="a Gram matrix is C x C, whatever H and W are")

# %% [markdown]
# ## 2. Run, and time the steps
#
# (The run directory is replaced each time: this section measures, it does not resume.)

# %%
t0 = time.perf_counter()
result = train(cfg)
wall = time.perf_counter() - t0
lines = (Path(cfg.run.out) / "metrics.jsonl").read_text().splitlines()
records = [json.loads(line) for line in lines if line.strip()]
times = [r["time"] for r in records if "time" in r and "seg" in r]
steps = [r["iter"] for r in records if "time" in r and "seg" in r]
# seconds per iteration from the logged clock, skipping the first (warm-up) step
sec_per_it = (times[-1] - times[0]) / (steps[-1] - steps[0]) if len(times) > 1 else float("nan")
print(f"{result.final['iterations']} iterations in {wall:.1f} s (incl. setup and validation); "
      f"{sec_per_it:.3f} s/iteration")
if has_gpu:
    print(f"peak GPU memory: {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB")

# %% [markdown]
# Every loss term of Eq. (6) for the steps that ran (from `metrics.jsonl`): the segmentation
# loss and its auxiliary head, the two fooling terms, the PFR term, and the discriminators'.

# %%
run_label = "paper" if paper_scale else "stand-in"
fig = plot_training_curves({run_label: Path(cfg.run.out) / "metrics.jsonl"},
                           keys=("seg", "seg_aux", "adv", "pfr", "d"), smooth=1)
figure_name = "06_paper_losses.png" if paper_scale else "06_stand_in_losses.png"
save_figure(fig, setup.figures / figure_name)
plt.show()

# %% [markdown]
# ## 3. What the full run costs
#
# AdaptSegNet's schedule runs 150,000 iterations. At paper scale, the measured step time gives
# the time of the full run. The stand-in's step time (a small image on this machine) says
# nothing about a GPU, so no estimate is printed from it; the GPU table in
# `docs/paper_scale.md` will give one once a GPU measurement exists.

# %%
full_iters = TrainConfig.preset("paper").optim.iterations
estimate_h = sec_per_it * full_iters / 3600 if paper_scale else None
if paper_scale:
    say(f"{full_iters:,} iterations x {sec_per_it:.3f} s = {estimate_h:.1f} h on "
        f"{torch.cuda.get_device_name(0)}")
else:
    print(f"{full_iters:,} iterations: no estimate from the stand-in (see docs/paper_scale.md)")

# %% [markdown]
# ## 4. The real run, from a terminal
#
# One GPU:
#
# ```bash
# python -m pfrlib.train --preset paper --method pfr_adv --seed 0 \
#     --source gta5:/data/gta5 --target cityscapes:/data/cityscapes:train \
#     --target-val cityscapes:/data/cityscapes:val \
#     --init /data/DeepLab_resnet_pretrained_init-f81d91e8.pth --bf16 true \
#     --out runs/paper_pfr_adv_s0
# ```
#
# Several GPUs on one machine (DistributedDataParallel; each rank takes its own shard of the
# data, rank 0 logs and writes checkpoints; with N GPUs the effective batch is N source + N
# target images, so consider scaling the learning rate):
#
# ```bash
# torchrun --nproc_per_node=4 -m pfrlib.train --preset paper --method pfr_adv ... --out runs/paper_ddp
# ```
#
# An interrupted run continues bit-exactly from its last checkpoint with `--resume`, and
# `python -m pfrlib.evaluate --checkpoint runs/paper_pfr_adv_s0/checkpoint_last.pt
# --data cityscapes:/data/cityscapes:val` prints the Table-1 row (AdaptSegNet's protocol: input
# 1024x512, logits upsampled to 2048x1024 with `align_corners=True`).

# %% [markdown]
# ## 5. Watching a paper-scale run
#
# A 150k-iteration run takes days; you follow it while it trains rather than waiting for
# `final.json`. Every run writes TensorBoard events to `<out>/tensorboard/` (rank 0 only under
# `torchrun`; `--tensorboard false` switches them off), and `make tensorboard` serves all of
# `runs/` at http://localhost:6006 (on a cluster, start it on the login node and forward the port:
# `ssh -L 6006:localhost:6006 LOGIN_NODE`). What to read there:
#
# - **Scalars, every `--log-every` iterations**: `loss/seg`, `loss/adv`, `loss/pfr`, `loss/total`
#   (the terms of Eq. 6, unweighted as in `metrics.jsonl`), `pfr/style_<i>` and `pfr/content_<i>`
#   (Eq. 2 and 3 per stage), `discriminator/acc_source` and `acc_target` (both pinned near 1 for
#   thousands of iterations: the discriminator wins and the adversarial term gives the network
#   little signal), and `lr/network`, `lr/discriminator_main` (the poly decay).
# - **Validation, with `--val-every N`**: `val/target_miou`, `val/source_miou` and the per-class
#   `val_target_iou/<class>` (rare classes move last); under Images, `val_target_images/<i>`
#   shows a target val image, its prediction and its label side by side at each validation.
# - **Without a browser**: `tail -f runs/<run>/metrics.jsonl` has the same numbers, one JSON line
#   per logged iteration.
#
# The nine Table-1 methods x three seeds are a job for a cluster: `python -m pfrlib.sweep SPEC
# --launcher slurm` submits one Slurm job per unfinished run, requeues a preempted job from its
# last checkpoint, and prints each job's state as it changes (`docs/cluster.md`).

# %%
metrics = dict(
    notebook="06_full_gpu_training",
    parameters=setup.params,
    paper_scale=paper_scale,
    has_gpu=has_gpu,
    has_data=has_data,
    iterations_run=result.final["iterations"],
    seconds_per_iteration=sec_per_it,
    estimated_full_run_hours=estimate_h,
    target_miou=result.target_miou,
)
print("wrote", save_metrics(out_dir, metrics))

# %% [markdown]
# ## What to try
#
# ```bash
# # on a GPU machine with the data
# .venv/bin/papermill --cwd notebooks notebooks/06_full_gpu_training.ipynb runs/06_gpu.ipynb \
#     -p gta5_root /data/gta5 -p cityscapes_root /data/cityscapes \
#     -p init_weights /data/DeepLab_resnet_pretrained_init-f81d91e8.pth -p iterations 200
# # fp32 vs bf16 step time
# .venv/bin/papermill ... -p bf16 False -p out_dir ../runs/06_fp32
# ```
#
# `benchmarks/step_time.py --device cuda --bf16` measures the paper-scale step time and peak
# memory for every method.
#
# **More questions**
#
# 1. AdaptSegNet trained for 3 days on a Titan X. From your measured step time, what does PFR's
#    extra Gram computation cost per iteration (compare `--method adaptsegnet`)?
# 2. The paper's 1280x720 source and 1024x512 target give stage features of different sizes.
#    Which of the two PFR terms needs them resized, and which does not? (`pfrlib.paper.losses`)
