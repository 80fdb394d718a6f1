"""Build hook (everything else is in pyproject.toml): a wheel carries the top-level folders the
app reads at run time inside the package, where explorer.assets looks first:

    resources/                           -> explorer/resources/   (icon, launcher entry, help)
    checkpoints/*.safetensors            -> explorer/checkpoints/ (the default model, and the one
                                            File > Models offers beside it)

An editable install (`pip install -e .`) copies nothing: it reads them from the source tree.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
SHIPPED = ("resources", "checkpoints")


def _only(pattern: str):  # noqa: ANN202 (shutil's ignore callback)
    """copytree's ignore: every file not matching `pattern`."""
    import fnmatch

    def ignore(folder: str, names: list[str]) -> list[str]:
        return [n for n in names if not fnmatch.fnmatch(n, pattern)]

    return ignore


class BuildPyWithResources(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        package = Path(self.build_lib) / "explorer"
        for rel in SHIPPED:
            src, dest = ROOT / rel, package / rel
            if src.is_dir():
                keep = "*.safetensors" if rel == "checkpoints" else None
                shutil.copytree(src, dest, dirs_exist_ok=True,
                                ignore=_only(keep) if keep else
                                shutil.ignore_patterns("__pycache__", "*.pyc"))
            elif src.is_file():
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, dest)
            else:
                raise FileNotFoundError(f"{src} is missing: the wheel must carry it")


setup(cmdclass={"build_py": BuildPyWithResources})
