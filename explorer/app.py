"""`face-explorer`: a subcommand runs headless (see explorer.cli); without one, it opens the window.

Nothing heavy is imported at module level, so `face-explorer --help` is instant. A first word that
is neither a subcommand, an option nor an existing file (`face-explorer smaple`) is a mistyped
subcommand: it gets a one-line error naming the closest command, not a window trying to open a
photo called "smaple".
"""

from __future__ import annotations

import sys
from pathlib import Path


def mistyped_command(argv: list[str], commands: tuple[str, ...]) -> str | None:
    """The error line for a first word that looks like a mistyped subcommand, else None."""
    if not argv or argv[0].startswith("-"):
        return None
    word = argv[0]
    if Path(word).exists() or Path(word).suffix or "/" in word or "\\" in word:
        return None  # a photo (the window says if it is missing)
    import difflib

    close = difflib.get_close_matches(word, commands, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return (f"face-explorer: unknown command '{word}'{hint}. Commands: {', '.join(commands)}; "
            "or give photo files to open them in the window (face-explorer --help)")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    from explorer.cli import SUBCOMMANDS

    if argv and argv[0] in SUBCOMMANDS or argv[:1] in (["-h"], ["--help"]):
        from explorer.cli import main as cli_main

        return cli_main(argv)
    err = mistyped_command(argv, SUBCOMMANDS)
    if err:
        print(err, file=sys.stderr)
        return 2
    from explorer.ui.launch import launch

    return launch(argv)


if __name__ == "__main__":
    sys.exit(main())
