"""The sections of the report, in the order it reads: header, classifier, reconstruction, edits,
fidelity and diversity, targets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from evaluation import metrics
from evaluation.context import Context, Encoded, encode, generate
from evaluation.judge import MAIN_ATTRIBUTES, edit_success, edit_success_y
from evaluation.report import Report
from facegan.images import image_grid
from facegan.models import map_images
from trainer.monitor import save_png


def header_section(c: Context) -> None:
    prov = c.mf.meta.get("provenance", {})
    cfg = c.mf.config
    cond = f" on {', '.join(c.cond)}" if c.cond else ""
    init = c.mf.meta.get("train_config", {}).get("init_from")
    report = "" if c.figs.name == "evaluation" else f" --report {c.figs.name}"
    c.rep.add(f"# Evaluation of `{c.model.name}`", "",
              f"Model: {c.mf.meta.get('name')} · kind {cfg.kind}{cond} · {cfg.resolution} px · "
              f"nz {c.nz} · trained {prov.get('gan_steps', '?')} GAN steps on "
              f"{prov.get('image_count', '?')} images in {prov.get('wall_time_s', 0) / 3600:.2f} h"
              + (f" (started from the weights of `{init}`)" if init else "")
              + f" · commit {prov.get('commit')}", "",
              f"All figures are measured on the **{len(c.held)} held-out faces** (the last "
              f"{len(c.held)} of `{c.data_dir.name}`), which no network was trained on.", "",
              f"Reproduce: `face-train evaluate {c.model} --data {c.data_dir}{c.extra_args}"
              f"{report}`", "")


def classifier_section(c: Context) -> None:
    labels = c.held.labels
    p_held = c.judge.probs(c.held_img)
    acc = ((p_held > 0.5) == (labels > 0)).mean(0)
    base = np.maximum((labels > 0).mean(0), (labels <= 0).mean(0))
    c.rep.add("## The attribute classifier (the judge)", "",
              f"Mean accuracy over the 40 attributes: **{100 * acc.mean():.1f}%** "
              f"(always guessing the majority class: {100 * base.mean():.1f}%).", "")
    order = np.argsort(c.names)
    c.rep.table(["attribute", "accuracy", "majority baseline"],
                [[c.names[i], f"{100 * acc[i]:.1f}%", f"{100 * base[i]:.1f}%"] for i in order])


def reconstruction_section(c: Context, utk_dir: Path | None, n_refine: int,
                            n_utk: int) -> Encoded:
    from explorer.core.encoding import LATENT_BUDGET_S, encode_face, encode_photo, fit_latent_detail
    from explorer.core.fit_target import own_psnr
    from explorer.core.photos import PhotoError

    rep, held_img = c.rep, c.held_img
    rep.add("## Reconstruction", "")
    enc = Encoded(encode(c.E, held_img), c.judged_y(held_img))
    rec_e = generate(c.G, enc.z, y=enc.y)
    rows = [["E alone, held-out CelebA", len(held_img),
             float(metrics.psnr(held_img, rec_e).mean()),
             float(metrics.ssim(held_img, rec_e).mean()), "-"]]
    if c.mf.config.encoder_w_plus:  # E's W+ offset: where a photo's refinement starts
        start = map_images(lambda x: c.G.join_detail(c.E.forward_plus(x)[1]), held_img).numpy()
        enc.w_plus = start
        rec_p = generate(c.G, enc.z, y=enc.y, detail=start)
        rows.append(["E alone in W+ (E's own W+ offset), held-out CelebA", len(held_img),
                     float(metrics.psnr(held_img, rec_p).mean()),
                     float(metrics.ssim(held_img, rec_p).mean()), "-"])
    k = min(n_refine, len(held_img))

    def refine(with_detail: bool | str) -> tuple[np.ndarray, np.ndarray, np.ndarray | None,
                                                  float]:
        """Encode the first k held-out faces; add their table row; (recon, z, detail or None,
        mean PSNR)."""
        rs = [encode_face(c.bundle, held_img[i], budget_s=c.budget, detail=with_detail,
                          y=None if enc.y is None else enc.y[i]) for i in range(k)]
        recon = np.stack([r.recon for r in rs])
        psnr = float(metrics.psnr(held_img[:k], recon).mean())
        what = {False: "", "latent": " in W+ (latent only)", True: " + photo detail"}
        rows.append([f"E + refinement{what[with_detail]}, held-out CelebA",
                     k, psnr, float(metrics.ssim(held_img[:k], recon).mean()),
                     f"{np.mean([sum(r.timings.values()) for r in rs]):.2f}"])
        details = np.stack([r.detail for r in rs]) if with_detail else None
        return recon, np.stack([r.z for r in rs]), details, psnr

    refined_a, enc.z_refined, _, enc.refined_psnr = refine(False)
    if c.bundle.truncates_latents:  # a style G: W+ alone, the latent-only figure
        enc.w_plus_psnr = refine("latent")[3]
    refined_d, enc.z_detail, enc.detail, enc.detail_psnr = refine(True)
    if c.bundle.has_latent_detail and enc.detail is not None:
        # What the window draws with the photo's detail switched off: the same latent with
        # a latent-only detail fitted to the photo (`encoding.fit_latent_detail`).
        fits = [fit_latent_detail(c.bundle, held_img[i], enc.z_detail[i],
                                  None if enc.y is None else enc.y[i], start=enc.detail[i],
                                  budget_s=LATENT_BUDGET_S) for i in range(k)]
        off = generate(c.G, enc.z_detail, y=None if enc.y is None else enc.y[:k],
                       detail=np.stack([d for d, _ in fits]))
        rows.append(["E + refinement + photo detail, drawn with the detail off (latent-only "
                     "detail), held-out CelebA", k, float(metrics.psnr(held_img[:k], off).mean()),
                     float(metrics.ssim(held_img[:k], off).mean()),
                     f"+{LATENT_BUDGET_S:.2f}"])
    utk_faces, utk_recon, utk_fail = [], [], {}
    if utk_dir is not None and utk_dir.exists():
        photos = sorted(utk_dir.glob("*.jpg"))[:n_utk]
        t_utk, utk_psnr = [], []
        for p in photos:
            try:
                r = encode_photo(c.bundle, p, budget_s=c.budget)
            except PhotoError as e:
                utk_fail[e.kind] = utk_fail.get(e.kind, 0) + 1
                continue
            utk_faces.append(r.face)
            utk_recon.append(r.recon)
            utk_psnr.append(own_psnr(r.recon, r.face, r.inside))
            t_utk.append(sum(r.timings.values()))
        if utk_faces:
            f, r_ = np.stack(utk_faces), np.stack(utk_recon)
            # PSNR of the photo's own pixels of each crop (a tight photo ends inside the
            # framing; the fill is not fitted: `explorer.core.fit_target`); SSIM of the crop.
            rows.append([f"photo path (detect + crop + E + refine + detail), {utk_dir.name}",
                         len(f), float(np.mean(utk_psnr)), float(metrics.ssim(f, r_).mean()),
                         f"{np.mean(t_utk):.2f}"])
    rep.table(["path", "faces", "PSNR (dB)", "SSIM", "s / face"], rows)
    if utk_dir is not None:
        rep.add("The photo path's PSNR counts each crop's own pixels: a tight photo ends inside "
                "CelebA's framing, and the fill around it is not fitted (G draws hair and "
                "background there); its SSIM is the whole crop's.", "")
    if c.cond:
        rep.add("A conditional model draws each held-out face with the y the judge sees in it; "
                "the photo path gives a photo the y the app's photo scorer sees in it, as the "
                "app does.", "")
    for row in rows:
        c.figures[f"PSNR (dB), {row[0]}"] = row[2]
    if utk_fail:
        rep.add("Photos the detector rejected: " + ", ".join(f"{v} {k}" for k, v in
                                                            utk_fail.items()) + ".", "")
    n_show = 8
    recon_rows = [held_img[:n_show], rec_e[:n_show], refined_a[:n_show], refined_d[:n_show]]
    if len(utk_faces) >= n_show:
        recon_rows += [np.stack(utk_faces[:n_show]), np.stack(utk_recon[:n_show])]
    save_png(c.figs / "reconstructions.png", image_grid(np.concatenate(recon_rows), cols=n_show))
    rep.add(f"![reconstructions]({c.figs.name}/reconstructions.png)", "",
            "Rows: held-out originals · E alone · E + refinement · E + refinement + photo detail"
            + (" · UTKFace crops · their reconstructions" if len(utk_faces) >= n_show else ""), "")
    return enc


_EDITS_INTRO = (
    "Each face is pushed across the judge's decision boundary for one attribute (up if the "
    "judge says the face lacks it, down if it has it). *Target flipped* is how often the judge "
    "then changes its decision for that attribute; *collateral* is how often it changes its "
    "decision for another attribute."
)


def edit_section(c: Context, enc: Encoded) -> dict[str, dict[str, tuple[float, float]]]:
    """Edit-success tables and strips; returns the summaries the targets are checked on."""

    rep, G, judge = c.rep, c.G, c.judge
    m = min(c.n_edit, len(enc.z))
    z_rand = c.bundle.seed_latents(list(range(m)), c.psi)
    rep.add("## Attribute edits", "")
    if c.cond:
        rep.add(_EDITS_INTRO + " A conditional model edits its conditioned attributes "
                "through y, as the app's sliders do.", "")
        assert enc.y is not None
        from explorer.core.edits import y_limits

        reach = y_limits(c.bundle.y_reach, len(c.cond))
        corr, excl = c.bundle.cond_correction, c.bundle.cond_exclusive
        rep.add("Each conditioned attribute's slider ends at its own y: "
                + ", ".join(f"{a} ±{r:g}" for a, r in zip(c.cond, reach, strict=True))
                + (" (fitted on G's own faces by the bundled classifier, "
                   "`facegan.directions.condition_reach`)." if c.bundle.y_reach is not None
                   else " (this file stores no fitted reach: the default).")
                + (" Each y edit also moves the latent by the file's fitted correction of it "
                   "(`facegan.directions.condition_correction`), as the app draws it; the "
                   "sliders' end is also given without it (\"y alone\")."
                   if corr is not None else "")
                + (" A condition the training labels never show with the edited one's new "
                   "side (" + _exclusive_pairs(c.cond, excl) + ") gives way to it, as the "
                   "app's sliders move it (`explorer.core.edits.settle_exclusive`)."
                   if excl is not None and excl.any() else ""), "")
        held = edit_success_y(G, judge, enc.z[:m], enc.y[:m], c.cond, rep,
                              "Held-out faces, encoded by E, y as the judge sees them",
                              reach=reach, correction=corr, exclusive=excl)
        assert enc.z_refined is not None and enc.z_detail is not None
        k = len(enc.z_refined)
        summaries = {"E alone": held}
        if enc.w_plus is not None:  # E's whole answer: the first face the window shows
            summaries["E alone in W+"] = edit_success_y(
                G, judge, enc.z[:m], enc.y[:m], c.cond, rep,
                "Held-out faces, encoded by E in W+ (E's own W+ offset), y as the judge sees "
                "them", detail=enc.w_plus[:m], reach=reach, correction=corr,
                exclusive=excl)
        summaries |= {
            "E + refinement": edit_success_y(G, judge, enc.z_refined, enc.y[:k], c.cond, rep,
                                             "Held-out faces, E + refinement", reach=reach,
                                             correction=corr, exclusive=excl),
            "E + refinement + photo detail": edit_success_y(
                G, judge, enc.z_detail, enc.y[:k], c.cond, rep,
                "Held-out faces, E + refinement + photo detail (what the app edits by default)",
                detail=enc.detail, reach=reach, correction=corr, exclusive=excl),
        }
        y_rand = c.prior_y(m, 1)
        assert y_rand is not None
        randoms = edit_success_y(G, judge, z_rand, y_rand, c.cond, rep,
                                 f"Random samples (ψ = {c.psi}; y drawn from the held-out "
                                 "labels)", psi=c.psi, reach=reach, correction=corr,
                                 exclusive=excl)
        _edit_strips_y(c, enc)
        # The headline figures (side by side with another model): what the y sliders do.
        for label, summ in [*summaries.items(), (f"random samples (ψ = {c.psi})", randoms)]:
            _headline_edits(c, label, summ)
        return summaries
    rep.add(_EDITS_INTRO + " '+ locks' keeps the other main attributes fixed by projection.", "")
    bundle, alpha = c.bundle, c.alpha
    summaries = {
        "E alone": edit_success(bundle, G, judge, enc.z[:m], alpha, rep,
                                "Held-out faces, encoded by E alone", methods=4),
        "E + refinement": edit_success(bundle, G, judge, enc.z_refined, alpha, rep,
                                       "Held-out faces, E + refinement", methods=4),
        "E + refinement + photo detail": edit_success(
            bundle, G, judge, enc.z_detail, alpha, rep,
            "Held-out faces, E + refinement + photo detail (what the app edits by default)",
            methods=4, detail=enc.detail),
    }
    _step_sweep(c, enc.z[:m])
    randoms = edit_success(bundle, G, judge, z_rand, alpha, rep, f"Random samples (ψ = {c.psi})",
                           methods=4, psi=c.psi)
    _edit_strips(c, enc)
    for label, summ in [*summaries.items(), (f"random samples (ψ = {c.psi})", randoms)]:
        _headline_edits(c, label, summ)
    return summaries


def _headline_edits(c: Context, label: str, summ: dict[str, tuple[float, float]]) -> None:
    """The default method's mean target flips and collateral into the headline figures."""
    from explorer.core.directions import default_method

    # A conditional model's sliders at their end, as the DCGAN's at alpha = 3 (theirs)
    method = "sliders' end" if c.cond else default_method(c.bundle)
    hit = [v for k, v in summ.items() if k.endswith(f"|{method}")]
    if hit:
        c.figures[f"edits flipped, {label}"] = 100 * float(np.mean([t for t, _ in hit]))
        c.figures[f"edits' collateral, {label}"] = 100 * float(np.mean([k for _, k in hit]))


