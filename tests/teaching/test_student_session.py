"""A student's session leaves the repository clean: run and save a release copy the way JupyterLab does.

JupyterLab saves (and autosaves) a notebook with a PUT to the server's contents API, through the
contents manager the server is configured with; in this venv that is jupytext's, which pairs a
notebook with a ``.py`` script wherever the nearest ``jupytext.toml`` says so. The test starts a
real server on 127.0.0.1 (random port, token), saves an executed release copy through it, and checks
that ``git status`` does not change. A control save into an ignored folder without the release's
``jupytext.toml`` must create the ``.py`` twin: that proves pairing is really on in the server, so
the clean status is the release folder's doing.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = "01_gram_matrices"


def _git_status() -> str:
    return subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=ROOT,
                          capture_output=True, text=True, check=True).stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``jupyter server`` at the repository root, as ``make lab`` starts it (without the browser)."""

    def __init__(self, runtime: Path):
        self.port, self.token = _free_port(), secrets.token_hex(16)
        env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(runtime))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter_server", f"--ServerApp.root_dir={ROOT}", "--ServerApp.ip=127.0.0.1",
             f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0", "--ServerApp.open_browser=False",
             "--ServerApp.allow_root=True",
             f"--IdentityProvider.token={self.token}"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while True:
            try:
                self.request("GET", "/api/status")
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"jupyter server did not start: {self.proc.stderr.read()[-2000:]}")
                time.sleep(0.5)

    def request(self, method: str, path: str, body: dict | None = None) -> dict:
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                return json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as err:  # the server's reason, not just the status
            raise AssertionError(f"{method} {path}: {err.code} {err.read()[:500]!r}") from None

    def save(self, rel: str, nb) -> dict:
        """What JupyterLab's save does: PUT the notebook model to /api/contents/<path>."""
        return self.request("PUT", f"/api/contents/{rel}", {"type": "notebook", "format": "json", "content": nb})

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.mark.slow
def test_running_and_saving_a_release_copy_changes_no_tracked_file(tmp_path, monkeypatch):
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    tag = f"session-test-{os.getpid()}"  # not hidden: the server refuses hidden paths
    release = ROOT / "assignments" / tag  # under the ignored assignments/, where `make assignments` writes
    control = ROOT / "runs" / tag
    before = _git_status()
    server = None
    try:
        done = subprocess.run([sys.executable, "-m", "pfrlib.teaching.assignments", f"notebooks/{NOTEBOOK}.ipynb",
                               "--out", f"assignments/{tag}", "--grading", str(tmp_path / "grading")],
                              cwd=ROOT, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        # run it, as a student does: from its folder, where its runs and figures go
        from nbclient import NotebookClient

        nb = nbformat.read(release / f"{NOTEBOOK}.ipynb", as_version=4)
        monkeypatch.setenv("PFR_SMOKE", "1")
        NotebookClient(nb, timeout=300, resources={"metadata": {"path": str(release)}}).execute()
        assert any(c.get("outputs") for c in nb.cells)
        server = Server(tmp_path / "runtime")
        saved = server.save(f"assignments/{tag}/{NOTEBOOK}.ipynb", nb)
        assert saved["type"] == "notebook"
        control.mkdir(parents=True)
        server.save(f"runs/{tag}/{NOTEBOOK}.ipynb", nb)
        assert (control / f"{NOTEBOOK}.py").exists(), "control: the server's contents manager pairs notebooks"
        on_disk = nbformat.read(release / f"{NOTEBOOK}.ipynb", as_version=4)
        assert any(c.get("outputs") for c in on_disk.cells), "the save reached the release copy"
        assert "jupytext" not in on_disk.metadata
        assert not list(release.glob("*.py")), "no paired script beside the release copy"
        assert _git_status() == before, "a student's session changed what git sees"
    finally:
        if server:
            server.stop()
        for folder in (release, control):
            shutil.rmtree(folder, ignore_errors=True)
            if folder.parent.is_dir() and not any(folder.parent.iterdir()):
                folder.parent.rmdir()  # the test created it


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_lab_opens_the_release_copies_and_makes_them_only_when_missing(tmp_path):
    """``make lab`` is the student's: it opens assignments/ (writing it with ``make assignments`` only
    when it holds no notebook, never over a student's work); ``make lab-instructor`` opens notebooks/."""
    for name in ("Makefile", "requirements.txt", "pyproject.toml"):  # a stand-in checkout, without assignments/
        shutil.copy(ROOT / name, tmp_path / name)

    def dry_run(target: str) -> str:  # -n: the commands make would run, none of them run
        done = subprocess.run(["make", "-n", "--no-print-directory", target], cwd=tmp_path, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done.stdout

    text = dry_run("lab")
    assert "-m pfrlib.teaching.assignments --out assignments" in text and "default_url=/lab/tree/assignments" in text
    (tmp_path / "assignments").mkdir()
    (tmp_path / "assignments" / f"{NOTEBOOK}.ipynb").write_text("{}")
    text = dry_run("lab")
    assert "pfrlib.teaching.assignments" not in text and "default_url=/lab/tree/assignments" in text
    assert "default_url=/lab/tree/notebooks" in dry_run("lab-instructor")
