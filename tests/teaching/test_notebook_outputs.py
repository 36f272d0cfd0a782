"""What a student reads in the committed notebooks, checked on the saved outputs and sources
without running anything: tables without pandas' 0..n row numbers, methods and networks named in
words, headers that do not break inside a range, the gap closed shown by one rule, printed lines
and code lines that fit the page, and every notebook opening with its title and its question.

The rules are those of :func:`pfrlib.teaching.nbtools.show_table` and :func:`pfrlib.io.wrap`;
these tests fail when a notebook prints or displays around them. The keys a reader must not see
and the rule for the question are defined in tests/teaching/reading.py, which the browser test of
the course site (test_site.py) applies to the rendered pages.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

from pfrlib import methods
from pfrlib.io import PRINT_WIDTH
from pfrlib.teaching.nbtools import NON_BREAKING_HYPHEN
from teaching.reading import QUESTION_LEAD, is_raw_key, is_the_question, markdown_lead

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))

#: A printed line longer than this breaks somewhere a browser chooses at 1,200 pixels.
LONGEST_PRINTED_LINE = 120
_HYPHEN_IN_TOKEN = re.compile(r"\w-\w")


class _Tables(HTMLParser):
    """The ``<table>``s of an HTML output: each a dict of ``head`` (header rows, each cell repeated
    over its ``colspan``) and ``body`` (rows as ``(row label cells, value cells)``)."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[dict] = []
        self._row: list[tuple[str, str, int]] | None = None
        self._cell: list | None = None
        self._section = ""

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append({"head": [], "body": []})
        elif tag in ("thead", "tbody"):
            self._section = tag
        elif tag == "tr":
            self._row = []
        elif tag in ("th", "td") and self._row is not None:
            self._cell = [tag, "", int(dict(attrs).get("colspan") or 1)]

    def handle_data(self, data):
        if self._cell is not None:
            self._cell[1] += data

    def handle_endtag(self, tag):
        if tag in ("th", "td") and self._cell is not None and self._row is not None:
            self._row.append((self._cell[0], " ".join(self._cell[1].split()), self._cell[2]))
            self._cell = None
        elif tag == "tr" and self._row is not None and self.tables:
            if self._section == "thead":
                self.tables[-1]["head"].append([text for _, text, span in self._row for _ in range(span)])
            else:
                self.tables[-1]["body"].append(([t for kind, t, _ in self._row if kind == "th"],
                                                [t for kind, t, _ in self._row if kind == "td"]))
            self._row = None


def _html_tables(nb) -> list[tuple[int, dict]]:
    """(cell index, table) for every HTML table in a notebook's outputs."""
    found = []
    for i, cell in enumerate(nb.cells):
        for o in cell.get("outputs", []):
            html = o.get("data", {}).get("text/html")
            if html:
                parser = _Tables()
                parser.feed(html if isinstance(html, str) else "".join(html))
                found += [(i, t) for t in parser.tables]
    return found


def _column_headers(table: dict) -> list[str]:
    """Each value column's header, the header rows joined (aligned from the right, as pandas
    writes a table: the row-label columns first)."""
    width = max((len(values) for _, values in table["body"]), default=0)
    return [" ".join(row[len(row) - width + j] for row in table["head"] if len(row) >= width - j)
            for j in range(width)]


def _read(nb_path: Path):
    return nbformat.read(nb_path, as_version=4)


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.stem)
def test_tables_are_labelled_in_words_and_keep_ranges_together(nb_path):
    """No pandas 0..n row numbers, no ``--method`` / ``--arch`` key as a header or a row label,
    no header that a browser may break inside a word or a range ("0-" / "2")."""
    for i, table in _html_tables(_read(nb_path)):
        where = f"{nb_path.name}, cell {i}"
        labels = [" ".join(ths) for ths, _ in table["body"]]
        firsts = [ths[0] if ths else "" for ths, _ in table["body"]]
        assert firsts != [str(k) for k in range(len(firsts))] or len(firsts) < 2, (
            f"{where}: a table labelled by pandas' row numbers 0..{len(firsts) - 1}; show_table labels rows by a column")
        cells = [c for row in table["head"] for c in row] + [c for ths, _ in table["body"] for c in ths]
        for text in cells:
            assert not is_raw_key(text), (
                f"{where}: the key {text!r} in a table; name it in words (pfrlib.methods.label, models.model_title)")
        for text in [c for row in table["head"] for c in row]:
            assert not _HYPHEN_IN_TOKEN.search(text), (
                f"{where}: the header {text!r} may break at its hyphen; display it with show_table")
        assert labels, f"{where}: an empty table"


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_gap_closed_reads_the_same_everywhere(nb_path):
    """The methods that bound the gap (source only, the oracle) show "-" in every "gap closed"
    column (pfrlib.evaluation.tables.gap_closed_percent): 0% and 100% are its definition."""
    bounds = {methods.label("source_only"), methods.label("oracle")}
    for i, table in _html_tables(_read(nb_path)):
        gap_columns = [j for j, h in enumerate(_column_headers(table)) if "gap" in h.lower()]
        for ths, values in table["body"]:
            if bounds & {label.replace(NON_BREAKING_HYPHEN, "-") for label in ths}:
                for j in gap_columns:
                    assert values[j] == "-", (
                        f"{nb_path.name}, cell {i}: {ths[-1]} shows {values[j]!r} as its gap closed, not '-'")


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.stem)
def test_printed_lines_fit_the_page(nb_path):
    """A printed line longer than LONGEST_PRINTED_LINE characters would break wherever the page
    ends, inside a word; the notebooks print long messages through pfrlib.io.wrap."""
    for i, cell in enumerate(_read(nb_path).cells):
        for o in cell.get("outputs", []):
            if o.get("output_type") == "stream":
                for line in o.get("text", "").splitlines():
                    assert len(line) <= LONGEST_PRINTED_LINE, (
                        f"{nb_path.name}, cell {i}: a printed line of {len(line)} characters: {line[:80]!r}...")


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.stem)
def test_code_lines_fit_the_page(nb_path):
    """Code cells' lines are at most PRINT_WIDTH characters: longer ones are cut at the page's edge."""
    for i, cell in enumerate(_read(nb_path).cells):
        if cell.cell_type == "code":
            long = [line for line in cell.source.splitlines() if len(line) > PRINT_WIDTH]
            assert not long, f"{nb_path.name}, cell {i}: {len(long)} code line(s) over {PRINT_WIDTH}: {long[0][:60]!r}..."


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_notebook_opens_with_its_title_then_its_question(nb_path):
    first = _read(nb_path).cells[0]
    paragraphs = [p.strip() for p in first.source.split("\n\n") if p.strip()]
    assert first.cell_type == "markdown" and re.match(rf"# {nb_path.stem[:2]} · \S", paragraphs[0]), (
        f"{nb_path.name}: the first cell must be the title, '# NN · ...'")
    assert len(paragraphs) > 1 and is_the_question(markdown_lead(paragraphs[1]), paragraphs[1]), (
        f"{nb_path.name}: the title must be followed by its question ('**{QUESTION_LEAD}** ...?')")
