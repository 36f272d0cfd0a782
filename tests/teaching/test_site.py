"""The course site (`make site`), built and opened page by page in headless Chromium.

One test builds the site once (site/build_site.py, into a temporary folder), checks the HTML is
offline (no script, style sheet, image or frame from another host), serves it on 127.0.0.1 and
opens every page at 1,200 px in Debian's Chromium driven by Playwright. It fails on

- a console error, an uncaught exception, or a request that failed or went to another host;
- a broken link (a local `a[href]` whose file is missing, or whose #fragment is not on its page)
  or image (an `img` with naturalWidth 0);
- a figure missing from a notebook page (image outputs in the .ipynb vs `img` in its outputs);
- a page wider than 1,200 px at a 1,200 px viewport (named with its widest element);
- a search for a word of the notebooks that finds nothing;
- on a notebook page: a table labelled 0..n-1 (pandas' row numbers), a method or network key in a
  table or a printed output, a printed line wider than its box, or prose before the question (the
  keys and the question's rule: tests/teaching/reading.py, shared with test_notebook_outputs.py).

Chromium is installed by `.ci/browser-up` (CI runs it); without /usr/bin/chromium the test is
skipped outside CI and fails in CI (CI=true).
"""

from __future__ import annotations

import asyncio
import functools
import http.server
import importlib.util
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

import pytest

