"""A training run on disk: the run folder, snapshots, resume, logs and the final model file.

Run folder layout::

    runs/NAME/
      training_options.json   the command, the config, the data set (and its fingerprint)
      .face-train.lock        held by the trainer working here (one at a time)
      model.safetensors       the explorer's model file (updated at every snapshot)
      model.state.pt          everything needed to resume (D, optimisers, RNG, step)
      metrics.jsonl           one JSON record per logged step; {"phase": "done"} when finished
      curves.png              D(real), D(fake), G fooling D, and the losses
      samples/grid_NNNNNN.png fixed latents every N steps; timelapse.gif at the end
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from facegan.checkpoint import (
    ATLAS_LABELS,
    ATLAS_Z,
    ATTR_DIRECTIONS,
    ATTR_DIRECTIONS_SAMPLED,
    COND_CORRECTION,
    COND_REACH,
    ModelFileError,
    load_state,
    read_meta,
    save_model,
    save_state,
    state_path,
)
from facegan.directions import (
    condition_correction,
    condition_reach,
    mean_difference_directions,
    sampled_directions,
)
from facegan.images import image_grid
from facegan.models import truncates_latents
from facegan.runlog import METRICS_FILE, append_record, read_records, truncate_records
from trainer import finalize, monitor
from trainer.config import TrainConfig
from trainer.data import FaceDataset
from trainer.loop import PHASES, StopRequested, Trainer, sample_conditions
from trainer.runfolder import RunError, RunLock, check_same_data, data_fingerprint
from trainer.warm import load_parent, warm_start

MODEL_NAME = "model.safetensors"
# Fields a resumed run may change; the optimisers take the learning rates and beta1 from the config.
RESUMABLE = ("steps", "encoder_steps", "classifier_steps", "sample_every", "snapshot_every",
             "log_every", "threads", "lr_g", "lr_d", "lr_e", "beta1", "enc_prior", "bf16",
             "channels_last", "gan_minutes", "cond_aux",
             "cond_dropout", "cond_flip", "cond_keep", "cond_keep_free", "cond_balance")


def read_run_state(out: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The training state stored in a run folder, or None if it holds none."""
    f = state_path(Path(out) / MODEL_NAME)
    return load_state(f) if f.exists() else None


def git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, timeout=5, cwd=Path(__file__).parent)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


