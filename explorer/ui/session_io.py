"""Save / open a session file through explorer.core.session (plain data, no Qt in the file)."""

from __future__ import annotations

from pathlib import Path

from explorer.ui.state import ExplorerState


def save_session_file(path: str | Path, state: ExplorerState) -> None:
    from explorer.core.session import save_session

    save_session(path, state.to_session())


def open_session(path: str | Path, state: ExplorerState) -> str | None:
    """Load ``path`` into ``state``; return a user-facing error message, or None on success.
    A session that does not fit the model is refused whole, saying why, and changes nothing."""
    from explorer.core.session import SessionError, load_session

    name = Path(path).name
    try:
        d = load_session(path)
    except Exception as e:  # unreadable / not a session: tell the user, keep the app usable
        return f"{name} is not a readable session: {e}"
    try:
        state.from_session(d)
    except SessionError as e:
        return f"{name}: {e}"
    except Exception as e:
        return f"{name}: the session does not fit this model ({type(e).__name__}: {e})"
    model = d.get("model_path")
    if model and Path(str(model)).name != Path(str(state.bundle.path)).name:
        state.message.emit(f"Session was saved with model {Path(str(model)).name}")
    return None
