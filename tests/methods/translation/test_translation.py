"""pfrlib.methods.translation: the input-space rows of Table 1 (CyCADA, DLOW, TGCF-DA).

The losses, networks, pool and configuration are tested in their modules' files (test_losses.py,
test_networks.py, test_pool.py, test_config.py); here the adversarial terms scaled in the step, and
each method's two stages at a tiny size (bit-exact resume of stage 1, reuse,
target labels never read); the paper preset for one iteration.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from pfrlib.config.train_config import TrainConfig
from pfrlib.methods.translation.config import TRANSLATION_METHODS
from pfrlib.engine.trainer import Trainer
from pfrlib.engine.run import train
from pfrlib.engine.two_stage.run import train_translation
from synth_folders import write_synth_folder
from script_module import load_script

REPO = Path(__file__).resolve().parents[3]
TINY = dict(synth_size=(32, 64), synth_train_length=6, synth_val_length=3, batch_size=2, iterations=2,
            log_every=1, checkpoint_every=2, val_every=0, progress=False,
            model_kwargs={"widths": [8, 8, 16, 16]}, num_threads=1)
TINY_T = dict(translation_iterations=4, translation_batch_size=2, gen_filters=4, gen_blocks=1, patch_filters=4,
              pool_size=3, reference_iterations=1, translation_checkpoint_every=2)


def tiny(tmp_path: Path, name: str, method: str, **overrides) -> TrainConfig:
    return TrainConfig.preset("cpu", method=method, **{**TINY, **TINY_T, "out": str(tmp_path / name), **overrides})


def quiet(_: str) -> None:
    pass


def interrupted(cfg: TrainConfig, stop_at: int) -> dict:
    """Both stages as ``pfrlib.engine.run.train`` runs them, stage 1 stopped after ``stop_at``'s checkpoint."""
    return train_translation(cfg, stop_at=stop_at, progress=quiet)


def test_network_step_scales_the_adversarial_terms_by_the_mean_weight():
    """``adv_weight`` multiplies ``adv`` (and ``adv_aux``) by the batch's mean weight; the
    segmentation terms and the discriminators' inputs are unchanged."""
    from pfrlib.paper.step import StepExtras, network_step

    cfg = TrainConfig.preset("cpu", method="adaptsegnet", **{**TINY, "out": "unused"})
    tr = Trainer(cfg, prepare_output=False)
    xs, ys = next(tr.src_iter)
    source, target = (tr._images(xs), ys), tr._images(next(tr.tgt_iter))
    start = {k: v.clone() for k, v in tr.model.state_dict().items()}
    runs = []
    for weight in (None, torch.tensor([0.1, 0.5])):
        tr.model.load_state_dict(start)
        runs.append(network_step(tr.net, tr.discriminators, tr.opt, source, target, tr.weights, cfg.loss,
                                 StepExtras(adv_weight=weight)))
    plain, weighted = runs
    assert weighted.terms["adv"].item() == pytest.approx(0.3 * plain.terms["adv"].item(), rel=1e-5)
    assert weighted.terms["seg"].item() == pytest.approx(plain.terms["seg"].item(), rel=1e-6)
    assert weighted.stage_terms["adv_weight"].item() == pytest.approx(0.3) and "adv_weight" not in plain.stage_terms
    assert torch.equal(weighted.outputs["main"][1], plain.outputs["main"][1])


# --------------------------------------------------------------------------- runs
def _tensors(state):
    if torch.is_tensor(state):
        return [state]
    if isinstance(state, dict):
        return [t for k in sorted(state, key=str) for t in _tensors(state[k])]
    if isinstance(state, (list, tuple)):
        return [t for v in state for t in _tensors(v)]
    return []


def _same_files(a: Path, b: Path) -> bool:
    fa, fb = sorted(p.relative_to(a) for p in a.rglob("*.png")), sorted(p.relative_to(b) for p in b.rglob("*.png"))
    return fa == fb and all((a / p).read_bytes() == (b / p).read_bytes() for p in fa)