from teaching.reading import QUESTION_LEAD, RAW_KEYS, is_raw_key, is_the_question, raw_keys_in
from script_module import load_script

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("PFR_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1200, "height": 900}
MAX_WIDTH = 1200
PARALLEL_PAGES = 3
PAGE_TIMEOUT_MS = 30_000
IMAGE_MIMES = ("image/png", "image/jpeg", "image/svg+xml", "image/gif")


def _load_build_site():
    return load_script("site/build_site.py")


build_site = _load_build_site()


def _need_browser():
    """Skip without Chromium or Playwright, except in CI, where their absence is a failure."""
    missing = []
    if not Path(CHROMIUM).is_file():
        missing.append(f"{CHROMIUM} (bash .ci/browser-up installs it)")
    if importlib.util.find_spec("playwright") is None:
        missing.append("the playwright package (requirements.txt)")
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail("CI needs " + " and ".join(missing))
        pytest.skip("no browser: " + " and ".join(missing))


# --- pure checks (no build) -------------------------------------------------------------------

def test_links_to_repository_files_become_notes(tmp_path):
    repo = tmp_path
    (repo / "docs").mkdir()
    (repo / "pfrlib").mkdir()
    (repo / "figures").mkdir()
    (repo / "pfrlib" / "losses.py").write_text("")
    (repo / "figures" / "a.png").write_bytes(b"png")
    doc = repo / "docs" / "guide.md"
    other = repo / "docs" / "other.md"
    doc.write_text("")
    other.write_text("")
    text = ("See [the losses](../pfrlib/losses.py), [other](other.md#part), [web](https://x.org), "
            "[top](#top) and ![fig](../figures/a.png).\n"
            "```\n[kept](../pfrlib/losses.py)\n```\n`[inline](../pfrlib/losses.py)`\n")
    images: set[Path] = set()
    out = build_site.rewrite_links(text, doc, repo.resolve(), {doc.resolve(), other.resolve()}, images)
    assert "the losses (`pfrlib/losses.py` in the repository)" in out
    assert "[other](other.md#part)" in out and "[web](https://x.org)" in out and "[top](#top)" in out
    assert "![fig](../figures/a.png)" in out and images == {(repo / "figures" / "a.png").resolve()}
    assert "```\n[kept](../pfrlib/losses.py)\n```" in out          # code is left alone
    assert "`[inline](../pfrlib/losses.py)`" in out


def test_home_page_lab_table_is_read_from_the_repository():
    """One row per notebook page, its time from the times table that `make reproduce` wrote."""
    times, total, _ = build_site.lab_times()
    table = build_site.lab_table()
    rows = [ln for ln in table.splitlines() if ln.startswith("| [")]
    assert len(rows) == len(build_site.notebooks()) > 0
    for nb, row in zip(build_site.notebooks(), rows):
        assert f"(notebooks/{nb.name})" in row
        if nb.stem in times:
            assert f"| {times[nb.stem][0]} |" in row
    assert total and total in table


# --- the built site in a browser ---------------------------------------------------------------

@pytest.fixture(scope="module")
def built_site(tmp_path_factory):
    _need_browser()
    out = tmp_path_factory.mktemp("site")
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, str(REPO / "site" / "build_site.py"), "--out", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"the site did not build:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    print(f"site built in {time.perf_counter() - start:.1f} s")
    return out / "html"


def _pages(html: Path) -> list[str]:
    """Every HTML page, as a path relative to the site root (not the theme's or Sphinx's files)."""
    return sorted(p.relative_to(html).as_posix() for p in html.rglob("*.html")
                  if not p.relative_to(html).parts[0].startswith("_"))


_EXTERNAL = re.compile(
    r"<(?:script|img|iframe|source|video|audio|embed)\b[^>]*\bsrc\s*=\s*[\"']?\s*(?:https?:)?//"
    r"|<link\b[^>]*\bhref\s*=\s*[\"']?\s*(?:https?:)?//"
    r"|url\(\s*[\"']?\s*(?:https?:)?//|@import\s+[\"']?(?:url\()?\s*[\"']?(?:https?:)?//", re.I)


def _external_refs(html: Path) -> list[str]:
    """Resources a page would fetch from another host: scripts, style sheets, images, frames, fonts."""
    found = []
    for path in [*html.rglob("*.html"), *html.rglob("*.css")]:
        for m in _EXTERNAL.finditer(path.read_text(encoding="utf-8", errors="replace")):
            found.append(f"{path.relative_to(html)}: {m.group(0)[:120]}")
    return found


def _expected_figures(notebook: Path) -> int:
    """Image outputs of a notebook (and images inside its HTML outputs): each must be an `img`."""
    count = 0
    for cell in json.loads(notebook.read_text(encoding="utf-8"))["cells"]:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if "text/html" in data:
                count += len(re.findall(r"<img\b", "".join(data["text/html"]), re.I))
            elif any(m in data for m in IMAGE_MIMES):
                count += 1
    return count


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class _Server:
    """A folder served on 127.0.0.1 (a free port) by Python's http.server, in a thread. `errors`
    collects every request it could not answer, the browser's own (a favicon) included."""

    def __init__(self, folder: Path):
        errors: list[str] = []

        class Handler(_QuietHandler):
            def send_error(self, code, message=None, explain=None):
                errors.append(f"HTTP {code} served for {self.path}")
                super().send_error(code, message, explain)

        self.errors = errors
        handler = functools.partial(Handler, directory=str(folder))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def served_site(built_site):
    server = _Server(built_site)
    yield built_site, server
    server.close()


# What each page reports back: links, images, figures in outputs, ids, width and its widest element;
# its outputs' tables (row labels, headers, values) and printed blocks (text, widths), the block after its title.
PAGE_REPORT_JS = """() => {
  const words = el => (el.textContent || '').replace(/\\s+/g, ' ').trim();
  // The block after the page's title (the site's download box skipped): its tag, its opening
  // bold words and its text.
  const afterTitle = () => {
    const h1 = document.querySelector('article h1') || document.querySelector('h1');
    if (!h1) return null;
    let el = h1.nextElementSibling;
    while (el && el.classList.contains('%(downloads)s')) el = el.nextElementSibling;
    if (!el) return {tag: '', lead: '', text: ''};
    let first = el.firstChild;
    while (first && first.nodeType === Node.TEXT_NODE && !first.textContent.trim()) first = first.nextSibling;
    const lead = first && first.nodeType === Node.ELEMENT_NODE && ['STRONG', 'B'].includes(first.tagName) ? words(first) : '';
    return {tag: el.tagName.toLowerCase(), lead: lead, text: words(el)};
  };
  const width = document.documentElement.scrollWidth;
  let widest = null;
  if (width > %(max)d) {
    let best = 0;
    for (const el of document.querySelectorAll('body *')) {
      const r = el.getBoundingClientRect();
      if (r.width > 0 && r.right > best && el.offsetParent !== null) {
        best = r.right;
        widest = el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
          (el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\\s+/).join('.') : '') +
          ' (right edge ' + Math.round(r.right) + ' px): ' + (el.textContent || '').trim().slice(0, 60);
      }
    }
  }
  return {
    width: width,
    widest: widest,
    links: Array.from(document.querySelectorAll('a[href]'), a => a.href),
    images: Array.from(document.querySelectorAll('img'),
                       i => ({src: i.currentSrc || i.src, ok: i.complete && i.naturalWidth > 0})),
    outputImages: document.querySelectorAll('div.cell_output img').length,
    ids: Array.from(document.querySelectorAll('[id]'), e => e.id).concat(
         Array.from(document.querySelectorAll('a[name]'), e => e.name)),
    tables: Array.from(document.querySelectorAll('div.cell_output table'), table => {
      const labels = Array.from(table.tBodies).flatMap(b => Array.from(b.rows, r => {
        const th = r.querySelector('th');
        return th ? words(th) : null;
      }));
      const head = table.tHead ? table.tHead.rows[0] : table.rows[0];
      return {labels: labels,
              head: Array.from(head ? head.cells : [], words).filter(Boolean).slice(0, 4),
              headers: Array.from(table.querySelectorAll('th'), words),
              values: Array.from(table.querySelectorAll('td'), words)};
    }),
    printed: Array.from(document.querySelectorAll('div.cell_output pre'), pre => {
      // The line that sticks out: the longest, or where lines wrap, the one with the longest word.
      const longest = (list, size) => list.reduce((a, b) => size(b) > size(a) ? b : a, '');
      const lines = pre.textContent.split('\\n');
      const wraps = getComputedStyle(pre).whiteSpace !== 'pre';
      const wordOf = line => longest(line.split(/\\s+/), w => w.length).length;
      return {text: pre.textContent, scrollWidth: pre.scrollWidth, clientWidth: pre.clientWidth,
              line: wraps ? longest(lines, wordOf) : longest(lines, l => l.length)};
    }),
    afterTitle: afterTitle(),
  };
}""" % {"max": MAX_WIDTH, "downloads": build_site.DOWNLOAD_BOX_CLASS}


async def _visit(browser, base: str, page_path: str, sem: asyncio.Semaphore) -> dict:
    async with sem:
        problems: list[str] = []
        context = await browser.new_context(viewport=VIEWPORT)
        page = await context.new_page()
        origin = urllib.parse.urlsplit(base).netloc

        async def route(r):
            if urllib.parse.urlsplit(r.request.url).netloc not in (origin, ""):
                problems.append(f"request to another host: {r.request.url}")
                await r.abort()
            else:
                await r.continue_()

        await page.route("**/*", route)
        page.on("console", lambda m: m.type == "error" and problems.append(f"console error: {m.text}"))
        page.on("pageerror", lambda e: problems.append(f"uncaught exception: {e}"))
        page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url} ({r.failure})"))
        page.on("response", lambda r: r.status >= 400 and problems.append(f"HTTP {r.status}: {r.url}"))
        try:
            await page.goto(base + page_path, wait_until="load", timeout=PAGE_TIMEOUT_MS)
            # MathJax typesets after load and can widen a page: measure after it finished.
            await page.evaluate("() => (window.MathJax && MathJax.startup && MathJax.startup.promise) || null")
            report = await page.evaluate(PAGE_REPORT_JS)
        finally:
            await context.close()
        report["problems"] = problems
        return report