class Run:
    """Owns a run folder and drives a Trainer through it.

    The folder is locked for this process (`lock`, or one taken here) until `train` returns or
    `close` is called; `state` is the folder's stored state when the caller already read it.
    """

    def __init__(self, out: str | Path, cfg: TrainConfig, train: FaceDataset,
                 *, resume: bool = False, overrides: dict[str, Any] | None = None,
                 device: str = "cpu", command: list[str] | None = None, quiet: bool = False,
                 calib: FaceDataset | None = None, lock: RunLock | None = None,
                 state: dict[str, Any] | None = None) -> None:
        self.out = Path(out)
        self.model_path = self.out / MODEL_NAME
        self.state_file = state_path(self.model_path)
        self.command = command or sys.argv
        self.quiet = quiet
        self.signal: int | None = None  # the signal that stopped training, if one did
        main_rank = not dist.is_initialized() or dist.get_rank() == 0
        self.lock = lock if lock is not None or not main_rank else RunLock(self.out).acquire()
        try:
            self._setup(cfg, train, resume, overrides, device, calib, state)
        except BaseException:
            self.close()
            raise

    def _setup(self, cfg: TrainConfig, train: FaceDataset, resume: bool,
               overrides: dict[str, Any] | None, device: str, calib: FaceDataset | None,
               state: dict[str, Any] | None) -> None:
        quiet = self.quiet
        if state is None and self.state_file.exists():
            state = load_state(self.state_file)
        if state is not None:
            if not resume:
                raise RunError(f"{self.out} already holds a run; pass --resume to continue it, "
                               "or choose another --out")
            cfg = TrainConfig.from_dict(state["train_config"]).with_(**(overrides or {}))
        elif resume and any(self.out.glob("*.safetensors")):
            raise RunError(f"{self.out}: no training state ({self.state_file.name}) to resume from")
        self.cfg = cfg
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        self.data = train
        self.calib = calib
        self.fingerprint = data_fingerprint(train)
        if state is not None:
            check_same_data(state.get("data"), self.fingerprint, self.out,
                            has_classifier="C" in state, stored_images=self._stored_images())
        self.trainer = Trainer(cfg, train, device=device)
        if calib is not None:  # the classifier never trains on its calibration images
            self.trainer.c_limit = max(1, len(train) - len(calib))
        if state is not None:
            try:
                self.trainer.load_state_dict(state)
            except (RuntimeError, KeyError, ValueError) as e:
                first = str(e).strip().splitlines()[0] if str(e).strip() else repr(e)
                raise RunError(f"{self.state_file.name} does not fit this config and data "
                               f"({first[:200]})") from None
        elif cfg.init_from:
            counts = warm_start(self.trainer.nets(), load_parent(cfg.init_from),
                                list(cfg.cond_attributes))
            if not quiet:
                print(f"started from {cfg.init_from}: {counts}", file=sys.stderr)
            self.trainer.c_trained = counts.get("C", {}).get("copied", 0) > 0
        needs_c = [f for f, w in (("--cond-aux", cfg.cond_aux), ("--cond-keep", cfg.cond_keep))
                   if w > 0]
        if needs_c and not (self.trainer.c_trained and self.trainer.cond is not None):
            raise RunError(f"{needs_c[0]} needs a conditional model and a trained classifier: "
                           "start from a run that has one (--init-from) or resume a finished run")
        self.is_main = self.trainer.rank == 0
        self.samples = self.out / "samples"
        if self.is_main:
            self.samples.mkdir(parents=True, exist_ok=True)
            # Temp files of atomic writes cut short by a killed run (one writer per run folder).
            for stale in [*self.out.glob(".*.tmp"), *self.samples.glob(".*.tmp")]:
                stale.unlink(missing_ok=True)
            if state is None:
                (self.out / METRICS_FILE).unlink(missing_ok=True)
                self._write_options()
            else:  # records of steps after the snapshot are logged again from here
                truncate_records(self.out / METRICS_FILE, self.trainer.total_steps)
        t = self.trainer
        t.add_callback("on_step", self._on_step)
        t.add_callback("on_sample", self._on_sample)
        t.add_callback("on_snapshot", self._on_snapshot)
        t.add_callback("on_phase", self._on_phase)
        self._bar: Any = None
        self._t_last = time.time()
        self._n_last = self.trainer.total_steps  # images/s of a resumed run counts from here

    def _write_options(self) -> None:
        doc = {"command": self.command, "train_config": self.cfg.to_dict(),
               "data": self.fingerprint}
        (self.out / "training_options.json").write_text(json.dumps(doc, indent=2))

    def _stored_images(self) -> int | None:
        """The training set's size from training_options.json (runs made before fingerprints)."""
        try:
            doc = json.loads((self.out / "training_options.json").read_text())
            return int(doc["data"]["images"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def close(self) -> None:
        """Release the run folder's lock (this process no longer trains in it)."""
        lock = getattr(self, "lock", None)
        if lock is not None:
            lock.release()

    def _save_state(self) -> None:
        s = self.trainer.state_dict()
        s["data"] = self.fingerprint
        save_state(self.state_file, s)

    # Events.

    def _on_step(self, t: Trainer) -> None:
        if not self.is_main:
            return
        if self._bar is not None:
            self._bar.update(1)
        if t.step % self.cfg.log_every == 0:
            now = time.time()
            per = t.cfg.batch if t.phase != "classifier" else 128
            ips = (t.total_steps - self._n_last) * per / max(now - self._t_last, 1e-9)
            self._t_last, self._n_last = now, t.total_steps
            rec = {"phase": t.phase, "step": t.step, "total_steps": t.total_steps,
                   "time": round(t.wall_time, 2), "images_per_s": round(ips, 1)}
            rec.update({k: round(v, 5) for k, v in t.metrics.items()})
            append_record(self.out / METRICS_FILE, rec)
            if self._bar is not None:
                keys = ("d_real", "d_fake", "g_fool", "enc_pixel", "cls_acc")
                post = {k: f"{t.metrics[k]:.3f}" for k in keys if k in t.metrics}
                post["img/s"] = f"{ips:.0f}"
                self._bar.set_postfix(post, refresh=False)

    def _on_sample(self, t: Trainer) -> None:
        if self.is_main:
            grid = image_grid(t.sample_grid(64), cols=8)
            monitor.save_png(self.samples / f"grid_{t.step:06d}.png", grid)

    def _on_snapshot(self, t: Trainer) -> None:
        if self.is_main:
            self.snapshot()

    def _on_phase(self, t: Trainer) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        if self.is_main and t.phase == "done":
            self.finish()
        elif t.phase != "done":
            self._open_bar()

    def _open_bar(self) -> None:
        if not self.is_main or self.quiet:
            return
        from tqdm import tqdm

        t = self.trainer
        total = t.phase_length(t.phase)
        self._bar = tqdm(total=total, initial=t.step, desc=f"{t.phase:>10}", unit="step",
                         dynamic_ncols=True, file=sys.stderr, mininterval=2.0)

    # Files.

    def snapshot(self) -> None:
        """State first, then the model file; each write is atomic."""
        self._save_state()
        self.export(self.model_path, final=False)
        monitor.plot_curves(read_records(self.out / METRICS_FILE)[0], self.out / "curves.png")

    def provenance(self) -> dict[str, Any]:
        t = self.trainer
        return {"dataset": self.data.source, "layout": self.data.layout,
                "image_count": len(self.data), "holdout": self.cfg.holdout,
                "gan_steps": t.cfg.steps if PHASES.index(t.phase) > 0 else t.step,
                "total_steps": t.total_steps, "wall_time_s": round(t.wall_time, 1),
                "command": " ".join(self.command), "commit": git_commit(),
                "torch": torch.__version__, "date": time.strftime("%Y-%m-%d %H:%M:%S")}

    def export(self, path: Path, *, final: bool, extras: dict[str, Any] | None = None,
               extra_meta: dict[str, Any] | None = None) -> None:
        t = self.trainer
        phase_i = PHASES.index(t.phase)
        networks: dict[str, Any] = {"G": t.ema_generator()}
        e_ready = t.cfg.kind == "vaegan" or phase_i > PHASES.index("encoder") or (
            t.phase == "encoder" and t.step > 0)
        if e_ready:
            networks["E"] = t.E
        if t.C is not None and phase_i > PHASES.index("classifier"):
            networks["C"] = t.C
            if t.J is not None:
                networks["J"] = t.J
        meta = {"name": self.out.name, "attribute_names": self.data.attribute_names,
                "step": t.total_steps, "phase": t.phase, "final": final,
                "train_config": t.cfg.to_dict(), "provenance": self.provenance()}
        meta.update(extra_meta or {})
        save_model(path, t.mcfg, networks, meta, extras, half=final)

    def finish(self) -> None:
        """Encode the data set, store attribute vectors and the atlas, write the final model."""
        t = self.trainer
        extras: dict[str, Any] = {}
        extra_meta: dict[str, Any] = {}
        if self.data.labels is not None:
            z = finalize.encode_images(t.E, self.data.images)
            extras[ATTR_DIRECTIONS] = mean_difference_directions(z, self.data.labels)
            n = min(t.cfg.atlas_size, len(z))
            pick = np.random.default_rng(0).permutation(len(z))[:n]
            pick.sort()
            extras[ATLAS_Z] = z[pick].astype(np.float16)
            extras[ATLAS_LABELS] = self.data.labels[pick].astype(np.int8)
        if t.C is not None and self.data.labels is not None:
            # A conditional G draws its samples with conditions from the data's label rows,
            # as in training; the directions then serve the attributes y does not drive.
            y = (None if t.cond is None else
                 sample_conditions(t.cond, 10_000, torch.Generator().manual_seed(1)))
            extras[ATTR_DIRECTIONS_SAMPLED] = sampled_directions(
                t.frozen_generator(), t.C, t.mcfg.nz, y=y)
            if t.cond is not None:  # how far each y slider reaches, fitted the same way
                names = self.data.attribute_names
                n = min(300, len(y))
                index = [names.index(a) for a in t.cfg.cond_attributes]
                reach = condition_reach(t.frozen_generator(), t.C, t.mcfg.nz, index, y[:n], n=n)
                extras[COND_REACH] = reach
                if truncates_latents(t.cfg.kind):  # a style G: each y edit's correction
                    extras[COND_CORRECTION] = condition_correction(
                        t.frozen_generator(), t.C, t.mcfg.nz, index, y, reach)
        if t.C is not None and self.calib is not None and self.calib.labels is not None:
            temps = finalize.fit_temperature(t.C, self.calib)
            extra_meta["classifier"] = {"calibration_images": len(self.calib),
                                        "temperature_mean": float(np.mean(temps))}
        self._save_state()
        grids = sorted(self.samples.glob("grid_*.png"))
        monitor.write_timelapse(grids, self.out / "timelapse.gif")
        monitor.plot_curves(read_records(self.out / METRICS_FILE)[0], self.out / "curves.png")
        # Last: a final model file at the run's last step is what marks the run finished.
        self.export(self.model_path, final=True, extras=extras, extra_meta=extra_meta)
        # The monitor's "finished" (the last record names no step of any phase).
        append_record(self.out / METRICS_FILE, {
            "phase": "done", "total_steps": t.total_steps, "time": round(t.wall_time, 2)})
        if not self.quiet:
            print(f"wrote {self.model_path}", file=sys.stderr)

    def finished(self) -> bool:
        """Whether the final model file of this run's last step was written (finishing is a
        phase like the others: a run stopped during it, or whose disk filled, is not done)."""
        try:
            meta = read_meta(self.model_path)
        except ModelFileError:
            return False
        return meta.get("final") is True and meta.get("step") == self.trainer.total_steps

    def train(self) -> Path:
        """Run to the end; Ctrl-C or SIGTERM finishes the current step, saves and stops cleanly.

        The signal only sets a flag that the loop checks between steps, so the snapshot never
        holds a half-done step (D updated, G not) and a resumed run matches an uninterrupted one.
        A second Ctrl-C stops at once and keeps the last snapshot.
        """
        t = self.trainer

        def on_signal(signum: int, frame: Any) -> None:
            self.signal = signum
            if t.stop_requested:
                raise KeyboardInterrupt
            t.stop_requested = True

        old: dict[int, Any] = {}
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                old[sig] = signal.signal(sig, on_signal)
            except ValueError:  # not the main thread: no handlers, Ctrl-C is not ours
                break
        try:
            if t.phase != "done":
                self._open_bar()
                t.run()
            elif self.is_main and not self.finished():
                self.finish()  # stopped while finishing: encode, atlas, directions, model file
            elif self.is_main and not self.quiet:
                print(f"{self.out} is finished ({t.total_steps} steps); nothing to do. Pass "
                      f"--steps with more than {t.cfg.steps} to train further", file=sys.stderr)
        except KeyboardInterrupt as e:
            if self._bar is not None:
                self._bar.close()
            if self.is_main:
                if isinstance(e, StopRequested):
                    self.snapshot()
                    print(f"\ninterrupted: saved {t.phase} step {t.step} to {self.out}; "
                          f"continue with --resume", file=sys.stderr)
                else:
                    print(f"\ninterrupted mid-step: kept the last snapshot in {self.out}; "
                          f"continue with --resume", file=sys.stderr)
            raise
        finally:
            for sig, handler in old.items():
                signal.signal(sig, handler)
            self.close()
        return self.model_path


__all__ = ["Run", "RunError", "ModelFileError"]