@pytest.mark.parametrize("method", TRANSLATION_METHODS)
def test_both_stages_resume_bit_exactly_and_reuse(tmp_path, method):
    cfg = tiny(tmp_path, "straight", method)
    straight = train(cfg)
    f = straight.final
    assert f["method"] == method and f["iterations"] == 2 and f["translation"]["iterations"] == 4
    assert 0.0 <= f["target_miou"] <= 1.0
    assert json.loads((straight.out / "final.json").read_text())["method"] == method
    assert (straight.out / f["checkpoint"]).is_file()
    assert TrainConfig.from_json(straight.out / "config.json") == cfg
    tset = straight.out / "translation" / "set"
    # the stage-2 run trained on the translated set and validated on the original source
    seg = TrainConfig.from_json(straight.out / "segmentation" / "config.json")
    assert seg.data.source == f"folder:{tset}" and seg.data.source_val == "synth:source"
    # interrupted after iteration 2's checkpoint, then continued: the same translator and set
    cfg_i = tiny(tmp_path, "interrupted", method)
    assert interrupted(cfg_i, 2) == {"stopped_at": 2}
    resumed = train(cfg_i)
    ca, cb = (torch.load(r.out / "translation" / "checkpoint_last.pt", weights_only=True)["translator"]
              for r in (straight, resumed))
    assert all(torch.equal(x, y) for x, y in zip(_tensors(ca), _tensors(cb), strict=True))
    assert _same_files(tset, resumed.out / "translation" / "set")
    assert resumed.final["target_miou"] == f["target_miou"]
    # the same configuration again: every stage reused; another one is refused, naming the field
    again = train(cfg)
    assert again.final["translation"]["reused"] and again.final["target_miou"] == f["target_miou"]
    with pytest.raises(FileExistsError, match="gen_filters"):
        train(cfg.replace(gen_filters=5))
    n = 12 if method == "tgcf_da" else 6  # TGCF-DA's set holds the source images beside the generated ones
    assert len(list((tset / "images").glob("*.png"))) == n == len(list((tset / "labels").glob("*.png")))
    if method == "tgcf_da":  # stage 2 is the mean teacher: its term is logged, the teacher saved
        assert f["stage2_method"] == "mean_teacher"
        recs = [json.loads(line) for line in (straight.out / "segmentation" / "metrics.jsonl").read_text().splitlines()]
        assert all("consistency" in r and "adv" not in r for r in recs if "seg" in r)
        ckpt = torch.load(straight.out / "segmentation" / "checkpoint_last.pt", weights_only=True)
        teacher = {k[len("teacher."):]: v for k, v in ckpt["baseline"].items() if k.startswith("teacher.")}
        assert teacher.keys() == ckpt["model"].keys()
        assert any(not torch.equal(teacher[k], ckpt["model"][k]) for k in teacher if teacher[k].is_floating_point())
    else:
        assert f["stage2_method"] == "adaptsegnet"


