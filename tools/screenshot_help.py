"""Screenshot of the whole desktop: the window with its icon in the title bar, the Help guide
and the About box. Run under Xvfb with a window manager that draws title bars:

    timeout 180 xvfb-run -a -s "-screen 0 1366x800x24" sh -c \\
        'openbox & sleep 1; nice -n 15 .venv/bin/python tools/screenshot_help.py'

Writes docs/screenshots/help_guide.png.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default=None)
    p.add_argument("--out", default=str(ROOT / "docs" / "screenshots" / "help_guide.png"))
    args = p.parse_args(argv)

    from PySide6.QtWidgets import QApplication

    from explorer.ui.launch import OPENED, launch

    status = launch(["--model", args.model] if args.model else [], exec_loop=False)
    if status:
        return status
    win = OPENED.pop()
    app = QApplication.instance()

    def wait(seconds: float) -> None:
        end = time.time() + seconds
        while time.time() < end:
            app.processEvents()
            time.sleep(0.01)

    win.resize(1000, 700)
    win.move(0, 0)
    wait(1.0)
    win.canvas.grid.setCurrentIndex(1)  # a 2x2 grid
    win.show_help("guide")
    win.help_window.resize(560, 680)
    win.help_window.move(790, 90)
    wait(0.5)
    win.about_app()
    wait(0.5)
    win._about.move(20, 500)
    wait(1.5)
    shot = app.primaryScreen().grabWindow(0)  # the whole screen, title bars included
    if not shot.save(args.out):
        raise OSError(f"could not write {args.out}")
    print("wrote", args.out, shot.width(), "x", shot.height())
    win.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