async def _search_hits(browser, base: str, word: str) -> int:
    context = await browser.new_context(viewport=VIEWPORT)
    page = await context.new_page()
    try:
        await page.goto(f"{base}search.html?q={word}", wait_until="load", timeout=PAGE_TIMEOUT_MS)
        await page.wait_for_selector("#search-results ul.search li", timeout=PAGE_TIMEOUT_MS)
        return await page.locator("#search-results ul.search li").count()
    finally:
        await context.close()


async def _open_all(base: str, pages: list[str], search: str | None) -> tuple[dict[str, dict], int]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            sem = asyncio.Semaphore(PARALLEL_PAGES)
            reports = await asyncio.gather(*[_visit(browser, base, path, sem) for path in pages])
            hits = await _search_hits(browser, base, search) if search else 0
        finally:
            await browser.close()
    return dict(zip(pages, reports)), hits


def _reading_problems(report: dict) -> list[str]:
    """What a notebook page shows its reader that it must not (tests/teaching/reading.py, the rules
    test_notebook_outputs.py applies to the .ipynb): a table labelled by pandas' row numbers, a
    ``--method`` / ``--arch`` key in a table or a printed output, a printed line wider than its
    box (it neither fits nor wraps), and a first paragraph after the title that is not the question."""
    problems = []
    keys: dict[str, str] = {}
    for table in report["tables"]:
        labels = table["labels"]
        if len(labels) > 1 and labels == [str(k) for k in range(len(labels))]:
            problems.append(f"a table labelled by pandas' row numbers 0..{len(labels) - 1} "
                            f"(its first headers: {', '.join(table['head']) or 'none'}); show_table labels rows by a column")
        for cell in table["headers"]:
            if is_raw_key(cell):
                keys.setdefault(cell if cell in RAW_KEYS else raw_keys_in(cell)[0], "a table")
        for cell in table["values"]:
            for key in raw_keys_in(cell):
                keys.setdefault(key, "a table")
    for block in report["printed"]:
        for key in raw_keys_in(block["text"]):
            keys.setdefault(key, "a printed output")
        if block["scrollWidth"] > block["clientWidth"]:
            problems.append(f"a printed line neither fits nor wraps ({block['scrollWidth']} px in a "
                            f"{block['clientWidth']} px box): {block['line'].strip()[:60]!r}...")
    problems += [f"the key {key!r} in {where}; name it in words (pfrlib.methods.label, models.model_title)"
                 for key, where in keys.items()]
    first = report["afterTitle"]
    if first is None:
        problems.append("no title (h1)")
    elif first["tag"] != "p" or not is_the_question(first["lead"], first["text"]):
        problems.append(f"the first paragraph after the title is not the question ('{QUESTION_LEAD} ...?'): "
                        f"{first['tag'] or 'nothing'} {first['text'][:60]!r}")
    return problems