def _random_flips(c: Context, z: np.ndarray, before: np.ndarray, alpha: float,
                  n_dirs: int = 3) -> float:
    """Chance level of collateral: how often the judge changes its decision (`before`, on the
    unmoved faces) on an attribute when the faces move `alpha` prior standard deviations along a
    random direction, the unit the attribute edits move in (mean over `n_dirs` directions)."""
    rng = np.random.default_rng(0)
    rates = []
    for _ in range(n_dirs):
        d = rng.standard_normal(c.nz)
        d = (d / np.linalg.norm(d)).astype(np.float32)
        step = alpha * float(c.bundle.latent_spread(d[None])[0])
        z_new = (z + step * d).astype(np.float32)
        rates.append(float(((c.judge.probs(generate(c.G, z_new)) > 0.5) != before).mean()))
    return float(np.mean(rates))


def _step_sweep(c: Context, z: np.ndarray) -> None:
    from explorer.core.directions import default_method

    method = default_method(c.bundle)
    attrs = [a for a in MAIN_ATTRIBUTES if a in c.names]
    rows, quiet = [], Report()
    before = c.judge.probs(generate(c.G, z)) > 0.5
    for a_ in (1.0, 2.0, 3.0, 4.0, 6.0):
        res_ = edit_success(c.bundle, c.G, c.judge, z, a_, quiet, "sweep", methods=1,
                            before=before)
        chance = 100 * _random_flips(c, z, before, a_)
        rows.append([f"{a_:.1f}"]
                    + [f"{100 * res_[f'{a}|{method}'][0]:.0f}%" for a in attrs]
                    + [f"{100 * np.mean([t for t, _ in res_.values()]):.1f}%",
                       f"{100 * np.mean([k for _, k in res_.values()]):.1f}%",
                       f"{chance:.1f}%"])
        if a_ == c.alpha:
            c.figures["chance: decisions a random direction changes, E alone"] = chance
    c.rep.add(f"Step size against success ({method} directions, held-out faces encoded by E "
              "alone): how far each attribute must move before the judge sees it change. The "
              "last column is chance: the share of decisions that change when the faces move "
              "as far along a random direction, so collateral above it is the attribute "
              "directions' own entanglement, not the judge's noise.", "")
    c.rep.table(["α", *attrs, "mean flipped", "collateral (39 others)",
                 "random direction (40)"], rows)


