"""Claim (c): is PFR lighter than the image-translation methods? Read from the memory benchmark's files.

The paper (Sec. 4.2) says PFR "is more memory-efficient since there is no requirement for extra
image-to-image translation networks". ``benchmarks/memory.py`` measures, for every Table-1 method
and every stage it trains in, the peak memory and the parameters trained, and for the input-space
methods the bytes of the translated source set stage 1 writes; it keeps them in
``benchmarks/results/memory.json`` (CPU) and ``memory_cuda.json`` (GPU, once it has run there).
This module turns one such file into claim (c)'s table and its verdict in words:

* :func:`method_totals`: per method, the peak over its stages (they run one after another, so the
  largest stage's peak is the method's) and the parameters trained over all its stages;
* :func:`footprints`: per input-space method, the translated set's bytes at the published count;
* :func:`claim_c_markdown`: the table and the verdict, :data:`REFERENCE` (PFR + adversarial)
  against each translation row, every number read from the file.

A file's ``rows`` are ``{method, stage, peak_memory_mib, baseline_mib, parameters, ...}`` (the
benchmark's docstring); ``footprint`` (absent in files written before it was measured) lists
``{method, where, count, per_image_bytes, set_bytes, ...}`` with ``where`` one of
:data:`FOOTPRINT_WHERE`.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

from pfrlib.methods import in_words, names

__all__ = ["REFERENCE", "FOOTPRINT_WHERE", "MEMORY_FILES", "DEFAULT_FRACTION", "MEASURE_COMMANDS", "method_totals",
           "footprints", "claim_c_words", "claim_c_markdown"]

#: The method claim (c) is about: the paper's full method.
REFERENCE = "pfr_adv"
#: The memory benchmark's results file of each device kind, relative to the repository root.
MEMORY_FILES = {"cpu": "benchmarks/results/memory.json", "cuda": "benchmarks/results/memory_cuda.json"}
#: The fraction of the published sizes each device kind measures at by default: what a CPU can
#: run in minutes, and on a GPU the published sizes themselves.
DEFAULT_FRACTION = {"cpu": 0.25, "cuda": 1.0}
#: How each file is measured (what a missing file's line says).
MEASURE_COMMANDS = {
    "cpu": f"`python benchmarks/memory.py --fraction {DEFAULT_FRACTION['cpu']:g} --threads 1`",
    "cuda": ("`bash benchmarks/gpu_check.sh` on a GPU machine runs `python benchmarks/memory.py --device cuda "
             f"--fraction {DEFAULT_FRACTION['cuda']:g}` (`torch.cuda.max_memory_allocated` at the published sizes); copy its "
             "`memory_cuda.json` into `benchmarks/results/` and run `python benchmarks/memory.py --render`"),
}
#: Where a footprint row was measured: at the paper's published size and count (GTA5), or at the
#: ``cpu`` preset's (the SynthStreets set this project's runs write).
FOOTPRINT_WHERE = ("published", "cpu")


def method_totals(rows: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, float]]:
    """``{method: {"peak_mib", "above_baseline_mib", "parameters", "stages"}}`` in the rows' order:
    the largest peak over the method's stages, that stage's peak above its process's memory after
    imports (``baseline_mib``; on CUDA 0, so equal to the peak), the trainable parameters summed
    over its stages, and how many stages it trains."""
    out: dict[str, dict[str, float]] = {}
    for method in dict.fromkeys(r["method"] for r in rows):
        mine = [r for r in rows if r["method"] == method]
        top = max(mine, key=lambda r: r["peak_memory_mib"])
        out[method] = {"peak_mib": float(top["peak_memory_mib"]),
                       "above_baseline_mib": float(top["peak_memory_mib"]) - float(top.get("baseline_mib", 0.0)),
                       "parameters": float(sum(r["parameters"] for r in mine)), "stages": len(mine)}
    return out


def footprints(data: Mapping[str, Any], where: str = "published") -> dict[str, Mapping[str, Any]]:
    """``{method: footprint row}`` of a memory file measured ``where`` (:data:`FOOTPRINT_WHERE`);
    empty for a file that holds no footprint."""
    if where not in FOOTPRINT_WHERE:
        raise ValueError(f"where: expected one of {FOOTPRINT_WHERE}, got {where!r}")
    return {r["method"]: r for r in data.get("footprint", []) if r.get("where") == where}


def _gib(n: float) -> str:
    return f"{n / 2**30:.1f} GiB" if n >= 2**30 else f"{n / 2**20:.1f} MiB"


def _relative(mine: float, theirs: float) -> str:
    """``theirs`` against ``mine`` in words: "N MiB (P%) more" / "less" / "the same"."""
    diff = theirs - mine
    if round(diff) == 0:
        return "the same"
    share = f" ({100 * abs(diff) / mine:.0f}%)" if mine > 0 else ""
    return f"{abs(diff):.0f} MiB{share} {'more' if diff > 0 else 'less'}"


def claim_c_words(data: Mapping[str, Any], reference: str = REFERENCE) -> str:
    """The verdict of one memory file in words: for each input-space method in it, its peak over
    its stages, its parameters trained and its translated set against ``reference``'s, and whether
    ``reference`` is lighter on each. Raises a ValueError naming ``reference`` when the file has no
    row of it."""
    totals = method_totals(data["rows"])
    if reference not in totals:
        raise ValueError(f"reference: the memory file has no row of {reference!r}; it has {list(totals)}")
    ref = totals[reference]
    sets = footprints(data)
    key = "above_baseline_mib" if any(r.get("baseline_mib") for r in data["rows"]) else "peak_mib"
    what = "peak memory above imports" if key == "above_baseline_mib" else "peak memory"
    lines, lighter_peak, lighter_params = [], [], []
    for method in (m for m in names("translation") if m in totals):
        t = totals[method]
        lighter_peak.append(ref[key] < t[key])
        lighter_params.append(ref["parameters"] < t["parameters"])
        extra = sets.get(method)
        set_words = (f"; it also writes a translated source set of {_gib(extra['set_bytes'])} "
                     f"({extra['count']:,} images, measured on {extra['images']} and scaled), which "
                     f"{in_words(reference)} does not" if extra else "")
        lines.append(f"- **{in_words(method)}**: {what} {t[key]:.0f} MiB, {_relative(ref[key], t[key])} than "
                     f"{in_words(reference)}'s {ref[key]:.0f} MiB; {t['parameters'] / 1e6:.1f} M parameters trained "
                     f"over {t['stages']} stages against {ref['parameters'] / 1e6:.1f} M in "
                     f"{ref['stages']:.0f}{set_words}.")
    if not lines:
        return f"The file holds no input-space method to compare {in_words(reference)} with."

    def verdict(flags: list[bool]) -> str:
        return "yes, against every one" if all(flags) else (
            "no, against none" if not any(flags) else f"against {sum(flags)} of {len(flags)}")

    head = (f"Is {in_words(reference)} lighter than the image-translation rows? In {what}"
            + (" (the peak less the process's memory after imports: the interpreter and libraries, the same for "
               "every method)" if key == "above_baseline_mib" else "") +
            f": {verdict(lighter_peak)}. In parameters trained over all stages: {verdict(lighter_params)}.")
    if not sets:
        head += " The translated sets' disk footprint is not in this file."
    return head + "\n\n" + "\n".join(lines)


def claim_c_markdown(files: Sequence[tuple[str, Optional[Mapping[str, Any]], str]],
                     reference: str = REFERENCE) -> str:
    """Claim (c)'s generated block: for each ``(label, memory file's content or None, how it is
    measured)``, a table (per method: peak over its stages, peak above the memory after imports,
    parameters trained in all stages, stages, the translated set at the published count) and
    :func:`claim_c_words`; a file that is None is said to be missing, with how to measure it."""
    parts = []
    for label, data, how in files:
        if data is None:
            parts.append(f"**{label}: missing.** Not measured yet: {how}.")
            continue
        totals, sets = method_totals(data["rows"]), footprints(data)
        fraction = data.get("fraction")
        sizes = (f"at {fraction:g} of the published sizes" if fraction is not None
                 else "at the sizes of its input column (no fraction recorded)")
        lines = [f"**{label}** ({data['memory']}; {sizes}; `{data.get('command', 'benchmarks/memory.py')}`):", "",
                 "| method | peak over its stages (MiB) | above memory after imports (MiB) | trained parameters, "
                 "all stages (M) | stages | translated set, published count |", "|---|---|---|---|---|---|"]
        for m, t in totals.items():
            s = sets.get(m)
            lines.append(f"| {in_words(m)} | {t['peak_mib']:.0f} | {t['above_baseline_mib']:.0f} | "
                         f"{t['parameters'] / 1e6:.1f} | {t['stages']} | "
                         f"{_gib(s['set_bytes']) if s else ('not measured' if m in names('translation') else '-')} |")
        parts.append("\n".join(lines) + "\n\n" + claim_c_words(data, reference))
    return "\n\n".join(parts)