def test_load_translator_reproduces_the_written_set(tmp_path):
    """Stage 1 alone (``run_stage1``, DLOW: no reference model), then ``load_translator``: the loaded
    translator translates a source image at its recorded z into the very bytes of the written set."""
    import numpy as np
    from PIL import Image

    from pfrlib.data.spec import build_dataset
    from pfrlib.data.transforms import EvalTransform
    from pfrlib.engine.two_stage.stage1 import load_translator, run_stage1
    from pfrlib.methods.translation.translator import from_unit, to_unit

    cfg = tiny(tmp_path, "dlow", "dlow")
    done = run_stage1("dlow", cfg.translation, cfg.data, cfg.run.seed, tmp_path / "dlow", None, torch.device("cpu"))
    assert not done["reused"] and not (tmp_path / "dlow" / "final.json").exists()  # stage 1 only
    translator = load_translator(tmp_path / "dlow" / "translation")
    assert translator.method == "dlow" and not translator.training
    ckpt = torch.load(tmp_path / "dlow" / "translation" / "checkpoint_last.pt", weights_only=True)["translator"]
    assert all(torch.equal(v, translator.generators.state_dict()[k]) for k, v in ckpt["generators"].items())
    z = json.loads((Path(done["set"]) / "domainness.json").read_text())["z"]
    src = build_dataset(cfg.data.source, "train", EvalTransform(size=cfg.data.source_size, normalize=None,
                                                               resize_label=True), cfg.data, "source")
    image = to_unit(src[1][0].unsqueeze(0))
    mine = from_unit(translator.translate(image, z=torch.tensor([z[1]])))[0].permute(1, 2, 0).numpy()
    written = np.asarray(Image.open(Path(done["set"]) / "images" / "1.png"))
    assert np.array_equal(mine, written)
    with pytest.raises(FileNotFoundError, match="key.json"):
        load_translator(tmp_path / "nothing")
    # reused from elsewhere (another working directory, a moved folder): the set where it is now
    import shutil

    shutil.copytree(tmp_path / "dlow", tmp_path / "moved")
    shutil.rmtree(tmp_path / "dlow")
    again = run_stage1("dlow", cfg.translation, cfg.data, cfg.run.seed, tmp_path / "moved", None, torch.device("cpu"))
    assert again["reused"] and Path(again["set"]) == tmp_path / "moved" / "translation" / "set"


def test_dlow_stage2_weights_each_translated_image_by_its_domainness(tmp_path):
    """DLOW's stage 2 reads each image's z from the set, logs the batch's adversarial weight, and
    a stage-2 option alone (``dlow_adv_weighting``) reuses the translator and retrains stage 2."""
    from pfrlib.data.folder import FolderDataset
    from pfrlib.engine.two_stage.domainness import DomainnessWeighted

    assert TrainConfig.preset("cpu", method="dlow").translation.dlow_adv_weighting == "none"  # as measured
    assert TrainConfig.preset("paper", method="dlow").translation.dlow_adv_weighting == "sqrt_one_minus_z"
    cfg = tiny(tmp_path, "dlow", "dlow", iterations=3, dlow_adv_weighting="sqrt_one_minus_z")
    run = train(cfg)
    tset, seg = run.out / "translation" / "set", run.out / "segmentation"
    z = torch.tensor(json.loads((tset / "domainness.json").read_text())["z"])
    assert TrainConfig.from_json(seg / "config.json").translation.dlow_adv_weighting == "sqrt_one_minus_z"
    data = DomainnessWeighted(FolderDataset(tset), "sqrt_one_minus_z")
    assert torch.allclose(data.weights, (1 - z).sqrt()) and len(data[2]) == 3 and data[2][2] == data.weights[2]
    assert data.num_classes == 19 and data.has_labels  # the wrapped set's attributes
    logged = [json.loads(line) for line in (seg / "metrics.jsonl").read_text().splitlines()]
    weights = [r["adv_weight"] for r in logged if "adv_weight" in r]
    assert len(weights) == 3 and all(float(data.weights.min()) <= w <= float(data.weights.max()) for w in weights)
    # the unweighted stage 2: same translator and set (reused), other segmentation weights
    weighted = torch.load(seg / "checkpoint_last.pt", weights_only=True)["model"]
    plain = train(cfg.replace(dlow_adv_weighting="none", overwrite=True))
    assert plain.final["translation"]["reused"]
    assert TrainConfig.from_json(seg / "config.json").translation.dlow_adv_weighting == "none"
    assert not any("adv_weight" in json.loads(line) for line in (seg / "metrics.jsonl").read_text().splitlines())
    unweighted = torch.load(seg / "checkpoint_last.pt", weights_only=True)["model"]
    assert any(not torch.equal(weighted[k], unweighted[k]) for k in weighted if weighted[k].is_floating_point())
    # a set without its domainness file is refused, naming the file
    (tset / "domainness.json").unlink()
    with pytest.raises(FileNotFoundError, match="domainness.json"):
        DomainnessWeighted(FolderDataset(tset), "one_minus_z")