def _edit_strips(c: Context, enc: Encoded) -> None:
    from explorer.core.directions import default_method, get_directions
    from explorer.core.edits import apply_edits

    method = default_method(c.bundle)
    dirs = get_directions(c.bundle, method)
    steps = [-2 * c.alpha, -c.alpha, 0.0, c.alpha, 2 * c.alpha]
    attrs = [a for a in MAIN_ATTRIBUTES if a in c.names]
    for a in attrs:
        strip = [apply_edits(enc.z[:6], dirs, {a: s}) for s in steps]
        imgs = generate(c.G, np.stack(strip, 1).reshape(-1, c.nz).astype(np.float32))
        save_png(c.figs / f"edit_{a}.png", image_grid(imgs, cols=len(steps)))
    c.rep.add(f"Edit strips ({method} directions; columns: α = "
              + ", ".join(f"{s:+.1f}" for s in steps) + "):", "")
    for a in attrs:
        c.rep.add(f"**{a}**  ", f"![{a}]({c.figs.name}/edit_{a}.png)", "")


def _exclusive_pairs(cond: list[str], excl: np.ndarray) -> str:
    """'Blond_Hair+ with Black_Hair+, ...': the pairs of sides `exclusive_sides` found."""
    out: list[str] = []
    for i, s, j in zip(*np.nonzero(excl), strict=True):
        a, b = f"{cond[i]}{'+' if s else '-'}", f"{cond[j]}{'-' if excl[i, s, j] > 0 else '+'}"
        if f"{b} with {a}" not in out:
            out.append(f"{a} with {b}")
    return ", ".join(out)