def site_problems(html: Path, server: "_Server", pages: list[str], notebooks: list[Path],
                  search: str | None = None) -> tuple[list[str], str]:
    """Open every page of the site in `html` (served by `server`) in Chromium and list what is wrong:
    console errors and failed or foreign requests, broken links, anchors and images, pages wider
    than MAX_WIDTH, notebook figures missing from their page (`notebooks`: the .ipynb whose page is
    notebooks/<stem>.html), and a `search` that finds nothing. Also returns a one-line summary.

    On each notebook page, what its reader sees (`_reading_problems`, measured by PAGE_REPORT_JS in
    the same page load): a table labelled by pandas' row numbers, a ``--method`` / ``--arch`` key
    in a table or a printed output, a printed line that neither fits its box nor wraps, and a first
    paragraph after the title that is not the question. Text inside a figure is pixels to a
    browser: overlapping labels, legends and values are checked on the figure functions themselves
    with matplotlib's renderer (tests/viz/test_figure_layout.py)."""
    base = server.base
    problems = [f"loads from another host: {ref}" for ref in _external_refs(html)]
    reports, hits = asyncio.run(_open_all(base, pages, search))
    problems += sorted(set(server.errors))
    ids = {path: set(r["ids"]) for path, r in reports.items()}
    checked: dict[str, bool] = {}
    for path, report in reports.items():
        problems += [f"{path}: {p}" for p in report["problems"]]
        if report["width"] > MAX_WIDTH:
            problems.append(f"{path}: {report['width']} px wide at a {MAX_WIDTH} px viewport; "
                            f"widest element: {report['widest']}")
        for img in report["images"]:
            if not img["ok"]:
                problems.append(f"{path}: broken image {img['src']}")
        for link in report["links"]:
            if not link.startswith(base):
                continue                               # the web: not loaded, not checked here
            target, _, fragment = link[len(base):].partition("#")
            target = urllib.parse.unquote(target.split("?")[0]) or "index.html"
            if target.endswith("/"):
                target += "index.html"
            if target not in checked:
                checked[target] = (html / target).is_file()
            if not checked[target]:
                problems.append(f"{path}: broken link {link}")
            elif fragment and target in ids and urllib.parse.unquote(fragment) not in ids[target]:
                problems.append(f"{path}: link to a missing anchor {link}")
    for nb in notebooks:
        page = f"notebooks/{nb.stem}.html"
        want = _expected_figures(nb)
        got = reports[page]["outputImages"]
        if got != want:
            problems.append(f"{page}: {got} figures in its outputs, the notebook has {want}")
        problems += [f"{page}: {p}" for p in _reading_problems(reports[page])]
    if search and hits == 0:
        problems.append(f"search.html?q={search} found nothing")
    summary = f"{len(pages)} pages, {len(checked)} link targets" + (f", search {search!r}: {hits} hits" if search else "")
    return problems, summary


