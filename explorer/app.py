"""`face-explorer`: a subcommand runs headless (see explorer.cli); without one, it opens the window.

Nothing heavy is imported at module level, so `face-explorer --help` is instant.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    from explorer.cli import SUBCOMMANDS

    if argv and argv[0] in SUBCOMMANDS or argv[:1] in (["-h"], ["--help"]):
        from explorer.cli import main as cli_main

        return cli_main(argv)
    from explorer.ui.launch import launch

    return launch(argv)


if __name__ == "__main__":
    sys.exit(main())