def _edit_strips_y(c: Context, enc: Encoded) -> None:
    from explorer.core.edits import corrected_latents, settle_exclusive

    assert enc.y is not None
    values = [-2.0, -1.0, 0.0, 1.0, 2.0]
    attrs = [a for a in MAIN_ATTRIBUTES if a in c.cond]
    for a in attrs:
        ci = c.cond.index(a)
        ys = []
        for v in values:
            y = enc.y[:6].copy()
            y[:, ci] = v
            ys.append(settle_exclusive(y, [ci], c.bundle.cond_exclusive))
        z = np.repeat(enc.z[:6], len(values), 0)
        y = np.stack(ys, 1).reshape(-1, len(c.cond))
        z = corrected_latents(z, y, np.repeat(enc.y[:6], len(values), 0),
                              c.bundle.cond_correction)  # as the app draws the edit
        save_png(c.figs / f"edit_{a}.png", image_grid(generate(c.G, z, y=y), cols=len(values)))
    c.rep.add("Edit strips (the attribute's y; columns: y = "
              + ", ".join(f"{v:+.0f}" for v in values) + "; the training labels are ±1):", "")
    for a in attrs:
        c.rep.add(f"**{a}**  ", f"![{a}]({c.figs.name}/edit_{a}.png)", "")