BROKEN_PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>broken</title>
<script src="http://example.invalid/cdn.js"></script></head><body>
<a href="missing.html">gone</a> <a href="fine.html#nowhere">no such anchor</a> <a href="fine.html#here">ok</a>
<img src="nothere.png" alt="missing">
<div style="width: 3000px" class="wide-table">a table too wide</div>
<script>console.error("boom")</script>
</body></html>"""
FINE_PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>fine</title></head>
<body><h1 id="here">fine</h1></body></html>"""
NOTEBOOK_PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>nb</title></head>
<body><h1>01 · A lab</h1><p>Some prose before any question.</p>
<div class="cell_output"><pre>no figure here</pre></div>
<div class="cell_output"><table><thead><tr><th></th><th>method</th><th>mIoU</th></tr></thead>
<tbody><tr><th>0</th><td>pfr_adv</td><td>40.0</td></tr><tr><th>1</th><td>AdaptSegNet</td><td>35.1</td></tr>
<tr><th>2</th><td>Oracle</td><td>70.2</td></tr></tbody></table></div>
<div class="cell_output"><pre style="width: 300px; overflow-x: auto; white-space: pre">a long printed line that runs on past the edge of its box, trained with tgcf_da and never broken</pre></div>
</body></html>"""
# Passes every check: the download box skipped, the question first, rows in words, a value "pfr"
# (the loss term), keys only as an option's value and in a path, a long line that wraps at spaces.
FINE_NOTEBOOK_PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>fine nb</title></head>
<body><h1>02 · Another lab</h1><div class="admonition %(downloads)s"><p>Download this lab</p></div>
<p><strong>%(lead)s</strong> does it work?</p>
<div class="cell_output"><table><thead><tr><th></th><th>term</th></tr></thead>
<tbody><tr><th>PFR (the paper's method)</th><td>pfr</td></tr><tr><th>AdaptSegNet</th><td>adv</td></tr></tbody></table></div>
<div class="cell_output"><pre style="width: 300px; overflow-x: auto; white-space: pre-wrap">python -m pfrlib.train --method adaptsegnet_st --arch dilated_r50 writes runs/series/self_training_s0 and runs/series/pfr_adv/final.json
python benchmarks/ablation.py --methods source_only \\
    pfr_adv_st oracle --seeds 0 1</pre></div>
</body></html>""" % {"downloads": build_site.DOWNLOAD_BOX_CLASS, "lead": QUESTION_LEAD}


