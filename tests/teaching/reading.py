"""What a reader of a notebook must (not) see, defined once for the two checks that read it: the
saved outputs of the .ipynb (test_notebook_outputs.py) and the rendered pages of the course site
in a browser (test_site.py).

- ``RAW_KEYS``: the ``--method`` and ``--arch`` keys, read from their registries
  (``pfrlib.methods.names()``, ``pfrlib.models.MODEL_NAMES``), which a table names in words;
- ``raw_keys_in``: those of them with an underscore found as words in any text (a key without one,
  ``small``, ``pfr``, is also an English word or a loss term: only a table's header or row label
  that reads exactly it is a key, ``is_raw_key``);
- ``is_the_question``: the paragraph after a notebook's title states its question.
"""

from __future__ import annotations

import re

from pfrlib import methods
from pfrlib.models import MODEL_NAMES
from pfrlib.paper.metrics import CITYSCAPES_CLASSES

#: Keys that are never words: ``--method`` and ``--arch`` names a table must not show (a method
#: named like a class, ``road``, is left to the classes).
RAW_KEYS = frozenset({*MODEL_NAMES, *(n for n in methods.names() if n not in CITYSCAPES_CLASSES)})
_RAW_TOKEN = re.compile(r"\b(" + "|".join(sorted((k for k in RAW_KEYS if "_" in k), key=len, reverse=True)) + r")\b")

#: The bold words that open the paragraph after a notebook's title: ``**The question:** ...?``.
QUESTION_LEAD = "The question:"


#: Where a key is what the reader types rather than a name: the value of its command-line option
#: (``--method pfr_adv``, ``--arch deeplabv2_r101``: pfrlib.config.command_line's flags of the
#: fields ``method`` and ``arch``).
_OPTION_BEFORE = re.compile(r"--(?:method|arch)[ =]$")
#: ... and a key in the list of a ``--methods`` option (``benchmarks/ablation.py --methods
#: source_only pfr_adv``, a results file's command, its words maybe broken over shell-continued lines).
_LIST_OPTION_BEFORE = re.compile(r"--methods(?:[ \t\n\\]+\w+)*[ \t\n\\]+$")


def raw_keys_in(text: str) -> list[str]:
    """The keys with an underscore that `text` shows as words (``pfr_adv``, ``deeplabv2_r101``);
    not the value of a ``--method`` / ``--arch`` option or one of a ``--methods`` list, nor a part
    of a path (a run's folder, ``runs/series/source_only``), which a reader types as they are."""
    found = []
    for m in _RAW_TOKEN.finditer(text):
        before, after = text[:m.start()], text[m.end():]
        if (_OPTION_BEFORE.search(before) or _LIST_OPTION_BEFORE.search(before) or before.endswith("/")
                or after.startswith("/")):
            continue
        found.append(m.group(1))
    return found


def is_raw_key(label: str) -> bool:
    """A table's header or row label (its text, spaces collapsed) that is a key, or shows one with
    an underscore (a value cell may read ``pfr``, the loss term: :func:`raw_keys_in` there)."""
    return label in RAW_KEYS or bool(raw_keys_in(label))


def is_the_question(lead: str, paragraph: str) -> bool:
    """The rule for the paragraph after a notebook's title: it opens with the bold `lead`
    QUESTION_LEAD and ends with a question mark. `lead` is the text of its opening bold words
    (``**...**`` in markdown, ``<strong>`` on the page), "" when it opens with none."""
    return lead.strip() == QUESTION_LEAD and paragraph.rstrip().endswith("?")


def markdown_lead(paragraph: str) -> str:
    """The text of the bold words a markdown paragraph opens with (``**The question:** ...``)."""
    m = re.match(r"\*\*(.+?)\*\*", paragraph.lstrip())
    return m.group(1) if m else ""
