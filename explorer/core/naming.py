"""Names for the face on the canvas, so keyframes and favourites say what they hold.

"seed 7", "me.jpg", "★2 seed 7", and the strongest slider edits after a dot:
"seed 7 · Smiling +1.20, Male −0.50".
"""

from __future__ import annotations

import re
from collections.abc import Mapping


def edit_summary(alphas: Mapping[str, float], most: int = 2) -> str:
    """The ``most`` largest slider moves as "Smiling +1.20, Male −0.50" ("" when none)."""
    moved = sorted(((n, a) for n, a in alphas.items() if abs(a) >= 0.005),
                   key=lambda t: -abs(t[1]))
    parts = [f"{n.replace('_', ' ')} {a:+.2f}".replace("-", "−") for n, a in moved[:most]]
    if len(moved) > most:
        parts.append(f"+{len(moved) - most} more")
    return ", ".join(parts)


def face_name(seed: int, label: str = "", alphas: Mapping[str, float] | None = None) -> str:
    """What the first canvas face is: its label (a photo, favourite, atlas face) or its seed,
    then the edits made to it."""
    base = label or f"seed {seed}"
    edits = edit_summary(alphas or {})
    return f"{base} · {edits}" if edits else base


def favourite_name(number: int, seed: int, label: str = "",
                   alphas: Mapping[str, float] | None = None) -> str:
    """"★3 seed 7 · Smiling +1.20": the favourite's number, then what it is (a favourite starred
    again is not called "★4 ★3 …")."""
    label = re.sub(r"^★\s*\d+\s*", "", label)
    return f"★{number} {face_name(seed, label, alphas)}"