def test_the_browser_check_finds_what_it_should(tmp_path):
    """The checks fail where they must: a foreign script, a console error, a missing page, anchor
    and image, a page 3,000 px wide, a notebook figure that is not on its page, and on a notebook
    page a table labelled 0..n-1, a raw key in a table and in a printed output, a printed line
    wider than its box and prose before the question; a page that does all this right passes."""
    _need_browser()
    site = tmp_path / "html"
    (site / "notebooks").mkdir(parents=True)
    (site / "index.html").write_text(BROKEN_PAGE)
    (site / "fine.html").write_text(FINE_PAGE)
    (site / "notebooks" / "nb.html").write_text(NOTEBOOK_PAGE)
    (site / "notebooks" / "fine_nb.html").write_text(FINE_NOTEBOOK_PAGE)
    notebook, fine_notebook = tmp_path / "nb.ipynb", tmp_path / "fine_nb.ipynb"
    notebook.write_text(json.dumps({"cells": [{"cell_type": "code", "source": "", "metadata": {},
                                               "outputs": [{"output_type": "display_data", "metadata": {},
                                                            "data": {"image/png": "iVBORw0KGgo=", "text/plain": "x"}}]}]}))
    fine_notebook.write_text(json.dumps({"cells": []}))
    server = _Server(site)
    try:
        problems, _ = site_problems(site, server, ["index.html", "fine.html", "notebooks/nb.html", "notebooks/fine_nb.html"],
                                    [notebook, fine_notebook])
    finally:
        server.close()
    text = "\n".join(problems)
    for expected in ("loads from another host: index.html", "request to another host: http://example.invalid/cdn.js",
                     "index.html: console error: boom", "index.html: broken link", "missing.html",
                     "link to a missing anchor", "fine.html#nowhere", "broken image", "nothere.png",
                     "HTTP 404 served for /nothere.png",
                     "px wide at a 1200 px viewport", "widest element: div.wide-table", "notebooks/nb.html: 0 figures in its outputs, the notebook has 1",
                     "notebooks/nb.html: a table labelled by pandas' row numbers 0..2 (its first headers: method, mIoU)",
                     "notebooks/nb.html: the key 'pfr_adv' in a table",
                     "notebooks/nb.html: the key 'tgcf_da' in a printed output",
                     "notebooks/nb.html: a printed line neither fits nor wraps", "'a long printed line that runs on",
                     "notebooks/nb.html: the first paragraph after the title is not the question", "'Some prose before any question.'"):
        assert expected in text, f"{expected!r} not reported; got:\n{text}"
    assert "fine.html#here" not in text and not any(p.startswith("fine.html") for p in problems)
    assert not any(p.startswith("notebooks/fine_nb.html") for p in problems), text


def test_site_in_a_browser(served_site):
    html, server = served_site
    start = time.perf_counter()
    pages = _pages(html)
    # Every notebook, guide and the README is a page, besides the home and search pages.
    expected = {"index.html", "README.html", "search.html",
                *(f"notebooks/{nb.stem}.html" for nb in build_site.notebooks()),
                *(f"docs/{d.stem}.html" for d in build_site.doc_pages())}
    assert not expected - set(pages), f"pages missing from the site: {sorted(expected - set(pages))}"
    # Each notebook page links the notebook and its student copy, the files exactly as committed.
    for nb in build_site.notebooks():
        page = (html / "notebooks" / f"{nb.stem}.html").read_text(encoding="utf-8")
        files = {(html / "notebooks" / urllib.parse.unquote(href)).resolve()
                 for href in re.findall(r'href="([^"#]*_downloads/[^"]*\.ipynb)"', page)}
        wanted = [nb] + [p for p in [REPO / "student" / nb.name] if p.is_file()]
        for original in wanted:
            assert any(f.is_file() and f.read_bytes() == original.read_bytes() for f in files), (
                f"notebooks/{nb.stem}.html has no download of {original.relative_to(REPO)} as committed")
    problems, summary = site_problems(html, server, pages, build_site.notebooks(), search="gram")
    print(f"{summary}, opened in Chromium in {time.perf_counter() - start:.1f} s")
    assert not problems, f"{len(problems)} problems on the site:\n" + "\n".join(problems)
