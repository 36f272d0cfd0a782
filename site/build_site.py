"""Build the course site: `make site` (or `python site/build_site.py`) -> site/_build/html/.

Offline and without executing anything: the committed notebooks are rendered with their saved
outputs (MyST-NB, execution off), the theme and MathJax come from installed packages.

The Sphinx source folder is assembled under OUT/src from the repository, mirroring its layout, so
the relative links between README.md, docs/*.md and notebooks/*.ipynb work as they are:

    index.md                  site/index.md, its lab table filled in (see `lab_table`)
    README.md                 the repository's README, a page
    docs/*.md                 every guide
    notebooks/0*.ipynb        every executed notebook, a download box added below its title
    download/notebooks/, download/student/
                              the committed notebooks and student copies as they are: the files
                              the download links give (not pages)
    figures/...               the images that README and docs show

Links in README/docs/notebook text to repository files that are not pages (`../pfrlib/x.py`) become
a note naming the file in the repository (`repo_note`), so the site has no broken link. Files are
written only when their content changed, so a rebuild is incremental.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

SITE = Path(__file__).resolve().parent
REPO = SITE.parent
NOTEBOOK_GLOB = "0*.ipynb"
TIMES_TABLE = "benchmarks/results/reproduce_times.md"
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp"}
LAB_TABLE_MARK = "<!-- lab-table -->"
DOWNLOADS = "download"         # src/download/{notebooks,student}/: the files as committed (site/conf.py excludes it)
#: The class of the download box below a notebook page's title (the browser test looks past it for the question).
DOWNLOAD_BOX_CLASS = "pfr-downloads"


# --- which repository files are pages -------------------------------------------------------

def notebooks(repo: Path = REPO) -> list[Path]:
    """The executed notebooks of the series, one page each (notebooks/0*.ipynb, sorted)."""
    return sorted((repo / "notebooks").glob(NOTEBOOK_GLOB))


def doc_pages(repo: Path = REPO) -> list[Path]:
    return sorted((repo / "docs").glob("*.md"))


def page_sources(repo: Path = REPO) -> list[Path]:
    """Every repository file that becomes a page of the site (besides the home page)."""
    return [repo / "README.md", *doc_pages(repo), *notebooks(repo)]


# --- links to repository files ----------------------------------------------------------------

_FENCE = re.compile(r"^\s*(```|~~~)")
_INLINE_CODE = re.compile(r"(`+)(?:(?!\1).)+?\1")
_LINK = re.compile(r"(?P<bang>!?)\[(?P<text>[^\]]*)\]\((?P<target>[^()\s]*(?:\([^()\s]*\)[^()\s]*)*)\)")


def repo_note(text: str, repo_path: str) -> str:
    """A link to a repository file that is not part of the site, as text naming the file."""
    code = f"`{repo_path}`"
    if text.strip("`") == repo_path or not text.strip():
        return f"{code} (in the repository)"
    return f"{text} ({code} in the repository)"


def rewrite_links(markdown: str, source: Path, repo: Path, pages: set[Path],
                  images: set[Path]) -> str:
    """Keep links to pages, to anchors and to the web; record local images (copied into the site);
    turn links to other repository files into `repo_note`s. Code (fenced, inline) is left alone."""

    def fix(match: re.Match) -> str:
        target = match.group("target")
        if not target or target.startswith("#") or re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target):
            return match.group(0)                        # anchor, http:, mailto:, ...
        path_part = target.split("#", 1)[0]
        resolved = (source.parent / path_part).resolve()
        try:
            rel = resolved.relative_to(repo)
        except ValueError:
            return match.group("text")                   # outside the repository: keep the words
        if resolved in pages:
            return match.group(0)
        if match.group("bang") and resolved.suffix.lower() in IMAGE_SUFFIXES and resolved.is_file():
            images.add(resolved)
            return match.group(0)
        return repo_note(match.group("text"), rel.as_posix())

    out, in_fence = [], False
    for line in markdown.splitlines(keepends=True):
        if _FENCE.match(line):
            in_fence = not in_fence
            out.append(line)
            continue
        if in_fence:
            out.append(line)
            continue
        codes: list[str] = []

        def hide(m: re.Match) -> str:
            codes.append(m.group(0))
            return f"\x00{len(codes) - 1}\x00"

        hidden = _INLINE_CODE.sub(hide, line)
        fixed = _LINK.sub(fix, hidden)
        out.append(re.sub(r"\x00(\d+)\x00", lambda m: codes[int(m.group(1))], fixed))
    return "".join(out)


# --- the home page's lab table ----------------------------------------------------------------

def _table_rows(markdown: str) -> list[list[str]]:
    rows = []
    for line in markdown.splitlines():
        line = line.strip()
        if line.startswith("|") and not re.match(r"^\|[\s|:-]+\|$", line):
            rows.append([c.strip() for c in line.strip("|").split("|")])
    return rows


def lab_times(repo: Path = REPO) -> tuple[dict[str, tuple[str, str]], str, str]:
    """{notebook stem: (time, what it trains)}, the total, and the table's opening sentence, read
    from the times table `make reproduce` wrote (benchmarks/results/reproduce_times.md)."""
    path = repo / TIMES_TABLE
    if not path.is_file():
        return {}, "", ""
    text = path.read_text(encoding="utf-8")
    times, total = {}, ""
    for cells in _table_rows(text)[1:]:
        if len(cells) < 2:
            continue
        name = cells[0].strip("*` ")
        if name == "all":
            total = cells[1].strip("* ")
        else:
            times[name] = (cells[1], cells[2] if len(cells) > 2 else "")
    opening = next((ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("|")), "")
    return times, total, opening


def notebook_map(repo: Path = REPO) -> dict[str, tuple[str, str]]:
    """{notebook stem: (paper sections, what it teaches)} from README.md's notebook map."""
    readme = (repo / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Notebook map", 1)[-1].split("\n## ", 1)[0]
    out = {}
    for cells in _table_rows(section):
        m = re.search(r"notebooks/(\w+)\.ipynb", cells[0])
        if m and len(cells) >= 3:
            out[m.group(1)] = (cells[1], cells[2])
    return out


def notebook_title(path: Path) -> str:
    nb = json.loads(path.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            for line in "".join(cell["source"]).splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return path.stem


def lab_table(repo: Path = REPO) -> str:
    """The home page's notebook map: one row per notebook page, its lab time and what it trains
    (the times table), the paper sections and what it teaches (README's map), and the downloads."""
    times, total, opening = lab_times(repo)
    teaches = notebook_map(repo)
    lines = ["| lab | time | what it teaches | what it trains | download |", "|---|---|---|---|---|"]
    for nb in notebooks(repo):
        stem = nb.stem
        time_, trains = times.get(stem, ("not measured", ""))
        paper, what = teaches.get(stem, ("", ""))
        student = repo / "student" / nb.name
        downloads = f"{{download}}`notebook <{DOWNLOADS}/notebooks/{nb.name}>`"
        if student.is_file():
            downloads += f", {{download}}`student copy <{DOWNLOADS}/student/{nb.name}>`"
        lab = f"[{notebook_title(nb)}](notebooks/{nb.name})" + (f" ({paper})" if paper else "")
        lines.append(f"| {lab} | {time_} | {what} | {trains} | {downloads} |")
    if total:
        lines.append(f"| **all** | **{total}** | | | |")
    note = (f"Times: {opening} Source: `{TIMES_TABLE}`, written by `make reproduce` "
            f"(the same table as the guide's [time per notebook](docs/teaching.md#time-per-notebook-on-a-laptop)).")
    return "\n".join(lines) + "\n\n" + note + "\n"


# --- assembling the source folder -------------------------------------------------------------

def _write(path: Path, data: bytes, written: set[Path]) -> None:
    written.add(path)
    if path.is_file() and path.read_bytes() == data:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def download_box(nb: Path, repo: Path) -> str:
    student = repo / "student" / nb.name
    lines = ["```{admonition} Download this lab", f":class: tip {DOWNLOAD_BOX_CLASS}",
             f"- {{download}}`The worked notebook, {nb.name} <../{DOWNLOADS}/notebooks/{nb.name}>`: executed, with the "
             "outputs shown on this page (from `notebooks/`)."]
    if student.is_file():
        lines.append(f"- {{download}}`The student copy, {nb.name} <../{DOWNLOADS}/student/{nb.name}>`: the "
                     "exercises as TODO stubs with their self-checks (from `student/`).")
    lines.append("```")
    return "\n".join(lines) + "\n"


def page_notebook(nb: Path, repo: Path, pages: set[Path], images: set[Path]) -> bytes:
    """The notebook as it is committed (outputs untouched), its markdown links fixed and a download
    box right below its title (in the title's cell; a cell of its own when there is no title)."""
    data = json.loads(nb.read_text(encoding="utf-8"))
    cells = data["cells"]
    for cell in cells:
        if cell["cell_type"] == "markdown":
            cell["source"] = rewrite_links("".join(cell["source"]), nb, repo, pages, images)
    box = download_box(nb, repo)
    for cell in cells:
        if cell["cell_type"] == "markdown" and re.search(r"^# ", cell["source"], re.M):
            cell["source"] = re.sub(r"^(# .*\n?)", lambda m: m.group(1).rstrip("\n") + "\n\n" + box + "\n",
                                    cell["source"], count=1, flags=re.M)
            break
    else:
        new = {"cell_type": "markdown", "metadata": {}, "source": box}
        if data.get("nbformat", 4) * 10 + data.get("nbformat_minor", 0) >= 45:
            new["id"] = "pfr-site-downloads"
        cells.insert(0, new)
    return json.dumps(data, ensure_ascii=False, indent=1).encode("utf-8")


def assemble(src: Path, repo: Path = REPO) -> Path:
    """Write the Sphinx source folder `src` from the repository (see the module's docstring)."""
    pages = {p.resolve() for p in page_sources(repo)}
    images: set[Path] = set()
    written: set[Path] = set()
    index = (SITE / "index.md").read_text(encoding="utf-8")
    if LAB_TABLE_MARK not in index:
        raise SystemExit(f"site/index.md lost its {LAB_TABLE_MARK} line")
    _write(src / "index.md", index.replace(LAB_TABLE_MARK, lab_table(repo)).encode(), written)
    for md in [repo / "README.md", *doc_pages(repo)]:
        text = rewrite_links(md.read_text(encoding="utf-8"), md, repo, pages, images)
        _write(src / md.relative_to(repo), text.encode("utf-8"), written)
    for nb in notebooks(repo):
        _write(src / "notebooks" / nb.name, page_notebook(nb, repo, pages, images), written)
        _write(src / DOWNLOADS / "notebooks" / nb.name, nb.read_bytes(), written)
        student = repo / "student" / nb.name
        if student.is_file():
            _write(src / DOWNLOADS / "student" / nb.name, student.read_bytes(), written)
    for image in sorted(images):
        _write(src / image.relative_to(repo), image.read_bytes(), written)
    for stale in [p for p in src.rglob("*") if p.is_file() and p not in written]:
        stale.unlink()                               # a page whose source was removed
    for folder in sorted((p for p in src.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
        if not any(folder.iterdir()):
            folder.rmdir()
    return src


def build(out: Path, repo: Path = REPO, quiet: bool = True) -> Path:
    """Assemble OUT/src and build OUT/html with Sphinx (warnings are errors). Returns OUT/html."""
    from sphinx.cmd.build import build_main

    src = assemble(out / "src", repo)
    html = out / "html"
    args = ["-b", "html", "-c", str(SITE), "-d", str(out / "doctrees"), "-W", "--keep-going",
            "-j", "1", str(src), str(html)]
    if quiet:
        args.insert(0, "-q")
    status = build_main(args)
    if status:
        raise SystemExit(f"sphinx-build failed (exit {status}); its warnings are above")
    return html


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=SITE / "_build",
                        help="build folder: OUT/html is the site (default site/_build)")
    parser.add_argument("--verbose", action="store_true", help="Sphinx's progress lines")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    html = build(args.out.resolve(), quiet=not args.verbose)
    pages = len(list(html.rglob("*.html")))
    print(f"site: {pages} pages in {html} ({time.perf_counter() - start:.0f} s); "
          f"open {html / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
