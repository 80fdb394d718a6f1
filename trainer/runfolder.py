"""Housekeeping of a run folder: one trainer at a time, writable before training, and the data
set a run was trained on (so a resume notices when it changed).

- `RunLock`: an exclusive `flock` on ``.face-train.lock``; the kernel drops it when its process
  dies, so a killed trainer never leaves a lock that blocks the next one.
- `check_writable`: a read-only or full folder is reported before the first training step.
- `data_fingerprint` / `check_same_data`: image count, names, pixels and attributes of the
  training set, stored in every snapshot and compared on `--resume`.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from pathlib import Path
from typing import IO, Any

import numpy as np

from trainer.data import FaceDataset

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; runs are not guarded there.
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = ".face-train.lock"


class RunError(RuntimeError):
    """A run that cannot start or continue, with a message that says what to do."""


def check_writable(folder: Path) -> None:
    """Create `folder` if needed and prove a file can be written there (atomic writes need it)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-test.", suffix=".tmp", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise RunError(f"cannot write to {folder}: {e.strerror or e}; choose a writable --out") \
            from None


class RunLock:
    """An exclusive lock on a run folder for the life of this process (or until `release`)."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)
        self.path = self.folder / LOCK_NAME
        self._file: IO[str] | None = None

    def acquire(self) -> RunLock:
        check_writable(self.folder)
        if fcntl is None:
            return self
        try:
            f = open(self.path, "a+")  # noqa: SIM115 (held open for the lock's life)
        except OSError as e:
            raise RunError(f"cannot write to {self.folder}: {e.strerror or e}") from None
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.seek(0)
            holder = f.read().strip() or "?"
            f.close()
            raise RunError(f"another face-train (pid {holder}) is training in {self.folder}; "
                           "wait for it to finish or choose another --out") from None
        f.seek(0)
        f.truncate()
        f.write(f"{os.getpid()}\n")
        f.flush()
        self._file = f
        return self

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing the descriptor drops the flock
            self._file = None

    @property
    def held(self) -> bool:
        return self._file is not None


def data_fingerprint(data: FaceDataset) -> dict[str, Any]:
    """What identifies a training set: count, names, pixels (hashes) and attributes."""
    names = hashlib.blake2b(digest_size=12)
    for i in data.ids:
        names.update(i.encode() + b"\n")
    pixels = hashlib.sha1()  # about 0.3 s for celeba-9k at 64 px (110 MB)
    images = data.images
    for i in range(0, len(images), 1024):
        pixels.update(memoryview(np.ascontiguousarray(images[i : i + 1024])).cast("B"))
    return {"source": data.source, "layout": data.layout, "images": len(data),
            "names": names.hexdigest(), "pixels": pixels.hexdigest()[:24],
            "attribute_names": list(data.attribute_names), "labelled": data.labels is not None}


def check_same_data(stored: dict[str, Any] | None, now: dict[str, Any], out: Path,
                    *, has_classifier: bool = False, stored_images: int | None = None) -> None:
    """Refuse to resume on another data set (other images or attributes); warn if only the
    pixels changed. `stored` is None for runs made before fingerprints: then the image count
    (from training_options.json) and whether the run has a classifier are all there is."""
    was = f"{stored['source']}" if stored else "the run's data"
    hint = (f"resume with the same data ({was}, same --limit), or start a new run from this "
            f"one's weights with --init-from {out}")
    if stored is None:
        if has_classifier and not now["labelled"]:
            raise RunError(f"this run has an attribute classifier but {now['source']} has no "
                           f"labels; {hint}")
        if stored_images is not None and stored_images != now["images"]:
            raise RunError(f"the data set changed since this run started ({stored_images} "
                           f"training images then, {now['images']} now); {hint}")
        return
    if stored["labelled"] and not now["labelled"]:
        raise RunError(f"this run was trained on {len(stored['attribute_names'])} labelled "
                       f"attributes but {now['source']} has no labels; {hint}")
    if stored["attribute_names"] != now["attribute_names"]:
        gone = [a for a in stored["attribute_names"] if a not in now["attribute_names"]]
        new = [a for a in now["attribute_names"] if a not in stored["attribute_names"]]
        what = ", ".join(filter(None, [f"missing {gone[:5]}" if gone else "",
                                       f"new {new[:5]}" if new else ""])) or "another order"
        raise RunError(f"the data set has other attributes than this run was trained on "
                       f"({what}); {hint}")
    if stored["images"] != now["images"] or stored["names"] != now["names"]:
        raise RunError(f"the data set changed since this run started ({stored['images']} "
                       f"training images then, {now['images']} now"
                       f"{'' if stored['images'] != now['images'] else ', other names'}); "
                       f"{hint}")
    if stored["pixels"] != now["pixels"]:
        print("face-train: warning: the training images have the same names but other pixels "
              "than when this run started (re-saved or re-decoded?); continuing",
              file=sys.stderr)
