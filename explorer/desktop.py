"""Install the launcher entry, icons and model-file MIME type for the current user, or remove them.

``face-explorer --install-desktop`` / ``--uninstall-desktop`` (and ``make install-desktop``) write
only under ``$XDG_DATA_HOME`` (default ``~/.local/share``), following the XDG base-directory spec:

    applications/face-explorer.desktop           the launcher entry (Exec= this installation)
    icons/hicolor/scalable/apps/face-explorer.svg
    icons/hicolor/NxN/apps/face-explorer.png     one per size in explorer.assets.ICON_SIZES
    mime/packages/face-explorer.xml              *.safetensors model files

Afterwards the desktop's caches are refreshed with `update-mime-database` and
`update-desktop-database` where they exist (those tools rewrite their own index files beside ours).
No Qt here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from explorer.assets import ICON_NAME, ICON_SIZES, icon_png, icon_svg, resource_path

DESKTOP_FILE = "face-explorer.desktop"
MIME_FILE = "face-explorer.xml"
RESERVED = " \t\n\"'\\><~|&;$*?#()`%"  # Exec= characters that need quoting (and % escaping)


def data_home() -> Path:
    """$XDG_DATA_HOME if set to an absolute path (the spec ignores relative ones), else
    ~/.local/share."""
    env = os.environ.get("XDG_DATA_HOME", "")
    return Path(env) if env and Path(env).is_absolute() else Path.home() / ".local" / "share"


def planned_files(root: Path | None = None) -> dict[Path, Path]:
    """Every file the install writes (destination -> shipped source), under ``root``."""
    root = root or data_home()
    icons = root / "icons" / "hicolor"
    files = {
        root / "applications" / DESKTOP_FILE: resource_path(f"resources/{DESKTOP_FILE}"),
        icons / "scalable" / "apps" / f"{ICON_NAME}.svg": icon_svg(),
        root / "mime" / "packages" / MIME_FILE: resource_path("resources/face-explorer-mime.xml"),
    }
    for s in ICON_SIZES:
        files[icons / f"{s}x{s}" / "apps" / f"{ICON_NAME}.png"] = icon_png(s)
    return files


def launch_command() -> str:
    """How the launcher starts this installation: its `face-explorer` script if there is one
    beside this Python, else this Python running explorer.app (a source checkout)."""
    script = Path(sys.executable).parent / "face-explorer"
    if script.exists():
        return _quote(str(script))
    return f"{_quote(sys.executable)} -m explorer.app"


def _quote(arg: str) -> str:
    """An Exec= argument: quoted (desktop-entry rules) only when it has a reserved character."""
    if arg and not any(c in RESERVED for c in arg):
        return arg
    return '"' + "".join("\\" + c if c in '"`$\\' else c for c in arg).replace("%", "%%") + '"'


def desktop_entry_text(exec_cmd: str | None = None) -> str:
    """The shipped launcher entry with Exec= pointing at this installation."""
    src = resource_path(f"resources/{DESKTOP_FILE}").read_text(encoding="utf-8")
    exec_cmd = exec_cmd or launch_command()
    lines = [f"Exec={exec_cmd} %F" if ln.startswith("Exec=") else ln for ln in src.splitlines()]
    if "PYTHONPATH" in os.environ and exec_cmd.endswith("-m explorer.app"):
        # A source checkout run with PYTHONPATH: the launcher needs it too.
        path = os.environ["PYTHONPATH"]
        lines = [f"Exec=env {_quote('PYTHONPATH=' + path)} {exec_cmd} %F"
                 if ln.startswith("Exec=") else ln for ln in lines]
    return "\n".join(lines) + "\n"


def install(root: Path | None = None, refresh: bool = True) -> list[Path]:
    """Write the files of `planned_files`; return them."""
    root = root or data_home()
    written = []
    for dest, src in planned_files(root).items():
        dest.parent.mkdir(parents=True, exist_ok=True)
        if dest.name == DESKTOP_FILE:
            dest.write_text(desktop_entry_text(), encoding="utf-8")
        else:
            shutil.copyfile(src, dest)
        written.append(dest)
    if refresh:
        _refresh(root)
    return written


def uninstall(root: Path | None = None, refresh: bool = True) -> list[Path]:
    """Remove the files `install` writes (those present); prune folders left empty; return the
    removed files. The caches are refreshed first, while mime/packages/ still exists: then
    update-mime-database drops our types from its index instead of giving up."""
    root = root or data_home()
    removed = []
    for dest in planned_files(root):
        if dest.is_file() or dest.is_symlink():
            dest.unlink()
            removed.append(dest)
    if refresh:
        _refresh(root)
    for dest in removed:
        for d in dest.parents:
            if d == root or root not in d.parents:
                break
            try:
                d.rmdir()  # only succeeds when empty
            except OSError:
                break
    return removed


def _refresh(root: Path) -> None:
    for tool, folder in (("update-mime-database", root / "mime"),
                         ("update-desktop-database", root / "applications")):
        if shutil.which(tool) and folder.is_dir():
            subprocess.run([tool, str(folder)], check=False, capture_output=True)


def main(action: str) -> int:
    """``install`` or ``uninstall``, printing what was done; exit status 0, or 2 on error."""
    try:
        files = install() if action == "install" else uninstall()
    except OSError as e:
        print(f"face-explorer: cannot {action} the desktop entry: {e}", file=sys.stderr)
        return 2
    verb = "installed" if action == "install" else "removed"
    print(f"{verb} {len(files)} files under {data_home()}")
    for f in files:
        print(f"  {f}")
    return 0
