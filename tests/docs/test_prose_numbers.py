"""No result typed into prose: every result-like number of README.md, docs/*.md and the notebooks'
Markdown cells, outside the generated blocks, is a value of the committed results files (or the
paper's shipped tables), a setting of a preset, or named with a reason in the allow-list
``tests/docs/prose_numbers_allowed.csv``.

Result-like: a decimal (``39.7``), a percentage (``35%``), each side of a pair ``x.y / z.w``, a
signed difference (``+3.8``). Not result-like: integers that count things (seeds, iterations,
notebook, section, equation and table numbers, years, sizes such as ``64x128``), software versions,
scientific notation, anything in code (fenced blocks, inline code spans showing commands and
options), link targets and HTML comments. A number is compared at the precision it is printed
with (``39.7`` matches 39.6653...). The rules in full: ``tests/docs/prose_numbers.py``.

What this cannot see: a typed number that happens to equal some other value of the results at
its precision (at one decimal, about a third of the numbers between 0 and 100 do; on a line that
names a class, where per-class values count too, about half) passes. Prose that states a number
should therefore say which file or table it comes from, or leave it to a generated block.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest

from tests.docs.prose_numbers import ROOT, ALLOWED, Allowed, Found, Matcher, Values, allowed, numbers_in, scan, unexplained


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher.from_repository(ROOT)


def test_every_number_in_prose_comes_from_the_results_or_is_allowed(matcher):
    found, problems = unexplained(ROOT, matcher)
    assert found, "the scanner found no number at all: is it reading the documents?"
    assert not problems, (
        f"{len(problems)} result-like number(s) in prose that no results file holds: correct each against "
        f"benchmarks/results/, move it into a generated block, reword without it, or add it with a reason to "
        f"{ALLOWED}:\n" + "\n".join(problems))


def test_the_allow_list_is_needed_entry_by_entry(matcher):
    """Each entry is one (document, number), has a reason and is still needed: the document still
    types the number and nothing else explains it."""
    entries = allowed(ROOT)
    twice = [k for k, n in Counter((a.doc, a.number) for a in entries).items() if n > 1]
    assert not twice, f"{ALLOWED}: listed twice: {twice}"
    found = {}
    for a in entries:
        path = ROOT / a.doc
        assert path.is_file(), f"{ALLOWED}: {a.doc} does not exist"
        found.setdefault(a.doc, scan(path, ROOT))
        hits = [f for f in found[a.doc] if f.text == a.number]
        assert hits, f"{ALLOWED}: {a.doc} no longer types {a.number}: remove the entry"
        assert any(matcher.source(f) is None for f in hits), (
            f"{ALLOWED}: {a.doc}'s {a.number} is now explained by the results or a setting: remove the entry")


@pytest.mark.parametrize("line, expected", [
    ("PFR reaches 39.7 mIoU, AdaptSegNet 33.3.", ["39.7", "33.3"]),
    ("it closes 35% of the gap (33 % held out)", ["35%", "33%"]),
    ("seed 0: 20.0 / 34.0 / 30.1", ["20.0", "34.0", "30.1"]),
    ("DLOW over PFR + adversarial (+3.8, p about 0.10); a loss of −2.5", ["+3.8", "0.10", "−2.5"]),
    ("seeds 0-4 and 5-9, 1500 iterations, batch 4, 64x128 crops, 1914x1052, in 2019", []),
    ("Eq. (2)-(3), Sec. 3.2, Table 1, notebook 07, Fig. 3", []),
    ("Python >= 3.10, numpy 2.4, PyTorch 0.4, jupytext 1.16.4", []),
    ("lr 2.5e-4 on DeepLab-v2 R101 in fp16", []),
    ("run `python -m pfrlib.train --lambda-pfr 0.3` or see [a](docs/x_0.5.md)", []),
    ("the difference 40.4-36.2 is a range of values", ["40.4", "36.2"]),
])
def test_what_counts_as_a_result_like_number(line, expected):
    assert numbers_in(line) == expected


def _fake_repository(tmp_path, readme: str, cell: str) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "README.md").write_text(readme)
    (tmp_path / "docs" / "results.md").write_text("# results\n\nNo numbers here.\n")
    nb = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": cell.splitlines(keepends=True)},
                    {"cell_type": "code", "metadata": {}, "execution_count": None, "source": ["x = 12.5\n"],
                     "outputs": [{"output_type": "stream", "name": "stdout", "text": ["91.7\n"]}]}],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (tmp_path / "notebooks" / "01_demo.ipynb").write_text(json.dumps(nb))


def test_a_planted_number_fails_with_its_file_and_line(tmp_path):
    """The check can fail: a number typed outside a generated block, and held by no results value,
    is reported with its document and line; the same number inside a generated block, a code span
    or a fenced block, a code cell or an output is not read; a results value, a setting or an
    allow-listed number passes."""
    readme = ("# demo\n\n"
              "<!-- table1:begin -->\n| PFR | 77.7 |\n<!-- table1:end -->\n\n"
              "PFR reaches 39.7 mIoU, which closes 35% of the gap.\n"
              "Run `train --lambda 77.7`:\n\n```bash\necho 77.7\n```\n\n"
              "Typed by hand: PFR beats DLOW by +3.8 at 77.7 mIoU.\n"
              "The weight is 0.004; a published number: 45.5.\n")
    _fake_repository(tmp_path, readme, "# notebook\n\nSky reaches 12.3 here, not 64.2.\n")
    matcher = Matcher(Values(overall=[39.66, 0.351, 3.81], per_class=[12.34]), percents=[], config=[0.004])
    allow = [Allowed("README.md", "45.5", "published")]
    found, problems = unexplained(tmp_path, matcher, allow)
    assert sorted(f.text for f in found) == sorted(["39.7", "35%", "+3.8", "77.7", "0.004", "45.5", "12.3", "64.2"])
    assert problems == [
        "README.md, line 14: 77.7   (Typed by hand: PFR beats DLOW by +3.8 at 77.7 mIoU.)",
        "notebooks/01_demo.ipynb, cell 1, line 3: 64.2   (Sky reaches 12.3 here, not 64.2.)",
    ]
    # a per-class value counts only on a line that names a class
    assert matcher.source(next(f for f in found if f.text == "12.3")) == "results"
    (tmp_path / "README.md").write_text("Some value is 12.3.\n")
    assert unexplained(tmp_path, matcher, allow)[1] == ["README.md, line 1: 12.3   (Some value is 12.3.)",
                                                       "notebooks/01_demo.ipynb, cell 1, line 3: 64.2   "
                                                       "(Sky reaches 12.3 here, not 64.2.)"]


def test_a_number_planted_in_the_real_readme_is_caught(tmp_path, matcher):
    """The real documents and results, one planted line: the check names it."""
    for name in ("docs", "notebooks", "benchmarks", "pfrlib", "tests"):
        (tmp_path / name).symlink_to(ROOT / name)
    matcher = Matcher.from_repository(tmp_path)
    # a value no results file or setting holds (the results grow, so it is looked for, not fixed)
    planted = next(f"{x / 10:.1f}" for x in range(619, 1000)
                   if matcher.source(Found("README.md", "line 4", f"{x / 10:.1f}", "mIoU")) is None)
    line = f"PFR + adversarial reaches {planted} mIoU on SynthStreets."
    lines = (ROOT / "README.md").read_text().splitlines()
    lines.insert(3, line)
    (tmp_path / "README.md").write_text("\n".join(lines) + "\n")
    _, problems = unexplained(tmp_path, matcher)
    assert problems == [f"README.md, line 4: {planted}   ({line})"]