def _folder(root: Path, n: int, noise: bool) -> Path:
    return write_synth_folder(root, "target", n, noise, seed=7)


@pytest.mark.parametrize("method", TRANSLATION_METHODS)
def test_target_labels_are_never_read(tmp_path, method):
    """Both stages on a target folder whose labels are noise give bit-identical translators,
    translated sets and segmentation weights; only validation reads (different) labels."""
    clean, noisy = _folder(tmp_path / "clean", 6, False), _folder(tmp_path / "noisy", 6, True)
    runs = [train(tiny(tmp_path, name, method, target=f"folder:{root}")) for name, root in (("a", clean), ("b", noisy))]
    a, b = runs
    assert _same_files(a.out / "translation" / "set", b.out / "translation" / "set")
    wa, wb = (torch.load(r.out / "segmentation" / "checkpoint_last.pt", weights_only=True)["model"] for r in runs)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert a.final["target_miou"] != b.final["target_miou"]


def test_paper_preset_runs_one_iteration_of_each_stage(tmp_path):
    """The paper architecture (9-block 64-filter generator, 70x70 PatchGAN, DeepLab-v2 R101) for
    one iteration of each stage at 32 x 64 on SynthStreets."""
    tcfg = TrainConfig.preset("paper").translation
    assert (tcfg.gen_blocks, tcfg.gen_filters, tcfg.patch_filters, tcfg.patch_layers) == (9, 64, 64, 3)
    assert tcfg.translation_lr == 2e-4 and tcfg.translation_betas == (0.5, 0.999)
    cfg = TrainConfig.preset("paper", method="cycada", translation_iterations=1, translation_resize=None,
                             translation_crop=None, cycada_semantic=False,  # no R101 reference run: time
                             source="synth:source", target="synth:target", source_size=None,
                             target_size=None, eval_size=None, synth_size=(32, 64), synth_train_length=2,
                             synth_val_length=1, val_limit=1, iterations=1, num_workers=0, prefetch_factor=None,
                             progress=False, num_threads=1, out=str(tmp_path / "paper"))
    run = train(cfg)
    assert run.final["arch"] == "deeplabv2_r101" and run.final["iterations"] == 1
    assert run.final["translation"]["parameters"]["generators"] == 2 * 11_378_179


# --------------------------------------------------------------------------- memory benchmark
def test_memory_benchmark_covers_every_table1_row_and_renders():
    
    from pfrlib import methods

    mem = load_script("benchmarks/memory.py")
    assert mem.ALL == methods.table1_names()  # every Table-1 method
    assert {methods.get(m).table1_row for m in mem.ALL} >= {"CyCADA", "DLOW", "TGCF-DA", "CLAN", "ROAD", "AdaptSegNet"}
    common = dict(baseline_mib=600.0, frozen_parameters=0, seconds_per_iteration=1.0, device="cpu", threads=1,
                  torch="x", input_sizes="s", measured_as="m")
    table = mem.render_file({"memory": "VmHWM", "rows": [
        {"method": "cycada", "stage": "translation", "peak_memory_mib": 900.0, "parameters": 2_000_000, **common},
        {"method": "cycada", "stage": "segmentation", "peak_memory_mib": 1000.0, "parameters": 3_000_000, **common}]})
    assert "| cycada | 1000 | 5.0 |" in table  # peak over the stages, parameters of both stages


