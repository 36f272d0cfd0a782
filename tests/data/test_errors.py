"""pfrlib.data.errors: a data file's error keeps one line when torch re-raises it from a DataLoader worker."""

from __future__ import annotations

import pytest

from pfrlib.data.errors import DataFileError


@pytest.mark.reliability
def test_data_file_error_parses_the_text_torch_reraises_with():
    text = ("Caught DataFileError in DataLoader worker process 3.\nOriginal Traceback (most recent call last):\n"
            '  File "x.py", line 1, in <module>\n    f()\n'
            "pfrlib.data.errors.DataFileError: cannot decode image /d/a.png (corrupt or truncated file?): broken\n")
    err = DataFileError(text)
    assert str(err) == "cannot decode image /d/a.png (corrupt or truncated file?): broken (in a DataLoader worker)"
    assert err.worker_traceback == text and isinstance(err, ValueError)
    assert str(DataFileError("label /d/a.png\nis bad", "/d/a.png")) == "label /d/a.png is bad"
