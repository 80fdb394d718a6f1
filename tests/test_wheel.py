"""A built wheel installed into a fresh venv in another folder finds its icon, help pages and
the default model, and `face-explorer sample` draws faces with it (issue 16, 17)."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from testdata import ROOT

# Not part of a build: the source tree's caches, outputs, docs and tests.
SKIP = ("", ".git", ".venv", "runs", ".cache", "build", "dist", "docs", "tests", "benchmarks",
        "__pycache__", ".pytest_cache", ".ruff_cache", ".import_linter_cache", ".whl", ".gl",
        "*.egg-info")
PROBE = """
import json, sys
from PySide6.QtWidgets import QApplication
app = QApplication(sys.argv[:1])
import explorer
from explorer import assets
from explorer.core.bundle import default_model_path
from explorer.ui.help import app_icon
print(json.dumps({"package": explorer.__file__, "version": explorer.__version__,
                  "icon": str(assets.icon_svg()), "guide": str(assets.help_page("guide")),
                  "desktop": str(assets.resource_path("resources/face-explorer.desktop")),
                  "model": str(default_model_path()), "qicon": not app_icon().isNull()}))
"""


def _ignore(folder: str, names: list[str]) -> set[str]:
    top = Path(folder) == ROOT
    return {n for n in names if n in ("__pycache__", ".git") or n.endswith(".egg-info")
            or (top and n in SKIP)}


@pytest.mark.slow
def test_wheel_in_a_fresh_venv_finds_resources_and_draws_samples(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=_ignore, symlinks=True)
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "FACE_EXPLORER_MODEL")}
    env["QT_QPA_PLATFORM"] = "offscreen"
    # With setuptools here, build offline; else pip fetches it into an isolated build env.
    isolation = ["--no-build-isolation"] if importlib.util.find_spec("setuptools") else []
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "-q",
                    *isolation, "-w", str(tmp_path / "dist")], check=True, env=env, cwd=tmp_path)
    (wheel,) = (tmp_path / "dist").glob("face_explorer-*.whl")

    # A fresh venv; the heavy dependencies (torch, Qt, ...) are borrowed from this one, after
    # the venv's own site-packages, so the installed wheel is the `explorer` it imports.
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = venv / "bin" / "python"
    site = Path(subprocess.run([py, "-c", "import sysconfig; print(sysconfig.get_paths()"
                                "['purelib'])"], capture_output=True, text=True, check=True,
                               env=env).stdout.strip())
    borrowed = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site / "borrowed-deps.pth").write_text("\n".join(sorted(borrowed)) + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps",
                    "--no-index", "-q", str(wheel)], check=True, env=env, cwd=tmp_path)

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    probe = subprocess.run([py, "-c", PROBE], capture_output=True, text=True, env=env,
                           cwd=elsewhere)
    assert probe.returncode == 0, probe.stderr
    found = json.loads(probe.stdout.strip().splitlines()[-1])
    package = Path(found.pop("package")).parent
    assert site in package.parents, package  # the installed copy, not the source tree
    assert found.pop("qicon") and found.pop("version")
    for name, path in found.items():
        assert Path(path).is_file() and package in Path(path).parents, (name, path)
    from explorer.assets import DEFAULT_MODEL_NAME

    for shipped in sorted((ROOT / "checkpoints").glob("*.safetensors")):  # File > Models' too
        copy = Path(found["model"]).parent / shipped.name
        assert copy.stat().st_size == shipped.stat().st_size, shipped.name
    assert Path(found["model"]).name == DEFAULT_MODEL_NAME

    out = elsewhere / "faces.png"
    r = subprocess.run([venv / "bin" / "face-explorer", "sample", "--seeds", "0-3", "--threads",
                        "1", "--size", "64", "--out", str(out)], capture_output=True, text=True,
                       env=env, cwd=elsewhere)
    assert r.returncode == 0, r.stderr
    import numpy as np
    from PIL import Image

    grid = np.asarray(Image.open(out).convert("RGB"))
    assert grid.shape == (64, 4 * 64, 3) and grid.std() > 20  # four faces, not a blank
