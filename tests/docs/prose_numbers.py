"""Find the result-like numbers typed in the prose of README.md, docs/*.md and the notebooks'
Markdown cells, and say where each comes from (``tests/docs/test_prose_numbers.py`` runs it).

What is read: every Markdown line outside the generated blocks (between ``<!-- name:begin -->`` or
``<!-- name:start -->`` and ``<!-- name:end -->``: what ``benchmarks/ablation.py --docs`` and
``benchmarks/synth_gap.py --docs`` write), outside fenced code blocks, inline code spans (commands,
options, file names), link targets, LaTeX math and HTML comments. In a notebook, only the Markdown
cells (not code, not outputs); a number is located by cell and line there.

What is result-like (:func:`numbers_in`):

- a decimal number (``39.7``, ``0.5``);
- a percentage (``35%``, ``39 %``);
- each side of a pair ``x.y / z.w``;
- a signed difference (``+3.8``, ``−2``; an ASCII ``-`` only before a decimal, since ``0-4`` is a
  range).

What is not: an integer without a ``%`` or a sign counts something (seeds, iterations, notebook,
section, equation and table numbers, years, sizes such as ``64x128``, batch sizes); numbers after
``Sec.``, ``Fig.``, ``Eq.``, ``Table``, ``notebook``; software versions (``Python >= 3.10``,
``2.14.1``); numbers glued to letters (``R101``, ``fp16``) and scientific notation (``2.5e-4``).

Where a number may come from (:class:`Matcher`), compared at the precision it is printed with
(``39.7`` is 39.66...): a setting of some method's ``cpu`` or ``paper`` preset; a value of the
committed results (``benchmarks/results/*.json`` except a benchmark's ``args``, the tables
``benchmarks/results/*.md``, and the paper's tables shipped in ``pfrlib/reference/*.csv``); or the
allow-list ``tests/docs/prose_numbers_allowed.csv`` (document, the number as written, a reason).
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RESULTS = "benchmarks/results"
REFERENCE = "pfrlib/reference"
ALLOWED = "tests/docs/prose_numbers_allowed.csv"


@dataclass(frozen=True)
class Found:
    """One result-like number in prose: where (document and line, 1-based; a notebook's line is
    ``cell N, line M``), the number as written, and the whole line for context."""

    doc: str
    where: str
    text: str
    line: str

    @property
    def value(self) -> float:
        return float(self.text.replace("−", "-").rstrip("%").strip())

    @property
    def decimals(self) -> int:
        number = self.text.rstrip("%").strip()
        return len(number.split(".")[1]) if "." in number else 0


def documents(root: Path = ROOT) -> list[Path]:
    """The documents scanned: README.md, docs/*.md, notebooks/*.ipynb."""
    return [root / "README.md", *sorted((root / "docs").glob("*.md")), *sorted((root / "notebooks").glob("*.ipynb"))]


_BLOCK = re.compile(r"^<!-- ([\w-]+):(?:begin|start) -->$.*?^<!-- \1:end -->$", re.S | re.M)
_FENCE = re.compile(r"^(\s*)(```|~~~).*?^\1\2\s*$", re.S | re.M)
_COMMENT = re.compile(r"<!--.*?-->", re.S)


def _blank(m: re.Match) -> str:
    """A removed region keeps its line breaks, so that line numbers stay those of the file."""
    return "\n" * m.group(0).count("\n")


def prose(markdown: str) -> str:
    """``markdown`` without generated blocks, fenced code and HTML comments (line numbers kept)."""
    for pattern in (_BLOCK, _FENCE, _COMMENT):
        markdown = pattern.sub(_blank, markdown)
    return markdown


_CODE_SPAN = re.compile(r"(`+).+?\1")
_LINK_TARGET = re.compile(r"\]\([^)]*\)")
_MATH = re.compile(r"\$[^$]+\$")
#: A number, optionally signed (ASCII or Unicode minus), optionally a percentage.
_NUMBER = re.compile(r"(?<![\w.])([+\-−]?)(\d+(?:\.\d+)?)(?![\w]|\.\d)(\s?%)?")
#: What precedes a number that names a part of a text (``Sec. 3.2``, ``Eq. (4)``, ``notebook 07``).
_REFERENCE = re.compile(r"\b(?:Sec|Secs|Section|Fig|Figs|Figure|Eq|Eqs|Table|Tab|Alg|notebook|notebooks|cell|cells)"
                        r"\.?\s*\(?$", re.I)
#: What precedes a software version (``Python >= 3.10``, ``numpy 2.4``, ``PyTorch 0.4``).
_VERSION = re.compile(r"\b(?:Python|numpy|PyTorch|torch|CUDA|version|v)\s*(?:>=|<=|==|<|>)?\s*$", re.I)


def numbers_in(line: str) -> list[str]:
    """The result-like numbers of one line of prose, as written (see the module's docstring).
    Inline code, link targets and LaTeX math (``$...$``: symbols and settings) are not read."""
    line = _MATH.sub(" ", _LINK_TARGET.sub("]", _CODE_SPAN.sub(" ", line)))
    found = []
    for m in _NUMBER.finditer(line):
        sign, number, percent = m.group(1), m.group(2), m.group(3)
        before = line[:m.start()]
        if before[-1:] and (sign == "-" and before[-1:].isalnum() or before[-1:] in ")]"):
            sign = ""  # a range (0-4, 40.4-36.2) or a minus between terms, not the number's sign
        if re.search(r"\d[x×]$", before) or re.match(r"[x×]\d", line[m.end():]):
            continue  # a size, 64x128
        if _REFERENCE.search(before) and not percent or _VERSION.search(before):
            continue
        if "." in number or percent or sign in ("+", "−"):
            found.append(f"{sign}{number}{percent or ''}".replace(" %", "%"))
    return found


def scan(path: Path, root: Path = ROOT) -> list[Found]:
    """Every result-like number in the prose of one document."""
    doc = path.relative_to(root).as_posix()
    found = []
    if path.suffix == ".ipynb":
        cells = json.loads(path.read_text())["cells"]
        for i, cell in enumerate(cells, 1):
            if cell["cell_type"] != "markdown":
                continue
            source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            for j, line in enumerate(prose(source).splitlines(), 1):
                found += [Found(doc, f"cell {i}, line {j}", n, line.strip()) for n in numbers_in(line)]
    else:
        for j, line in enumerate(prose(path.read_text()).splitlines(), 1):
            found += [Found(doc, f"line {j}", n, line.strip()) for n in numbers_in(line)]
    return found


def _json_numbers(value, skip=lambda key: False) -> list[float]:
    """Every number in a JSON value, except under the keys for which ``skip`` is true."""
    if isinstance(value, bool) or value is None:
        return []
    if isinstance(value, (int, float)):
        return [float(value)]
    if isinstance(value, dict):
        return [x for k, v in value.items() if not skip(k) for x in _json_numbers(v, skip)]
    if isinstance(value, list):
        return [x for v in value for x in _json_numbers(v, skip)]
    return []


def _per_class_parts(value) -> list:
    """The parts of a JSON value under a ``per_class...`` key."""
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in ([v] if k.startswith("per_class") else _per_class_parts(v))]
    if isinstance(value, list):
        return [p for v in value for p in _per_class_parts(v)]
    return []


def _text_numbers(text: str) -> list[float]:
    return [float(n.replace("−", "-")) for n in re.findall(r"[−-]?\d+(?:\.\d+)?", text)]


@dataclass
class Values:
    """The numbers of the committed results: ``overall`` (means, spreads, per-seed mIoU, gaps,
    times, memory, ...) and ``per_class`` (one class's IoU or share), kept apart because a
    per-class value only counts for a line of prose that names a class."""

    overall: list[float]
    per_class: list[float]


def results_values(root: Path = ROOT) -> Values:
    """Every number the committed results files hold: benchmarks/results/*.json (not a
    benchmark's ``args``: its options) and the tables benchmarks/results/*.md, and the paper's
    tables in pfrlib/reference/*.csv (Table 1's per-class columns and mIoU, the Cityscapes class
    shares)."""
    from pfrlib.data.labels import CLASS_NAMES

    overall: list[float] = []
    per_class: list[float] = []
    for path in sorted((root / RESULTS).glob("*.json")):
        data = json.loads(path.read_text())
        overall += _json_numbers(data, skip=lambda key: key == "args" or key.startswith("per_class"))
        per_class += [x for part in _per_class_parts(data) for x in _json_numbers(part)]
    for path in sorted((root / RESULTS).glob("*.md")):
        for line in path.read_text().splitlines():
            first = line.strip("| ").split("|")[0].strip().strip("*")
            (per_class if first in CLASS_NAMES else overall).extend(_text_numbers(line))
    for path in sorted((root / REFERENCE).glob("*.csv")):
        with open(path, newline="") as f:
            for row in csv.DictReader(f):
                for key, cell in row.items():
                    if re.fullmatch(r"-?\d+(?:\.\d+)?", cell or ""):
                        (overall if key == "mIoU" else per_class).append(float(cell))
    return Values(overall, per_class)


def percent_values(root: Path = ROOT) -> list[float]:
    """The numbers the results tables print as percentages (``35%``), as printed."""
    return [float(n) for path in sorted((root / RESULTS).glob("*.md"))
            for n in re.findall(r"(?<![\w.])(-?\d+(?:\.\d+)?)\s?%", path.read_text())]


def config_values() -> list[float]:
    """Every number of a configuration: each method's ``cpu`` and ``paper`` preset
    (``TrainConfig.preset``), what pfrlib/config and the methods' sections define once."""
    from pfrlib import methods
    from pfrlib.config.presets import PRESETS
    from pfrlib.config.train_config import TrainConfig

    return [x for preset in PRESETS for m in methods.methods()
            for x in _json_numbers(TrainConfig.preset(preset, method=m.name).to_dict())]


def printed(values: list[float], decimals: int, scale: bool = True) -> set[str]:
    """How each value reads at ``decimals`` places (sign dropped); with ``scale``, a fraction in
    [0, 1] also as a percentage."""
    out = set()
    for v in values:
        for x in (v, 100 * v) if scale and abs(v) <= 1 else (v,):
            out.add(f"{abs(x):.{decimals}f}")
    return out


class Matcher:
    """Says where a number of the prose comes from, compared at the prose's printed precision:

    - ``"config"``: a setting of some method's preset (:func:`config_values`);
    - ``"results"``: a value of the results (:func:`results_values`): an overall one, or, on a line
      that names a class, a per-class one; a fraction also as a percentage. A whole percentage
      (``35%``) matches only a fraction of the results or a percentage their tables print: at no
      decimals nearly every number is some value's rounding;
    - None: neither.

    The sign is ignored: a difference (``+3.8``) must be a value of the results as it is printed,
    e.g. a gain the tables list.
    """

    def __init__(self, results: Values, percents: list[float], config: list[float]):
        self.results, self.percents, self.config = results, percents, config
        self._tables: dict[tuple, set[str]] = {}

    @classmethod
    def from_repository(cls, root: Path = ROOT) -> "Matcher":
        return cls(results_values(root), percent_values(root), config_values())

    def _table(self, what: str, decimals: int) -> set[str]:
        key = (what, decimals)
        if key not in self._tables:
            if what == "config":
                table = printed(self.config, decimals)
            elif what.startswith("whole_percent"):
                values = self.results.overall + (self.results.per_class if what.endswith("class") else [])
                table = printed([v for v in values if abs(v) <= 1], 0) | printed(self.percents, 0, scale=False)
            else:
                table = printed(self.results.overall + (self.results.per_class if what.endswith("class") else []),
                                decimals)
            self._tables[key] = table
        return self._tables[key]

    def source(self, f: Found) -> str | None:
        from pfrlib.data.labels import CLASS_NAMES

        written = f"{abs(f.value):.{f.decimals}f}"
        if written in self._table("config", f.decimals):
            return "config"
        what = "whole_percent" if f.text.endswith("%") and f.decimals == 0 else "results"
        if any(re.search(rf"\b{c}\b", f.line, re.I) for c in CLASS_NAMES):
            what += "_class"
        if written in self._table(what, f.decimals):
            return "results"
        return None


@dataclass(frozen=True)
class Allowed:
    doc: str
    number: str
    reason: str


def allowed(root: Path = ROOT) -> list[Allowed]:
    """The allow-list: one row per (document, number as written), each with its reason."""
    with open(root / ALLOWED, newline="") as f:
        rows = [r for r in csv.DictReader(f)]
    for i, r in enumerate(rows, 2):
        if not (r.get("doc") and r.get("number") and (r.get("reason") or "").strip()):
            raise ValueError(f"{ALLOWED}, line {i}: expected doc, number and a reason, got {r}")
    return [Allowed(r["doc"], r["number"], r["reason"].strip()) for r in rows]


def unexplained(root: Path = ROOT, matcher: Matcher | None = None,
                allow: list[Allowed] | None = None) -> tuple[list[Found], list[str]]:
    """(every number found, one message per number neither the results, a setting nor the
    allow-list explains: ``document, line N: number (the line)``)."""
    matcher = matcher or Matcher.from_repository(root)
    allow = allowed(root) if allow is None else allow
    names = {(a.doc, a.number) for a in allow}
    found = [f for path in documents(root) for f in scan(path, root)]
    problems = [f"{f.doc}, {f.where}: {f.text}   ({f.line[:120]})" for f in found
                if matcher.source(f) is None and (f.doc, f.text) not in names]
    return found, problems
