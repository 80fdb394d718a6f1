"""Where the app's non-code files are, from the source tree and from an installed wheel.

The repository keeps them at the top level: ``resources/`` (icon, launcher entry, MIME type, help
pages) and ``checkpoints/`` (the bundled model). A wheel carries the same two folders inside the
package (``explorer/resources/``, ``explorer/checkpoints/``; see setup.py), so
one relative name finds a file either way: the package's copy first, then the source tree's.
No Qt here: the core (the default model) and the desktop installer use it too.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
SOURCE_ROOT = PACKAGE_DIR.parent
ICON_NAME = "face-explorer"  # the freedesktop icon name and the launcher entry's Icon=
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
MODEL_MIME = "application/x-face-explorer-model"
# The model the app opens by default: the conditional style G, which beats the DCGAN
# (checkpoints/celeba64.safetensors, shipped beside it) on the held-out report's edit flips,
# reconstruction, FD and clean faces, with about the same collateral, but renders 1.3-1.4x
# slower (docs/evaluation.md, docs/performance.md).
DEFAULT_MODEL_NAME = "style64-cond.safetensors"


class MissingResource(FileNotFoundError):
    """A file the app ships is not there (a broken install); `str(e)` names it."""


def resource_path(relative: str, must_exist: bool = True) -> Path:
    """``resource_path("resources/help/guide.html")``: the file in the wheel, else in the
    source tree; MissingResource if neither has it (unless ``must_exist`` is False, when the
    source tree's path is returned as is)."""
    for root in (PACKAGE_DIR, SOURCE_ROOT):
        p = root / relative
        if p.exists():
            return p
    if must_exist:
        raise MissingResource(f"{relative} is missing from this installation "
                              f"(looked in {PACKAGE_DIR} and {SOURCE_ROOT})")
    return SOURCE_ROOT / relative


def resources_dir() -> Path:
    """The folder holding icons/, help/, the .desktop entry and the MIME description."""
    return resource_path("resources")


def icon_svg() -> Path:
    return resource_path(f"resources/icons/{ICON_NAME}.svg")


def icon_png(size: int) -> Path:
    return resource_path(f"resources/icons/{ICON_NAME}-{size}.png")


def help_page(name: str) -> Path:
    """A help page by stem: "guide" or "shortcuts"."""
    return resource_path(f"resources/help/{name}.html")


def default_model_file() -> Path:
    """The bundled model (it may be absent in a bare source checkout: not checked here)."""
    return resource_path(f"checkpoints/{DEFAULT_MODEL_NAME}", must_exist=False)
