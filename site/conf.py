"""Sphinx configuration of the course site (built by site/build_site.py: `make site`).

Offline by construction: the theme (sphinx-book-theme), its fonts and icons, the search index and
MathJax (sphinx-mathjax-offline) all come from installed packages, and MyST-NB renders the
committed notebooks with their saved outputs, never executing them.
"""

project = "pfr: Progressive Feature Refinement, a course"
author = "the pfr authors"
copyright = "the pfr authors"

extensions = ["myst_nb", "sphinx-mathjax-offline"]

root_doc = "index"
# download/: the committed notebooks and student copies, linked for download (site/build_site.py)
exclude_patterns = ["download/**", "figures/**", "**/.ipynb_checkpoints"]

# --- MyST (markdown in docs/, README.md and the notebooks' text cells)
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 4          # docs link to headings: results.md#table-1-synthstreets-edition

# --- MyST-NB: the committed outputs as they are
nb_execution_mode = "off"
nb_merge_streams = True
# Widgets are saved with their state; their JavaScript would come from a CDN, so none is loaded:
# the figure each interactive view drew when the notebook ran is what the page shows.
nb_ipywidgets_js = {}
nb_mime_priority_overrides = [("html", "application/vnd.jupyter.widget-view+json", None)]

# --- HTML
html_theme = "sphinx_book_theme"
html_title = "pfr: a course on domain adaptation for segmentation"
html_static_path = ["_static"]
# A page without an icon makes the browser ask for /favicon.ico, which the site does not have.
html_favicon = "_static/favicon.svg"
html_css_files = ["pfr-site.css"]
html_last_updated_fmt = None
html_show_sourcelink = False
html_theme_options = {
    "show_toc_level": 2,
    # Each notebook page links the committed notebook and its student copy itself; the theme's
    # button would offer the page's source, which carries the site's download box.
    "use_download_button": False,
    "use_fullscreen_button": False,
    "use_repository_button": False,
    "navigation_with_keys": False,
    "home_page_in_toc": True,
    # The home page's lab table needs the width: no "contents" column beside it.
    "secondary_sidebar_items": {"**": ["page-toc"], "index": []},
}
# The theme reads its colour mode from here; without it a first visit logs the console error
# "Got invalid theme mode" (the browser test fails on console errors).
html_context = {"default_mode": "light"}
