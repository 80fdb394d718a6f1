"""`face-train evaluate MODEL`: the quality report of a model file, on faces it never saw.

Measures edit success (with the bundled classifier as the judge), reconstruction (encoder alone,
encoder + refinement, and the photo path on UTKFace), fidelity and diversity (a Fréchet distance in
the classifier's feature space, with a real-vs-real floor; nearest training neighbours), and writes
a Markdown report with image grids.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from trainer import metrics
from trainer.checkpoint import ModelFileError, load_model
from trainer.data import DataError, load_dataset
from trainer.models import images_to_tensor, tensor_to_images
from trainer.monitor import make_grid, save_png

MAIN_ATTRIBUTES = ["Smiling", "Male", "Young", "Eyeglasses", "Blond_Hair"]


@dataclass
class Report:
    lines: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)

    def add(self, *lines: str) -> None:
        self.lines.extend(lines)

    def table(self, header: list[str], rows: list[list[Any]]) -> None:
        def fmt(v: Any) -> str:
            return f"{v:.3f}" if isinstance(v, float) else str(v)

        self.lines.append("| " + " | ".join(header) + " |")
        self.lines.append("|" + "---|" * len(header))
        for r in rows:
            self.lines.append("| " + " | ".join(fmt(v) for v in r) + " |")
        self.lines.append("")


class Judge:
    """The bundled classifier: calibrated probabilities and pooled features of uint8 faces."""

    def __init__(self, C: torch.nn.Module, names: list[str]) -> None:
        self.C, self.names = C, names

    @torch.no_grad()
    def probs(self, images: np.ndarray) -> np.ndarray:
        out = [torch.sigmoid(self.C(images_to_tensor(images[i : i + 256])))
               for i in range(0, len(images), 256)]
        return torch.cat(out).numpy()


def _generate(G: torch.nn.Module, z: np.ndarray, batch: int = 128,
              detail: np.ndarray | None = None) -> np.ndarray:
    out = []
    with torch.no_grad():
        for i in range(0, len(z), batch):
            d = None if detail is None else torch.from_numpy(detail[i : i + batch]).float()
            out.append(tensor_to_images(G(torch.from_numpy(z[i : i + batch]).float(), None, d)))
    return np.concatenate(out)


def _encode(E: torch.nn.Module, images: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return torch.cat([E(images_to_tensor(images[i : i + 256]))
                          for i in range(0, len(images), 256)]).numpy()


def edit_success(bundle: Any, G: torch.nn.Module, judge: Judge, z: np.ndarray, alpha: float,
                 rep: Report, label: str, methods: int = 3,
                 detail: np.ndarray | None = None) -> dict[str, tuple[float, float]]:
    """Push each main attribute across its boundary; count target flips and collateral flips.

    Compares every direction method the model has, and the default one with locks (the first
    `methods` of those)."""
    from explorer.core.directions import available_methods, default_method, get_directions
    from explorer.core.edits import apply_edits

    names = judge.names
    before = judge.probs(_generate(G, z, detail=detail)) > 0.5
    attrs = [a for a in MAIN_ATTRIBUTES if a in names]
    rows, summary = [], {}
    variants = [(m, False) for m in available_methods(bundle)] + [(default_method(bundle), True)]
    for method, locked in variants[:methods]:
        dirs = get_directions(bundle, method)
        for a in attrs:
            ai = names.index(a)
            locks = [b for b in attrs if b != a] if locked else []
            z_new = np.empty_like(z)
            for sign in (+1, -1):
                sel = (~before[:, ai]) if sign > 0 else before[:, ai]
                if sel.any():
                    z_new[sel] = apply_edits(z[sel], dirs, {a: sign * alpha}, locks)
            after = judge.probs(_generate(G, z_new, detail=detail)) > 0.5
            flipped = after != before
            target = float(flipped[:, ai].mean())
            others = [i for i in range(len(names)) if i != ai]
            collateral = float(flipped[:, others].mean())
            main_others = [names.index(b) for b in attrs if b != a]
            coll_main = float(flipped[:, main_others].mean()) if main_others else 0.0
            name = method + (" + locks" if locked else "")
            rows.append([a, name, f"{100 * target:.1f}%", f"{100 * collateral:.1f}%",
                         f"{100 * coll_main:.1f}%"])
            summary[f"{a}|{name}"] = (target, collateral)
    rep.add(f"#### {label} ({len(z)} faces, step α = ±{alpha})", "")
    rep.table(["attribute", "directions", "target flipped", "collateral (39 others)",
               "collateral (other main 4)"], rows)
    return summary


def evaluate(model: Path, data_dir: Path, utk_dir: Path | None, out: Path, *, n_refine: int,
             n_utk: int, n_edit: int, alpha: float, psi: float, budget: float) -> Path:
    from explorer.core.bundle import load_bundle
    from explorer.core.directions import default_method, get_directions
    from explorer.core.encoding import encode_face, encode_photo
    from explorer.core.interpolation import interpolate
    from explorer.core.latents import seed_latents
    from explorer.core.photos import PhotoError

    t0 = time.time()
    mf = load_model(model)
    bundle = load_bundle(model)
    for part in ("G", "E", "C"):
        if part not in mf.parts:
            raise ModelFileError(f"{model.name}: evaluation needs a model with {part}")
    G, E, C = mf.network("G"), mf.network("E"), mf.network("C")
    names = mf.attribute_names
    judge = Judge(C, names)
    res, nz = mf.config.resolution, mf.config.nz
    holdout = int(mf.meta.get("train_config", {}).get("holdout", 500))
    data = load_dataset(data_dir, res)
    train, held = data.split_holdout(holdout)
    assert held.labels is not None
    figs = out / "eval"
    figs.mkdir(parents=True, exist_ok=True)
    rep = Report()
    prov = mf.meta.get("provenance", {})
    rep.add(f"# Evaluation of `{model.name}`", "",
            f"Model: {mf.meta.get('name')} · kind {mf.config.kind} · {res} px · nz {nz} · "
            f"trained {prov.get('gan_steps', '?')} GAN steps on {prov.get('image_count', '?')} "
            f"images in {prov.get('wall_time_s', 0) / 3600:.2f} h · commit {prov.get('commit')}",
            "", f"All figures are measured on the **{len(held)} held-out faces** "
            f"(the last {holdout} of `{data_dir.name}`), which no network was trained on.", "",
            "Reproduce: `face-train evaluate " + str(model) + f" --data {data_dir}`", "")

    # Classifier.
    p_held = judge.probs(np.asarray(held.images))
    acc = ((p_held > 0.5) == (held.labels > 0)).mean(0)
    base = np.maximum((held.labels > 0).mean(0), (held.labels <= 0).mean(0))
    rep.add("## The attribute classifier (the judge)", "",
            f"Mean accuracy over the 40 attributes: **{100 * acc.mean():.1f}%** "
            f"(always guessing the majority class: {100 * base.mean():.1f}%).", "")
    order = np.argsort(names)
    rep.table(["attribute", "accuracy", "majority baseline"],
              [[names[i], f"{100 * acc[i]:.1f}%", f"{100 * base[i]:.1f}%"] for i in order])

    # Reconstruction.
    rep.add("## Reconstruction", "")
    held_img = np.asarray(held.images)
    z_held = _encode(E, held_img)
    rec_e = _generate(G, z_held)
    rows = [["E alone, held-out CelebA", len(held), float(metrics.psnr(held_img, rec_e).mean()),
             float(metrics.ssim(held_img, rec_e).mean()), "-"]]
    k = min(n_refine, len(held))
    def refine(with_detail: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, float]:
        """Encode the first k held-out faces; add their table row; (recon, z, detail or None,
        mean PSNR)."""
        rs = [encode_face(bundle, held_img[i], budget_s=budget, detail=with_detail)
              for i in range(k)]
        recon = np.stack([r.recon for r in rs])
        psnr = float(metrics.psnr(held_img[:k], recon).mean())
        rows.append([f"E + refinement{' + photo detail' if with_detail else ''}, held-out CelebA",
                     k, psnr, float(metrics.ssim(held_img[:k], recon).mean()),
                     f"{np.mean([sum(r.timings.values()) for r in rs]):.2f}"])
        details = np.stack([r.detail for r in rs]) if with_detail else None
        return recon, np.stack([r.z for r in rs]), details, psnr

    refined_a, z_refined, _, refined_psnr = refine(False)
    refined_d, z_refined_d, detail_d, detail_psnr = refine(True)
    utk_faces, utk_recon, utk_fail = [], [], {}
    if utk_dir is not None and utk_dir.exists():
        photos = sorted(utk_dir.glob("*.jpg"))[:n_utk]
        t_utk = []
        for p in photos:
            try:
                r = encode_photo(bundle, p, budget_s=budget)
            except PhotoError as e:
                utk_fail[e.kind] = utk_fail.get(e.kind, 0) + 1
                continue
            utk_faces.append(r.face)
            utk_recon.append(r.recon)
            t_utk.append(sum(r.timings.values()))
        if utk_faces:
            f, r_ = np.stack(utk_faces), np.stack(utk_recon)
            rows.append([f"photo path (detect + crop + E + refine + detail), {utk_dir.name}",
                         len(f),
                         float(metrics.psnr(f, r_).mean()), float(metrics.ssim(f, r_).mean()),
                         f"{np.mean(t_utk):.2f}"])
    rep.table(["path", "faces", "PSNR (dB)", "SSIM", "s / face"], rows)
    if utk_fail:
        rep.add("Photos the detector rejected: " + ", ".join(f"{v} {k}" for k, v in
                                                            utk_fail.items()) + ".", "")
    n_show = 8
    recon_rows = [held_img[:n_show], rec_e[:n_show], refined_a[:n_show], refined_d[:n_show]]
    if len(utk_faces) >= n_show:
        recon_rows += [np.stack(utk_faces[:n_show]), np.stack(utk_recon[:n_show])]
    save_png(figs / "reconstructions.png", make_grid(np.concatenate(recon_rows), nrow=n_show))
    rep.add("![reconstructions](eval/reconstructions.png)", "",
            "Rows: held-out originals · E alone · E + refinement · E + refinement + photo detail"
            + (" · UTKFace crops · their reconstructions" if len(utk_faces) >= n_show else ""), "")

    # Edits.
    rep.add("## Attribute edits", "",
            "Each face is pushed across the judge's decision boundary for one attribute (up if "
            "the judge says the face lacks it, down if it has it). *Target flipped* is how often "
            "the judge then changes its decision for that attribute; *collateral* is how often it "
            "changes its decision for another attribute. '+ locks' keeps the other main "
            "attributes fixed by projection.", "")
    m = min(n_edit, len(z_held))
    method = default_method(bundle)
    summary = edit_success(bundle, G, judge, z_held[:m], alpha, rep,
                           "Held-out faces, encoded by E alone", methods=4)
    summary_ref = edit_success(bundle, G, judge, z_refined, alpha, rep,
                               "Held-out faces, E + refinement", methods=4)
    summary_det = edit_success(bundle, G, judge, z_refined_d, alpha, rep,
                               "Held-out faces, E + refinement + photo detail (what the app "
                               "edits by default)", methods=4, detail=detail_d)
    sweep_rows, sweep_attrs = [], [a for a in MAIN_ATTRIBUTES if a in names]
    quiet = Report()
    for a_ in (1.0, 2.0, 3.0, 4.0, 6.0):
        res_ = edit_success(bundle, G, judge, z_held[:m], a_, quiet, "sweep", methods=1)
        sweep_rows.append([f"{a_:.1f}"]
                          + [f"{100 * res_[f'{a}|{method}'][0]:.0f}%" for a in sweep_attrs]
                          + [f"{100 * np.mean([t for t, _ in res_.values()]):.1f}%",
                             f"{100 * np.mean([c for _, c in res_.values()]):.1f}%"])
    rep.add(f"Step size against success ({method} directions, held-out faces encoded by E "
            "alone): how far each attribute must move before the judge sees it change.", "")
    rep.table(["α", *sweep_attrs, "mean flipped", "collateral (39 others)"], sweep_rows)
    z_rand = seed_latents(list(range(m)), nz, psi=psi).astype(np.float32)
    edit_success(bundle, G, judge, z_rand, alpha, rep, f"Random samples (ψ = {psi})", methods=4)
    from explorer.core.edits import apply_edits

    dirs = get_directions(bundle, method)
    steps = [-2 * alpha, -alpha, 0.0, alpha, 2 * alpha]
    for a in MAIN_ATTRIBUTES:
        if a not in names:
            continue
        strip = [apply_edits(z_held[:6], dirs, {a: s}) for s in steps]
        imgs = _generate(G, np.stack(strip, 1).reshape(-1, nz).astype(np.float32))
        save_png(figs / f"edit_{a}.png", make_grid(imgs, nrow=len(steps)))
    rep.add(f"Edit strips ({method} directions; columns: α = "
            + ", ".join(f"{s:+.1f}" for s in steps) + "):", "")
    for a in MAIN_ATTRIBUTES:
        if a in names:
            rep.add(f"**{a}**  ", f"![{a}](eval/edit_{a}.png)", "")

    # Fidelity and diversity.
    rep.add("## Fidelity and diversity", "")
    n_gen = 2000
    rng = np.random.default_rng(0)
    f_held = metrics.pooled_features(C, held_img)
    train_pick = rng.choice(len(train), size=len(held), replace=False)
    train_pick.sort()
    train_img = np.asarray(train.images)
    f_train = metrics.pooled_features(C, train_img[train_pick])
    rows = [["real training faces vs held-out (floor)", metrics.frechet_distance(f_train, f_held)]]
    for p in sorted({1.0, 0.8, psi}, reverse=True):
        zs = seed_latents(list(range(10_000, 10_000 + n_gen)), nz, psi=p).astype(np.float32)
        fake = _generate(G, zs)
        rows.append([f"generated (ψ = {p}) vs held-out",
                     metrics.frechet_distance(metrics.pooled_features(C, fake), f_held)])
    rep.add("Fréchet distance in the bundled classifier's pooled feature space "
            "(**not** Inception FID, which needs downloaded weights; compare only with the "
            "floor below and with other models measured the same way):", "")
    rep.table(["sets", "classifier-feature FD"], rows)
    z64 = seed_latents(list(range(64)), nz, psi=psi).astype(np.float32)
    samples = _generate(G, z64)
    save_png(figs / "samples.png", make_grid(samples, nrow=8))
    nn_idx, nn_d = metrics.nearest_neighbours(samples, train_img)
    _, held_d = metrics.nearest_neighbours(held_img[:64], train_img)
    near = int((nn_d < held_d.min()).sum())
    verdict = (
        "No sample is nearer to a training image than the nearest unseen real face is, so none is "
        "a copy." if near == 0 else
        f"{near} of {len(nn_d)} samples are nearer to a training image than any unseen real face "
        "is; look at them below (smooth, blurry samples sit closer to everything in pixel "
        "distance, so this flags candidates, it does not prove copying)."
    )
    rep.add(f"Nearest training image (RMS pixel distance, 0-255): samples **{nn_d.mean():.1f}** "
            f"(min {nn_d.min():.1f}); held-out real faces {held_d.mean():.1f} "
            f"(min {held_d.min():.1f}). {verdict}", "")
    pairs = np.concatenate([samples[:8], train_img[nn_idx[:8]]])
    save_png(figs / "nearest.png", make_grid(pairs, nrow=8))
    rep.add("![samples](eval/samples.png)", "", f"64 samples, ψ = {psi}.", "",
            "![nearest](eval/nearest.png)", "",
            "Top: samples; bottom: their nearest training image.", "")
    keys = z_held[:4]
    path = interpolate(keys, 16, mode="slerp")
    save_png(figs / "interpolation.png", make_grid(_generate(G, path.astype(np.float32)),
                                                    nrow=16))
    rep.add("![interpolation](eval/interpolation.png)", "",
            "Slerp through four encoded held-out faces.", "")
    rep.add("## Targets", "")
    for label, summ in (("E alone", summary), ("E + refinement", summary_ref),
                        ("E + refinement + photo detail", summary_det)):
        hit = [v for k_, v in summ.items() if k_.endswith(f"|{method}")]
        if hit:
            rep.add(f"- Edit success, {method} directions, held-out faces ({label}): "
                    f"{100 * np.mean([t for t, _ in hit]):.1f}% (target ≥ 90%); collateral "
                    f"{100 * np.mean([c for _, c in hit]):.1f}% (target ≤ 10%).")
    rep.add(f"- Reconstruction with refinement: {refined_psnr:.1f} dB latent only, "
            f"{detail_psnr:.1f} dB with the photo detail (target ≥ 22 dB).", "",
            f"_Evaluation took {time.time() - t0:.0f} s._", "")
    report = out / "evaluation.md"
    report.write_text("\n".join(rep.lines))
    return report


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="face-train evaluate",
                                description="Write a quality report of a model file to docs/.")
    p.add_argument("model", type=Path, help="model file (.safetensors)")
    p.add_argument("--data", type=Path, default=Path("../shared/data/celeba-9k"),
                   help="the CelebA-layout folder the model was trained on (held-out tail used)")
    p.add_argument("--utk", type=Path, default=Path("../shared/data/utkface-500"),
                   help="photos for the photo-path reconstruction check")
    p.add_argument("--out", type=Path, default=Path("docs"), help="where the report goes")
    p.add_argument("--n-refine", type=int, default=100, help="held-out faces to refine")
    p.add_argument("--n-utk", type=int, default=100, help="UTKFace photos to encode")
    p.add_argument("--n-edit", type=int, default=300, help="faces per edit-success table")
    p.add_argument("--alpha", type=float, default=3.0,
                   help="edit step, in prior standard deviations along the direction")
    p.add_argument("--psi", type=float, default=1.0,
                   help="truncation for random samples (the app's default is 1)")
    p.add_argument("--budget", type=float, default=0.6, help="refinement seconds per face")
    args = p.parse_args(argv)
    try:
        path = evaluate(args.model, args.data, args.utk, args.out, n_refine=args.n_refine,
                        n_utk=args.n_utk, n_edit=args.n_edit, alpha=args.alpha, psi=args.psi,
                        budget=args.budget)
    except (ModelFileError, DataError) as e:
        print(f"face-train evaluate: {e}", file=sys.stderr)
        return 2
    print(f"wrote {path}")
    return 0