def fidelity_section(c: Context, enc: Encoded) -> None:
    from explorer.core.interpolation import interpolate
    from explorer.core.latents import seed_latents

    # FD in the bundled classifier's feature space, comparable with every earlier report of the
    # same model; and, where there is one, in the independent judge's, which grades two models
    # (each with its own classifier) in one feature space.
    rep, G = c.rep, c.G
    spaces = [("bundled classifier", (c.judge.second or c.judge).C)]
    if c.judge.second is not None:
        spaces.append((c.judge.label, c.judge.C))
    rep.add("## Fidelity and diversity", "")
    n_gen = 2000
    rng = np.random.default_rng(0)
    held_img = c.held_img
    train_pick = rng.choice(len(c.train), size=len(held_img), replace=False)
    train_pick.sort()
    train_img = np.asarray(c.train.images)
    seeds_fd = list(range(10_000, 10_000 + n_gen))
    zs = seed_latents(seeds_fd, c.nz)
    ys = c.prior_y(n_gen, 2)
    psis = sorted({1.0, 0.8, 0.7, 0.5, c.psi}, reverse=True)
    fakes = [generate(G, c.bundle.seed_latents(seeds_fd, p) if c.bundle.truncates_latents
                      else zs, y=ys, psi=p) for p in psis]
    rows: list[list[Any]] = [["real training faces vs held-out (floor)"]]
    rows += [[f"generated (ψ = {p}) vs held-out"] for p in psis]
    for _, C in spaces:
        f_held = metrics.pooled_features(C, held_img)
        floor = metrics.frechet_distance(metrics.pooled_features(C, train_img[train_pick]), f_held)
        rows[0].append(floor)
        for row, fake in zip(rows[1:], fakes, strict=True):
            row.append(metrics.frechet_distance(metrics.pooled_features(C, fake), f_held))
        for row, p in zip(rows[1:], psis, strict=True):
            if p == 1.0:
                c.fd_psi1 = (row[-1], floor)  # the last space: the judge's where there is one
    name = spaces[-1][0]
    c.figures[f"FD, {name}: real vs real (floor)"] = rows[0][-1]
    for row, p in zip(rows[1:], psis, strict=True):
        if p in (1.0, c.psi):
            c.figures[f"FD, {name}: ψ = {p}"] = row[-1]
    rep.add("Fréchet distance in classifiers' pooled feature spaces "
            "(**not** Inception FID, which needs downloaded weights; compare only with the "
            "floor and with other models measured in the same space: the independent judge's "
            "column compares models graded by the same judge). ψ is the truncation "
            "(1 = none):", "")
    rep.table(["sets"] + [f"FD, {name}" for name, _ in spaces], rows)
    z64, y64 = c.bundle.seed_latents(list(range(64)), c.psi), c.prior_y(64, 3)
    samples = generate(G, z64, y=y64, psi=c.psi)
    save_png(c.figs / "samples.png", image_grid(samples, cols=8))
    if c.psi != 1:
        save_png(c.figs / "samples_psi1.png", image_grid(generate(G, z64, y=y64), cols=8))
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
    rep.add(f"Nearest training image (RMS pixel distance, 0-255), samples at ψ = {c.psi}: "
            f"**{nn_d.mean():.1f}** (min {nn_d.min():.1f}); held-out real faces "
            f"{held_d.mean():.1f} (min {held_d.min():.1f}). {verdict}", "")
    pairs = np.concatenate([samples[:8], train_img[nn_idx[:8]]])
    save_png(c.figs / "nearest.png", image_grid(pairs, cols=8))
    f = c.figs.name
    rep.add(f"![samples]({f}/samples.png)", "", f"64 samples (seeds 0–63), ψ = {c.psi}"
            + (" (the app's default)." if c.psi != 1 else "."), "")
    if c.psi != 1:
        rep.add(f"![samples at psi 1]({f}/samples_psi1.png)", "",
                "The same 64 seeds at ψ = 1 (no truncation).", "")
    rep.add(f"![nearest]({f}/nearest.png)", "",
            "Top: samples; bottom: their nearest training image.", "")
    path = interpolate(enc.z[:4], 16, mode="slerp").astype(np.float32)
    y_path = None if enc.y is None else np.repeat(enc.y[:1], len(path), 0)
    save_png(c.figs / "interpolation.png", image_grid(generate(G, path, y=y_path), cols=16))
    rep.add(f"![interpolation]({f}/interpolation.png)", "",
            "Slerp through four encoded held-out faces"
            + (" (y of the first)." if enc.y is not None else "."), "")