def _dlow_after_steps(steps: int, **options):
    """A tiny DLOW translator after ``steps`` updates on one fixed batch (bright source, dark target
    images in [-1, 1]), and that source batch."""
    from pfrlib.methods.translation.config import TranslationConfig
    from pfrlib.methods.translation.translator import Translator

    torch.manual_seed(0)
    cfg = TranslationConfig.cpu().replace(gen_filters=4, gen_blocks=1, patch_filters=4, pool_size=2, **options)
    translator = Translator("dlow", cfg, seed=0)
    g = torch.Generator().manual_seed(1)
    xs = torch.rand(2, 3, 16, 16, generator=g) * 0.5 + 0.3
    xt = torch.rand(2, 3, 16, 16, generator=g) * 0.5 - 0.8
    for _ in range(steps):
        terms = translator.step(xs, None, xt)
    if steps:
        assert ("source_identity" in terms) == cfg.dlow_source_identity
    return translator, xs


def test_dlow_reads_z_after_a_few_steps_and_z0_keeps_the_source():
    """The conditional norm starts as a plain instance norm (z changes nothing); a few updates
    later z = 0 and z = 1 translate differently, z = 0 nearer the source image, and nearer with
    the identity term at z = 0 than without it."""
    zeros, ones = torch.zeros(2), torch.ones(2)
    fresh, xs = _dlow_after_steps(0)
    assert torch.equal(fresh.translate(xs, zeros), fresh.translate(xs, ones))
    distance = {}
    for anchor in (True, False):
        translator, xs = _dlow_after_steps(10, dlow_source_identity=anchor)
        at0, at1 = translator.translate(xs, zeros), translator.translate(xs, ones)
        assert (at0 - at1).abs().mean() > 1e-3
        distance[anchor] = (at0 - xs).abs().mean().item()
        assert distance[anchor] < (at1 - xs).abs().mean().item()
    assert distance[True] < distance[False] - 0.05


def test_a_run_written_before_dlow_weighting_existed_reads_as_unweighted(tmp_path):
    """A ``config.json`` whose translation section lacks ``dlow_adv_weighting`` was trained
    unweighted: it loads as ``none`` (so it is never taken for a finished run of the new default);
    a current one round-trips its value."""
    cfg = TrainConfig.preset("paper", method="dlow")
    assert cfg.translation.dlow_adv_weighting == "sqrt_one_minus_z"
    assert TrainConfig.from_dict(json.loads(cfg.to_json())) == cfg
    old = json.loads(cfg.to_json())
    del old["translation"]["dlow_adv_weighting"]
    loaded = TrainConfig.from_dict(old)
    assert loaded.translation.dlow_adv_weighting == "none" and loaded != cfg
    assert loaded == cfg.replace(dlow_adv_weighting="none")
    other = json.loads(TrainConfig.preset("cpu", method="cycada").to_json())  # the field changes nothing there
    del other["translation"]["dlow_adv_weighting"]
    assert TrainConfig.from_dict(other) == TrainConfig.preset("cpu", method="cycada")


