"""The `face-train` command: training (`trainer.cli`) and `face-train evaluate` (this package).

The dispatch lives here, in the top layer, because the trainer may not import the evaluation
that stands on it.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "evaluate":
        from evaluation.evaluate import main as evaluate_main

        return evaluate_main(argv[1:])
    from trainer.cli import main as train_main

    return train_main(argv)


if __name__ == "__main__":
    sys.exit(main())