def _verdict(value: float, target: float, higher: bool, unit: str) -> str:
    """'met' or 'missed by N unit' for one figure against its target."""
    gap = (target - value) if higher else (value - target)
    if gap <= 0:
        return "met"
    return f"missed by {gap:.1f} {unit}" if gap >= 0.05 else f"missed by less than 0.1 {unit}"


TRIED = "training/README.md#what-was-tried-against-the-missed-targets"


def targets_section(c: Context, enc: Encoded,
                     summaries: dict[str, dict[str, tuple[float, float]]]) -> None:
    from explorer.core.directions import default_method

    methods = ["condition y", "sliders' end"] if c.cond else [default_method(c.bundle)]
    c.rep.add("## Targets", "")
    missed = False
    for label, summ in summaries.items():
        for method in methods:
            hit = [v for k_, v in summ.items() if k_.endswith(f"|{method}")]
            if not hit:
                continue
            how = {"condition y": "condition y = ±1",
                   "sliders' end": "y sliders at their end"}.get(method, method)
            flip = 100 * float(np.mean([t for t, _ in hit]))
            coll = 100 * float(np.mean([k for _, k in hit]))
            v_flip, v_coll = _verdict(flip, 90, True, "points"), _verdict(coll, 8, False, "points")
            missed |= "missed" in v_flip + v_coll
            c.rep.add(f"- Edit success, {how}, held-out faces ({label}): {flip:.1f}% (target "
                      f"≥ 90%: {v_flip}); collateral {coll:.1f}% (target ≤ 8%: {v_coll}).")
    if enc.z_refined is not None:
        # A style G's latent-only figure is W+ (one w per layer), without the feature offset.
        w_plus = c.bundle.truncates_latents
        latent = enc.w_plus_psnr if w_plus else enc.refined_psnr
        v_rec = _verdict(latent, 22, True, "dB")
        missed |= "missed" in v_rec
        c.rep.add(f"- Reconstruction with refinement: {latent:.1f} dB latent only"
                  f"{' (W+)' if w_plus else ''} (target ≥ 22 dB: {v_rec}); "
                  + (f"{enc.refined_psnr:.1f} dB in W alone; " if w_plus else "")
                  + f"{enc.detail_psnr:.1f} dB with the photo detail.")
    if c.fd_psi1 is not None:
        fd, floor = c.fd_psi1
        v_fd = _verdict(fd / floor, 1.5, False, "x the floor")
        missed |= "missed" in v_fd
        c.rep.add(f"- FD at ψ = 1: {fd:.2f} against a floor of {floor:.2f} = {fd / floor:.1f}x "
                  f"(target ≤ 1.5x: {v_fd}).")
    if missed:
        c.rep.add("", f"What was tried against the missed targets: [{TRIED.split('#')[0]}]"
                  f"({TRIED}).")
    c.rep.add("")