def test_a_translator_from_before_the_upsampling_and_anchor_options_is_never_reused_as_the_new_one(tmp_path):
    """Runs and stage-1 keys that lack ``gen_upsampling`` / ``dlow_source_identity`` were trained
    with transposed convolutions and no identity at z = 0: their config loads with those values,
    their translator is not reused for today's default (the error names the fields), and
    ``load_translator`` still rebuilds it."""
    from pfrlib.engine.two_stage.stage1 import _with_data_defaults, load_translator, run_stage1, stage1_key

    cfg = TrainConfig.preset("cpu", method="dlow")
    assert (cfg.translation.gen_upsampling, cfg.translation.dlow_source_identity) == ("nearest", True)
    old = json.loads(cfg.to_json())
    del old["translation"]["gen_upsampling"], old["translation"]["dlow_source_identity"]
    assert TrainConfig.from_dict(old) == cfg.replace(gen_upsampling="transposed", dlow_source_identity=False)
    cycada = json.loads(TrainConfig.preset("cpu", method="cycada").to_json())
    del cycada["translation"]["gen_upsampling"], cycada["translation"]["dlow_source_identity"]
    assert TrainConfig.from_dict(cycada).translation.gen_upsampling == "transposed"
    assert TrainConfig.from_dict(cycada).translation.dlow_source_identity is True  # changes nothing there
    cyc = TrainConfig.preset("cpu", method="cycada", gen_upsampling="transposed")
    cyc_key = json.loads(json.dumps(stage1_key("cycada", cyc.translation, cyc.data, 0)))
    del cyc_key["translation"]["gen_upsampling"], cyc_key["translation"]["dlow_source_identity"]
    assert _with_data_defaults(cyc_key) == stage1_key("cycada", cyc.translation, cyc.data, 0)

    before = tiny(tmp_path, "run", "dlow", gen_upsampling="transposed", dlow_source_identity=False,
                  translated_images=2)
    out = Path(before.run.out)
    run_stage1("dlow", before.translation, before.data, 0, out, None, torch.device("cpu"))
    key_path = out / "translation" / "key.json"
    key = json.loads(key_path.read_text())
    del key["translation"]["gen_upsampling"], key["translation"]["dlow_source_identity"]
    key_path.write_text(json.dumps(key))  # as a translator trained before the options existed wrote it
    assert _with_data_defaults(key) == stage1_key("dlow", before.translation, before.data, 0)
    translator = load_translator(out / "translation")
    assert any(isinstance(m, torch.nn.ConvTranspose2d) for m in translator.generators["G"].modules())
    now = before.replace(gen_upsampling="nearest", dlow_source_identity=True)
    with pytest.raises(FileExistsError, match=r"dlow_source_identity.*gen_upsampling"):
        run_stage1("dlow", now.translation, now.data, 0, out, None, torch.device("cpu"))


def test_a_failed_retrain_keeps_the_finished_runs_config(tmp_path):
    """A finished run retrained with another configuration that fails (here stage 0: the reference
    folder is occupied) leaves ``config.json`` describing the ``final.json`` beside it."""
    cfg = tiny(tmp_path, "run", "cycada")
    first = train(cfg)
    before = (first.out / "config.json").read_text()
    with pytest.raises(FileExistsError):  # the reference run differs and is never overwritten silently
        train(cfg.replace(reference_iterations=2))
    assert (first.out / "config.json").read_text() == before
    assert TrainConfig.from_json(first.out / "config.json") == cfg


def test_stage1_key_names_the_synthstreets_version_and_scene_seed():
    """Another benchmark or scene stream is another translator; a saved key that does not name the
    two fields was written before they existed: the 9-class benchmark at scene seed 0, so it matches
    a 9-class run, never one of today's default (SynthStreets-19)."""
    from pfrlib.engine.two_stage.stage1 import _with_data_defaults, stage1_key

    cfg = TrainConfig.preset("cpu")
    key = stage1_key("cycada", cfg.translation, cfg.data, 0)
    assert (key["data"]["synth_classes"], key["data"]["synth_seed"]) == (cfg.data.synth_classes, cfg.data.synth_seed)
    other = TrainConfig.preset("cpu")
    other.data.synth_seed = cfg.data.synth_seed + 1
    assert stage1_key("cycada", other.translation, other.data, 0) != key
    shifted = TrainConfig.preset("cpu", synth_shift="full,camera=0")  # another target: another translator
    assert stage1_key("cycada", shifted.translation, shifted.data, 0) != key
    saved = json.loads(json.dumps(key))
    del saved["data"]["synth_shift"]  # written before the field: the default shift
    assert _with_data_defaults(saved) == key
    del saved["data"]["synth_classes"], saved["data"]["synth_seed"]
    assert _with_data_defaults(saved) != key
    nine = TrainConfig.preset("cpu", synth_classes=9)
    assert _with_data_defaults(saved) == stage1_key("cycada", nine.translation, nine.data, 0)
