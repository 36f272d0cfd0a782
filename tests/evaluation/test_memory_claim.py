"""pfrlib.evaluation.memory_claim: claim (c)'s table and verdict, every number from the memory file."""

from __future__ import annotations

import pytest

from pfrlib.evaluation.memory_claim import claim_c_markdown, claim_c_words, footprints, method_totals


def _row(method, stage, peak, params, baseline=500.0):
    return {"method": method, "stage": stage, "peak_memory_mib": peak, "baseline_mib": baseline, "parameters": params}


def _file(translation_peak: float) -> dict:
    rows = [_row("pfr_adv", "segmentation", 1500.0, 49e6),
            _row("cycada", "reference", 1400.0, 43e6), _row("cycada", "translation", translation_peak, 28e6),
            _row("cycada", "segmentation", 1450.0, 49e6),
            _row("dlow", "translation", 1300.0, 28e6), _row("dlow", "segmentation", 1450.0, 49e6)]
    return {"memory": "cpu", "fraction": 0.25, "rows": rows,
            "footprint": [{"method": "cycada", "where": "published", "count": 24966, "images": 4,
                           "set_bytes": 3 * 2**30},
                          {"method": "cycada", "where": "cpu", "count": 1000, "images": 4, "set_bytes": 2**20}]}


def test_a_method_s_peak_is_its_largest_stage_and_its_parameters_add_up():
    totals = method_totals(_file(2000.0)["rows"])
    assert totals["cycada"] == {"peak_mib": 2000.0, "above_baseline_mib": 1500.0, "parameters": 120e6, "stages": 3}
    assert totals["pfr_adv"]["stages"] == 1 and list(totals) == ["pfr_adv", "cycada", "dlow"]
    assert footprints(_file(2000.0))["cycada"]["count"] == 24966 and footprints(_file(2000.0), "cpu")["cycada"]["count"] == 1000
    with pytest.raises(ValueError, match="where: expected one of"):
        footprints(_file(2000.0), "gpu")


def test_the_verdict_follows_the_numbers():
    heavy = claim_c_words(_file(2000.0))  # CyCADA's translator stage above PFR's peak, DLOW's below
    assert "In peak memory above imports" in heavy and ": against 1 of 2." in heavy
    assert "**CyCADA**: peak memory above imports 1500 MiB, 500 MiB (50%) more than" in heavy
    assert "**DLOW**: peak memory above imports 950 MiB, 50 MiB (5%) less than" in heavy
    assert "parameters trained over all stages: yes, against every one" in heavy
    assert "a translated source set of 3.0 GiB (24,966 images, measured on 4 and scaled)" in heavy
    light = claim_c_words(_file(1000.0))
    assert ": against 1 of 2." not in light and "no, against none" in light
    gpu = _file(2000.0)
    for r in gpu["rows"]:
        r["baseline_mib"] = 0.0
    assert "In peak memory:" in claim_c_words(gpu)  # CUDA rows count tensors only: the peak itself
    with pytest.raises(ValueError, match="no row of 'pfr_adv'"):
        claim_c_words({"rows": [_row("cycada", "translation", 1.0, 1.0)]})


def test_the_block_says_a_missing_file_is_missing_and_how_to_measure_it():
    text = claim_c_markdown([("On the CPU", _file(2000.0), "cmd a"), ("On a GPU", None, "`cmd b`")])
    assert "**On a GPU: missing.** Not measured yet: `cmd b`." in text
    assert "| CyCADA | 2000 | 1500 | 120.0 | 3 | 3.0 GiB |" in text and "| DLOW | 1450 | 950 | 77.0 | 2 | not measured |" in text
    assert "| PFR (the paper's method) | 1500 | 1000 | 49.0 | 1 | - |" in text
    assert "at 0.25 of the published sizes" in text
