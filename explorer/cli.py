"""Headless `face-explorer` subcommands: the explorer core from the command line.

`explorer.app` sends every argv whose first word is in SUBCOMMANDS (or -h/--help) here. User errors
(a missing photo, an unknown attribute, a corrupt model file, ...) print one line to stderr and
return exit code 2; nothing a user can cause prints a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from explorer.cli_io import (
    CliError,
    check_out,
    condition_path,
    image_format,
    open_bundle,
    parse_seeds,
    parse_setting,
    read_face,
    read_latent,
    save_grid,
)

if TYPE_CHECKING:
    import numpy as np

    from explorer.core.bundle import Bundle
    from explorer.core.scene import Scene

SUBCOMMANDS = ("sample", "edit", "interpolate", "analogy", "encode", "embed", "score")
PROG = "face-explorer"
# explorer.core.directions.METHODS, spelled out so `--help` stays free of torch imports.
DIRECTION_METHODS = ("sampled", "mean-diff", "linear")
MAX_FRAMES = 2000  # as the window's Frames box; GIF frames are all held in memory
MAX_SIZE = 2048
DEFAULT_PSI = 0.7  # facegan.models.DEFAULT_PSI (a test keeps them equal): seeds as the window
BUDGET_S = 0.6  # explorer.core.encoding.BUDGET_S (a test keeps them equal): a photo within 1 s


# Subcommands.


def cmd_sample(args: argparse.Namespace) -> int:

    seeds = parse_seeds(args.seeds)  # before loading: bad input fails fast
    image_format(args.out)
    b = open_bundle(args)
    scene = _scene(b, args)
    save_grid(scene.draw(scene.request(b.seed_latents(seeds, args.psi),
                                       y=b.seed_conditions(seeds))), args.out, args.cols,
              args.size)
    print(f"{len(seeds)} faces (seeds {args.seeds}, psi {args.psi}) -> {args.out}")
    return 0


def _scene(b: Bundle, args: argparse.Namespace) -> Scene:
    """The scene the window would draw for these options: --psi, --set (cGAN-conditioned
    attributes drive y, the others move z), --lock, --method, --no-detail."""
    from explorer.core.directions import default_method
    from explorer.core.scene import Scene

    sets = dict(parse_setting(s) for s in getattr(args, "set", []))
    locks = list(getattr(args, "lock", []))
    method = getattr(args, "method", None) or default_method(b)
    scene = Scene(b, psi=args.psi, alphas=sets, locks=set(locks), method=method,
                  keep_detail=not getattr(args, "no_detail", False))
    names = scene.directions.names
    for name in [*sets, *locks]:
        if name not in names:
            raise CliError(f"unknown attribute {name!r}; this model knows: {', '.join(names)}")
    return scene


def cmd_edit(args: argparse.Namespace) -> int:
    from explorer.cli_io import photo_paths

    if Path(args.source).is_dir():
        return _batch(args, photo_paths([args.source]), _edit_one, "edited")
    if not args.paste_back:  # a photo pasted back keeps its own format
        image_format(args.out)
    b = open_bundle(args)
    _edit_one(b, args.source, args.out, args)
    return 0


def _edit_one(b: Bundle, source: str, out: Path, args: argparse.Namespace) -> None:
    """Edit one seed, latent or photo (see `cmd_edit`), writing `out`."""
    import numpy as np

    from explorer.cli_io import is_photo_source, read_face, saved_tuned
    from explorer.core.scene import EditedFace

    scene = _scene(b, args)  # before the photo: a misspelt attribute fails fast
    photo = is_photo_source(source)
    if args.paste_back and not photo:
        raise CliError("--paste-back needs a photo (a seed or a latent has no photo to paste "
                       "into)")
    if photo:
        from explorer.core.encoding import encode_photo
        from explorer.core.photos import load_photo

        img = load_photo(source)
        r = encode_photo(b, img, budget_s=args.budget, whole_image=args.whole_image,
                         detail=not (args.no_detail or args.tune))
        tuned = _tune(b, r, args) if args.tune else None
        face = EditedFace(r.z, r.detail, Path(source).name, photo=True, tuned=tuned, y=r.y)
    else:
        face = read_face(b, source, args, detail=not args.no_detail)
        tuned = saved_tuned(b, Path(source)) if source.endswith(".npy") else None
        if tuned is not None:  # `encode --tune` saved the photo's weights: drawn with them
            face = EditedFace(face.z, None, face.label, photo=True, tuned=tuned, y=face.y)
    edited = scene.request(face.z, [face.detail], face.photo, tuned=[face.tuned], y=[face.y])
    if args.paste_back:
        from explorer.core.paste_back import save_like
        from explorer.core.photo_edit import paste_edit

        check_out(out)
        save_like(paste_edit(b, img, r.alignment, face.z, edited.z[0], edited.y, edited.detail,
                             face.tuned, face.y), out, original=source)
        print(f"edited {source} ({', '.join(args.set) or 'no change'}) pasted back into the "
              f"photo -> {out}")
    else:
        after = scene.draw(edited)
        if args.compare:
            before = scene.draw(scene.request(face.z, [face.detail], face.photo, edit=False,
                                              tuned=[face.tuned], y=[face.y]))
            images = np.concatenate([before, after])
        else:
            images = after
        save_grid(images, out, 2, args.size)
        print(f"edited {source} ({', '.join(args.set) or 'no change'}"
              f"{'; locked ' + ', '.join(args.lock) if args.lock else ''}) -> {out}")
    if args.save_latent:
        np.save(args.save_latent, edited.z[0])
        if edited.y is not None:  # `edit` of the saved latent draws it with its condition
            np.save(condition_path(args.save_latent), edited.y[0])


def _tune(b: Bundle, r: Any, args: argparse.Namespace) -> Any:
    """Pivotal tuning of an encoded photo, with a progress line."""
    from explorer.core.photo_edit import tune_photo

    def progress(f: float) -> None:
        if not getattr(args, "quiet", False):
            print(f"\rtuning {100 * f:5.1f}%", end="", file=sys.stderr, flush=True)

    tw = tune_photo(b, r, steps=args.tune_steps, progress=progress)
    if not getattr(args, "quiet", False):
        print(f"\rtuned in {tw.seconds:.1f} s: {tw.psnr_before:.1f} -> {tw.psnr_after:.1f} dB",
              file=sys.stderr)
    return tw


def _batch(args: argparse.Namespace, photos: list[Path], one: Any, verb: str) -> int:
    """Run `one(bundle, photo, out_path, args)` over photos into the folder args.out, keeping
    going past photos that fail; report them at the end (exit code 2 if any failed)."""
    from explorer.cli_io import batch_errors

    b = open_bundle(args)
    args.out.mkdir(parents=True, exist_ok=True)
    failed: list[str] = []
    for p in photos:
        suffix = p.suffix if getattr(args, "paste_back", False) else ".png"
        try:
            one(b, str(p), args.out / f"{p.stem}_{verb}{suffix}", args)
        except batch_errors() as e:
            print(f"{PROG} {args.command}: {p.name}: {e}", file=sys.stderr)
            failed.append(f"{p.name} ({e})")
    print(f"{len(photos) - len(failed)} of {len(photos)} photos {verb} -> {args.out}")
    if failed:
        print(f"{len(failed)} failed:\n  " + "\n  ".join(failed), file=sys.stderr)
    return 2 if failed else 0


def cmd_interpolate(args: argparse.Namespace) -> int:
    import numpy as np

    from explorer.core.interpolation import (
        interpolate,
        interpolate_conditions,
        interpolate_details,
    )
    from explorer.core.video import export_video

    if len(args.keyframes) < 2:
        raise CliError("give at least two keyframes (seeds, photos or .npy latents)")
    if not 2 <= args.frames <= MAX_FRAMES:  # a 10,000-frame GIF once took 2.1 GB
        raise CliError(f"--frames must be between 2 and {MAX_FRAMES}, got {args.frames}")
    if not 2 <= args.size <= MAX_SIZE:
        raise CliError(f"--size must be between 2 and {MAX_SIZE} pixels, got {args.size}")
    if args.size % 2 and args.out.suffix.lower() in (".mp4", ".webm"):
        raise CliError(f"--size {args.size} is odd, and MP4/WebM video needs even sides; use "
                       f"{args.size - 1} or {args.size + 1} (or a .gif)")
    check_out(args.out)
    b = open_bundle(args)
    scene = _scene(b, args)
    keys = [read_face(b, k, args, detail=not args.no_detail) for k in args.keyframes]
    path = interpolate(np.stack([f.z for f in keys]), args.frames, mode=args.mode,
                       loop=args.loop, easing=args.easing)
    details = interpolate_details([f.detail for f in keys], args.frames, loop=args.loop,
                                  easing=args.easing)
    ys = interpolate_conditions([f.y for f in keys], args.frames, loop=args.loop,
                                easing=args.easing)
    check_out(args.out)
    photo = any(f.photo for f in keys)  # a walk through a photo is drawn at psi 1 all along
    frames = (scene.draw(scene.request(z, None if details is None else details[i : i + 1],
                                       photo, y=None if ys is None else ys[i : i + 1]))[0]
              for i, z in enumerate(path))

    def progress(f: float) -> None:
        if not args.quiet:
            print(f"\r{100 * f:5.1f}%", end="", file=sys.stderr, flush=True)

    export_video(frames, args.out, fps=args.fps, size=args.size, progress=progress,
                 n_frames=len(path))
    if not args.quiet:
        print(file=sys.stderr)
    print(f"{len(path)} frames at {args.fps} fps ({args.mode}) -> {args.out}")
    return 0


def cmd_analogy(args: argparse.Namespace) -> int:
    import numpy as np

    from explorer.core.analogy import analogy, analogy_condition

    image_format(args.out)
    b = open_bundle(args)
    scene = _scene(b, args)
    fa, fb, fc = (read_face(b, s, args, detail=not args.no_detail)
                  for s in (args.a, args.b, args.c))
    # C's detail, if C is a photo, rides along
    z = analogy(fa.z, fb.z, fc.z, args.strength, center=b.latent_center)
    y = analogy_condition(fa.y, fb.y, fc.y, args.strength)
    faces = scene.draw(scene.request(np.stack([fa.z, fb.z, fc.z, z]),
                                     [fa.detail, fb.detail, fc.detail, fc.detail],
                                     [fa.photo, fb.photo, fc.photo, fc.photo],
                                     y=[fa.y, fb.y, fc.y, y]))
    save_grid(faces, args.out, 4, args.size)
    print(f"A - B + C (strength {args.strength}): A, B, C, result -> {args.out}")
    return 0


def cmd_encode(args: argparse.Namespace) -> int:
    from explorer.cli_io import photo_paths

    photos = photo_paths(args.photos)
    print(f"{'photo':40s} {'E PSNR':>7s} {'refined':>7s} {'tuned':>7s} {'time s':>7s}")
    return _batch(args, photos, _encode_one, "encoded")


def _encode_one(b: Bundle, src: str, out: Path, args: argparse.Namespace) -> None:
    import numpy as np
    from PIL import Image

    from explorer.core.encoding import encode_photo

    r = encode_photo(b, src, budget_s=args.budget, choose=args.choose,
                     whole_image=args.whole_image)
    stem = args.out / Path(src).stem
    np.save(f"{stem}.npy", r.z)
    if r.detail is not None:  # `edit NAME.npy` draws the photo with it, as the recon shows
        np.save(f"{stem}_detail.npy", r.detail)
    if r.y is not None:  # and with the condition it was encoded with (a conditional model)
        np.save(condition_path(f"{stem}.npy"), r.y)
    tuned = ""
    if args.tune:  # `edit NAME.npy` draws the photo with these weights instead of the detail
        tw = _tune(b, r, args)
        Path(f"{stem}_tuned.safetensors").write_bytes(tw.to_bytes())
        tuned = f"{tw.psnr_after:7.2f}"
    Image.fromarray(r.recon).save(f"{stem}_recon.png")
    Image.fromarray(r.face).save(f"{stem}_face.png")
    print(f"{Path(src).name[:40]:40s} {r.psnr_encoder:7.2f} {r.psnr:7.2f} {tuned:>7s} "
          f"{sum(r.timings.values()):7.2f}")


def cmd_embed(args: argparse.Namespace) -> int:
    import csv

    import numpy as np

    from explorer.core.embedding import embed

    b = open_bundle(args)
    if b.atlas_z is None:
        raise CliError(f"{b.name}: this model has no atlas to map")
    names = ["atlas"] * len(b.atlas_z)
    points = [b.atlas_z]
    for p in args.photos:
        points.append(read_latent(b, p, args)[None])
        names.append(Path(p).name)
    pts = np.concatenate(points)
    xy = embed(pts, args.method, cache_dir=args.cache_dir)
    color = None
    if args.color_by:
        if args.color_by not in b.attribute_names:
            raise CliError(f"unknown attribute {args.color_by!r}; this model knows: "
                           f"{', '.join(b.attribute_names)}")
        assert b.atlas_labels is not None
        color = b.atlas_labels[:, b.attribute_names.index(args.color_by)]
    check_out(args.out)
    _scatter(xy, len(b.atlas_z), names, color, args)
    if args.csv:
        check_out(args.csv)
        with open(args.csv, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["index", "source", "x", "y", *b.attribute_names])
            for i, (n, (x, y)) in enumerate(zip(names, xy, strict=True)):
                labels = list(b.atlas_labels[i]) if (
                    b.atlas_labels is not None and i < len(b.atlas_z)) else [""] * len(
                    b.attribute_names)
                w.writerow([i, n, f"{x:.5f}", f"{y:.5f}", *labels])
    print(f"{args.method} map of {len(pts)} faces -> {args.out}"
          f"{' and ' + str(args.csv) if args.csv else ''}")
    return 0


def _scatter(xy: np.ndarray, n_atlas: int, names: list[str], color: Any,
             args: argparse.Namespace) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 7), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    if color is None:
        ax.scatter(xy[:n_atlas, 0], xy[:n_atlas, 1], s=4, c="#4477aa", alpha=0.6, label="atlas")
    else:
        for v, c, lab in ((1, "#cc3311", args.color_by), (-1, "#4477aa", f"not {args.color_by}")):
            m = color == v
            ax.scatter(xy[:n_atlas][m, 0], xy[:n_atlas][m, 1], s=4, c=c, alpha=0.6, label=lab)
    if len(xy) > n_atlas:
        ax.scatter(xy[n_atlas:, 0], xy[n_atlas:, 1], s=60, c="#ee7733", marker="*",
                   edgecolors="k", label="photos")
        for (x, y), n in zip(xy[n_atlas:], names[n_atlas:], strict=True):
            ax.annotate(n[:20], (x, y), fontsize=7)
    ax.set_title(f"{args.method.upper()} of {len(xy)} latents")
    ax.legend(loc="best", fontsize=8, markerscale=2)
    fig.tight_layout()
    fig.savefig(args.out)


def cmd_score(args: argparse.Namespace) -> int:
    from explorer.core.classify import attribute_probabilities
    from explorer.core.directions import default_method, get_directions
    from explorer.core.edits import attribute_scores, top_attributes
    from explorer.core.encoding import encode_photo

    b = open_bundle(args)
    if args.source.isdigit() or args.source.endswith(".npy"):
        z = read_latent(b, args.source, args)
        face = b.generate(z, psi=args.psi)[0]
    else:
        r = encode_photo(b, args.source, budget_s=args.budget, whole_image=args.whole_image)
        z, face = r.z, r.face
    d = get_directions(b, args.method or default_method(b))
    top = top_attributes(attribute_scores(z, d), d.names, args.top)
    probs = attribute_probabilities(b, face)[0] if b.can_score else None
    print(f"{'attribute':24s} {'latent score':>12s}" + (f" {'classifier p':>12s}" if
                                                         probs is not None else ""))
    for name, s in top:
        p = f" {probs[b.attribute_names.index(name)]:12.2f}" if probs is not None else ""
        print(f"{name:24s} {s:12.3f}{p}")
    return 0


# Parser.


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", type=Path, default=None, metavar="PATH",
                   help="model file (default: the bundled model, or $FACE_EXPLORER_MODEL)")
    p.add_argument("--threads", type=int, default=2, metavar="N",
                   help="CPU threads for torch (default: %(default)s)")
    p.add_argument("--psi", type=float, default=DEFAULT_PSI,
                   help="truncation: 1 draws faces as trained, lower pulls G's features toward "
                        "the average face (cleaner, less varied); a photo drawn with its detail "
                        "is always drawn at 1 (default: %(default)s)")
    p.add_argument("--budget", type=float, default=BUDGET_S, metavar="SECONDS",
                   help="refinement time per photo (default: %(default)s)")


def _tune_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tune", action="store_true",
                   help="pivotal tuning: tune a copy of the generator to the photo (~20 s) so "
                        "it keeps the person's likeness under edits (instead of the detail)")
    p.add_argument("--tune-steps", type=int, default=150, metavar="N",
                   help="pivotal tuning steps")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Explore a face GAN. Without a subcommand, face-explorer opens the window; "
        "with one, it runs headless.",
        epilog="A SOURCE is a seed (42), a photo (face.jpg) or a saved latent (z.npy). "
        f"Run '{PROG} COMMAND --help' for each command's options. The window: "
        f"'{PROG} [--model PATH] [PHOTO... | MODEL.safetensors | SESSION.json]'; "
        f"'{PROG} --install-desktop' adds it to this user's application menu "
        "(--uninstall-desktop removes it).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="subcommands")
    fmt = argparse.ArgumentDefaultsHelpFormatter

    p = sub.add_parser("sample", help="seeds -> PNG grid", formatter_class=fmt)
    _common(p)
    p.add_argument("--seeds", default="0-15", help="seed list, e.g. 1,4,10-13")
    p.add_argument("--cols", type=int, default=4, help="grid columns")
    p.add_argument("--size", type=int, default=128, help="pixels per face in the grid")
    p.add_argument("-o", "--out", type=Path, default=Path("samples.png"),
                   help="output image: .png, .jpg or .webp")
    p.set_defaults(run=cmd_sample)

    p = sub.add_parser("edit", help="photo, folder or seed + --set Smiling=+1.5 --lock Male -> "
                       "PNG, or --paste-back: the photo itself, edited",
                       formatter_class=fmt)
    _common(p)
    p.add_argument("source", metavar="SOURCE", help="seed, photo, folder of photos or .npy "
                   "latent")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="move an attribute by VALUE standard steps (repeatable)")
    p.add_argument("--lock", action="append", default=[], metavar="NAME",
                   help="keep this attribute fixed while others move (repeatable)")
    p.add_argument("--method", choices=DIRECTION_METHODS, default=None,
                   help="attribute directions: boundaries fitted on samples, the mean "
                        "difference of encoded training faces, or a linear classifier on "
                        "photos (default: the best the model has)")
    p.add_argument("--compare", action="store_true", help="put the original beside the edit")
    p.add_argument("--no-detail", action="store_true",
                   help="draw a photo from its latent alone, without the detail its encoding "
                        "found (edits act more strongly, the likeness is looser)")
    p.add_argument("--whole-image", action="store_true", help="use the whole photo, no detection")
    p.add_argument("--save-latent", type=Path, metavar="NPY", help="also save the edited latent")
    p.add_argument("--paste-back", action="store_true",
                   help="write the whole photo at its own size with the edit carried into it "
                        "(only what the edit changed; the rest keeps the photo's pixels)")
    _tune_args(p)
    p.add_argument("--size", type=int, default=256, help="output pixels per face")
    p.add_argument("-o", "--out", type=Path, default=Path("edited.png"),
                   help="output image (.png, .jpg or .webp); a folder when SOURCE is a folder of "
                        "photos")
    p.set_defaults(run=cmd_edit)

    p = sub.add_parser("interpolate", help="seeds/photos -> MP4, WebM or GIF", formatter_class=fmt)
    _common(p)
    p.add_argument("keyframes", nargs="+", metavar="SOURCE", help="two or more keyframes")
    p.add_argument("--frames", type=int, default=96,
                   help=f"number of frames (at most {MAX_FRAMES})")
    p.add_argument("--fps", type=int, default=24, help="frames per second")
    p.add_argument("--mode", choices=("slerp", "lerp"), default="slerp", help="interpolation")
    p.add_argument("--easing", choices=("linear", "ease-in-out"), default="ease-in-out")
    p.add_argument("--loop", action="store_true", help="return to the first keyframe")
    p.add_argument("--no-detail", action="store_true",
                   help="walk through photos' latents alone, without the detail their encoding "
                        "found (with it, a walk through a photo is drawn at psi 1)")
    p.add_argument("--size", type=int, default=256,
                   help="video side in pixels (even for MP4/WebM)")
    p.add_argument("--quiet", action="store_true", help="no progress display")
    p.add_argument("-o", "--out", type=Path, default=Path("interpolation.mp4"),
                   help="output file; .mp4 (H.264), .webm (VP9) or .gif")
    p.set_defaults(run=cmd_interpolate)

    p = sub.add_parser("analogy", help="A - B + C -> PNG strip (A, B, C, result)",
                       formatter_class=fmt)
    _common(p)
    for name in ("a", "b", "c"):
        p.add_argument(name, metavar=name.upper(), help="seed, photo or .npy latent")
    p.add_argument("--strength", type=float, default=1.0, help="result = C + strength (A - B)")
    p.add_argument("--no-detail", action="store_true",
                   help="use photos' latents alone, without the detail their encoding found "
                        "(with it, a photo C keeps its likeness in the result)")
    p.add_argument("--size", type=int, default=192, help="output pixels per face")
    p.add_argument("-o", "--out", type=Path, default=Path("analogy.png"),
                   help="output image: .png, .jpg or .webp")
    p.set_defaults(run=cmd_analogy)

    p = sub.add_parser("encode", help="photos -> latents (.npy), photo detail (_detail.npy) "
                       "+ reconstructions (PNG)",
                       formatter_class=fmt)
    _common(p)
    p.add_argument("photos", nargs="+", metavar="PHOTO", help="photos or folders of photos")
    p.add_argument("--choose", type=int, metavar="I", help="which face (0 = largest) if several")
    p.add_argument("--whole-image", action="store_true", help="use the whole photo, no detection")
    _tune_args(p)
    p.add_argument("--quiet", action="store_true", help="no progress display")
    p.add_argument("-o", "--out", type=Path, default=Path("encoded"), help="output folder")
    p.set_defaults(run=cmd_encode)

    p = sub.add_parser("embed", help="atlas (+ photos) -> PNG scatter and CSV",
                       formatter_class=fmt)
    _common(p)
    p.add_argument("photos", nargs="*", metavar="SOURCE", help="extra faces to place on the map")
    p.add_argument("--method", choices=("pca", "tsne"), default="pca", help="projection")
    p.add_argument("--color-by", metavar="ATTRIBUTE", help="colour atlas faces by this label")
    p.add_argument("--cache-dir", type=Path, default=None, help="embedding cache folder")
    p.add_argument("--whole-image", action="store_true", help="use whole photos, no detection")
    p.add_argument("-o", "--out", type=Path, default=Path("embedding.png"),
                   help="output figure (PNG, SVG, PDF, ...: from the suffix)")
    p.add_argument("--csv", type=Path, default=None, help="also write the points as CSV")
    p.set_defaults(run=cmd_embed)

    p = sub.add_parser("score", help="photo or seed -> top attributes", formatter_class=fmt)
    _common(p)
    p.add_argument("source", metavar="SOURCE", help="photo, seed or .npy latent")
    p.add_argument("--top", type=int, default=5, help="how many attributes to list")
    p.add_argument("--method", choices=DIRECTION_METHODS, default=None,
                   help="attribute directions (default: the best the model has)")
    p.add_argument("--whole-image", action="store_true", help="use the whole photo, no detection")
    p.set_defaults(run=cmd_score)
    return parser


def _exit_on_sigterm() -> None:
    """SIGTERM raises SystemExit(143) in the main thread, so an export in progress removes its
    part file on the way out (SIGKILL cannot be caught: the next export cleans those up)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return

    def on_term(signum: int, frame: object) -> None:
        print(f"{PROG}: terminated", file=sys.stderr)
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_term)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; return its exit code (2 for user errors)."""
    parser = build_parser()
    try:
        args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as e:  # --help (0) or a usage error (2)
        return int(e.code or 0)
    if args.command is None:
        parser.print_help()
        return 0
    from explorer.core.bundle import BundleError
    from explorer.core.photos import PhotoError
    from explorer.core.session import SessionError
    from explorer.core.video import ExportCancelled, ExportError

    _exit_on_sigterm()
    user_errors = (CliError, BundleError, PhotoError, ExportError, ExportCancelled, SessionError,
                   ValueError, KeyError, OSError)
    try:
        return int(args.run(args))
    except user_errors as e:
        msg = e.args[0] if isinstance(e, KeyError) and e.args else str(e)
        print(f"{PROG} {args.command}: error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG} {args.command}: interrupted", file=sys.stderr)
        return 130
